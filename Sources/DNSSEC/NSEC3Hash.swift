import Crypto
import DNSWire

/// NSEC3 owner hashing (RFC 5155 §5) and the Base32hex spelling of hashes in owner names.
enum NSEC3Hash {
    /// SHA-1, the one hash algorithm RFC 5155 defines.
    static let sha1: UInt8 = 1

    /// The hash of `name` with `salt`, iterated `iterations` more times.
    static func hash(_ name: DNSName, salt: [UInt8], iterations: UInt16) -> [UInt8] {
        var digest = Array(Insecure.SHA1.hash(data: name.canonical.wire + salt))
        for _ in 0..<iterations {
            digest = Array(Insecure.SHA1.hash(data: digest + salt))
        }
        return digest
    }

    /// Decodes a Base32hex label without padding (RFC 4648 §7), case-insensitively; nil if it is not one.
    static func decodeBase32Hex(_ label: some Collection<UInt8>) -> [UInt8]? {
        var output: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for character in label {
            let value: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "v"): value = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "V"): value = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            buffer = buffer << 5 | UInt32(value)
            bits += 5
            if bits >= 8 {
                bits -= 8
                output.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        return output
    }
}
