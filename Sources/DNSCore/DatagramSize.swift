public import NIOCore

/// The sizes every socket that reads or sends UDP datagrams must respect, so that a datagram is always relayed
/// whole or dropped, never cut.
public enum DatagramSize {
    /// Larger than any UDP payload (65,507 bytes over IPv4, 65,527 over IPv6 without jumbograms): a read into a
    /// smaller buffer silently loses the rest of a datagram.
    public static let readCapacity = 65_536

    /// A receive allocator for NIO datagram channels that reads every datagram whole (NIO's default reads 2048
    /// bytes and drops the rest without a word).
    public static var wholeDatagrams: FixedSizeRecvByteBufferAllocator {
        FixedSizeRecvByteBufferAllocator(capacity: Self.readCapacity)
    }

    /// The largest UDP payload that can be sent to `address`: 65,535 bytes less the UDP header, and less the
    /// IPv4 header for IPv4 (IPv6's payload length does not count its own header).
    public static func maxPayload(to address: SocketAddress) -> Int {
        address.protocol == .inet6 ? 65_527 : 65_507
    }
}
