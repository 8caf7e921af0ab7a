import DNSCore
import DNSWire
import NIOCore

enum PolicyFixtures {
    /// A query for `name` from `client` (an IP address, no port needed).
    static func request(_ name: String, _ type: DNSType = .a, from client: String? = "192.168.1.10",
                        transport: DNSTransport = .udp, edns: Bool = true) -> DNSRequest {
        let message = DNSMessage.query(DNSName(name) ?? .root, type, id: 7, udpPayloadSize: edns ? 1232 : nil)
        let buffer = message.encoded()
        let view = try! DNSMessageView(buffer)
        let address = client.flatMap { try? SocketAddress(ipAddress: $0, port: 5353) }
        return DNSRequest(message: buffer, view: view, metadata: DNSRequestMetadata(client: address, transport: transport),
                          deadline: .now() + .seconds(5))!
    }

    static func decoded(_ response: DNSResponse) -> DNSMessage {
        try! DNSMessage(response.message)
    }

    /// The Extended DNS Error code in a response's OPT record, if any.
    static func extendedError(_ response: DNSResponse) -> UInt16? {
        guard let opt = decoded(response).additionals.first(where: { $0.type == .opt }), opt.rdata.count >= 6,
            opt.rdata[0] == 0, opt.rdata[1] == 15
        else { return nil }
        return UInt16(opt.rdata[4]) << 8 | UInt16(opt.rdata[5])
    }
}
