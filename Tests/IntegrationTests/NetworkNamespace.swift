import Foundation

/// A network namespace the test creates (with its loopback up) and deletes. Nothing a test sends into it can
/// reach any other network.
final class NetworkNamespace: @unchecked Sendable {
    let name: String

    init(_ purpose: String) throws {
        self.name = "dg\(purpose)\(getpid())"
        let created = try runCommand("/usr/sbin/ip", ["netns", "add", self.name])
        guard created.status == 0 else { throw SetupError("ip netns add \(self.name): \(created.error)") }
        let loopback = try runCommand("/usr/sbin/ip", ["-n", self.name, "link", "set", "lo", "up"])
        guard loopback.status == 0 else {
            self.delete()
            throw SetupError("ip -n \(self.name) link set lo up: \(loopback.error)")
        }
    }

    func delete() {
        _ = try? runCommand("/usr/sbin/ip", ["netns", "delete", self.name])
    }

    /// Why namespaces with a TUN device cannot be used here, or nil when they can; the reason is also printed,
    /// so that a skipped test says why.
    static let unavailableReason: String? = {
        let reason: String?
        if !FileManager.default.fileExists(atPath: "/dev/net/tun") {
            reason = "/dev/net/tun does not exist"
        } else if !FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") {
            reason = "no /usr/sbin/ip (iproute2)"
        } else {
            let probe = "dgprobe\(getpid())"
            let result = try? runCommand("/usr/sbin/ip", ["netns", "add", probe])
            _ = try? runCommand("/usr/sbin/ip", ["netns", "delete", probe])
            reason = result?.status == 0 ? nil : "the kernel refused `ip netns add`: \(result?.error ?? "")"
        }
        if let reason { FileHandle.standardError.write(Data("TUN tests skipped: \(reason)\n".utf8)) }
        return reason
    }()
}
