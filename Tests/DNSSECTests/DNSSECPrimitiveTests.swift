import Crypto
@testable import DNSSEC
import DNSWire
import Foundation
import Testing

/// Key tags, DS digests, NSEC3 hashes and canonical order against published values, and signatures made here with
/// swift-crypto checked the way answers are (including the ways they fail).
@Suite struct DNSSECPrimitiveTests {
    /// The root's KSK-2017 as IANA publishes it: its key tag and SHA-256 DS digest are in root-anchors.xml.
    static let rootKSK2017 = "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU="

    @Test func rootKeyTagAndDigestMatchIANAs() throws {
        let key = try #require(Data(base64Encoded: Self.rootKSK2017))
        let dnskey = try #require(DNSKEYRecord(rdata: [0x01, 0x01, 3, 8] + Array(key)))
        #expect(dnskey.keyTag == 20326)
        let anchor = try #require(TrustAnchors.root.anchors[.root]?.ds.first { $0.keyTag == 20326 })
        #expect(anchor.matches(dnskey, owner: .root))
        #expect(!anchor.matches(dnskey, owner: try #require(DNSName("com."))))
    }

    /// RFC 5155 Appendix A: H(example) with salt aabbccdd and 12 iterations.
    @Test func nsec3HashMatchesRFC5155() throws {
        let hash = NSEC3Hash.hash(try #require(DNSName("example.")), salt: [0xAA, 0xBB, 0xCC, 0xDD], iterations: 12)
        #expect(hash == NSEC3Hash.decodeBase32Hex(Array("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom".utf8)))
    }

    /// RFC 4034 §6.1's example names, in its order.
    @Test func canonicalOrderIsRFC4034s() throws {
        let ordered = ["example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.",
                       "z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example."]
            .map { DNSName($0)! }
        for (earlier, later) in zip(ordered, ordered.dropFirst()) {
            #expect(earlier.canonicallyPrecedes(later), "\(earlier) < \(later)")
            #expect(!later.canonicallyPrecedes(earlier))
        }
    }

    // MARK: Signatures made here

    private let zone = DNSName("example.test.")!
    private let owner = DNSName("WWW.example.test.")!

    private func signedSet(key: P256.Signing.PrivateKey, inception: UInt32, expiration: UInt32,
                           rdata: [UInt8] = [192, 0, 2, 1]) throws -> (SignedRRset, DNSKEYRecord) {
        let dnskey = try #require(DNSKEYRecord(rdata: [0x01, 0x01, 3, 13] + Array(key.publicKey.rawRepresentation)))
        func u32(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)] }
        let prefix: [UInt8] = [0, 1, 13, 3] + u32(3600) + u32(expiration) + u32(inception)
            + [UInt8(dnskey.keyTag >> 8), UInt8(dnskey.keyTag & 0xFF)] + self.zone.wire
        // What RFC 4034 §3.1.8.1 says is signed: the RRSIG RDATA without the signature, then the record in canonical
        // form (owner lowercased, original TTL).
        let data = prefix + self.owner.canonical.wire + [0, 1, 0, 1] + u32(3600) + [0, 4] + [192, 0, 2, 1]
        let signature = Array(try key.signature(for: data).rawRepresentation)
        let message = DNSMessage(answers: [
            DNSRecord(name: self.owner, type: .a, ttl: 3600, rdata: rdata),
            DNSRecord(name: self.owner, type: .rrsig, ttl: 3600, rdata: prefix + signature),
        ])
        return (try #require(SignedRRset.group(message.answers).first), dnskey)
    }

