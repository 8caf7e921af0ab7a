import DNSCore
import DNSWire
import NIOCore

/// The validated upstream answer as the client asked for it (RFC 4035 §3.2): its ID, RD bit and question spelling,
/// AD when secure and the client set DO or AD (RFC 6840 §5.8), DNSSEC records only for DO clients (unless asked for
/// by type), an OPT record exactly when the client sent one, and no TTL beyond what the signatures allow.
enum ClientAnswer {
    static func make(from message: DNSMessage, verdict: ValidationVerdict, for request: DNSRequest,
                     checker: SignatureChecker) -> ByteBuffer {
        let clientOPT = request.view.opt
        let dnssecOK = clientOPT?.dnssecOK ?? false
        let askedAD = request.view.header.flags & DNSHeader.Flag.ad != 0
        var answer = message
        answer.id = request.id
        var flags = message.flags & ~(DNSHeader.Flag.rd | DNSHeader.Flag.ad | DNSHeader.Flag.cd)
        flags |= request.view.header.flags & DNSHeader.Flag.rd
        if verdict == .secure, dnssecOK || askedAD { flags |= DNSHeader.Flag.ad }
        answer.flags = flags
        answer.questions = [request.question]
        let lifetimes = Self.signatureLifetimes(message, checker: checker)
        func served(_ records: [DNSRecord]) -> [DNSRecord] {
            records.compactMap { record in
                if !dnssecOK, record.type != request.question.type,
                   record.type == .rrsig || record.type == .nsec || record.type == .nsec3 {
                    return nil
                }
                var record = record
                if let cap = lifetimes[Key(record)] { record.ttl = min(record.ttl, cap) }
                return record
            }
        }
        answer.answers = served(message.answers)
        answer.authorities = served(message.authorities)
        answer.additionals = served(message.additionals.filter { $0.type != .opt })
        if let clientOPT {
            answer.additionals.append(.opt(udpPayloadSize: DNSErrorResponse.advertisedUDPPayloadSize,
                                           dnssecOK: clientOPT.dnssecOK))
        }
        return answer.encoded()
    }

    private struct Key: Hashable {
        let owner: DNSName
        let type: DNSType
        init(_ record: DNSRecord) {
            self.owner = record.name
            self.type = record.type == .rrsig ? (RRSIGRecord(rdata: record.rdata)?.typeCovered ?? .rrsig) : record.type
        }
    }

    /// For each signed set, the least of its RRSIGs' original TTLs and remaining lifetimes (RFC 4035 §5.3.3).
    private static func signatureLifetimes(_ message: DNSMessage, checker: SignatureChecker) -> [Key: UInt32] {
        var caps: [Key: UInt32] = [:]
        for record in message.answers + message.authorities where record.type == .rrsig {
            guard let signature = RRSIGRecord(rdata: record.rdata) else { continue }
            let cap = min(signature.originalTTL, checker.remainingLifetime(of: signature))
            caps[Key(record)] = min(caps[Key(record)] ?? cap, cap)
        }
        return caps
    }
}
