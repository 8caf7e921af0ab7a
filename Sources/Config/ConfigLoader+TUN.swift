import DNSCore

/// The virtual DNS addresses on a TUN device.
extension ConfigLoader {
    static let tunKeys = [
        "tun.enabled", "tun.name", "tun.mtu", "tun.addresses", "tun.device_addresses", "tun.max_tcp_connections",
    ]

    static func tunSettings(_ values: ConfigValues) throws -> TUNSettings? {
        guard try values.bool("tun.enabled", default: false) else { return nil }
        func addresses(_ key: String, _ defaults: [String]) throws -> [IPAddress] {
            try values.list(key, default: defaults).map { text in
                guard let address = IPAddress(text) else {
                    throw ConfigError(key: key, value: text, allowed: "IPv4 or IPv6 addresses")
                }
                return address
            }
        }
        let name = try values.scalar("tun.name") ?? "dnsgate0"
        guard !name.isEmpty, name.utf8.count < 16, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) })
        else {
            throw ConfigError(key: "tun.name", value: name, allowed: "1 to 15 letters, digits, '-', '_' or '.'")
        }
        let virtual = try addresses("tun.addresses", TUNSettings.defaultAddresses)
        let device = try values.list("tun.device_addresses", default: TUNSettings.defaultDeviceAddresses).map { text in
            guard let address = IPInterfaceAddress(text) else {
                throw ConfigError(key: "tun.device_addresses", value: text,
                                  allowed: "IPv4 or IPv6 addresses, each with its prefix length if it has one, "
                                      + "e.g. 100.90.128.2/24 or fdf6:ae92:c3:1::2/64")
            }
            return address
        }
        for family in [true, false] where virtual.contains(where: { $0.isIPv4 == family })
            && !device.contains(where: { $0.address.isIPv4 == family }) {
            throw ConfigError(key: "tun.device_addresses", value: device.map(\.description).joined(separator: ","),
                              allowed: "an \(family ? "IPv4" : "IPv6") address too, to answer from")
        }
        return TUNSettings(
            name: name,
            mtu: try values.int("tun.mtu", default: 1500, in: 1280...65_535),
            addresses: virtual,
            deviceAddresses: device,
            maxTCPConnections: try values.int("tun.max_tcp_connections", default: 256, in: 1...65_535))
    }
}
