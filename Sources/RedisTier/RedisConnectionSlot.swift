import DNSCore
import Logging
import NIOCore
import NIOPosix

/// The Redis connection of one event loop: opened at start, reopened after it closes, authenticated and switched to
/// the configured database before it carries commands. Commands sent while it connects wait for it; after a failed
/// attempt it backs off exponentially and fails commands at once, so a Redis outage costs queries nothing. Confined
/// to its event loop.
final class RedisConnectionSlot {
    private enum State {
        case idle
        case connecting([RedisCommand])
        case ready(any Channel, RedisCommandHandler)
        case backingOff
        case shutDown
    }

    private let eventLoop: any EventLoop
    private let url: RedisURL
    private let connectTimeout: TimeAmount
    private let maxPending: Int
    private let logger: Logger
    private var state = State.idle
    private var backoff = ReconnectBackoff()

    init(eventLoop: any EventLoop, url: RedisURL, connectTimeout: TimeAmount, maxPending: Int, logger: Logger) {
        self.eventLoop = eventLoop
        self.url = url
        self.connectTimeout = connectTimeout
        self.maxPending = maxPending
        self.logger = logger
    }

    func send(_ bytes: ByteBuffer, promise: EventLoopPromise<RESPValue>) {
        let command = RedisCommand(bytes: bytes, promise: promise)
        switch self.state {
        case .ready(let channel, let handler):
            guard handler.pending < self.maxPending else { return promise.fail(RedisError.busy) }
            command.write(to: channel, flush: true)
        case .idle:
            self.state = .connecting([command])
            self.connect()
        case .connecting(var waiting):
            guard waiting.count < self.maxPending else { return promise.fail(RedisError.busy) }
            waiting.append(command)
            self.state = .connecting(waiting)
        case .backingOff:
            promise.fail(RedisError.notConnected)
        case .shutDown:
            promise.fail(RedisError.shuttingDown)
        }
    }

    /// Opens the connection now instead of on the first command.
    func start() {
        guard case .idle = self.state else { return }
        self.state = .connecting([])
        self.connect()
    }

    func shutdown() {
        let previous = self.state
        self.state = .shutDown
        switch previous {
        case .ready(let channel, _): channel.close(promise: nil)
        case .connecting(let waiting): for command in waiting { command.promise.fail(RedisError.shuttingDown) }
        case .idle, .backingOff, .shutDown: break
        }
    }

    private func connect() {
        let handshake = self.handshakeCommands()
        ClientBootstrap(group: self.eventLoop)
            .connectTimeout(self.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(RESPDecoder()), RedisCommandHandler())
                }
            }
            .connect(host: self.url.host, port: self.url.port)
            .flatMap { channel in
                let replies = handshake.map { arguments in
                    let promise = channel.eventLoop.makePromise(of: RESPValue.self)
                    var bytes = channel.allocator.buffer(capacity: 64)
                    bytes.writeRESPCommand(arguments)
                    RedisCommand(bytes: bytes, promise: promise).write(to: channel, flush: false)
                    return promise.futureResult
                }
                channel.flush()
                return EventLoopFuture.whenAllSucceed(replies, on: channel.eventLoop).flatMapThrowing { replies in
                    for case .error(let message) in replies { throw RedisError.replyError(message) }
                    return channel
                }.flatMapErrorThrowing { error -> any Channel in
                    channel.close(promise: nil)
                    throw error
                }
            }
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel): self.connected(channel)
                case .failure(let error): self.connectFailed(error)
                }
            }
    }

    /// AUTH (when the URL has a password) and SELECT (when it names a database other than 0).
    private func handshakeCommands() -> [[ByteBuffer]] {
        var commands: [[String]] = []
        if let password = self.url.password {
            commands.append(["AUTH"] + (self.url.username.map { [$0] } ?? []) + [password])
        }
        if self.url.database != 0 { commands.append(["SELECT", String(self.url.database)]) }
        return commands.map { command in command.map { ByteBuffer(string: $0) } }
    }

    private func connected(_ channel: any Channel) {
        guard case .connecting(let waiting) = self.state,
            let handler = try? channel.pipeline.syncOperations.handler(type: RedisCommandHandler.self)
        else {
            channel.close(promise: nil)
            return
        }
        if self.backoff.succeeded() {
            self.logger.notice("Redis reachable again", metadata: ["redis": "\(self.url)"])
        }
        self.state = .ready(channel, handler)
        channel.closeFuture.assumeIsolated().whenComplete { _ in
            guard case .ready(let current, _) = self.state, current === channel else { return }
            self.logger.warning("Redis connection closed", metadata: ["redis": "\(self.url)"])
            self.state = .idle
            self.start()
        }
        for command in waiting { command.write(to: channel, flush: false) }
        channel.flush()
    }

    private func connectFailed(_ error: any Error) {
        guard case .connecting(let waiting) = self.state else { return }
        let delay = self.backoff.failed()
        self.state = .backingOff
        if self.backoff.consecutiveFailures == 1 {
            self.logger.warning("Redis connection failed; answers are not shared until it is back", metadata: [
                "redis": "\(self.url)", "error": "\(error)",
            ])
        }
        for command in waiting { command.promise.fail(error) }
        self.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            guard case .backingOff = self.state else { return }
            self.state = .idle
            self.start()
        }
    }
}
