#ifndef CLINUXNET_H
#define CLINUXNET_H

/// Opens /dev/net/tun and attaches it to the TUN interface `name` (created if missing), without packet
/// information headers (IFF_TUN | IFF_NO_PI), optionally as one queue of a multi-queue device. The interface's
/// actual name is written to `actual_name` (at least 16 bytes). Returns the file descriptor, or -errno.
int clinuxnet_tun_open(const char *name, int multi_queue, char *actual_name);

#endif

#include <sys/socket.h>
#include <sys/types.h>

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
