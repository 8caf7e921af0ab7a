import NIOCore

/// The header of a datagram relayed by a SOCKS5 server (RFC 1928 §7): RSV (2 bytes), FRAG, ATYP, DST.ADDR,
/// DST.PORT, then the data.
enum SOCKS5UDPHeader {
    /// The header for datagrams to `domain`:`port`, naming the domain (address type 3) so the server resolves it.
    static func header(domain: String, port: Int) -> ByteBuffer {
        let name = Array(self.bareName(domain).utf8.prefix(255))
        return ByteBuffer(bytes: [0, 0, 0, 0x03, UInt8(name.count)] + name + [UInt8(port >> 8), UInt8(port & 0xFF)])
    }

    /// The data of a datagram from the relay; nil when the header is malformed or the datagram is a fragment
    /// (fragmentation is optional in RFC 1928 and dnsgate does not reassemble).
    static func payload(of datagram: ByteBuffer) -> ByteBuffer? {
        let start = datagram.readerIndex
        guard let fragment = datagram.getInteger(at: start + 2, as: UInt8.self), fragment == 0,
            let type = datagram.getInteger(at: start + 3, as: UInt8.self)
        else { return nil }
        let addressLength: Int
        switch type {
        case 0x01: addressLength = 4
        case 0x04: addressLength = 16
        case 0x03:
            guard let length = datagram.getInteger(at: start + 4, as: UInt8.self) else { return nil }
            addressLength = 1 + Int(length)
        default: return nil
        }
        let headerLength = 4 + addressLength + 2
        guard datagram.readableBytes >= headerLength else { return nil }
        return datagram.getSlice(at: start + headerLength, length: datagram.readableBytes - headerLength)
    }

    /// `domain` without its trailing dot, as SOCKS5 servers expect host names.
    static func bareName(_ domain: String) -> String {
        domain.hasSuffix(".") ? String(domain.dropLast()) : domain
    }
}
