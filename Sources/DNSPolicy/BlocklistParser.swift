public import DNSCore
import Foundation

/// Reads block and allow lists in the three formats lists are published in, line by line, into ``DomainRules``:
///
/// - hosts files: `0.0.0.0 ads.example tracker.example  # comment` blocks each name exactly;
/// - plain domains: `ads.example` blocks that name, `*.ads.example` every name below it;
/// - Adblock style: `||ads.example^` blocks the name and everything below it, `@@||ok.example^` allows them.
///
/// Comments (`#`, `!`) and Adblock headers (`[Adblock Plus 2.0]`) are skipped; names may have a trailing dot, any
/// case, and Unicode labels (stored in their `xn--` form). A line that is none of these is reported with its number
/// and the rest of the list still loads.
public enum BlocklistParser {
    /// A line that was not understood.
    public struct Problem: Sendable, CustomStringConvertible {
        public let line: Int
        public let text: String
        public let reason: String

        public var description: String { "line \(self.line): \(self.reason): \(self.text)" }
    }

    /// What a parse found.
    public struct Result: Sendable {
        public var rules = DomainRules()
        /// Names added (a name on two lines counts twice).
        public var entries = 0
        /// The first problems, at most ``BlocklistParser/reportedProblems``.
        public var problems: [Problem] = []
        /// Every problem line.
        public var problemCount = 0
    }

    /// Problems kept with their text; the rest are only counted.
    public static let reportedProblems = 20

    /// Names that hosts files list for the machine itself; blocking them would break it, so they are skipped.
    static let hostsFileSelfNames: Set<String> = [
        "localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost", "ip6-loopback",
        "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters", "ip6-allhosts",
    ]
    private static let hostsFileSelfNameHashes = Set(Self.hostsFileSelfNames.compactMap { Self.nameHash(Array($0.utf8)[...]) })

    /// Parses `contents`, one rule per line.
    public static func parse(_ contents: [UInt8]) -> Result {
        var result = Result()
        result.rules.reserveCapacity(contents.count / 24)
        var lineNumber = 0
        var start = 0
        while start < contents.count {
            lineNumber += 1
            var end = start
            while end < contents.count, contents[end] != 0x0A { end += 1 }
            if let problem = Self.parseLine(contents[start..<end], into: &result) {
                result.problemCount += 1
                if result.problems.count < Self.reportedProblems {
                    let text = String(decoding: contents[start..<end], as: UTF8.self)
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                    result.problems.append(Problem(line: lineNumber, text: text, reason: problem))
                }
            }
            start = end + 1
        }
        return result
    }

    /// Adds the rules of one line; returns why the line is not understood, or nil.
    private static func parseLine(_ raw: ArraySlice<UInt8>, into result: inout Result) -> String? {
        var line = raw.drop { Self.isSpace($0) }
        while let last = line.last, Self.isSpace(last) { line = line.dropLast() }
        guard let first = line.first, first != UInt8(ascii: "#"), first != UInt8(ascii: "!"),
            first != UInt8(ascii: "[")
        else { return nil }
        if line.starts(with: Self.exception) || line.starts(with: Self.anchor) {
            return Self.parseAdblock(line, into: &result)
        }
        var tokens = line.split(whereSeparator: Self.isSpace)
        if let comment = tokens.firstIndex(where: { $0.first == UInt8(ascii: "#") }) {
            tokens.removeSubrange(comment...)
        }
        guard let head = tokens.first else { return nil }
        if Self.looksLikeAddress(head) {
            guard IPAddress(String(decoding: head, as: UTF8.self)) != nil else { return "not an IP address" }
            guard tokens.count > 1 else { return "an address without a name" }
            for token in tokens.dropFirst() {
                guard let hash = Self.nameHash(token) else {
                    return "not a domain name: \(String(decoding: token, as: UTF8.self))"
                }
                if Self.hostsFileSelfNameHashes.contains(hash) { continue }
                result.rules.add(.blockName, toNameHashed: hash)
                result.entries += 1
            }
            return nil
        }
        guard tokens.count == 1 else { return "more than one name on a line that is not a hosts entry" }
        if head.starts(with: Self.wildcard) {
            guard let hash = Self.nameHash(head.dropFirst(2)) else { return "not a domain name" }
            result.rules.add(.blockBelow, toNameHashed: hash)
        } else {
            guard let hash = Self.nameHash(head) else { return "not a domain name" }
            result.rules.add(.blockName, toNameHashed: hash)
        }
        result.entries += 1
        return nil
    }

