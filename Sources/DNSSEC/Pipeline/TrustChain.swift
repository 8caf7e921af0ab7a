import DNSCore
import DNSWire
import NIOCore
import Synchronization

/// What dnsgate knows of the zones between the trust anchors and the names it validates: each zone's proven keys,
/// the delegations proven unsigned, the names proven to be no zone cut, each with an expiry. Walks down from the
/// closest anchor to a name, fetching (through `fetch`) the DS and DNSKEY sets it does not hold yet (RFC 4035 §5).
final class TrustChain: Sendable {
    /// What is known of one name.
    private enum Entry {
        case zone(ZoneSecurity)
        case notACut
        case nonexistent
    }

    private struct Stored {
        var entry: Entry
        var expires: NIODeadline
    }

    /// The next thing a walk needs that is not stored.
    private enum Need {
        case anchorKeys(DNSName)
        case delegation(child: DNSName, zone: DNSName, keys: [DNSKEYRecord])
    }

    private enum Step {
        case done(ZoneSecurity)
        case need(Need)
    }

    /// Beyond this many names the store starts again (a bound, not an expected size: a few per zone).
    private static let capacity = 50_000

    private let anchors: TrustAnchors
    private let exemptions: [DNSName]
    private let bogusTTL: TimeAmount
    private let store = Mutex<[DNSName: Stored]>([:])

    init(anchors: TrustAnchors, exemptions: [DNSName], bogusTTL: TimeAmount) {
        self.anchors = anchors
        self.exemptions = exemptions
        self.bogusTTL = bogusTTL
    }

    /// Whether `name` is exempt from validation (a negative trust anchor, a private forwarded zone).
    func isExempt(_ name: DNSName) -> Bool {
        self.exemptions.contains { name.isSubdomain(of: $0) }
    }

    /// The security of the zone holding `name` from what is stored, or nil when a walk would have to fetch.
    func storedSecurity(of name: DNSName) -> ZoneSecurity? {
        guard case .done(let security) = self.step(toward: name) else { return nil }
        return security
    }

    /// The security of the zone holding `name`, fetching what is missing with `fetch` (a DS or DNSKEY query with
    /// DO and CD set; nil when the upstreams gave no usable answer, which leaves the result nil too).
    func security(of name: DNSName, check: DelegationCheck,
                  fetch: @Sendable (DNSName, DNSType) async -> DNSMessage?) async -> ZoneSecurity? {
        // Each round stores one more name between the anchor and `name`; 130 labels is more than a name can have.
        for _ in 0..<130 {
            switch self.step(toward: name) {
            case .done(let security):
                return security
            case .need(.anchorKeys(let zone)):
                guard let answer = await fetch(zone, .dnskey), let anchor = self.anchors.anchors[zone] else {
                    return nil
                }
                let (security, ttl) = check.classifyDNSKEY(answer, zone: zone, ds: anchor.ds, anchorKeys: anchor.keys)
                self.remember(zone, .zone(security), ttl: ttl)
            case .need(.delegation(let child, let zone, let keys)):
                guard let answer = await fetch(child, .ds) else { return nil }
                switch check.classifyDS(answer, name: child, zone: zone, keys: keys) {
                case .signed(let ds, let dsTTL):
                    guard let keyAnswer = await fetch(child, .dnskey) else { return nil }
                    let (security, ttl) = check.classifyDNSKEY(keyAnswer, zone: child, ds: ds)
                    self.remember(child, .zone(security), ttl: min(ttl, dsTTL))
                case .insecure(let ttl):
                    self.remember(child, .zone(.insecure), ttl: ttl)
                case .notACut(let ttl):
                    self.remember(child, .notACut, ttl: ttl)
                case .nonexistent(let ttl):
                    self.remember(child, .nonexistent, ttl: ttl)
                case .bogus(let reason):
                    self.remember(child, .zone(.bogus(reason)), ttl: 0)
                }
            }
        }
        return .bogus(.bogus)
    }

    private func step(toward name: DNSName) -> Step {
        if self.isExempt(name) { return .done(.insecure) }
        guard let anchor = self.anchors.closest(to: name) else { return .done(.insecure) }
        let now = NIODeadline.now()
        return self.store.withLock { store -> Step in
            func fresh(_ name: DNSName) -> Entry? {
                guard let stored = store[name], stored.expires > now else { return nil }
                return stored.entry
            }
            guard case .zone(let anchorSecurity)? = fresh(anchor) else { return .need(.anchorKeys(anchor)) }
            guard case .secure(var zone, var keys) = anchorSecurity else { return .done(anchorSecurity) }
            guard name.labelCount > anchor.labelCount else { return .done(anchorSecurity) }
            for depth in (anchor.labelCount + 1)...name.labelCount {
                let child = name.suffix(labels: depth)
                switch fresh(child) {
                case nil:
                    return .need(.delegation(child: child, zone: zone, keys: keys))
                case .zone(.secure(let childZone, let childKeys)):
                    zone = childZone
                    keys = childKeys
                case .zone(let security):
                    return .done(security)
                case .notACut:
                    continue
                case .nonexistent:
                    return .done(.secure(zone: zone, keys: keys))
                }
            }
            return .done(.secure(zone: zone, keys: keys))
        }
    }

    private func remember(_ name: DNSName, _ entry: Entry, ttl: UInt32) {
        let seconds: Int64
        if case .zone(.bogus) = entry {
            seconds = self.bogusTTL.nanoseconds / 1_000_000_000
        } else {
            seconds = Int64(min(max(ttl, 5), 86_400))
        }
        let stored = Stored(entry: entry, expires: .now() + .seconds(seconds))
        self.store.withLock { store in
            if store.count >= Self.capacity { store.removeAll(keepingCapacity: true) }
            store[name] = stored
        }
    }
}
