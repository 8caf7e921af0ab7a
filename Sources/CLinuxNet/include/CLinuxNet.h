#ifndef CLINUXNET_H
#define CLINUXNET_H

/// Opens /dev/net/tun and attaches it to the TUN interface `name` (created if missing), without packet
/// information headers (IFF_TUN | IFF_NO_PI), optionally as one queue of a multi-queue device. The interface's
/// actual name is written to `actual_name` (at least 16 bytes). Returns the file descriptor, or -errno.
int clinuxnet_tun_open(const char *name, int multi_queue, char *actual_name);

#endif
