public import DNSCore
import DNSWire

/// The first pipeline stage: answers clients that ``AccessControl`` refuses, and passes everyone else on.
public struct AccessControlMiddleware: DNSDecidingMiddleware {
    public let control: AccessControl

    public init(control: AccessControl) {
        self.control = control
    }

    /// The refusal of a client the control does not permit.
    public func decision(for request: DNSRequest) -> DNSResponse? {
        if self.control.permits(request.metadata.client.flatMap(IPAddress.init)) { return nil }
        switch self.control.refusal {
        case .refuse: return .error(.refused, for: request, extendedError: .prohibited)
        case .drop: return .silence
        }
    }
}
