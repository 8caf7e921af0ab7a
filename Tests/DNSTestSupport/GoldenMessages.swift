/// Messages captured from real tools (kdig 3.2 queries, knot 3.2 answers for the bench zone), as hex.
public enum GoldenMessages {
    /// `kdig www.example.com A`: RD and AD set, no EDNS.
    public static let kdigPlainQuery = "7e690120000100000000000003777777076578616d706c6503636f6d0000010001"
    /// `kdig +dnssec +bufsize=4096 Example.ORG AAAA`: EDNS with payload 4096 and DO (kdig sends
    /// the name lowercased).
    public static let kdigDNSSECQuery =
        "5acb01200001000000000001076578616d706c65036f726700001c00010000291000000080000000"
    /// `kdig +noedns a.b.c TXT`.
    public static let kdigNoEDNSQuery = "1279012000010000000000000161016201630000100001"
    /// knot's answer to `multi.bench.test A`: 8 A records, owner names compressed to the question.
    public static let knotMulti =
        "abcd85000001000800000000056d756c74690562656e636804746573740000010001c00c0001000100000e100004c613ff0ac00c"
        + "0001000100000e100004c613ff0bc00c0001000100000e100004c613ff0cc00c0001000100000e100004c613ff0dc00c00010001"
        + "00000e100004c613ff0ec00c0001000100000e100004c613ff0fc00c0001000100000e100004c613ff10c00c0001000100000e10"
        + "0004c613ff11"
    /// knot's answer to `c1.bench.test A`: a CNAME chain c1 → c2 → c3 → h000000 with compressed targets.
    public static let knotCNAMEChain =
        "abce850000010004000000000263310562656e636804746573740000010001c00c0005000100000e100005026332c00fc02b0005"
        + "000100000e100005026333c00fc03c0005000100000e10000a0768303030303030c00fc04d0001000100000e100004c6120000"
    /// knot's NXDOMAIN for `nxx.bench.test A`, with the zone's SOA (compressed names) in the authority section.
    public static let knotNXDomain =
        "abcf85030001000000010000036e78780562656e636804746573740000010001c010000600010000012c0026026e73c0100a686f"
        + "73746d6173746572c0100000000100000e1000000258000151800000012c"
}
