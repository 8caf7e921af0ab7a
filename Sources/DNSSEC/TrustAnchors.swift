public import DNSWire
import Foundation

/// The DS or DNSKEY records that validation starts from, by zone.
public struct TrustAnchors: Sendable {
    /// Each anchored zone's DS records and DNSKEYs (either may be empty).
    private(set) var anchors: [DNSName: (ds: [DSRecord], keys: [DNSKEYRecord])] = [:]

    /// The root's key-signing keys as IANA publishes them (root-anchors.xml): KSK-2017 (20326) and KSK-2024 (38696).
    public static let root: TrustAnchors = {
        // Both lines are constants that parse; a failure here would be a typo caught by the first test run.
        (try? TrustAnchors(zoneFile: """
            . IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
            . IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
            """)) ?? TrustAnchors()
    }()

    private init() {}

    /// Reads DS and DNSKEY records in zone-file form, one per line (`owner [TTL] [IN] DS|DNSKEY rdata`); `;`
    /// starts a comment.
    public init(zoneFile text: String) throws(TrustAnchorError) {
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard !fields.isEmpty else { continue }
            guard let owner = DNSName(fields.removeFirst()) else { throw .line(number + 1, "bad owner name") }
            while let first = fields.first, UInt32(first) != nil || first.uppercased() == "IN" { fields.removeFirst() }
            guard let type = fields.first?.uppercased() else { throw .line(number + 1, "no record type") }
            let data = Array(fields.dropFirst())
            switch type {
            case "DS":
                guard data.count >= 4, let tag = UInt16(data[0]), let algorithm = UInt8(data[1]),
                      let digestType = UInt8(data[2]), let digest = Self.hex(data[3...].joined())
                else { throw .line(number + 1, "a DS record is KEYTAG ALGORITHM DIGEST-TYPE HEX-DIGEST") }
                self.anchors[owner, default: ([], [])].ds.append(
                    DSRecord(keyTag: tag, algorithm: algorithm, digestType: digestType, digest: digest))
            case "DNSKEY":
                guard data.count >= 4, let flags = UInt16(data[0]), let proto = UInt8(data[1]),
                      let algorithm = UInt8(data[2]), let key = Data(base64Encoded: data[3...].joined()),
                      let record = DNSKEYRecord(rdata: [UInt8(flags >> 8), UInt8(flags & 0xFF), proto, algorithm]
                          + Array(key))
                else { throw .line(number + 1, "a DNSKEY record is FLAGS PROTOCOL ALGORITHM BASE64-KEY") }
                self.anchors[owner, default: ([], [])].keys.append(record)
            default:
                throw .line(number + 1, "only DS and DNSKEY records can be trust anchors, not \(type)")
            }
        }
        guard !self.anchors.isEmpty else { throw .empty }
    }

    /// The anchored zone closest above `name` (or `name` itself).
    public func closest(to name: DNSName) -> DNSName? {
        self.anchors.keys.filter { name.isSubdomain(of: $0) }.max { $0.labelCount < $1.labelCount }
    }

    /// Whether some anchor sits at or below `zone`.
    public func anchors(within zone: DNSName) -> Bool {
        self.anchors.keys.contains { $0.isSubdomain(of: zone) }
    }

    private static func hex(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0, !digits.isEmpty else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index...(index + 1)], as: UTF8.self), radix: 16) else {
                return nil
            }
            bytes.append(byte)
        }
        return bytes
    }
}

/// A trust anchor file that cannot be used.
public enum TrustAnchorError: Error, CustomStringConvertible, Equatable {
    case line(Int, String)
    case empty

    /// The line and what is wrong with it.
    public var description: String {
        switch self {
        case .line(let number, let problem): return "line \(number): \(problem)"
        case .empty: return "no DS or DNSKEY records"
        }
    }
}
