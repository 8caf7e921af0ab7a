/// A configuration value that cannot be used; the description names the key, the value and what is allowed.
/// Passwords in URLs (`cache.redis`, `fakeip.socks5.server`) are masked in both, so that an error message or a
/// log line never carries them.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    public let key: String
    public let value: String
    public let allowed: String

    public init(key: String, value: String, allowed: String) {
        self.key = key
        self.value = CredentialMasking.masked(value)
        self.allowed = CredentialMasking.masked(allowed)
    }

    public var description: String {
        "configuration key '\(self.key)' has invalid value '\(self.value)': \(self.allowed)"
    }
}
