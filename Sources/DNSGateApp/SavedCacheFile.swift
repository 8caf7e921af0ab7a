import DNSCache
import Foundation
import Logging
import NIOCore

/// The file behind `cache.save_file`: written on shutdown (readable by its owner only: it lists the names that
/// were asked), read on start. Neither is ever fatal: a cache that cannot be saved or read back just starts cold.
struct SavedCacheFile {
    let path: String
    let logger: Logger

    /// Restores the saved answers into `cache`; a missing file is a first start, said at debug level only.
    func load(into cache: DNSResponseCache) {
        guard let data = FileManager.default.contents(atPath: self.path) else {
            self.logger.debug("no saved cache to restore", metadata: ["file": "\(self.path)"])
            return
        }
        do {
            let restored = try cache.restore(ByteBuffer(bytes: data))
            self.logger.info("cache restored", metadata: ["file": "\(self.path)", "answers": "\(restored)"])
        } catch {
            self.logger.warning("saved cache ignored", metadata: ["file": "\(self.path)", "error": "\(error)"])
        }
    }

    /// Writes `cache`'s fresh answers: to a temporary file created 0600, then renamed over the old one, so that a
    /// crash mid-write leaves the previous file.
    func save(_ cache: DNSResponseCache) {
        let saved = cache.saved()
        let temporary = self.path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return self.failed("open \(temporary): \(String(cString: strerror(errno)))") }
        let written = saved.withUnsafeReadableBytes { bytes in write(descriptor, bytes.baseAddress, bytes.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == saved.readableBytes, synced, rename(temporary, self.path) == 0 else {
            unlink(temporary)
            return self.failed("write \(self.path): \(String(cString: strerror(errno)))")
        }
        self.logger.info("cache saved", metadata: ["file": "\(self.path)", "bytes": "\(saved.readableBytes)"])
    }

    private func failed(_ reason: String) {
        self.logger.error("cache not saved", metadata: ["reason": "\(reason)"])
    }
}