    private static let exception = Array("@@".utf8)
    private static let anchor = Array("||".utf8)
    private static let wildcard = Array("*.".utf8)

    /// `||name^`, `@@||name^`, optionally with `$important`.
    private static func parseAdblock(_ line: ArraySlice<UInt8>, into result: inout Result) -> String? {
        let allows = line.starts(with: Self.exception)
        var rule = allows ? line.dropFirst(2) : line
        guard rule.starts(with: Self.anchor) else { return "an exception without '||'" }
        rule = rule.dropFirst(2)
        if let dollar = rule.firstIndex(of: UInt8(ascii: "$")) {
            let modifiers = String(decoding: rule[(dollar + 1)...], as: UTF8.self)
            guard modifiers == "important" else { return "unsupported modifier $\(modifiers)" }
            rule = rule[..<dollar]
        }
        if rule.last == UInt8(ascii: "^") { rule = rule.dropLast() }
        guard let hash = Self.nameHash(rule) else { return "not a domain name" }
        result.rules.add(allows ? [.allowName, .allowBelow] : [.blockName, .blockBelow], toNameHashed: hash)
        result.entries += 1
        return nil
    }

    /// The ``DomainHash`` of a name in presentation form (a trailing dot allowed); nil when it is not a valid host
    /// name (empty or over-long labels, characters other than letters, digits, `-` and `_`).
    static func nameHash(_ text: ArraySlice<UInt8>) -> UInt64? {
        var name = text
        if name.last == UInt8(ascii: ".") { name = name.dropLast() }
        guard !name.isEmpty, name.count <= 253 else { return nil }
        if let hash = Self.asciiNameHash(name) { return hash }
        let labels = name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.allSatisfy({ !$0.isEmpty && $0.count <= 63 }) else { return nil }
        if labels.allSatisfy({ $0.allSatisfy(Self.isHostCharacter) }) {
            return DomainHash.of(labels: labels)
        }
        guard labels.allSatisfy({ $0.allSatisfy { $0 >= 0x80 || Self.isHostCharacter($0) } }) else { return nil }
        let ascii = labels.map { Punycode.asciiLabel(String(decoding: $0, as: UTF8.self)).map { Array($0.utf8) } }
        guard ascii.allSatisfy({ ($0?.count ?? 64) <= 63 }) else { return nil }
        return DomainHash.of(labels: ascii.compactMap { $0 })
    }

    /// The hash of an ASCII host name without a trailing dot in one backwards pass, labels hashed from the top-level
    /// domain down; nil when it is not one (the general path then decides).
    private static func asciiNameHash(_ name: ArraySlice<UInt8>) -> UInt64? {
        var hash = DomainHash.root
        var end = name.endIndex
        var index = name.endIndex
        while index > name.startIndex {
            let byte = name[index - 1]
            if byte == UInt8(ascii: ".") {
                guard end - index >= 1, end - index <= 63 else { return nil }
                hash = DomainHash.extend(hash, with: name[index..<end])
                end = index - 1
            } else if !Self.isHostCharacter(byte) {
                return nil
            }
            index -= 1
        }
        guard end - index >= 1, end - index <= 63 else { return nil }
        return DomainHash.extend(hash, with: name[index..<end])
    }

    private static func isHostCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }

    private static func looksLikeAddress(_ token: ArraySlice<UInt8>) -> Bool {
        token.contains(UInt8(ascii: ":"))
            || token.allSatisfy { $0 == UInt8(ascii: ".") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D
    }
}
