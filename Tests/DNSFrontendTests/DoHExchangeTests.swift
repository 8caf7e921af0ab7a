import NIOCore
import Testing

@testable import DNSFrontend

/// The request side of RFC 8484, read from the target's bytes: which requests carry a query and which get which
/// HTTP status.
@Suite struct DoHExchangeTests {
    /// A query for `example.` A, ID 0, as RFC 8484 §4.1 encodes it (base64url without padding).
    private static let encodedQuery = "AAABAAABAAAAAAAAB2V4YW1wbGUAAAEAAQ"

    private func outcome(_ target: String, method: String = "GET", contentType: String? = nil,
                         body: ByteBuffer? = nil) -> Result<ByteBuffer, DoHExchange.StatusError> {
        DoHExchange.query(method: method, target: target[...], contentType: contentType, body: body,
                          bodyTooLarge: false, path: "/dns-query", allocator: ByteBufferAllocator())
    }

    private func status(_ result: Result<ByteBuffer, DoHExchange.StatusError>) -> Int? {
        if case .failure(let error) = result { return error.code }
        return nil
    }

    @Test func aGetCarriesTheDecodedQueryWhereverTheParameterStands() throws {
        for target in ["/dns-query?dns=\(Self.encodedQuery)", "/dns-query?ct=x&dns=\(Self.encodedQuery)&z=1"] {
            let query = try outcome(target).get()
            #expect(query.readableBytes == 25, "\(target)")
            #expect(query.getInteger(at: 4, as: UInt16.self) == 1, "one question: \(target)")
        }
    }

    @Test func eachRefusalGetsItsStatus() {
        #expect(status(outcome("/dns-query2?dns=\(Self.encodedQuery)")) == 404)
        #expect(status(outcome("/dns-quer")) == 404)
        #expect(status(outcome("/other/dns-query?dns=\(Self.encodedQuery)")) == 404)
        #expect(status(outcome("/dns-query")) == 400, "no query string")
        #expect(status(outcome("/dns-query?dnsx=\(Self.encodedQuery)")) == 400, "a longer name is another parameter")
        #expect(status(outcome("/dns-query?dns=!!!")) == 400, "not base64url")
        #expect(status(outcome("/dns-query?dns=\(Self.encodedQuery)", method: "PUT")) == 405)
        #expect(status(outcome("/dns-query", method: "POST", contentType: "text/plain", body: ByteBuffer(bytes: [0]))) == 415)
    }

    @Test func aPostCarriesItsBody() throws {
        let body = ByteBuffer(bytes: [1, 2, 3])
        #expect(try outcome("/dns-query", method: "POST", contentType: "application/dns-message", body: body).get() == body)
    }
}
