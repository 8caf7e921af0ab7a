public import DNSCore
import DNSWire

/// The first pipeline stage: answers clients that ``AccessControl`` refuses, and passes everyone else on.
public struct AccessControlMiddleware: DNSDecidingMiddleware {
    public let control: AccessControl
    /// Listeners with access lists of their own, by ``DNSRequestMetadata/listener``.
    public let listenerControls: [Int: AccessControl]

    public init(control: AccessControl, listenerControls: [Int: AccessControl] = [:]) {
        self.control = control
        self.listenerControls = listenerControls
    }

    /// The refusal of a client the control does not permit.
    public func decision(for request: DNSRequest) -> DNSResponse? {
        let control = self.listenerControls.isEmpty ? self.control
            : self.listenerControls[request.metadata.listener] ?? self.control
        if control.permits(request.metadata.client.flatMap(IPAddress.init)) { return nil }
        switch control.refusal {
        case .refuse: return .error(.refused, for: request, extendedError: .prohibited)
        case .drop: return .silence
        }
    }
}
