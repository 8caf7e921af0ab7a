import DNSCore
import Foundation
import Hummingbird
import Synchronization
public import Logging
public import NIOCore

/// The admin HTTP listener: `/metrics`, `/healthz`, `/readyz`, the JSON API under `/api/v1` and the dashboard at
/// `/`. With a token, everything but the dashboard page and the two probes needs `Authorization: Bearer TOKEN`.
public final class AdminServer: Sendable {
    /// Where it listens and who may ask.
    public struct Settings: Sendable {
        public var address: SocketAddress
        /// The bearer token (nil inside for none, allowed on loopback addresses only), replaceable while it runs.
        public var token: AdminToken

        public init(address: SocketAddress, token: AdminToken) {
            self.address = address
            self.token = token
        }
    }

    private let settings: Settings
    private let backend: any AdminBackend
    private let logger: Logger
    private let task = Mutex<Task<Void, any Error>?>(nil)

    public init(settings: Settings, backend: any AdminBackend, logger: Logger) {
        self.settings = settings
        self.backend = backend
        self.logger = logger
    }

    /// Binds and starts serving; returns the bound address, or throws when the address cannot be bound.
    public func start() async throws -> SocketAddress {
        let router = Router()
        router.add(middleware: BearerTokenMiddleware(token: self.settings.token))
        AdminRoutes(backend: self.backend).register(on: router)
        let (bound, boundContinuation) = AsyncStream<SocketAddress?>.makeStream()
        let host = self.settings.address.ipAddress ?? "127.0.0.1"
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: self.settings.address.port ?? 9153),
                                 serverName: "dnsgate"),
            onServerRunning: { channel in
                boundContinuation.yield(channel.localAddress)
                boundContinuation.finish()
            },
            logger: self.logger)
        let running = Task {
            do {
                try await app.run()
            } catch {
                boundContinuation.finish()
                throw error
            }
        }
        self.task.withLock { $0 = running }
        for await address in bound {
            if let address { return address }
        }
        // The server stopped before it was bound: its error says why.
        let address = self.settings.address.hostAndPort
        do {
            try await running.value
        } catch {
            throw AdminError.cannotListen(address, reason: "\(error)",
                                          addressInUse: (error as? IOError)?.errnoCode == EADDRINUSE)
        }
        throw AdminError.cannotListen(address, reason: "the listener stopped before it was bound", addressInUse: false)
    }

    /// Stops listening.
    public func stop() async {
        guard let running = self.task.withLock({ task in defer { task = nil }; return task }) else { return }
        running.cancel()
        _ = try? await running.value
    }
}

/// Why the admin listener could not start, or could not do what a request asked.
public struct AdminError: Error, CustomStringConvertible, Sendable, Hashable {
    private enum Base: Hashable, Sendable {
        case cannotListen(address: String, reason: String, addressInUse: Bool)
        case cacheOff
        case notADomainName(String)
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// The listener could not be bound to `address` (`addressInUse`: another socket holds it).
    public static func cannotListen(_ address: String, reason: String, addressInUse: Bool) -> Self {
        Self(.cannotListen(address: address, reason: reason, addressInUse: addressInUse))
    }
    /// A cache flush was asked for with the cache off.
    public static let cacheOff = Self(.cacheOff)
    /// A request named something that is not a domain name.
    public static func notADomainName(_ text: String) -> Self { Self(.notADomainName(text)) }

    /// Whether the address is held by another socket (another instance on the same host).
    public var isAddressInUse: Bool {
        if case .cannotListen(_, _, true) = self.base { return true }
        return false
    }

    public var description: String {
        switch self.base {
        case .cannotListen(let address, let reason, _): return "cannot listen on admin address \(address): \(reason)"
        case .cacheOff: return "the cache is off"
        case .notADomainName(let text): return "'\(text)' is not a domain name"
        }
    }
}
