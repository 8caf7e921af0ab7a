import Configuration
import NIOCore

/// Typed reads with errors that name the key.
struct ConfigValues {
    let reader: ConfigReader

    func scalar(_ key: String) throws -> String? {
        if let value = self.reader.string(forKey: ConfigKey(key)) { return value }
        if self.reader.stringArray(forKey: ConfigKey(key)) != nil {
            throw ConfigError(key: key, value: "(a list)", allowed: "a single value")
        }
        return nil
    }

    /// Whether the key has a value (an empty list counts).
    func isSet(_ key: String) -> Bool {
        self.reader.stringArray(forKey: ConfigKey(key)) != nil || self.reader.string(forKey: ConfigKey(key)) != nil
    }

    func list(_ key: String, default defaultValue: [String], allowEmpty: Bool = false) throws -> [String] {
        let values = self.reader.stringArray(forKey: ConfigKey(key)) ?? self.reader.string(forKey: ConfigKey(key)).map {
            $0.split(separator: ",").map { $0.trimmingCharacters(in: " ") }
        }
        guard let values else { return defaultValue }
        guard !values.isEmpty || allowEmpty else { throw ConfigError(key: key, value: "", allowed: "at least one entry") }
        return values
    }

    func duration(_ key: String, default defaultValue: TimeAmount) throws -> TimeAmount {
        guard let text = try self.scalar(key) else { return defaultValue }
        guard let value = ConfigValueParsing.duration(text), value > .zero else {
            throw ConfigError(key: key, value: text, allowed: "a positive duration such as 500ms, 5s or 2m")
        }
        return value
    }

    /// A duration in whole seconds, 0 allowed (RFC 2308 §7.1 caps SERVFAIL caching at 300 s).
    func seconds(_ key: String, default defaultValue: UInt32, max: UInt32 = 604_800) throws -> UInt32 {
        guard let text = try self.scalar(key) else { return defaultValue }
        guard let value = ConfigValueParsing.duration(text), value.nanoseconds % 1_000_000_000 == 0,
            value.nanoseconds / 1_000_000_000 <= Int64(max)
        else {
            throw ConfigError(key: key, value: text, allowed: "whole seconds from 0 to \(max), such as 0, 30s or 1h")
        }
        return UInt32(value.nanoseconds / 1_000_000_000)
    }

    func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        guard let text = try self.scalar(key) else { return defaultValue }
        guard let value = ConfigValueParsing.bool(text) else {
            throw ConfigError(key: key, value: text, allowed: "true or false")
        }
        return value
    }

    func byteSize(_ key: String, default defaultValue: Int) throws -> Int {
        guard let text = try self.scalar(key) else { return defaultValue }
        guard let value = ConfigValueParsing.byteSize(text), value >= 64 << 10 else {
            throw ConfigError(key: key, value: text, allowed: "a size of at least 64KiB, such as 512KiB, 64MiB or 1GiB")
        }
        return value
    }

    /// One of a fixed set of words (an enum's raw values), any case.
    func choice<Value: RawRepresentable & CaseIterable>(_ key: String, default defaultValue: Value) throws -> Value
    where Value.RawValue == String {
        guard let text = try self.scalar(key) else { return defaultValue }
        guard let value = Value(rawValue: text.lowercased()) else {
            throw ConfigError(key: key, value: text,
                              allowed: "one of " + Value.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return value
    }

    func int(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = try self.scalar(key) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigError(key: key, value: text,
                              allowed: "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(self.drop(while: { $0 == set }).reversed().drop(while: { $0 == set }).reversed())
    }
}
