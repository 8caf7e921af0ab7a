import DNSCore
import DNSWire
import Foundation
import NIOCore
import Synchronization

/// The opt-in query log: one JSON line per answered query (time, client, transport, name, type, response code,
/// where the answer came from, the upstream that gave it, latency). The query path only appends a small record to a bounded queue; a writer
/// task formats and writes the queue every 100 ms, so a slow disk never slows an answer, and when the queue is full
/// records are dropped and counted, never queries.
final class QueryLog: QueryObserver {
    /// One answered query, as the query path hands it over.
    struct Record: Sendable {
        var time: Int64
        var client: SocketAddress?
        var transport: DNSTransport
        var name: DNSName
        var type: DNSType
        var rcode: UInt8
        var origin: DNSResponse.Origin
        var upstream: String?
        var dnssec: DNSSECStatus?
        var latencyMicroseconds: Int64
    }

    private let queue = Mutex<[Record]>([])
    private let capacity: Int
    private let droppedCount = Mutex<Int>(0)
    private let file: Mutex<QueryLogFile>

    /// - Parameters:
    ///   - path: a file, or nil for standard output.
    ///   - capacity: records waiting at most; more are dropped.
    init(path: String?, maxSize: Int, keep: Int, capacity: Int = 65_536) throws {
        self.capacity = capacity
        self.file = Mutex(try QueryLogFile(path: path, maxSize: maxSize, keep: keep))
    }

    /// Records dropped because the queue was full.
    var dropped: Int { self.droppedCount.withLock { $0 } }

    func record(_ request: DNSRequest, _ response: DNSResponse, since start: NIODeadline) {
        let rcode = response.message.getInteger(at: response.message.readerIndex + 3, as: UInt8.self).map { $0 & 0x0F }
        let record = Record(
            time: WallClock.milliseconds(), client: request.metadata.client, transport: request.metadata.transport,
            name: request.question.name, type: request.question.type, rcode: response.isSilent ? 255 : rcode ?? 2,
            origin: response.origin, upstream: response.upstream, dnssec: response.dnssec, latencyMicroseconds: (NIODeadline.now() - start).nanoseconds / 1000)
        let queued = self.queue.withLock { queue in
            guard queue.count < self.capacity else { return false }
            queue.append(record)
            return true
        }
        if !queued { self.droppedCount.withLock { $0 += 1 } }
    }

    /// Writes what is queued every 100 ms until cancelled, then once more.
    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
            self.flush()
        }
        self.flush()
    }

    /// Writes everything queued now.
    func flush() {
        let records = self.queue.withLock { queue in
            let taken = queue
            queue.removeAll(keepingCapacity: true)
            return taken
        }
        guard !records.isEmpty else { return }
        self.file.withLock { file in
            for record in records { file.append(Array(Self.line(record).utf8)) }
            file.flush()
        }
    }

    static func line(_ record: Record) -> String {
        let time = Date(timeIntervalSince1970: Double(record.time) / 1000)
        let client = record.client.flatMap(IPAddress.init).map { "\"\($0)\"" } ?? "null"
        let rcode = record.rcode == 255 ? "none" : DNSRCode(UInt16(record.rcode)).description
        return "{\"time\":\"\(time.formatted(Self.timeFormat))\",\"client\":\(client),"
            + "\"transport\":\"\(record.transport.rawValue)\",\"name\":\(Self.quoted(record.name.description)),"
            + "\"type\":\"\(record.type)\",\"rcode\":\"\(rcode)\",\"source\":\"\(record.origin.rawValue)\","
            + "\"upstream\":\(record.upstream.map(Self.quoted) ?? "null"),"
            + "\"dnssec\":\(record.dnssec.map { "\"\($0.rawValue)\"" } ?? "null"),\"latency_us\":\(record.latencyMicroseconds)}\n"
    }

    private static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// A JSON string: names are printable ASCII with `\` escapes already, so only `"` and `\` need escaping.
    private static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
