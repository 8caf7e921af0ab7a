import Crypto
import _CryptoExtras
import DNSWire

/// The signature algorithms dnsgate validates (RFC 8624 §3.1's MUST and RECOMMENDED set): RSA/SHA-256 (8),
/// RSA/SHA-512 (10), ECDSA P-256/SHA-256 (13), ECDSA P-384/SHA-384 (14) and Ed25519 (15). A zone signed only with
/// anything else is treated as unsigned, never as bogus (RFC 4035 §5.2).
enum DNSSECAlgorithm {
    static let rsaSHA256: UInt8 = 8
    static let rsaSHA512: UInt8 = 10
    static let ecdsaP256SHA256: UInt8 = 13
    static let ecdsaP384SHA384: UInt8 = 14
    static let ed25519: UInt8 = 15

    /// Whether `algorithm` is one dnsgate checks.
    static func isSupported(_ algorithm: UInt8) -> Bool {
        [rsaSHA256, rsaSHA512, ecdsaP256SHA256, ecdsaP384SHA384, ed25519].contains(algorithm)
    }
}

/// A DNSKEY's public key parsed for its algorithm.
final class SignatureVerifier: Sendable {
    private enum Key {
        case rsa(_RSA.Signing.PublicKey, sha512: Bool)
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
    }

    private let key: Key

    /// Nil for an algorithm dnsgate does not check, or a key that does not parse.
    init?(algorithm: UInt8, publicKey: [UInt8]) {
        switch algorithm {
        case DNSSECAlgorithm.rsaSHA256, DNSSECAlgorithm.rsaSHA512:
            guard let spki = RSAPublicKeyDER.subjectPublicKeyInfo(dnskey: publicKey),
                  let key = try? _RSA.Signing.PublicKey(unsafeDERRepresentation: spki)
            else { return nil }
            self.key = .rsa(key, sha512: algorithm == DNSSECAlgorithm.rsaSHA512)
        case DNSSECAlgorithm.ecdsaP256SHA256:
            guard publicKey.count == 64, let key = try? P256.Signing.PublicKey(rawRepresentation: publicKey) else {
                return nil
            }
            self.key = .p256(key)
        case DNSSECAlgorithm.ecdsaP384SHA384:
            guard publicKey.count == 96, let key = try? P384.Signing.PublicKey(rawRepresentation: publicKey) else {
                return nil
            }
            self.key = .p384(key)
        case DNSSECAlgorithm.ed25519:
            guard publicKey.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey)
            else { return nil }
            self.key = .ed25519(key)
        default:
            return nil
        }
    }

    /// Whether `signature` over `data` verifies; false for a malformed signature.
    func verify(signature: [UInt8], data: [UInt8]) -> Bool {
        switch self.key {
        case .rsa(let key, let sha512):
            let rsaSignature = _RSA.Signing.RSASignature(rawRepresentation: signature)
            return sha512
                ? key.isValidSignature(rsaSignature, for: SHA512.hash(data: data), padding: .insecurePKCS1v1_5)
                : key.isValidSignature(rsaSignature, for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5)
        case .p256(let key):
            guard signature.count == 64, let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature)
            else { return false }
            return key.isValidSignature(parsed, for: SHA256.hash(data: data))
        case .p384(let key):
            guard signature.count == 96, let parsed = try? P384.Signing.ECDSASignature(rawRepresentation: signature)
            else { return false }
            return key.isValidSignature(parsed, for: SHA384.hash(data: data))
        case .ed25519(let key):
            return signature.count == 64 && key.isValidSignature(signature, for: data)
        }
    }
}

/// DS digest types dnsgate checks: SHA-256 (2) and SHA-384 (4).
enum DSDigest {
    static let sha256: UInt8 = 2
    static let sha384: UInt8 = 4

    static func isSupported(_ type: UInt8) -> Bool { type == sha256 || type == sha384 }

    /// The digest of `key` owned by `owner` (RFC 4034 §5.1.4), or nil for an unsupported type.
    static func digest(type: UInt8, owner: DNSName, key: DNSKEYRecord) -> [UInt8]? {
        let input = owner.canonical.wire + key.rdata
        switch type {
        case sha256: return Array(SHA256.hash(data: input))
        case sha384: return Array(SHA384.hash(data: input))
        default: return nil
        }
    }
}

/// An RSA key in DNSKEY form (RFC 3110: exponent length, exponent, modulus) as the DER SubjectPublicKeyInfo that
/// swift-crypto reads, which also accepts the 1,024-bit keys still found in zones.
enum RSAPublicKeyDER {
    static func subjectPublicKeyInfo(dnskey bytes: [UInt8]) -> [UInt8]? {
        guard let first = bytes.first else { return nil }
        var offset = 1
        var exponentLength = Int(first)
        if first == 0 {
            guard bytes.count > 3 else { return nil }
            exponentLength = Int(bytes[1]) << 8 | Int(bytes[2])
            offset = 3
        }
        guard exponentLength > 0, bytes.count > offset + exponentLength else { return nil }
        let exponent = Array(bytes[offset..<(offset + exponentLength)])
        let modulus = Array(bytes[(offset + exponentLength)...])
        let rsaPublicKey = der(0x30, integer(modulus) + integer(exponent))
        let algorithm = der(0x30, der(0x06, [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]) + [0x05, 0x00])
        return der(0x30, algorithm + der(0x03, [0] + rsaPublicKey))
    }

    /// A DER INTEGER holding `magnitude` as an unsigned number.
    private static func integer(_ magnitude: [UInt8]) -> [UInt8] {
        var bytes = Array(magnitude.drop { $0 == 0 })
        if bytes.isEmpty || bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
        return der(0x02, bytes)
    }

    private static func der(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        let count = content.count
        if count < 0x80 { return [tag, UInt8(count)] + content }
        if count < 0x100 { return [tag, 0x81, UInt8(count)] + content }
        return [tag, 0x82, UInt8(count >> 8), UInt8(count & 0xFF)] + content
    }
}
