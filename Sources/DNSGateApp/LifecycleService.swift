import ServiceLifecycle

/// One long-running part of dnsgate as a swift-service-lifecycle `Service`: a loop that runs until the graceful
/// shutdown reaches it (cancelled then), and what stopping it takes. The `ServiceGroup` stops the services in the
/// reverse of the order they are given in, each once the ones after it have finished, so the shutdown order is
/// declared by that list (``Gateway/services``), not managed by hand.
struct LifecycleService: Service, CustomStringConvertible {
    let description: String
    /// What runs until shutdown; nil for a part that only waits to be stopped.
    private let loop: (@Sendable () async -> Void)?
    /// Called once the loop has ended on shutdown.
    private let stop: @Sendable () async -> Void

    init(_ name: String, loop: (@Sendable () async -> Void)? = nil, stop: @escaping @Sendable () async -> Void = {}) {
        self.description = name
        self.loop = loop
        self.stop = stop
    }

    func run() async throws {
        if let loop = self.loop { await cancelWhenGracefulShutdown { await loop() } }
        // A loop that ended by itself still holds its place until the shutdown reaches it.
        try? await gracefulShutdown()
        await self.stop()
    }
}
