/// One entry of a message's question section.
public struct DNSQuestion: Hashable, Sendable, CustomStringConvertible {
    public var name: DNSName
    public var type: DNSType
    public var rrclass: DNSClass

    public init(name: DNSName, type: DNSType, rrclass: DNSClass = .in) {
        self.name = name
        self.type = type
        self.rrclass = rrclass
    }

    public var description: String { "\(self.name) \(self.rrclass) \(self.type)" }
}
