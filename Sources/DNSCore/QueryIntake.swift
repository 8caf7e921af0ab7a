import DNSWire
public import NIOCore

/// What a frontend does with an incoming message, decided the same way for every transport.
public enum QueryIntake {
    /// A well-formed query for the pipeline.
    case request(DNSRequest)
    /// An error answer to send without asking the pipeline (FORMERR, NOTIMP, BADVERS).
    case reply(ByteBuffer)
    /// Nothing to answer: not a DNS message, or a response (answering those invites loops).
    case drop

    /// Classifies `message`. A query whose header is readable but whose body is not gets FORMERR (RFC 1035);
    /// one with another opcode gets NOTIMP; one with an EDNS version other than 0 gets BADVERS (RFC 6891 §6.1.3).
    public init(message: ByteBuffer, metadata: DNSRequestMetadata, deadline: NIODeadline) {
        let view: DNSMessageView
        do {
            view = try DNSMessageView(message)
        } catch {
            // Only the header is readable, if that: a query gets FORMERR, anything else is dropped.
            guard let header = DNSHeader(message), !header.isResponse else {
                self = .drop
                return
            }
            self = DNSErrorResponse.make(.formErr, to: message, view: nil).map { .reply($0) } ?? .drop
            return
        }
        let header = view.header
        guard !header.isResponse else {
            self = .drop
            return
        }
        let rcode: DNSRCode? =
            if header.opcode != .query { .notImp }
            else if header.questionCount != 1 { .formErr }
            else if let opt = view.opt, opt.version != 0 { .badVers }
            else { nil }
        if let rcode {
            self = DNSErrorResponse.make(rcode, to: message, view: view).map { .reply($0) } ?? .drop
            return
        }
        guard let request = DNSRequest(message: message, view: view, metadata: metadata, deadline: deadline) else {
            self = .drop
            return
        }
        self = .request(request)
    }
}
