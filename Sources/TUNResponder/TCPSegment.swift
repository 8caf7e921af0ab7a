import DNSCore

/// A TCP segment's header fields (RFC 9293 §3.1), parsed from or written into bytes.
struct TCPSegment {
    struct Flags: OptionSet {
        let rawValue: UInt8
        static let fin = Flags(rawValue: 0x01)
        static let syn = Flags(rawValue: 0x02)
        static let rst = Flags(rawValue: 0x04)
        static let psh = Flags(rawValue: 0x08)
        static let ack = Flags(rawValue: 0x10)
    }

    var sourcePort: UInt16
    var destinationPort: UInt16
    var sequence: UInt32
    var acknowledgement: UInt32
    var flags: Flags
    var window: UInt16
    /// The peer's maximum segment size, from a SYN's options.
    var maximumSegmentSize: UInt16?
    /// Where the data starts in the segment and how long it is.
    var dataOffset: Int
    var dataLength: Int

    /// Parses `segment`, checking its checksum against the pseudo-header of `packet`.
    init(_ segment: UnsafeRawBufferPointer, in packet: IPPacket) throws(PacketDropReason) {
        guard segment.count >= 20 else { throw .malformed }
        let headerLength = Int(segment[12] >> 4) * 4
        guard headerLength >= 20, headerLength <= segment.count else { throw .malformed }
        var checksum = InternetChecksum()
        checksum.addPseudoHeader(source: packet.source, destination: packet.destination, protocol: IPPacket.tcp,
                                 length: segment.count)
        checksum.add(segment)
        guard checksum.value == 0 else { throw .badChecksum }
        func word(_ at: Int) -> UInt16 { UInt16(segment[at]) << 8 | UInt16(segment[at + 1]) }
        func long(_ at: Int) -> UInt32 { UInt32(word(at)) << 16 | UInt32(word(at + 2)) }
        self.sourcePort = word(0)
        self.destinationPort = word(2)
        self.sequence = long(4)
        self.acknowledgement = long(8)
        self.flags = Flags(rawValue: segment[13] & 0x1F)
        self.window = word(14)
        self.dataOffset = headerLength
        self.dataLength = segment.count - headerLength
        var option = 20
        while option < headerLength {
            let kind = segment[option]
            if kind == 0 { break }
            if kind == 1 { option += 1; continue }
            guard option + 1 < headerLength else { break }
            let length = Int(segment[option + 1])
            guard length >= 2, option + length <= headerLength else { break }
            if kind == 2, length == 4 { self.maximumSegmentSize = word(option + 2) }
            option += length
        }
    }

    init(sourcePort: UInt16, destinationPort: UInt16, sequence: UInt32, acknowledgement: UInt32, flags: Flags,
         window: UInt16 = 65_535, maximumSegmentSize: UInt16? = nil) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequence = sequence
        self.acknowledgement = acknowledgement
        self.flags = flags
        self.window = window
        self.maximumSegmentSize = maximumSegmentSize
        self.dataOffset = maximumSegmentSize == nil ? 20 : 24
        self.dataLength = 0
    }

    /// The segment's bytes with `data`, checksummed for `source` → `destination`.
    func encoded(data: ArraySlice<UInt8>, from source: IPAddress, to destination: IPAddress) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(self.dataOffset + data.count)
        bytes.appendBigEndian(self.sourcePort)
        bytes.appendBigEndian(self.destinationPort)
        bytes.appendBigEndian(self.sequence)
        bytes.appendBigEndian(self.acknowledgement)
        bytes.append(UInt8(self.dataOffset / 4) << 4)
        bytes.append(self.flags.rawValue)
        bytes.appendBigEndian(self.window)
        bytes.appendBigEndian(UInt16(0))
        bytes.appendBigEndian(UInt16(0))
        if let mss = self.maximumSegmentSize {
            bytes.append(contentsOf: [2, 4])
            bytes.appendBigEndian(mss)
        }
        bytes.append(contentsOf: data)
        var checksum = InternetChecksum()
        checksum.addPseudoHeader(source: source, destination: destination, protocol: IPPacket.tcp, length: bytes.count)
        checksum.add(bytes)
        bytes[16] = UInt8(checksum.value >> 8)
        bytes[17] = UInt8(checksum.value & 0xFF)
        return bytes
    }
}

extension UInt32 {
    /// Sequence-number order with wrap-around (RFC 9293 §3.4): whether `self` comes before `other`.
    func precedes(_ other: UInt32) -> Bool { Int32(bitPattern: self &- other) < 0 }
}
