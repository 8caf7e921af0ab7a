import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// PIDs of daemons the tests started, killed when the test process exits so that no server outlives a run.
private let startedPIDs = NIOLockedValueBox<Set<Int32>>([])
private let registerExitHook: Void = {
    atexit {
        for pid in startedPIDs.withLockedValue({ $0 }) { kill(pid, SIGKILL) }
    }
}()

/// A long-running process started by a test (knotd, dnsdist, dnsgate), its output in a log file.
final class Daemon: @unchecked Sendable {
    let name: String
    let logPath: String
    private let process = Process()

    /// Starts `executable`, inside the network namespace `namespace` when one is given (`ip netns exec` execs the
    /// program itself, so the PID is the daemon's), with `environment` added to the test's own.
    init(name: String, executable: String, arguments: [String], logPath: String, namespace: String? = nil,
         environment: [String: String] = [:]) throws {
        _ = registerExitHook
        self.name = name
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let (command, fullArguments) = inNamespace(namespace, executable, arguments)
        self.process.executableURL = URL(fileURLWithPath: command)
        self.process.arguments = fullArguments
        self.process.standardOutput = log
        self.process.standardError = log
        self.process.standardInput = FileHandle.nullDevice
        if !environment.isEmpty {
            self.process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        try self.process.run()
        let pid = self.process.processIdentifier
        startedPIDs.withLockedValue { _ = $0.insert(pid) }
    }

    var pid: Int32 { self.process.processIdentifier }
    var isRunning: Bool { self.process.isRunning }

    /// Sends `signal` and waits up to `timeout` seconds for the exit; SIGKILL after that. Returns the exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: Double = 10) -> Int32 {
        if self.process.isRunning { kill(self.pid, signal) }
        let deadline = Date().addingTimeInterval(timeout)
        while self.process.isRunning, Date() < deadline { usleep(20_000) }
        if self.process.isRunning {
            kill(self.pid, SIGKILL)
            self.process.waitUntilExit()
        }
        startedPIDs.withLockedValue { _ = $0.remove(self.pid) }
        return self.process.terminationStatus
    }

    /// What the daemon has written so far.
    var log: String { (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? "" }

    /// Resident memory in KiB, from /proc.
    var residentKiB: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(self.pid)/status", encoding: .utf8) else { return nil }
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        return line?.split(separator: " ").compactMap { Int($0) }.first
    }
}

/// The result of a short command.
struct CommandResult {
    var status: Int32
    var output: String
    var error: String
}

/// `executable` and `arguments`, prefixed with `ip netns exec NAMESPACE` when a namespace is given.
func inNamespace(_ namespace: String?, _ executable: String, _ arguments: [String]) -> (String, [String]) {
    guard let namespace else { return (executable, arguments) }
    return ("/usr/sbin/ip", ["netns", "exec", namespace, executable] + arguments)
}

/// Runs a script that prints one JSON object (scripts/http2-abuse.py, scripts/doq-probe.py) and returns it; throws
/// with the script's output when it fails or prints something else.
func runJSONReport(_ executable: String, _ arguments: [String]) throws -> [String: Any] {
    let result = try runCommand(executable, arguments)
    guard result.status == 0, let report = try? JSONSerialization.jsonObject(with: Data(result.output.utf8))
        as? [String: Any]
    else { throw SetupError("\(arguments.joined(separator: " ")): \(result.output) \(result.error)") }
    return report
}

/// Runs a command to completion (inside `namespace`, if given) and captures its output.
func runCommand(_ executable: String, _ arguments: [String], namespace: String? = nil) throws -> CommandResult {
    let process = Process()
    let (command, fullArguments) = inNamespace(namespace, executable, arguments)
    process.executableURL = URL(fileURLWithPath: command)
    process.arguments = fullArguments
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let outData = output.fileHandleForReading.readDataToEndOfFile()
    let errData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, output: String(decoding: outData, as: UTF8.self),
                         error: String(decoding: errData, as: UTF8.self))
}

/// Waits until `condition` holds, polling every 100 ms, for at most `timeout` seconds.
func waitUntil(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(100_000)
    }
    return try condition()
}
