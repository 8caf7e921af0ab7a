import DNSCore
import Foundation
public import NIOCore

/// The admin listener: metrics, health, the JSON API and the dashboard.
extension ConfigLoader {
    static let adminKeys = ["admin.listen", "admin.token", "admin.token_file", "admin.readiness_probe_interval"]

    static func adminSettings(_ values: ConfigValues) throws -> AdminSettings? {
        let text = try values.scalar("admin.listen")
        if text?.lowercased() == "off" { return nil }
        guard let address = ConfigValueParsing.socketAddress(text ?? AdminSettings.defaultListen, defaultPort: 9153)
        else {
            throw ConfigError(key: "admin.listen", value: text ?? "",
                              allowed: "an IP address with port, e.g. 127.0.0.1:9153 or [::1]:9153, or off")
        }
        var token = try values.scalar("admin.token")
        if let file = try values.scalar("admin.token_file") {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw ConfigError(key: "admin.token_file", value: file, allowed: "a readable file holding the token")
            }
            token = String(decoding: contents, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let given = token, given.isEmpty {
            throw ConfigError(key: "admin.token", value: "", allowed: "a token that is not empty")
        }
        let isLoopback = IPAddress(address).map(Self.isLoopback) ?? false
        if !isLoopback, token == nil {
            throw ConfigError(key: "admin.listen", value: address.hostAndPort,
                              allowed: "a loopback address, or any address with admin.token or admin.token_file "
                                  + "set (the admin API must not be open to the network)")
        }
        return AdminSettings(
            address: address, token: token, isDefaultAddress: text == nil,
            readinessProbeInterval: try values.duration("admin.readiness_probe_interval", default: .seconds(5)))
    }

    private static func isLoopback(_ address: IPAddress) -> Bool {
        switch address {
        case .v4(let value): value >> 24 == 127
        case .v6(let value): value == 1
        }
    }
}

/// The admin listener (`admin.*`).
public struct AdminSettings: Sendable {
    /// Where it listens when nothing is configured.
    public static let defaultListen = "127.0.0.1:9153"

    public var address: SocketAddress
    /// The bearer token every request but the probes and the dashboard page must carry, or nil.
    public var token: String?
    /// Whether `address` is the default: when it is taken, dnsgate warns and runs without the admin listener.
    public var isDefaultAddress: Bool
    /// How often an upstream that has not answered lately is probed, for `/readyz`.
    public var readinessProbeInterval: TimeAmount
}
