import Foundation

/// Internationalised labels in their ASCII form (RFC 3492 Punycode with the `xn--` prefix of RFC 5891), so that a
/// list may name `bücher.example` and match the `xn--bcher-kva.example` that clients ask for. Labels are mapped
/// the simple way (lowercase, NFC); full UTS #46 mapping is not attempted.
enum Punycode {
    private static let base = 36, tMin = 1, tMax = 26, skew = 38, damp = 700, initialBias = 72, initialN = 128

    /// The ASCII form of `label`: itself when it is ASCII, else `xn--` and its Punycode; nil when it cannot be
    /// encoded.
    static func asciiLabel(_ label: String) -> String? {
        let mapped = label.lowercased().precomposedStringWithCanonicalMapping
        guard !mapped.unicodeScalars.allSatisfy(\.isASCII) else { return mapped }
        return Self.encode(Array(mapped.unicodeScalars.map(\.value))).map { "xn--" + $0 }
    }

    /// RFC 3492 section 6.3.
    private static func encode(_ input: [UInt32]) -> String? {
        var output = input.filter { $0 < 0x80 }.map { Character(Unicode.Scalar(UInt8($0))) }
        let basicCount = output.count
        var handled = basicCount
        if basicCount > 0 { output.append("-") }
        var n = UInt32(Self.initialN), delta = 0, bias = Self.initialBias
        while handled < input.count {
            guard let next = input.filter({ $0 >= n }).min() else { return nil }
            let (step, overflow) = Int(next - n).multipliedReportingOverflow(by: handled + 1)
            guard !overflow else { return nil }
            delta += step
            n = next
            for scalar in input {
                if scalar < n { delta += 1 }
                guard scalar == n else { continue }
                var q = delta
                var k = Self.base
                while true {
                    let t = k <= bias ? Self.tMin : (k >= bias + Self.tMax ? Self.tMax : k - bias)
                    if q < t { break }
                    output.append(Self.digit(t + (q - t) % (Self.base - t)))
                    q = (q - t) / (Self.base - t)
                    k += Self.base
                }
                output.append(Self.digit(q))
                bias = Self.adapt(delta, points: handled + 1, first: handled == basicCount)
                delta = 0
                handled += 1
            }
            delta += 1
            n += 1
        }
        return String(output)
    }

    private static func digit(_ value: Int) -> Character {
        Character(Unicode.Scalar(UInt8(value < 26 ? value + 97 : value + 22)))
    }

    private static func adapt(_ delta: Int, points: Int, first: Bool) -> Int {
        var delta = first ? delta / Self.damp : delta / 2
        delta += delta / points
        var k = 0
        while delta > ((Self.base - Self.tMin) * Self.tMax) / 2 {
            delta /= Self.base - Self.tMin
            k += Self.base
        }
        return k + (Self.base - Self.tMin + 1) * delta / (delta + Self.skew)
    }
}
