import Admin
import Testing

@Suite struct PrometheusExpositionTests {
    /// One parsed sample line: `name{label="value",…} value`.
    struct ParsedSample: Equatable {
        var name: String
        var labels: [String: String]
        var value: String
    }

    /// A small parser of the text format, independent of the writer: HELP and TYPE lines, then samples whose
    /// label values may hold escaped quotes, backslashes and newlines.
    static func parse(_ text: String) throws -> (types: [String: String], samples: [ParsedSample]) {
        var types: [String: String] = [:]
        var samples: [ParsedSample] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            var rest = Substring(line)
            let name = String(rest.prefix { $0 != "{" && $0 != " " })
            rest = rest.dropFirst(name.count)
            var labels: [String: String] = [:]
            if rest.first == "{" {
                rest = rest.dropFirst()
                while rest.first != "}" {
                    let key = String(rest.prefix { $0 != "=" })
                    rest = rest.dropFirst(key.count + 2)  // `="`
                    var value = ""
                    while let character = rest.first, character != "\"" {
                        rest = rest.dropFirst()
                        if character == "\\", let escaped = rest.first {
                            rest = rest.dropFirst()
                            value.append(escaped == "n" ? "\n" : escaped)
                        } else {
                            value.append(character)
                        }
                    }
                    rest = rest.dropFirst()  // closing quote
                    if rest.first == "," { rest = rest.dropFirst() }
                    labels[key] = value
                }
                rest = rest.dropFirst()
            }
            #expect(rest.first == " ", "a space before the value: \(line)")
            samples.append(ParsedSample(name: name, labels: labels, value: String(rest.dropFirst())))
        }
        return (types, samples)
    }

    @Test func familiesRoundTripThroughAnIndependentParser() throws {
        let text = PrometheusExposition.render([
            MetricFamily(name: "dnsgate_queries_total", help: "Queries.\nTwo lines", kind: .counter, samples: [
                .init(labels: [("transport", "udp"), ("rcode", "NOERROR")], value: 42),
                .init(labels: [("upstream", "tls://a\"b\\c\nd")], value: 1),
            ]),
            MetricFamily(name: "dnsgate_latency_seconds", help: "Latency.", kind: .histogram, samples: [
                .init(suffix: "_bucket", labels: [("le", PrometheusExposition.format(0.00005))], value: 3),
                .init(suffix: "_bucket", labels: [("le", "+Inf")], value: 4),
                .init(suffix: "_sum", value: 0.25),
                .init(suffix: "_count", value: 4),
            ]),
        ])
        #expect(text.hasPrefix("# HELP dnsgate_queries_total Queries.\\nTwo lines\n# TYPE dnsgate_queries_total counter\n"))
        let parsed = try Self.parse(text)
        #expect(parsed.types == ["dnsgate_queries_total": "counter", "dnsgate_latency_seconds": "histogram"])
        #expect(parsed.samples == [
            ParsedSample(name: "dnsgate_queries_total", labels: ["transport": "udp", "rcode": "NOERROR"], value: "42"),
            ParsedSample(name: "dnsgate_queries_total", labels: ["upstream": "tls://a\"b\\c\nd"], value: "1"),
            ParsedSample(name: "dnsgate_latency_seconds_bucket", labels: ["le": "5e-05"], value: "3"),
            ParsedSample(name: "dnsgate_latency_seconds_bucket", labels: ["le": "+Inf"], value: "4"),
            ParsedSample(name: "dnsgate_latency_seconds_sum", labels: [:], value: "0.25"),
            ParsedSample(name: "dnsgate_latency_seconds_count", labels: [:], value: "4"),
        ])
    }

    @Test(arguments: [(0.0, "0"), (12.0, "12"), (0.5, "0.5"), (Double.infinity, "+Inf"), (-Double.infinity, "-Inf"),
                      (1e20, "1e+20")])
    func numbersAreWrittenAsPrometheusReadsThem(value: Double, text: String) {
        #expect(PrometheusExposition.format(value) == text)
    }
}
