public import DNSCore
import DNSWire
public import NIOCore

/// Resolves a name's real addresses through the pipeline behind the fake-IP stage (cache, then upstreams), so the
/// proxy shares the resolver's cache and failover.
public struct NameResolver: Sendable {
    private let pipeline: any DNSHandler
    private let timeout: TimeAmount

    public init(pipeline: any DNSHandler, timeout: TimeAmount) {
        self.pipeline = pipeline
        self.timeout = timeout
    }

    /// IPv6 addresses first, then IPv4 (RFC 6724's default preference), each family in the order given.
    public func addresses(of name: String, on eventLoop: any EventLoop) -> EventLoopFuture<[IPAddress]> {
        guard let dnsName = DNSName(name) else { return eventLoop.makeSucceededFuture([]) }
        let lookups = [DNSType.aaaa, .a].map { type in self.lookup(dnsName, type, on: eventLoop) }
        return EventLoopFuture.whenAllComplete(lookups, on: eventLoop).map { results in
            results.flatMap { (try? $0.get()) ?? [] }
        }
    }

    private func lookup(_ name: DNSName, _ type: DNSType, on eventLoop: any EventLoop) -> EventLoopFuture<[IPAddress]> {
        // The ID stays 0: the upstream layer sends every query with a fresh random ID of its own, and a random one
        // here would cost a getrandom call per lookup (two per proxied connection).
        let message = DNSMessage.query(name, type, id: 0).encoded()
        guard let view = try? DNSMessageView(message),
            let request = DNSRequest(message: message, view: view,
                                     metadata: DNSRequestMetadata(client: nil, transport: .tcp),
                                     deadline: .now() + self.timeout)
        else { return eventLoop.makeSucceededFuture([]) }
        return self.pipeline.handle(request, eventLoop: eventLoop).map { response in
            guard let answer = try? DNSMessage(response.message) else { return [] }
            return answer.answers.compactMap { record in
                guard record.type == type, record.rdata.count == (type == .a ? 4 : 16) else { return nil }
                return record.rdata.withUnsafeBytes { IPAddress.load($0, at: 0, length: record.rdata.count) }
            }
        }
    }
}
