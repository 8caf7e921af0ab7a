public import DNSCore
import DNSWire
public import NIOCore

/// Answers every query with the query itself turned into a response, plus `answerCount` TXT records of 200 bytes.
public struct EchoHandler: DNSHandler {
    public var answerCount = 0

    public init(answerCount: Int = 0) {
        self.answerCount = answerCount
    }

    public func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
        var message = DNSMessage(id: request.id, flags: request.view.header.flags | DNSHeader.Flag.qr,
                                 questions: [request.question])
        message.answers = (0..<self.answerCount).map { _ in
            .txt(request.question.name, [String(repeating: "t", count: 200)], ttl: 60)
        }
        if let opt = request.view.opt { message.additionals = [.opt(udpPayloadSize: opt.udpPayloadSize)] }
        return eventLoop.makeSucceededFuture(DNSResponse(message: message.encoded()))
    }
}
