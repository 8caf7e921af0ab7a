import DNSUpstream
import Testing

@Suite struct UpstreamAddressTests {
    @Test(arguments: [
        ("tls://9.9.9.9#dns.quad9.net", "tls://9.9.9.9:853#dns.quad9.net"),
        ("tls://127.0.0.1:15385#upstream.test", "tls://127.0.0.1:15385#upstream.test"),
        ("tls://dns.example", "tls://dns.example:853#dns.example"),
        ("TCP://[2001:db8::1]:5353", "tcp://[2001:db8::1]:5353"),
        ("udp://192.0.2.1", "udp://192.0.2.1:53"),
        ("tls://[2620:fe::fe]#dns.quad9.net", "tls://[2620:fe::fe]:853#dns.quad9.net"),
    ])
    func parses(text: String, canonical: String) throws {
        #expect(try UpstreamAddress(parsing: text).description == canonical)
    }

    @Test(arguments: [
        ("9.9.9.9", "missing scheme"),
        ("https://x", "unknown scheme"),
        ("tcp://1.2.3.4#name", "only meaningful for tls"),
        ("tls://1.2.3.4:99999", "not a number from 1 to 65535"),
        ("tls://1.2.3.4:x", "not a number"),
        ("tls://#name", "missing host"),
        ("tls://[::1", "unclosed"),
        ("tls://1.2.3.4#", "empty TLS name"),
    ])
    func rejects(text: String, reason: String) {
        #expect {
            try UpstreamAddress(parsing: text)
        } throws: { error in
            "\(error)".contains(reason) && "\(error)".contains(text)
        }
    }
}
