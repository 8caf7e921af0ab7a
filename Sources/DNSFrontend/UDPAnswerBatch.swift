import CLinuxNet
import NIOCore

/// The answers that the pipeline finishes on one event loop for one UDP socket, sent together: the first answer of
/// a loop tick schedules a flush at the end of the tick, and every answer finished before it (all those whose
/// upstream replies arrived in the same read) leaves in the same `sendmmsg`, like the TCP path's coalesced flushes.
/// An answer too large for a slot goes out on its own. Confined to its event loop.
final class UDPAnswerBatch {
    /// Answers per `sendmmsg` at most.
    static let capacity: UInt32 = 64
    /// Larger answers are sent on their own (1232 octets, the EDNS size most clients offer, fits).
    static let slotSize = 1500

    private let socket: UDPListenerSocket
    private let eventLoop: any EventLoop
    private let inFlight: InFlightCounter
    private let batch: OpaquePointer
    private var queued = 0
    private var flushScheduled = false

    /// Nil when the send area cannot be allocated.
    init?(socket: UDPListenerSocket, eventLoop: any EventLoop, inFlight: InFlightCounter) {
        guard let batch = clinuxnet_udp_batch_create(Self.capacity, Self.slotSize) else { return nil }
        self.batch = batch
        self.socket = socket
        self.eventLoop = eventLoop
        self.inFlight = inFlight
    }

    deinit {
        clinuxnet_udp_batch_destroy(self.batch)
    }

    /// Sends `answer` to `client` by the end of this loop tick, and counts its query as done once it has left.
    func send(_ answer: ByteBuffer, to client: SocketAddress) {
        guard answer.readableBytes > 0 else {
            self.inFlight.decrement()
            return
        }
        if !self.queue(answer, to: client) {
            self.flush()
            if !self.queue(answer, to: client) {
                self.socket.send(answer, to: client)
                self.inFlight.decrement()
                return
            }
        }
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        self.eventLoop.assumeIsolated().execute { self.flush() }
    }

    private func queue(_ answer: ByteBuffer, to client: SocketAddress) -> Bool {
        let queued = answer.withUnsafeReadableBytes { bytes in
            client.withSockAddr { address, length in
                clinuxnet_udp_batch_queue(self.batch, bytes.baseAddress, bytes.count, address, socklen_t(length))
            }
        }
        guard queued == 0 else { return false }
        self.queued += 1
        return true
    }

    private func flush() {
        self.flushScheduled = false
        guard self.queued > 0 else { return }
        self.socket.flush(self.batch)
        self.inFlight.subtract(self.queued)
        self.queued = 0
    }
}
