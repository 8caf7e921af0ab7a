import DNSWire

/// An upstream answer taken apart once for validation: its record sets with their RRSIGs, and the chain from the
/// question to the data. Both what must be fetched first (``requiredNames``) and the verdict read it.
struct ParsedAnswer {
    let question: DNSQuestion
    let rcode: DNSRCode
    let answers: [SignedRRset]
    let authorities: [SignedRRset]
    let chain: ResponseValidator.Chain

    init(_ message: DNSMessage, question: DNSQuestion) {
        self.question = question
        self.rcode = DNSRCode(message.flags & 0x000F)
        self.answers = SignedRRset.group(message.answers)
        self.authorities = SignedRRset.group(message.authorities)
        self.chain = ResponseValidator.Chain(answers: self.answers, question: question)
    }

    /// The names whose zone security validating this answer needs: each signer, the owner of each unsigned set (but
    /// the CNAMEs a signed DNAME stands for), and the end of the chain when nothing in the authority section says
    /// which zone denies it.
    var requiredNames: [DNSName] {
        var names: [DNSName] = []
        func add(_ name: DNSName) { if !names.contains(name) { names.append(name) } }
        for set in self.answers + self.authorities {
            if !set.signatures.isEmpty {
                set.signers.forEach(add)
            } else if !(set.type == .cname && self.chain.synthesized.contains(set.owner)) {
                add(set.owner)
            }
        }
        if self.chain.data == nil, ResponseValidator.denyingSigner(self.authorities) == nil { add(self.chain.end) }
        return names
    }
}
