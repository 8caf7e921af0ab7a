import Atomics
import CLinuxNet
import DNSCore
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// One UDP socket of a listen address and the thread that serves it: `recvmmsg` takes up to
/// ``DNSFrontend/vectorReadCount`` datagrams per call, immediate answers (cache hits, error replies) are made on
/// the thread and leave in one `sendmmsg`, and the rest go to the paired event loop in one hand-over per batch, where
/// their answers leave together too (``UDPAnswerBatch``).
/// No event loop, channel pipeline or per-datagram address text sits on the cache-hit path.
///
/// Why not read the socket on the event loop that owns the upstream connections, for one wake-up per miss? Tried
/// with NIO's `DatagramChannel` (vector reads, the same answer batches; 2026-12-07): at 2,000 misses per second over
/// plain UDP it saved about 18 % of CPU per query (`scripts/bench-low-rate.sh`), over DoT about 5 % (within the
/// noise), but cache hits at full rate cost 10-18 % more CPU (`scripts/bench-compare.sh`). NIO formats every
/// sender's address as text, boxes every datagram in `NIOAny` and allocates an array of envelopes per read, and it
/// offers no public way to be told a descriptor is readable without reading it.
final class UDPQueryListener: Sendable {
    let socket: UDPListenerSocket
    private let responder: UDPQueryResponder
    private let eventLoop: any EventLoop
    private let inFlight: InFlightCounter
    /// Where the event loop's answers gather; nil when its buffers could not be allocated (answers then leave one
    /// at a time).
    private let answers: NIOLoopBoundBox<UDPAnswerBatch?>
    private let stopping = ManagedAtomic(false)
    private let readerDone = ManagedAtomic(false)

    init(socket: UDPListenerSocket, responder: UDPQueryResponder, eventLoop: any EventLoop,
         inFlight: InFlightCounter) {
        self.socket = socket
        self.responder = responder
        self.eventLoop = eventLoop
        self.inFlight = inFlight
        self.answers = NIOLoopBoundBox.makeBoxSendingValue(
            UDPAnswerBatch(socket: socket, eventLoop: eventLoop, inFlight: inFlight), eventLoop: eventLoop)
    }

    /// Starts the reader thread.
    func start() throws(FrontendError) {
        guard let batch = clinuxnet_udp_batch_create(UInt32(DNSFrontend.vectorReadCount), DNSFrontend.maxQuerySize)
        else { throw FrontendError.receiveBuffers }
        let owned = OwnedBatch(pointer: batch)
        startNamedThread("dnsgate-udp") { [self] in
            self.serve(owned.pointer)
            clinuxnet_udp_batch_destroy(owned.pointer)
            self.readerDone.store(true, ordering: .releasing)
        }
    }

    /// Stops reading new queries and waits for the reader thread to finish its batch (answers already made are
    /// sent; queries already handed to the event loop are answered through the still open socket).
    func stopReceiving() async {
        self.stopping.store(true, ordering: .releasing)
        self.socket.shutdownReceiving()
        while !self.readerDone.load(ordering: .acquiring) {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    private func serve(_ batch: OpaquePointer) {
        let descriptor = self.socket.readerDescriptor
        while !self.stopping.load(ordering: .relaxed) {
            let count = clinuxnet_udp_batch_receive(descriptor, batch)
            if count == 0 { return }
            if count < 0 {
                switch -count {
                case EBADF, ENOTSOCK, EINVAL, EFAULT:
                    return  // the socket itself is unusable
                default:
                    continue  // a receive timeout (the stop check), an interrupted call, a transient shortage
                }
            }
            self.answer(count, datagramsIn: batch, descriptor: descriptor)
        }
    }

    /// Answers the datagrams of one receive: copies them into one buffer (misses keep slices of it), answers what
    /// can be answered at once, sends those answers together and hands the rest to the event loop.
    private func answer(_ count: Int32, datagramsIn batch: OpaquePointer, descriptor: Int32) {
        var datagrams = ByteBufferAllocator().buffer(capacity: Int(count) * 64)
        var ends = [Int]()
        ends.reserveCapacity(Int(count))
        for index in 0..<UInt32(count) {
            var length = 0
            var truncated: Int32 = 0
            let bytes = clinuxnet_udp_batch_datagram(batch, index, &length, &truncated)
            // A datagram longer than any query dnsgate accepts is cut short: keep only its header, which gets
            // FORMERR like any other unreadable query.
            datagrams.writeBytes(UnsafeRawBufferPointer(start: bytes, count: truncated != 0 ? min(length, 12) : length))
            ends.append(datagrams.writerIndex)
        }
        var later = [(DNSPendingQuery, SocketAddress)]()
        var start = 0
        for index in 0..<Int(count) {
            defer { start = ends[index] }
            var sourceLength = socklen_t(0)
            guard let source = clinuxnet_udp_batch_source(batch, UInt32(index), &sourceLength),
                let client = SocketAddress(kernelAddress: source),
                let datagram = datagrams.getSlice(at: start, length: ends[index] - start)
            else { continue }
            switch self.responder.respond(to: datagram, from: client) {
            case .none:
                continue
            case .reply(let reply):
                let queued = reply.withUnsafeReadableBytes { bytes in
                    clinuxnet_udp_batch_queue(batch, bytes.baseAddress, bytes.count, source, sourceLength)
                }
                if queued != 0 { self.socket.send(reply, to: client) }
            case .later(let pending):
                later.append((pending, client))
            }
        }
        _ = clinuxnet_udp_batch_flush(descriptor, batch, 0)
        guard !later.isEmpty else { return }
        self.inFlight.add(later.count)
        let responder = self.responder
        let socket = self.socket
        let inFlight = self.inFlight
        let answers = self.answers
        self.eventLoop.execute { [eventLoop, later] in
            for (pending, client) in later {
                responder.answer(pending, on: eventLoop) { answer in
                    if let batch = answers.value {
                        batch.send(answer, to: client)
                    } else {
                        socket.send(answer, to: client)
                        inFlight.decrement()
                    }
                }
            }
        }
    }
}

/// The batch buffers, handed from ``UDPQueryListener/start()`` to the reader thread, which alone uses and frees them.
private struct OwnedBatch: @unchecked Sendable {
    let pointer: OpaquePointer
}
