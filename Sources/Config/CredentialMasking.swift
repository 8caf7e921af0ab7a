import Foundation

/// Hides the passwords of URLs in text meant for people (`redis://user:secret@host` → `redis://user:***@host`), as
/// `/api/v1/config` and `check-config` show them.
enum CredentialMasking {
    /// `text` with the password of every `scheme://user:password@` in it replaced by `***`.
    static func masked(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            result += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            // The authority ends at the first '/', white space or quote; credentials end at its last '@'.
            let authorityEnd = rest.firstIndex { $0 == "/" || $0.isWhitespace || $0 == "'" || $0 == "\"" }
                ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            // `[user:password@]` is a placeholder in a message about the form, not a credential.
            guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":"),
                !authority[..<at].contains("[")
            else { continue }
            result += rest[..<colon] + ":***"
            rest = rest[at...]
        }
        return result + rest
    }
}
