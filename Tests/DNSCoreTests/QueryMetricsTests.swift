import DNSCore
import DNSTestSupport
import DNSWire
import NIOCore
import NIOEmbedded
import Testing

@Suite struct QueryMetricsTests {
    @Test func aHistogramCountsEachDurationInItsBucketAndEstimatesQuantiles() {
        let histogram = LatencyHistogram()
        for _ in 0..<90 { histogram.record(.microseconds(40)) }  // ≤ 50 µs
        for _ in 0..<10 { histogram.record(.milliseconds(20)) }  // ≤ 25 ms
        histogram.record(.seconds(9))  // above every bound
        let snapshot = histogram.snapshot
        #expect(snapshot.count == 101)
        #expect(snapshot.cumulative.first == 90)
        #expect(snapshot.cumulative.last == 100, "the 9 s sample is only in +Inf")
        #expect(abs(snapshot.sum - (90 * 0.000_04 + 10 * 0.02 + 9)) < 1e-9)
        #expect((snapshot.quantile(0.5) ?? 1) <= 0.000_05)
        let p95 = snapshot.quantile(0.95) ?? 0
        #expect(p95 > 0.01 && p95 <= 0.025)
        #expect(LatencyHistogram().snapshot.quantile(0.5) == nil)
    }

    /// Answers are counted by transport, type and code as the measured pipeline hands them out, immediate or not.
    @Test func theMeasuredPipelineCountsEveryAnswer() throws {
        let loop = EmbeddedEventLoop()
        let metrics = QueryMetrics()
        let pipeline = ObservedHandler(EchoHandler(), observers: [metrics])
        let query = DNSMessage.query(try #require(DNSName("example.com.")), .aaaa, id: 7).encoded()
        let view = try DNSMessageView(query)
        for transport in [DNSTransport.udp, .udp, .tcp] {
            let request = try #require(DNSRequest(message: query, view: view,
                                                  metadata: DNSRequestMetadata(client: nil, transport: transport),
                                                  deadline: .now() + .seconds(5)))
            _ = try pipeline.handle(request, eventLoop: loop).wait()
        }
        #expect(metrics.answered(transport: .udp, type: "AAAA", rcode: "NOERROR") == 2)
        #expect(metrics.answered(transport: .tcp, type: "AAAA", rcode: "NOERROR") == 1)
        #expect(metrics.answered(transport: .udp, type: "A", rcode: "NOERROR") == 0)
        #expect(metrics.latency(of: .udp).count == 2)
        #expect(metrics.answered(from: .upstream) == 3)
    }
}
