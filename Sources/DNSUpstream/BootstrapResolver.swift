import DNSWire
import NIOConcurrencyHelpers
public import NIOCore

/// Resolves the host names of upstreams (`tls://dns.example`) through plain-DNS bootstrap servers, never through
/// dnsgate itself: A and AAAA, kept for their TTL (at least ``minimumTTL``), every address used in turn so that
/// connections spread over them and a failed connect moves on to the next.
public final class BootstrapResolver: Sendable {
    /// Answers are kept at least this long, so that a zero TTL does not cost a lookup per connection.
    public static let minimumTTL: UInt32 = 5

    private struct Entry {
        var addresses: [SocketAddress]
        var expires: NIODeadline
        var next = 0
    }

    private let servers: any Upstream
    private let entries = NIOLockedValueBox<[String: Entry]>([:])
    private let timeout: TimeAmount

    /// - Parameters:
    ///   - servers: the bootstrap servers (plain DNS), tried as a group.
    ///   - timeout: how long one lookup may take.
    public init(servers: any Upstream, timeout: TimeAmount) {
        self.servers = servers
        self.timeout = timeout
    }

    /// The addresses of `host` with `port`, starting with the one after the address the previous call started
    /// with; looked up again once the last answer's TTL has passed.
    public func addresses(of host: String, port: Int, on eventLoop: any EventLoop) -> EventLoopFuture<[SocketAddress]> {
        let now = NIODeadline.now()
        let cached: [SocketAddress]? = self.entries.withLockedValue { entries in
            guard var entry = entries[host], entry.expires > now, !entry.addresses.isEmpty else { return nil }
            let start = entry.next % entry.addresses.count
            entry.next += 1
            entries[host] = entry
            return Array(entry.addresses[start...] + entry.addresses[..<start])
        }
        if let cached { return eventLoop.makeSucceededFuture(cached.map { Self.with(port, $0) }) }
        return self.lookUp(host, on: eventLoop).flatMapThrowing { addresses, ttl in
            guard !addresses.isEmpty else {
                throw UpstreamError.connectFailed(host, reason: "the bootstrap servers know no address for it")
            }
            self.entries.withLockedValue {
                $0[host] = Entry(addresses: addresses, expires: .now() + .seconds(Int64(max(ttl, Self.minimumTTL))),
                                 next: 1)
            }
            return addresses.map { Self.with(port, $0) }
        }
    }

    /// Asks for A and AAAA at once; the addresses of both answers and their smallest TTL.
    private func lookUp(_ host: String, on eventLoop: any EventLoop)
        -> EventLoopFuture<(addresses: [SocketAddress], ttl: UInt32)>
    {
        guard let name = DNSName(host.hasSuffix(".") ? host : host + ".") else {
            return eventLoop.makeFailedFuture(UpstreamError.connectFailed(host, reason: "not a host name"))
        }
        let deadline = NIODeadline.now() + self.timeout
        let lookups = [DNSType.a, .aaaa].map { type in
            self.servers.send(UpstreamQuery(message: DNSMessage.query(name, type, id: UInt16.random(in: 0...UInt16.max))
                                                .encoded(),
                                            question: DNSQuestion(name: name, type: type), deadline: deadline),
                              on: eventLoop)
                .map { Optional($0) }.recover { _ in nil }
        }
        return EventLoopFuture.whenAllSucceed(lookups, on: eventLoop).map { answers in
            var addresses: [SocketAddress] = []
            var ttl = UInt32.max
            for answer in answers.compactMap({ $0 }) {
                guard let message = try? DNSMessage(answer.message) else { continue }
                for record in message.answers where record.type == .a || record.type == .aaaa {
                    guard let address = try? SocketAddress(packedIPAddress: ByteBuffer(bytes: record.rdata), port: 0)
                    else { continue }
                    addresses.append(address)
                    ttl = min(ttl, record.ttl)
                }
            }
            return (addresses, ttl == .max ? 0 : ttl)
        }
    }

    private static func with(_ port: Int, _ address: SocketAddress) -> SocketAddress {
        var address = address
        address.port = port
        return address
    }

    /// Closes the connections to the bootstrap servers.
    public func shutdown() async {
        await self.servers.shutdown()
    }
}
