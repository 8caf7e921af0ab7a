import DNSUpstream
import Testing
import DNSCore

@Suite struct UpstreamAddressTests {
    @Test(arguments: [
        ("tls://9.9.9.9#dns.quad9.net", "tls://9.9.9.9:853#dns.quad9.net"),
        ("tls://127.0.0.1:15385#upstream.test", "tls://127.0.0.1:15385#upstream.test"),
        ("tls://dns.example", "tls://dns.example:853#dns.example"),
        ("TCP://[2001:db8::1]:5353", "tcp://[2001:db8::1]:5353"),
        ("udp://192.0.2.1", "udp://192.0.2.1:53"),
        ("tls://[2620:fe::fe]#dns.quad9.net", "tls://[2620:fe::fe]:853#dns.quad9.net"),
        ("https://dns.example", "https://dns.example:443/dns-query#dns.example"),
        ("https://127.0.0.1:15387/dns-query#upstream.test", "https://127.0.0.1:15387/dns-query#upstream.test"),
        ("https://[2001:db8::1]/resolve#doh.example", "https://[2001:db8::1]:443/resolve#doh.example"),
        ("quic://dns.example", "quic://dns.example:853#dns.example"),
        ("QUIC://127.0.0.1:8853#upstream.test", "quic://127.0.0.1:8853#upstream.test"),
    ])
    func parses(text: String, canonical: String) throws {
        #expect(try UpstreamAddress(parsing: text).description == canonical)
    }

    @Test(arguments: [
        ("9.9.9.9", "missing scheme"),
        ("gopher://x", "unknown scheme"),
        ("quic://1.2.3.4/dns-query", "path is only meaningful for https"),
        ("tcp://1.2.3.4#name", "only meaningful for tls"),
        ("tls://1.2.3.4/dns-query", "path is only meaningful for https"),
        ("https://1.2.3.4/", "path must be non-empty"),
        ("https://1.2.3.4/q?dns=x", "without spaces or a query string"),
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

    private static let pin = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

    @Test func authenticationOptions() throws {
        let spec = try UpstreamSpec(parsing: "tls://1.2.3.4#a.test pin_sha256=\(Self.pin) ca=off padding=off")
        #expect(spec.authentication.pins.first?.count == 32)
        #expect(!spec.authentication.verifiesChain)
        #expect(!spec.padsQueries)
        #expect(spec.description == "tls://1.2.3.4:853#a.test padding=off pin_sha256=\(Self.pin) ca=off")
        #expect(try UpstreamSpec(parsing: "https://doh.example").authentication == UpstreamAuthentication())
    }

    @Test func sessionResumptionIsOnUnlessTurnedOff() throws {
        #expect(try UpstreamSpec(parsing: "tls://1.2.3.4#a.test").resumesTLSSessions)
        let off = try UpstreamSpec(parsing: "https://doh.example resume=OFF")
        #expect(!off.resumesTLSSessions)
        #expect(off.description == "https://doh.example:443/dns-query#doh.example resume=off")
        #expect(try UpstreamSpec(parsing: off.description) == off)
        for text in ["tcp://1.2.3.4 resume=off", "tls://1.2.3.4#a.test resume=maybe"] {
            #expect { try UpstreamSpec(parsing: text) } throws: { "\($0)".contains("resume=on or resume=off") }
        }
    }

    @Test func optionsFollowTheURL() throws {
        let spec = try UpstreamSpec(parsing: "https://doh.example/dns-query  weight=3 method=GET")
        #expect(spec.weight == 3)
        #expect(spec.usesGET)
        #expect(spec.description == "https://doh.example:443/dns-query#doh.example weight=3 method=get")
        for (text, reason) in [("udp://1.2.3.4 weight=0", "from 1 to 1000"), ("udp://1.2.3.4 method=get", "https"),
                               ("udp://1.2.3.4 colour=red", "unknown option"), ("udp://1.2.3.4 weight", "key=value"),
                               ("udp://1.2.3.4 profile=opportunistic", "tls://, https:// and quic://"),
                               ("tls://1.2.3.4#a.test pin_sha256=abc", "SHA-256"),
                               ("tls://1.2.3.4#a.test ca=off", "needs at least one pin_sha256"),
                               ("tls://1.2.3.4#a.test profile=lax", "profile=strict or profile=opportunistic"),
                               ("tls://1.2.3.4#a.test profile=opportunistic pin_sha256=\(Self.pin)", "strict profile")] {
            #expect { try UpstreamSpec(parsing: text) } throws: { "\($0)".contains(reason) }
        }
    }
}
