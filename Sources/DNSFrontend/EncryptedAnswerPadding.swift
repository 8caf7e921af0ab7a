import DNSCore
import DNSWire
import NIOCore

/// RFC 8467 §4.1 for the encrypted listeners: an answer to a query that carried a Padding option is padded to a
/// multiple of 468 octets; other answers are sent as they are.
enum EncryptedAnswerPadding {
    static func apply(_ answer: ByteBuffer, for request: DNSRequest) -> ByteBuffer {
        guard let opt = request.view.opt, request.message.dnsHasEDNSOption(ByteBuffer.ednsPaddingOption, opt: opt),
            let view = try? DNSMessageView(answer)
        else { return answer }
        return answer.dnsPadded(toMultipleOf: ByteBuffer.answerPaddingBlock, view: view)
    }
}
