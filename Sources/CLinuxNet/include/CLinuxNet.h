#ifndef CLINUXNET_H
#define CLINUXNET_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/// Opens /dev/net/tun and attaches it to the TUN interface `name` (created if missing), without packet
/// information headers (IFF_TUN | IFF_NO_PI), optionally as one queue of a multi-queue device. The interface's
/// actual name is written to `actual_name` (at least 16 bytes). Returns the file descriptor, or -errno.
int clinuxnet_tun_open(const char *name, int multi_queue, char *actual_name);


/// Fixed receive and send areas for `recvmmsg`/`sendmmsg` on one UDP socket: `capacity` datagrams of at most
/// `slot_size` bytes each way, with their addresses. Used by one thread at a time.
struct clinuxnet_udp_batch;

/// Allocates a batch; NULL when out of memory.
struct clinuxnet_udp_batch *clinuxnet_udp_batch_create(unsigned capacity, size_t slot_size);

/// Frees a batch.
void clinuxnet_udp_batch_destroy(struct clinuxnet_udp_batch *batch);

/// Waits for at least one datagram, then takes whatever else is queued, up to the capacity (`recvmmsg` with
/// MSG_WAITFORONE). Returns the number received, 0 when the socket was shut down for reading, or -errno.
int clinuxnet_udp_batch_receive(int descriptor, struct clinuxnet_udp_batch *batch);

/// Datagram `index` of the last receive: its bytes, its length in `length`, and in `truncated` whether it was
/// longer than a slot.
const unsigned char *clinuxnet_udp_batch_datagram(const struct clinuxnet_udp_batch *batch, unsigned index,
                                                  size_t *length, int *truncated);

/// The sender of datagram `index` of the last receive, with its length in `length`.
const struct sockaddr *clinuxnet_udp_batch_source(const struct clinuxnet_udp_batch *batch, unsigned index,
                                                  socklen_t *length);

/// Copies a datagram for `destination` into the send area. Returns 0, or -1 when it is larger than a slot or the
/// area is full (send it on its own then).
int clinuxnet_udp_batch_queue(struct clinuxnet_udp_batch *batch, const void *data, size_t length,
                              const struct sockaddr *destination, socklen_t destination_length);

/// Sends every queued datagram (`sendmmsg` with `flags`: MSG_DONTWAIT for a caller that must not block),
/// repeated after partial sends; a datagram the kernel refuses is skipped) and empties the send area. Returns the number of datagrams that could not be sent.
unsigned clinuxnet_udp_batch_flush(int descriptor, struct clinuxnet_udp_batch *batch, int flags);


/// A UDP socket for a TPROXY listener: IP_TRANSPARENT (IPV6_TRANSPARENT), SO_REUSEADDR and
/// IP_RECVORIGDSTADDR (IPV6_RECVORIGDSTADDR), bound to `address`. Returns the descriptor, or -errno.
int clinuxnet_udp_tproxy_listener(const struct sockaddr *address, socklen_t length);

/// Receives one datagram into `buffer`, with its sender in `source` and the address it was sent to (the original
/// destination, before TPROXY) in `destination`. Returns the datagram's length, or -errno.
ssize_t clinuxnet_udp_receive(int descriptor, void *buffer, size_t capacity,
                              struct sockaddr_storage *source, struct sockaddr_storage *destination);

/// A UDP socket that sends as `local` (a foreign address: IP_TRANSPARENT) and is connected to `peer`, so the
/// kernel also delivers the flow's later datagrams to it. Returns the descriptor, or -errno.
int clinuxnet_udp_transparent_reply(const struct sockaddr *local, socklen_t local_length,
                                    const struct sockaddr *peer, socklen_t peer_length);

/// Names the calling thread for the kernel (`/proc/PID/task/TID/comm`, `top -H`); longer names are cut to 15 bytes.
void clinuxnet_name_thread(const char *name);

#endif
