import DNSCore

/// The address a reverse-lookup name (`4.3.2.1.in-addr.arpa.`, or 32 nibbles under `ip6.arpa.`) stands for.
enum ReverseName {
    static func address(_ name: String) -> IPAddress? {
        let lowered = name.lowercased()
        if lowered.hasSuffix(".in-addr.arpa.") {
            let labels = lowered.dropLast(".in-addr.arpa.".count).split(separator: ".", omittingEmptySubsequences: false)
            guard labels.count == 4 else { return nil }
            var value: UInt32 = 0
            for label in labels.reversed() {
                guard let octet = UInt8(label), label == String(octet) else { return nil }
                value = value << 8 | UInt32(octet)
            }
            return .v4(value)
        }
        if lowered.hasSuffix(".ip6.arpa.") {
            let labels = lowered.dropLast(".ip6.arpa.".count).split(separator: ".", omittingEmptySubsequences: false)
            guard labels.count == 32 else { return nil }
            var value: UInt128 = 0
            for label in labels.reversed() {
                guard label.count == 1, let nibble = UInt8(label, radix: 16) else { return nil }
                value = value << 4 | UInt128(nibble)
            }
            return .v6(value)
        }
        return nil
    }
}
