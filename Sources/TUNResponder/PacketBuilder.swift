import DNSCore

/// Builds the packets the responder writes back: UDP and ICMP replies inside IPv4 or IPv6, fragmented to the
/// device's MTU (the kernel does not enforce it on what a program writes into a TUN device). Every reply gets a
/// fresh IP identification.
struct PacketBuilder {
    let mtu: Int
    private var nextIPv4ID: UInt16
    private var nextIPv6ID: UInt32

    static let hopLimit: UInt8 = 64

    init(mtu: Int, firstIdentification: UInt32 = UInt32.random(in: 0...UInt32.max)) {
        self.mtu = mtu
        self.nextIPv4ID = UInt16(truncatingIfNeeded: firstIdentification)
        self.nextIPv6ID = firstIdentification
    }

    /// A UDP datagram from `source`:`sourcePort` to `destination`:`destinationPort`, as one or more IP packets.
    mutating func udp(from source: IPAddress, port sourcePort: UInt16, to destination: IPAddress,
                      port destinationPort: UInt16, payload: UnsafeRawBufferPointer) -> [[UInt8]] {
        let length = 8 + payload.count
        var datagram = [UInt8]()
        datagram.reserveCapacity(length)
        datagram.appendBigEndian(sourcePort)
        datagram.appendBigEndian(destinationPort)
        datagram.appendBigEndian(UInt16(truncatingIfNeeded: length))
        datagram.appendBigEndian(UInt16(0))
        datagram.append(contentsOf: payload)
        var checksum = InternetChecksum()
        checksum.addPseudoHeader(source: source, destination: destination, protocol: IPPacket.udp, length: length)
        checksum.add(datagram)
        // A computed zero is sent as all ones: zero means "no checksum" in IPv4 and is invalid in IPv6.
        let value = checksum.value == 0 ? 0xFFFF : checksum.value
        datagram[6] = UInt8(value >> 8)
        datagram[7] = UInt8(value & 0xFF)
        return self.ip(from: source, to: destination, protocol: IPPacket.udp, payload: datagram)
    }

    /// The echo reply to an ICMP or ICMPv6 echo request `message` (type, code, checksum, identifier, sequence,
    /// data), or nil when `message` is not a valid echo request.
    mutating func echoReply(to message: UnsafeRawBufferPointer, from source: IPAddress, to destination: IPAddress)
        -> [[UInt8]]?
    {
        let isIPv4 = source.isIPv4
        let requestType: UInt8 = isIPv4 ? 8 : 128
        guard message.count >= 8, message[0] == requestType, message[1] == 0 else { return nil }
        let protocolNumber = isIPv4 ? IPPacket.icmp : IPPacket.icmpv6
        var verify = InternetChecksum()
        if !isIPv4 {
            verify.addPseudoHeader(source: destination, destination: source, protocol: protocolNumber,
                                   length: message.count)
        }
        verify.add(message)
        guard verify.value == 0 else { return nil }
        var reply = [UInt8](message)
        reply[0] = isIPv4 ? 0 : 129
        reply[2] = 0
        reply[3] = 0
        var checksum = InternetChecksum()
        if !isIPv4 {
            checksum.addPseudoHeader(source: source, destination: destination, protocol: protocolNumber,
                                     length: reply.count)
        }
        checksum.add(reply)
        reply[2] = UInt8(checksum.value >> 8)
        reply[3] = UInt8(checksum.value & 0xFF)
        return self.ip(from: source, to: destination, protocol: protocolNumber, payload: reply)
    }

    /// `payload` (an upper-layer message) in IP packets of at most `mtu` bytes.
    mutating func ip(from source: IPAddress, to destination: IPAddress, protocol protocolNumber: UInt8,
                     payload: [UInt8]) -> [[UInt8]] {
        if source.isIPv4 {
            self.nextIPv4ID &+= 1
            let chunk = (self.mtu - 20) & ~7
            guard 20 + payload.count > self.mtu, chunk > 0 else {
                return [Self.ipv4Header(source, destination, protocolNumber, id: self.nextIPv4ID, offset: 0, more: false,
                                        length: payload.count) + payload]
            }
            return stride(from: 0, to: payload.count, by: chunk).map { offset in
                let end = min(offset + chunk, payload.count)
                return Self.ipv4Header(source, destination, protocolNumber, id: self.nextIPv4ID, offset: offset,
                                       more: end < payload.count, length: end - offset) + payload[offset..<end]
            }
        }
        self.nextIPv6ID &+= 1
        let chunk = (self.mtu - 48) & ~7
        guard 40 + payload.count > self.mtu, chunk > 0 else {
            return [Self.ipv6Header(source, destination, next: protocolNumber, length: payload.count) + payload]
        }
        return stride(from: 0, to: payload.count, by: chunk).map { offset in
            let end = min(offset + chunk, payload.count)
            var packet = Self.ipv6Header(source, destination, next: 44, length: 8 + end - offset)
            packet.append(protocolNumber)
            packet.append(0)
            packet.appendBigEndian(UInt16(offset) | (end < payload.count ? 1 : 0))
            packet.appendBigEndian(self.nextIPv6ID)
            return packet + payload[offset..<end]
        }
    }

    private static func ipv4Header(_ source: IPAddress, _ destination: IPAddress, _ protocolNumber: UInt8, id: UInt16,
                                   offset: Int, more: Bool, length: Int) -> [UInt8] {
        var header: [UInt8] = [0x45, 0]
        header.reserveCapacity(20 + length)
        header.appendBigEndian(UInt16(20 + length))
        header.appendBigEndian(id)
        header.appendBigEndian(UInt16(offset / 8) | (more ? 0x2000 : 0))
        header.append(Self.hopLimit)
        header.append(protocolNumber)
        header.appendBigEndian(UInt16(0))
        header.append(contentsOf: source.bytes)
        header.append(contentsOf: destination.bytes)
        var checksum = InternetChecksum()
        checksum.add(header)
        header[10] = UInt8(checksum.value >> 8)
        header[11] = UInt8(checksum.value & 0xFF)
        return header
    }

    private static func ipv6Header(_ source: IPAddress, _ destination: IPAddress, next: UInt8, length: Int) -> [UInt8] {
        var header: [UInt8] = [0x60, 0, 0, 0]
        header.reserveCapacity(48 + length)
        header.appendBigEndian(UInt16(length))
        header.append(next)
        header.append(Self.hopLimit)
        header.append(contentsOf: source.bytes)
        header.append(contentsOf: destination.bytes)
        return header
    }
}

extension [UInt8] {
    mutating func appendBigEndian<Value: FixedWidthInteger>(_ value: Value) {
        Swift.withUnsafeBytes(of: value.bigEndian) { self.append(contentsOf: $0) }
    }
}
