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

    /// Runs `ip ARGUMENTS` inside the namespace; throws with ip's message on failure.
    func ip(_ arguments: [String]) throws {
        let result = try runCommand("/usr/sbin/ip", ["-n", self.name] + arguments)
        guard result.status == 0 else { throw SetupError("ip -n \(self.name) \(arguments.joined(separator: " ")): \(result.error)") }
    }

    /// Runs `command` inside the namespace; throws with its message on failure.
    func run(_ executable: String, _ arguments: [String]) throws {
        let result = try runCommand(executable, arguments, namespace: self.name)
        guard result.status == 0 else {
            throw SetupError("\(executable) \(arguments.joined(separator: " ")) in \(self.name): \(result.error)")
        }
    }

    /// Connects this namespace to `other` with a veth pair and gives each end its address (`10.0.0.1/24`).
    func link(to other: NetworkNamespace, name: String, address: String, otherName: String, otherAddress: String) throws {
        let made = try runCommand("/usr/sbin/ip", ["link", "add", name, "netns", self.name, "type", "veth", "peer",
                                                   "name", otherName, "netns", other.name])
        guard made.status == 0 else { throw SetupError("veth \(name)-\(otherName): \(made.error)") }
        try self.ip(["addr", "add", address, "dev", name])
        try self.ip(["link", "set", name, "up"])
        try other.ip(["addr", "add", otherAddress, "dev", otherName])
        try other.ip(["link", "set", otherName, "up"])
    }

    func delete() {
        _ = try? runCommand("/usr/sbin/ip", ["netns", "delete", self.name])
    }

    /// Why TPROXY cannot be used here (no nft, or the kernel refuses the rule), or nil when it can.
    static let tproxyUnavailableReason: String? = {
        if let reason = NetworkNamespace.unavailableReason { return reason }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft") else { return "no /usr/sbin/nft (nftables)" }
        let probe = "dgtprobe\(getpid())"
        _ = try? runCommand("/usr/sbin/ip", ["netns", "add", probe])
        defer { _ = try? runCommand("/usr/sbin/ip", ["netns", "delete", probe]) }
        let applied = try? runCommand("/usr/sbin/nft", [
            "add table ip t ; add chain ip t p { type filter hook prerouting priority mangle ; } ; "
                + "add rule ip t p meta l4proto tcp tproxy to :1 meta mark set 1",
        ], namespace: probe)
        let reason = applied?.status == 0 ? nil : "the kernel refused a TPROXY rule: \(applied?.error ?? "")"
        if let reason { FileHandle.standardError.write(Data("fake-IP proxy tests skipped: \(reason)\n".utf8)) }
        return reason
    }()

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
