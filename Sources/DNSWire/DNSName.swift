/// A domain name in uncompressed wire form (length-prefixed labels ending with the root label).
///
/// Comparison and hashing ignore ASCII case (RFC 4343); the original spelling is kept for output.
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    /// Uncompressed wire bytes, including the terminating zero byte.
    public let wire: [UInt8]

    /// The root name `.`.
    public static let root = DNSName(validatedWire: [0])

    init(validatedWire: [UInt8]) {
        self.wire = validatedWire
    }

    /// A name from uncompressed wire bytes (length-prefixed labels and the root label, nothing after it); nil when
    /// they are not exactly that.
    public init?(wire: [UInt8]) {
        var offset = 0
        while offset < wire.count, wire[offset] != 0 {
            guard wire[offset] <= 63 else { return nil }
            offset += 1 + Int(wire[offset])
        }
        guard offset == wire.count - 1, wire.count <= 255 else { return nil }
        self.wire = wire
    }

    /// Creates a name from presentation form (`www.example.com` or `www.example.com.`), with `\.` and `\DDD`
    /// escapes. Returns nil for an empty label, a label over 63 bytes or a name over 255 bytes.
    public init?(_ text: String) {
        if text == "." || text.isEmpty {
            self = .root
            return
        }
        var wire: [UInt8] = []
        var label: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        func flush() -> Bool {
            guard !label.isEmpty, label.count <= 63 else { return false }
            wire.append(UInt8(label.count))
            wire.append(contentsOf: label)
            label.removeAll(keepingCapacity: true)
            return true
        }
        while let byte = bytes.popFirst() {
            switch byte {
            case UInt8(ascii: "."):
                guard flush() else { return nil }
            case UInt8(ascii: "\\"):
                guard let next = bytes.popFirst() else { return nil }
                if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(next) {
                    let digits = [next] + bytes.prefix(2)
                    guard digits.count == 3, digits.allSatisfy({ (48...57).contains($0) }),
                        let value = UInt8(String(decoding: digits, as: UTF8.self))
                    else { return nil }
                    bytes = bytes.dropFirst(2)
                    label.append(value)
                } else {
                    label.append(next)
                }
            default:
                label.append(byte)
            }
        }
        if !label.isEmpty { guard flush() else { return nil } }
        wire.append(0)
        guard wire.count <= 255 else { return nil }
        self.wire = wire
    }

    /// The labels, without the root label.
    public var labels: [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var offset = 0
        while offset < self.wire.count, self.wire[offset] != 0 {
            let length = Int(self.wire[offset])
            result.append(self.wire[(offset + 1)..<(offset + 1 + length)])
            offset += 1 + length
        }
        return result
    }

    /// The name without its first label (`example.com.` for `www.example.com.`), or nil for the root.
    public var parent: DNSName? {
        guard let length = self.wire.first, length > 0 else { return nil }
        return DNSName(validatedWire: Array(self.wire[(1 + Int(length))...]))
    }

    /// Presentation form with a trailing dot; bytes outside printable ASCII and special characters are escaped.
    public var description: String {
        if self.wire == [0] { return "." }
        var text = ""
        for label in self.labels {
            for byte in label {
                switch byte {
                case UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: ";"),
                    UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "@"), UInt8(ascii: "$"):
                    text += "\\" + String(UnicodeScalar(byte))
                case 0x21...0x7E:
                    text.unicodeScalars.append(UnicodeScalar(byte))
                default:
                    let digits = String(byte)
                    text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            text += "."
        }
        return text
    }

    public static func == (lhs: DNSName, rhs: DNSName) -> Bool {
        lhs.wire.count == rhs.wire.count
            && zip(lhs.wire, rhs.wire).allSatisfy { asciiLowercase($0) == asciiLowercase($1) }
    }

    public func hash(into hasher: inout Hasher) {
        for byte in self.wire { hasher.combine(asciiLowercase(byte)) }
    }
}

@inline(__always)
func asciiLowercase(_ byte: UInt8) -> UInt8 {
    (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
}

extension WireReader {
    /// Reads the (possibly compressed) name at `offset` into a ``DNSName``; returns it and where its bytes end.
    func readName(at offset: Int) throws(DNSWireError) -> (DNSName, end: Int) {
        var expandedLength = 1
        let end = try self.walkName(at: offset) { _, length in expandedLength += 1 + length }
        let bytes = self.bytes
        // Without a compression pointer the name is its bytes as they stand (a pointer makes the expanded name longer
        // or shorter than the bytes it spans, never equal: no name is 2 bytes long): one copy, one allocation.
        if expandedLength == end - offset {
            return (DNSName(validatedWire: Array(bytes[offset..<end])), end)
        }
        var wire: [UInt8] = []
        wire.reserveCapacity(expandedLength)
        _ = try self.walkName(at: offset) { start, length in
            wire.append(UInt8(length))
            wire.append(contentsOf: bytes[start..<(start + length)])
        }
        wire.append(0)
        return (DNSName(validatedWire: wire), end)
    }
}
