/// The fixed 12-byte DNS message header (RFC 1035 §4.1.1).
public struct DNSHeader: Hashable, Sendable {
    /// Size of the header on the wire.
    public static let size = 12

    public var id: UInt16
    /// The second 16-bit word: QR, opcode, AA, TC, RD, RA, Z, AD, CD and RCODE.
    public var flags: UInt16
    public var questionCount: UInt16
    public var answerCount: UInt16
    public var authorityCount: UInt16
    public var additionalCount: UInt16

    public init(
        id: UInt16 = 0,
        flags: UInt16 = 0,
        questionCount: UInt16 = 0,
        answerCount: UInt16 = 0,
        authorityCount: UInt16 = 0,
        additionalCount: UInt16 = 0
    ) {
        self.id = id
        self.flags = flags
        self.questionCount = questionCount
        self.answerCount = answerCount
        self.authorityCount = authorityCount
        self.additionalCount = additionalCount
    }

    /// Bit masks of the single-bit flags in ``flags``.
    public enum Flag {
        public static let qr: UInt16 = 0x8000
        public static let aa: UInt16 = 0x0400
        public static let tc: UInt16 = 0x0200
        public static let rd: UInt16 = 0x0100
        public static let ra: UInt16 = 0x0080
        public static let ad: UInt16 = 0x0020
        public static let cd: UInt16 = 0x0010
    }

    public var isResponse: Bool {
        get { self.flags & Flag.qr != 0 }
        set { self.set(Flag.qr, newValue) }
    }

    public var isTruncated: Bool {
        get { self.flags & Flag.tc != 0 }
        set { self.set(Flag.tc, newValue) }
    }

    public var recursionDesired: Bool {
        get { self.flags & Flag.rd != 0 }
        set { self.set(Flag.rd, newValue) }
    }

    public var recursionAvailable: Bool {
        get { self.flags & Flag.ra != 0 }
        set { self.set(Flag.ra, newValue) }
    }

    public var checkingDisabled: Bool {
        get { self.flags & Flag.cd != 0 }
        set { self.set(Flag.cd, newValue) }
    }

    public var opcode: DNSOpcode {
        get { DNSOpcode(rawValue: UInt8((self.flags >> 11) & 0x0F)) }
        set { self.flags = (self.flags & ~0x7800) | (UInt16(newValue.rawValue) << 11) }
    }

    /// The low 4 bits of the response code; the OPT record holds the upper 8 bits.
    public var rcodeLow: UInt8 {
        get { UInt8(self.flags & 0x000F) }
        set { self.flags = (self.flags & ~0x000F) | UInt16(newValue & 0x0F) }
    }

    private mutating func set(_ mask: UInt16, _ on: Bool) {
        if on { self.flags |= mask } else { self.flags &= ~mask }
    }
}
