import Admin
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The process's own resources as Linux's `/proc/self` reports them: resident memory, CPU time, descriptors.
enum ProcessStatistics {
    /// Now; zero for what cannot be read.
    static func current() -> ProcessSummary {
        ProcessSummary(residentBytes: Self.residentBytes(), cpuSeconds: Self.cpuSeconds(),
                       openDescriptors: (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0)
    }

    /// The second field of `/proc/self/statm` (pages resident) in bytes.
    private static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// User plus system time from `/proc/self/stat` (fields 14 and 15, in clock ticks).
    private static func cpuSeconds() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let end = text.lastIndex(of: ")")
        else { return 0 }
        // The command name in parentheses may hold spaces: count fields after it (field 3 comes first).
        let fields = text[text.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
