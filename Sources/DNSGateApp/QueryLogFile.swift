import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where query log lines go: standard output, or a file that is rotated by size (`path` → `path.1` → … →
/// `path.N`, the oldest dropped), created with mode 0600 (it names what clients asked). Used by one writer only.
final class QueryLogFile {
    private let path: String?
    private let maxSize: Int
    private let keep: Int
    private var descriptor: Int32
    private var size: Int
    private var pending: [UInt8] = []

    /// - Parameter path: a file, or nil for standard output.
    init(path: String?, maxSize: Int, keep: Int) throws {
        self.path = path
        self.maxSize = maxSize
        self.keep = keep
        self.descriptor = 1
        self.size = 0
        if let path { (self.descriptor, self.size) = try Self.openFile(path) }
    }

    deinit {
        if self.path != nil { close(self.descriptor) }
    }

    /// Adds one line; it is written by the next ``flush()``, or now when the file must be rotated before it (a
    /// line never straddles two files, and no file grows past the size limit unless one line is larger).
    func append(_ line: [UInt8]) {
        if let path = self.path, self.size + self.pending.count > 0,
            self.size + self.pending.count + line.count > self.maxSize
        {
            self.flush()
            self.rotate(path)
        }
        self.pending += line
    }

    /// Writes the lines added since the last flush.
    func flush() {
        var offset = 0
        while offset < self.pending.count {
            let written = self.pending.withUnsafeBytes { bytes in
                Glibc.write(self.descriptor, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
            }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { break }
            offset += written
        }
        self.size += self.pending.count
        self.pending.removeAll(keepingCapacity: true)
    }

    private func rotate(_ path: String) {
        close(self.descriptor)
        for index in stride(from: self.keep - 1, through: 1, by: -1) {
            Glibc.rename("\(path).\(index)", "\(path).\(index + 1)")
        }
        Glibc.rename(path, self.keep > 0 ? "\(path).1" : path)
        if self.keep == 0 { unlink(path) }
        if let (descriptor, size) = try? Self.openFile(path) {
            self.descriptor = descriptor
            self.size = size
        } else {
            self.descriptor = Glibc.open("/dev/null", O_WRONLY)
            self.size = 0
        }
    }

    private static func openFile(_ path: String) throws -> (Int32, Int) {
        let descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw QueryLogError.cannotOpen(path, errno: errno)
        }
        return (descriptor, Int(max(0, lseek(descriptor, 0, SEEK_END))))
    }
}

/// The query log could not be opened.
struct QueryLogError: Error, CustomStringConvertible, Hashable {
    private enum Base: Hashable {
        case cannotOpen(path: String, errno: Int32)
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// The file could not be opened for appending.
    static func cannotOpen(_ path: String, errno: Int32) -> Self { Self(.cannotOpen(path: path, errno: errno)) }

    var description: String {
        switch self.base {
        case .cannotOpen(let path, let errno): return "cannot open the query log \(path): \(String(cString: strerror(errno)))"
        }
    }
}
