public import DNSCore
import NIOCore
import DNSWire

/// Answers queries from clients over their rate as ``RateLimitSettings/action`` says, and passes the rest on.
public struct RateLimitMiddleware: DNSDecidingMiddleware {
    public let limiter: ClientRateLimiter

    public init(limiter: ClientRateLimiter) {
        self.limiter = limiter
    }

    /// The answer for a client over its rate, or nil when it is within it.
    public func decision(for request: DNSRequest) -> DNSResponse? {
        guard let client = request.metadata.client.flatMap(IPAddress.init),
            !self.limiter.admit(client, now: NIODeadline.now().uptimeNanoseconds)
        else { return nil }
        switch self.limiter.settings.action {
        case .truncate where request.metadata.transport == .udp:
            var response = DNSResponse.error(.noError, for: request)
            response.message.setDNSFlagBits(DNSHeader.Flag.tc)
            return response
        case .truncate, .refuse:
            return .error(.refused, for: request, extendedError: .prohibited)
        case .drop:
            return .silence
        }
    }
}
