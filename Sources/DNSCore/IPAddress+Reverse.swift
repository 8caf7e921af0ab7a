extension IPAddress {
    /// The address a reverse-lookup name (`4.3.2.1.in-addr.arpa.`, or 32 nibbles under `ip6.arpa.`) stands for;
    /// nil for any other name.
    public init?(reverseName name: String) {
        let lowered = name.hasSuffix(".") ? name.lowercased() : name.lowercased() + "."
        if lowered.hasSuffix(".in-addr.arpa.") {
            let labels = lowered.dropLast(".in-addr.arpa.".count).split(separator: ".", omittingEmptySubsequences: false)
            guard labels.count == 4 else { return nil }
            var value: UInt32 = 0
            for label in labels.reversed() {
                guard let octet = UInt8(label), label == String(octet) else { return nil }
                value = value << 8 | UInt32(octet)
            }
            self = .v4(value)
        } else if lowered.hasSuffix(".ip6.arpa.") {
            let labels = lowered.dropLast(".ip6.arpa.".count).split(separator: ".", omittingEmptySubsequences: false)
            guard labels.count == 32 else { return nil }
            var value: UInt128 = 0
            for label in labels.reversed() {
                guard label.count == 1, let nibble = UInt8(label, radix: 16) else { return nil }
                value = value << 4 | UInt128(nibble)
            }
            self = .v6(value)
        } else {
            return nil
        }
    }

    /// The name a reverse lookup of this address asks for (`4.3.2.1.in-addr.arpa.`).
    public var reverseName: String {
        switch self {
        case .v4(let value):
            return (0..<4).map { String(UInt8(truncatingIfNeeded: value >> (8 * $0))) }.joined(separator: ".")
                + ".in-addr.arpa."
        case .v6(let value):
            return (0..<32).map { String(UInt8(truncatingIfNeeded: value >> (4 * $0)) & 0xF, radix: 16) }
                .joined(separator: ".") + ".ip6.arpa."
        }
    }

    /// The address in `bytes`, network order: 4 bytes for IPv4, 16 for IPv6; nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self = bytes.withUnsafeBytes { IPAddress.load($0, at: 0, length: bytes.count) }
    }
}
