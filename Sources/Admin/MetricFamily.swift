/// One metric in the Prometheus text exposition format: a name, its help and type, and its samples.
public struct MetricFamily: Sendable, Hashable {
    /// The Prometheus metric types dnsgate exposes.
    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    /// One labelled value; a histogram family lists its `_bucket`, `_sum` and `_count` samples by suffix.
    public struct Sample: Sendable, Hashable {
        public var suffix: String
        public var labels: [(String, String)]
        public var value: Double

        public init(suffix: String = "", labels: [(String, String)] = [], value: Double) {
            self.suffix = suffix
            self.labels = labels
            self.value = value
        }

        public static func == (lhs: Sample, rhs: Sample) -> Bool {
            lhs.suffix == rhs.suffix && lhs.value == rhs.value && lhs.labels.elementsEqual(rhs.labels, by: ==)
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(self.suffix)
            hasher.combine(self.value)
            for (name, value) in self.labels {
                hasher.combine(name)
                hasher.combine(value)
            }
        }
    }

    public var name: String
    public var help: String
    public var kind: Kind
    public var samples: [Sample]

    public init(name: String, help: String, kind: Kind, samples: [Sample]) {
        self.name = name
        self.help = help
        self.kind = kind
        self.samples = samples
    }
}
