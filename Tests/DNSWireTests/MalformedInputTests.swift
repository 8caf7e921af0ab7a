import DNSTestSupport
import DNSWire
import NIOCore
import Testing

/// Every class of malformed input yields a typed error, never a crash.
@Suite struct MalformedInputTests {
    /// A header announcing one question, followed by `body`.
    private func query(body: [UInt8]) -> ByteBuffer {
        ByteBuffer(bytes: [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0] + body)
    }

    @Test func everyStrictPrefixOfAValidMessageIsTruncated() throws {
        for hex in [GoldenMessages.knotMulti, GoldenMessages.knotCNAMEChain, GoldenMessages.kdigDNSSECQuery,
                    GoldenMessages.knotNXDomain] {
            let bytes = try #require(ByteBuffer(hex: hex)).bytes
            for length in 0..<bytes.count {
                #expect(throws: DNSWireError.self) { try DNSMessageView(ByteBuffer(bytes: bytes[..<length])) }
            }
        }
    }

    @Test func truncatedErrorNamesTheOffset() {
        #expect(throws: DNSWireError.truncated(at: 0)) { try DNSMessageView(ByteBuffer(bytes: [])) }
        #expect(throws: DNSWireError.truncated(at: 12)) { try DNSMessageView(self.query(body: [])) }
    }

    @Test func pointerToItselfIsALoop() {
        #expect(throws: DNSWireError.pointerLoop(at: 12)) {
            try DNSMessageView(self.query(body: [0xC0, 12, 0, 1, 0, 1]))
        }
    }

    @Test func pointerBackIntoItsOwnNameIsALoop() {
        // "a" at 12, then a pointer at 14 back to 12: a → a → a ...
        #expect(throws: DNSWireError.pointerLoop(at: 14)) {
            try DNSMessageView(self.query(body: [1, 0x61, 0xC0, 12, 0, 1, 0, 1]))
        }
    }

    @Test func forwardPointerIsRejected() {
        #expect(throws: DNSWireError.forwardPointer(to: 20, at: 12)) {
            try DNSMessageView(self.query(body: [0xC0, 20, 0, 1, 0, 1, 0, 0, 0]))
        }
    }

    @Test func pointerIntoTheHeaderChainsDownAndStops() {
        // A pointer to byte 2 reads header bytes as labels; whatever they say, it must end in an error or a name.
        let result = Result { try DNSMessageView(self.query(body: [0xC0, 2, 0, 1, 0, 1])) }
        if case .failure(let error) = result { #expect(error is DNSWireError) }
    }

    @Test(arguments: [64, 100, 127])
    func labelLongerThan63IsRejected(length: Int) {
        let body = [UInt8(length)] + Array(repeating: 0x61, count: length) + [0, 0, 1, 0, 1]
        #expect(throws: DNSWireError.labelTooLong(length, at: 12)) { try DNSMessageView(self.query(body: body)) }
    }

    @Test func reservedLabelTypeIsRejected() {
        #expect(throws: DNSWireError.unknownLabelType(0x80, at: 12)) {
            try DNSMessageView(self.query(body: [0x80, 0, 0, 1, 0, 1]))
        }
    }

    @Test func nameLongerThan255IsRejected() {
        // Five labels of 63 bytes: 5 × 64 + 1 = 321 bytes.
        let label = [UInt8(63)] + Array(repeating: UInt8(0x61), count: 63)
        let body = Array([[UInt8]](repeating: label, count: 5).joined()) + [0, 0, 1, 0, 1]
        #expect(throws: DNSWireError.nameTooLong(at: 12)) { try DNSMessageView(self.query(body: body)) }
    }

    @Test func nameOverLimitThroughCompressionIsRejected() {
        // Four 63-byte labels at 12 (257 bytes with root... 4 × 64 = 256 + pointer) built via a pointer chain.
        let label = [UInt8(63)] + Array(repeating: UInt8(0x62), count: 63)
        let first = Array([[UInt8]](repeating: label, count: 3).joined()) + [0]  // 193 bytes, a valid name
        let second = label + [0xC0, 12]  // 64 + 193 = 257 bytes
        let body = first + [0, 1, 0, 1] + second + [0, 1, 0, 1]
        var bytes: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0]
        bytes += body
        #expect(throws: DNSWireError.nameTooLong(at: 12 + first.count + 4)) {
            try DNSMessageView(ByteBuffer(bytes: bytes))
        }
    }

    @Test func rdataLongerThanTheMessageIsTruncated() {
        let bytes: [UInt8] = [0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0] + [0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 10, 1, 2]
        #expect(throws: DNSWireError.truncated(at: 23)) { try DNSMessageView(ByteBuffer(bytes: bytes)) }
    }

    @Test func twoOPTRecordsAreRejected() {
        let opt: [UInt8] = [0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]
        let bytes: [UInt8] = [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2] + opt + opt
        #expect(throws: DNSWireError.badOPT("more than one OPT record", at: 23)) {
            try DNSMessageView(ByteBuffer(bytes: bytes))
        }
    }

    @Test func optWithANonRootOwnerIsRejected() {
        let bytes: [UInt8] = [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1] + [1, 0x61, 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]
        #expect(throws: DNSWireError.badOPT("owner name is not the root", at: 12)) {
            try DNSMessageView(ByteBuffer(bytes: bytes))
        }
    }

    @Test func optOptionRunningPastTheRecordIsRejected() {
        // One option claiming 8 bytes of data inside RDATA of 6 bytes.
        let bytes: [UInt8] = [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 6, 0, 10, 0, 8, 1, 2]
        #expect(throws: DNSWireError.badOPT("option data runs past the record", at: 23)) {
            try DNSMessageView(ByteBuffer(bytes: bytes))
        }
    }

    @Test func randomBytesNeverCrashTheParsers() {
        var random = SeededRandom(seed: 7)
        for _ in 0..<20_000 {
            let length = Int.random(in: 0..<96, using: &random)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            // Keep the counts small so that the parser gets past the header often.
            if bytes.count >= 12 {
                for index in [4, 6, 8, 10] { bytes[index] = 0 }
                for index in [5, 7, 9, 11] { bytes[index] = UInt8.random(in: 0...3, using: &random) }
            }
            let buffer = ByteBuffer(bytes: bytes)
            _ = try? DNSMessageView(buffer)
            _ = try? DNSMessage(buffer)
        }
    }

    @Test func everySingleByteCorruptionOfARealAnswerIsHandled() throws {
        let original = try #require(ByteBuffer(hex: GoldenMessages.knotCNAMEChain)).bytes
        var failures = 0
        for index in original.indices {
            for value: UInt8 in [0x00, 0x3F, 0x40, 0x80, 0xC0, 0xFF] {
                var bytes = original
                bytes[index] = value
                if (try? DNSMessage(ByteBuffer(bytes: bytes))) == nil { failures += 1 }
            }
        }
        // Corrupting lengths and pointers must be caught somewhere.
        #expect(failures > 100)
    }
}
