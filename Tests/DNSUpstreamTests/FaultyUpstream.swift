import DNSWire
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A UDP DNS server on a loopback port of its own that answers every query with one A record, and can be told to
/// misbehave: answer late, not at all (a black hole), or with an answer for another question. Counts what it gets.
/// Its answers echo the query's OPT record, padding included, as a server that pads would.
final class FaultyUpstream: Sendable {
    enum Behaviour: Sendable {
        case answer
        case delay(TimeAmount)
        case blackHole
        case wrongAnswer
    }

    private struct State {
        var behaviour: Behaviour
        var queries = 0
        var names: [String] = []
        var sizes: [Int] = []
    }

    let port: Int
    private let channel: any Channel
    private let state: NIOLockedValueBox<State>

    var url: String { "udp://127.0.0.1:\(self.port)" }

    init(group: any EventLoopGroup, behaviour: Behaviour = .answer) throws {
        let state = NIOLockedValueBox(State(behaviour: behaviour))
        self.state = state
        self.channel = try DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder(state: state))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        self.port = self.channel.localAddress?.port ?? 0
    }

    var behaviour: Behaviour {
        get { self.state.withLockedValue { $0.behaviour } }
        set { self.state.withLockedValue { $0.behaviour = newValue } }
    }

    /// Queries received so far.
    var queries: Int { self.state.withLockedValue { $0.queries } }

    /// The query names received so far, in order.
    var names: [String] { self.state.withLockedValue { $0.names } }

    /// The size in octets of each query received, in order.
    var sizes: [Int] { self.state.withLockedValue { $0.sizes } }

    func stop() {
        try? self.channel.close().wait()
    }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let state: NIOLockedValueBox<State>

        init(state: NIOLockedValueBox<State>) {
            self.state = state
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = self.unwrapInboundIn(data)
            guard var message = try? DNSMessage(envelope.data), let question = message.questions.first else { return }
            let behaviour = self.state.withLockedValue {
                $0.queries += 1
                $0.names.append(question.name.description)
                $0.sizes.append(envelope.data.readableBytes)
                return $0.behaviour
            }
            message.flags |= DNSHeader.Flag.qr
            message.answers = [.a(question.name, (192, 0, 2, 1), ttl: 60)]
            var delay = TimeAmount.zero
            switch behaviour {
            case .answer: break
            case .delay(let amount): delay = amount
            case .blackHole: return
            case .wrongAnswer:
                let other = DNSName("wrong.example.") ?? question.name
                message.questions = [DNSQuestion(name: other, type: question.type)]
                message.answers = [.a(other, (192, 0, 2, 66), ttl: 60)]
            }
            let reply = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: message.encoded())
            context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
                context.writeAndFlush(self.wrapOutboundOut(reply), promise: nil)
            }
        }
    }
}