    @Test func aSignatureVerifiesOnlyOverItsDataAndWindow() throws {
        let key = P256.Signing.PrivateKey()
        let now: UInt32 = 1_800_000_000
        let checker = SignatureChecker(now: now, skew: 300)
        let (good, dnskey) = try self.signedSet(key: key, inception: now - 3600, expiration: now + 3600)
        #expect(throws: Never.self) { try checker.check(good, keys: [dnskey], signer: self.zone).get() }

        let (tampered, _) = try self.signedSet(key: key, inception: now - 3600, expiration: now + 3600,
                                               rdata: [192, 0, 2, 99])
        #expect(throws: BogusReason.bogus) { try checker.check(tampered, keys: [dnskey], signer: self.zone).get() }
        let (expired, _) = try self.signedSet(key: key, inception: now - 7200, expiration: now - 3600)
        #expect(throws: BogusReason.signatureExpired) { try checker.check(expired, keys: [dnskey], signer: self.zone).get() }
        let (early, _) = try self.signedSet(key: key, inception: now + 3600, expiration: now + 7200)
        #expect(throws: BogusReason.signatureNotYetValid) { try checker.check(early, keys: [dnskey], signer: self.zone).get() }
        let stranger = try #require(DNSKEYRecord(rdata: [0x01, 0x01, 3, 13]
            + Array(P256.Signing.PrivateKey().publicKey.rawRepresentation)))
        #expect(throws: BogusReason.dnskeyMissing) { try checker.check(good, keys: [stranger], signer: self.zone).get() }
        // Within the skew a signature just past its window still counts.
        #expect(throws: Never.self) {
            try SignatureChecker(now: now + 3700, skew: 300).check(good, keys: [dnskey], signer: self.zone).get()
        }
    }

    /// KeyTrap (CVE-2023-50387): a set with many RRSIGs costs at most `verificationLimit` verifications, so a good
    /// signature behind eight bad ones is not reached.
    @Test func verificationsPerSetAreBounded() throws {
        let key = P256.Signing.PrivateKey()
        let now: UInt32 = 1_800_000_000
        let checker = SignatureChecker(now: now, skew: 300)
        let (good, dnskey) = try self.signedSet(key: key, inception: now - 3600, expiration: now + 3600)
        let genuine = try #require(good.signatures.first)
        var crowded = good
        let forged = try #require(RRSIGRecord(rdata: genuine.signedPrefix + [UInt8](repeating: 7, count: 64)))
        crowded.signatures = Array(repeating: forged, count: SignatureChecker.verificationLimit) + [genuine]
        #expect(throws: BogusReason.bogus) { try checker.check(crowded, keys: [dnskey], signer: self.zone).get() }
        crowded.signatures = Array(repeating: forged, count: SignatureChecker.verificationLimit - 1) + [genuine]
        #expect(throws: Never.self) { try checker.check(crowded, keys: [dnskey], signer: self.zone).get() }
    }

    @Test func nsecProvesNameErrorOnlyWithTheWildcardDenied() throws {
        func nsec(_ owner: String, _ next: String, types: [UInt8]) -> SignedRRset {
            let rdata = DNSName(next)!.wire + [0, UInt8(types.count)] + types
            return SignedRRset.group([DNSRecord(name: DNSName(owner)!, type: .nsec, ttl: 300, rdata: rdata)])[0]
        }
        let zone = DNSName("example.test.")!
        // example.test (SOA NS ...) -> a.example.test -> www.example.test -> back to the apex.
        let apex = nsec("example.test.", "a.example.test.", types: [0x22, 0, 0, 0, 0, 0x03])
        let a = nsec("a.example.test.", "www.example.test.", types: [0x40])
        let www = nsec("www.example.test.", "example.test.", types: [0x40])
        let both = DenialProof(zone: zone, sets: [apex, a, www], iterationLimit: 150)
        #expect(both.nameError(DNSName("b.example.test.")!) == .proven)
        #expect(both.nameError(DNSName("a.example.test.")!) == .missing)
        let onlyCover = DenialProof(zone: zone, sets: [a], iterationLimit: 150)
        // Without the apex's NSEC nothing shows that *.example.test is absent.
        #expect(onlyCover.nameError(DNSName("b.example.test.")!) == .missing)
        #expect(both.noData(DNSName("www.example.test.")!, type: .aaaa) == .proven)
        #expect(both.noData(DNSName("www.example.test.")!, type: .a) == .missing)
    }
}
