import DNSCore
import DNSTestSupport
import DNSWire
import NIOCore

extension HeldHandler {
    /// Answers the held query with client ID `id` by echoing it back as a response.
    func answer(id: UInt16) {
        self.complete(where: { $0.id == id }) { request in
            var message = request.message
            message.setDNSFlags(request.view.header.flags | DNSHeader.Flag.qr)
            return DNSResponse(message: message)
        }
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

/// A pipeline that fails every query, as one does when every upstream is gone.
struct FailingHandler: DNSHandler {
    struct Failure: Error {}

    func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
        eventLoop.makeFailedFuture(Failure())
    }
}
