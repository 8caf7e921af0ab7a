internal import CNGHTTP2

/// Header fields as the `nghttp2_nv` array nghttp2's submit functions take, laid out in stack memory for the length
/// of one call (nghttp2 copies them).
enum HTTP2HeaderBlock {
    static func withFields<Result>(_ fields: [HTTP2HeaderField],
                                   _ body: (UnsafePointer<nghttp2_nv>?, Int) -> Result) -> Result {
        let octets = fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(octets, 1)) { text in
            withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: max(fields.count, 1)) { entries in
                var offset = 0
                for (index, field) in fields.enumerated() {
                    let name = Self.copy(field.name, into: text, at: &offset)
                    let value = Self.copy(field.value, into: text, at: &offset)
                    entries.initializeElement(at: index, to: nghttp2_nv(
                        name: name.baseAddress, value: value.baseAddress, namelen: name.count,
                        valuelen: value.count, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
                }
                return body(UnsafePointer(entries.baseAddress), fields.count)
            }
        }
    }

    /// Copies `string`'s UTF-8 into `text` at `offset` and returns where it went.
    private static func copy(_ string: String, into text: UnsafeMutableBufferPointer<UInt8>,
                             at offset: inout Int) -> UnsafeMutableBufferPointer<UInt8> {
        var string = string
        let count = string.withUTF8 { bytes in
            UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(text)[offset..<offset + bytes.count])
                .copyMemory(from: UnsafeRawBufferPointer(bytes))
            return bytes.count
        }
        defer { offset += count }
        return UnsafeMutableBufferPointer(rebasing: text[offset..<offset + count])
    }
}
