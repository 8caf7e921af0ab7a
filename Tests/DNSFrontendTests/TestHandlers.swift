import DNSCore
import DNSWire
import NIOCore

/// Answers every query with the query itself turned into a response, plus `answerCount` TXT records of 200 bytes.
struct EchoHandler: DNSHandler {
    var answerCount = 0

    func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
        var message = DNSMessage(id: request.id, flags: request.view.header.flags | DNSHeader.Flag.qr,
                                 questions: [request.question])
        message.answers = (0..<self.answerCount).map { _ in
            .txt(request.question.name, [String(repeating: "t", count: 200)], ttl: 60)
        }
        if let opt = request.view.opt { message.additionals = [.opt(udpPayloadSize: opt.udpPayloadSize)] }
        return eventLoop.makeSucceededFuture(DNSResponse(message: message.encoded()))
    }
}

/// Holds every request until the test answers it, in whatever order the test chooses. Used on one EmbeddedChannel
/// thread only.
final class HeldHandler: DNSHandler, @unchecked Sendable {
    private(set) var held: [(request: DNSRequest, promise: EventLoopPromise<DNSResponse>)] = []

    func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
        let promise = eventLoop.makePromise(of: DNSResponse.self)
        self.held.append((request, promise))
        return promise.futureResult
    }

    /// Answers the held query with client ID `id`.
    func answer(id: UInt16) {
        guard let index = self.held.firstIndex(where: { $0.request.id == id }) else { return }
        let (request, promise) = self.held.remove(at: index)
        var message = request.message
        message.setDNSFlags(request.view.header.flags | DNSHeader.Flag.qr)
        promise.succeed(DNSResponse(message: message))
    }
}

/// Counts `read` calls that reach the head of the pipeline, i.e. reads the socket would really do.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    private(set) var reads = 0

    func read(context: ChannelHandlerContext) {
        self.reads += 1
        context.read()
    }
}

enum TestQueries {
    /// A query for `name` A with ID `id`, optionally with EDNS.
    static func query(_ name: String, id: UInt16, udpPayloadSize: UInt16? = nil) -> ByteBuffer {
        DNSMessage.query(DNSName(name) ?? .root, .a, id: id, udpPayloadSize: udpPayloadSize).encoded()
    }

    /// `message` with its 2-byte length prefix.
    static func framed(_ message: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        out.writeLengthPrefixedDNSMessage(message)
        return out
    }
}
