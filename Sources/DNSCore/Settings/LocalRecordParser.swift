public import DNSWire
import Foundation

/// Reads local records from their text forms: zone-file-like lines (`NAME [TTL] TYPE DATA`, for A, AAAA, CNAME,
/// TXT, MX, SRV and PTR) and hosts-file lines (`ADDRESS NAME [ALIAS...]`).
public enum LocalRecordParser {
    /// A line that is not a record, and why.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public let reason: String
        public var description: String { self.reason }
    }

    /// Parses `NAME [TTL] TYPE DATA` (`printer.lan A 192.168.1.20`, `lan MX 10 mail.lan`,
    /// `_ipp._tcp.lan SRV 0 0 631 printer.lan`, `info.lan TXT "hello world"`); `defaultTTL` applies without a TTL.
    public static func record(_ line: String, defaultTTL: UInt32) throws(Problem) -> (DNSName, DNSLocalRecord) {
        var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count >= 3, let name = DNSName(fields.removeFirst()) else {
            throw Problem(reason: "expected 'NAME [TTL] TYPE DATA'")
        }
        var ttl = defaultTTL
        if let given = UInt32(fields[0]) {
            ttl = given
            fields.removeFirst()
        }
        guard fields.count >= 2, let type = DNSType(mnemonic: fields.removeFirst()) else {
            throw Problem(reason: "expected a record type (A, AAAA, CNAME, TXT, MX, SRV, PTR) after the name")
        }
        return (name, DNSLocalRecord(type: type, ttl: ttl, rdata: try Self.rdata(type, fields, line: line)))
    }

    private static func rdata(_ type: DNSType, _ fields: [String], line: String) throws(Problem) -> [UInt8] {
        func name(_ text: String) throws(Problem) -> [UInt8] {
            guard let name = DNSName(text) else { throw Problem(reason: "'\(text)' is not a domain name") }
            return name.wire
        }
        func number(_ text: String) throws(Problem) -> [UInt8] {
            guard let value = UInt16(text) else { throw Problem(reason: "'\(text)' is not a number from 0 to 65535") }
            return [UInt8(value >> 8), UInt8(truncatingIfNeeded: value)]
        }
        switch type {
        case .a, .aaaa:
            guard fields.count == 1, let address = IPAddress(fields[0]), address.isIPv4 == (type == .a) else {
                throw Problem(reason: "\(type) takes one \(type == .a ? "IPv4" : "IPv6") address")
            }
            return address.bytes
        case .cname, .ptr:
            guard fields.count == 1 else { throw Problem(reason: "\(type) takes one name") }
            return try name(fields[0])
        case .mx:
            guard fields.count == 2 else { throw Problem(reason: "MX takes a preference and a name") }
            return try number(fields[0]) + name(fields[1])
        case .srv:
            guard fields.count == 4 else { throw Problem(reason: "SRV takes priority, weight, port and a name") }
            return try number(fields[0]) + number(fields[1]) + number(fields[2]) + name(fields[3])
        case .txt:
            return try Self.characterStrings(Self.text(after: type, in: line))
        default:
            throw Problem(reason: "type \(type) is not supported (A, AAAA, CNAME, TXT, MX, SRV, PTR are)")
        }
    }

    /// What follows the type on a TXT line, without surrounding quotes.
    private static func text(after type: DNSType, in line: String) -> String {
        let upper = line.uppercased()
        guard let range = upper.range(of: " \(type) ") ?? upper.range(of: "\t\(type) ") else { return "" }
        var text = line[range.upperBound...].trimmingCharacters(in: .whitespaces)
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = String(text.dropFirst().dropLast()) }
        return text
    }

    /// RFC 1035 character-strings: `text` cut into pieces of at most 255 octets, each with its length.
    private static func characterStrings(_ text: String) throws(Problem) -> [UInt8] {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw Problem(reason: "TXT takes some text") }
        return stride(from: 0, to: bytes.count, by: 255).flatMap { start -> [UInt8] in
            let piece = bytes[start..<min(bytes.count, start + 255)]
            return [UInt8(piece.count)] + piece
        }
    }

    /// The A or AAAA records of one hosts-file line (nothing for blank and comment lines).
    public static func hostsLine(_ line: Substring, ttl: UInt32) throws(Problem) -> [(DNSName, DNSLocalRecord)] {
        let content = line.prefix { $0 != "#" }
        let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
        guard let first = fields.first else { return [] }
        guard let address = IPAddress(String(first)) else { throw Problem(reason: "'\(first)' is not an IP address") }
        guard fields.count > 1 else { throw Problem(reason: "an address without a name") }
        return try fields.dropFirst().map { text throws(Problem) in
            guard let name = DNSName(String(text)) else { throw Problem(reason: "'\(text)' is not a domain name") }
            return (name, DNSLocalRecord(type: address.isIPv4 ? .a : .aaaa, ttl: ttl, rdata: address.bytes))
        }
    }
}
