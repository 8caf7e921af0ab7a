import Foundation

/// A throwaway redis-server on loopback: no persistence, no other clients, killed at exit.
final class TestRedis: @unchecked Sendable {
    let port: Int
    private var daemon: Daemon?

    var url: String { "redis://127.0.0.1:\(self.port)/3" }

    init(port: Int) throws {
        self.port = port
        try self.start()
    }

    /// Starts (or restarts) the server and waits until it answers PING.
    func start() throws {
        let log = NSTemporaryDirectory() + "redis-\(getpid())-\(self.port).log"
        self.daemon = try Daemon(name: "redis-server", executable: "/usr/bin/redis-server", arguments: [
            "--port", "\(self.port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--logfile", "",
        ], logPath: log)
        guard try waitUntil(timeout: 10, { try self.cli(["PING"]) == "PONG" }) else {
            throw SetupError("redis-server did not answer: \(self.daemon?.log ?? "")")
        }
    }

    /// Kills the server without warning, as a crash would.
    func kill() {
        self.daemon?.stop(signal: SIGKILL)
    }

    /// Runs `redis-cli` against database 3 and returns its trimmed output.
    @discardableResult
    func cli(_ arguments: [String]) throws -> String {
        let result = try runCommand("/usr/bin/redis-cli", ["-p", "\(self.port)", "-n", "3"] + arguments)
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Keys in database 3.
    func keyCount() throws -> Int { Int(try self.cli(["DBSIZE"])) ?? -1 }
}
