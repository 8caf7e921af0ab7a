#include "CLinuxNet.h"

#ifdef __linux__
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#ifndef IP_RECVORIGDSTADDR
#define IP_RECVORIGDSTADDR 20
#endif
#ifndef IPV6_RECVORIGDSTADDR
#define IPV6_RECVORIGDSTADDR 74
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

static int transparent_socket(int family) {
    int descriptor = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (descriptor < 0) return -errno;
    int one = 1;
    int failed = family == AF_INET6
        ? setsockopt(descriptor, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof(one))
        : setsockopt(descriptor, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one));
    if (failed || setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) {
        int error = errno;
        close(descriptor);
        return -error;
    }
    return descriptor;
}

int clinuxnet_udp_tproxy_listener(const struct sockaddr *address, socklen_t length) {
    int descriptor = transparent_socket(address->sa_family);
    if (descriptor < 0) return descriptor;
    int one = 1;
    int failed = address->sa_family == AF_INET6
        ? setsockopt(descriptor, IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, &one, sizeof(one))
        : setsockopt(descriptor, IPPROTO_IP, IP_RECVORIGDSTADDR, &one, sizeof(one));
    if (failed || bind(descriptor, address, length)) {
        int error = errno;
        close(descriptor);
        return -error;
    }
    return descriptor;
}

ssize_t clinuxnet_udp_receive(int descriptor, void *buffer, size_t capacity,
                              struct sockaddr_storage *source, struct sockaddr_storage *destination) {
    char control[256];
    struct iovec vector = { .iov_base = buffer, .iov_len = capacity };
    struct msghdr message;
    memset(&message, 0, sizeof(message));
    message.msg_name = source;
    message.msg_namelen = sizeof(*source);
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    ssize_t received = recvmsg(descriptor, &message, 0);
    if (received < 0) return -errno;
    memset(destination, 0, sizeof(*destination));
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
        if ((header->cmsg_level == IPPROTO_IP && header->cmsg_type == IP_ORIGDSTADDR) ||
            (header->cmsg_level == IPPROTO_IPV6 && header->cmsg_type == IPV6_ORIGDSTADDR)) {
            size_t length = header->cmsg_len - CMSG_LEN(0);
            if (length > sizeof(*destination)) length = sizeof(*destination);
            memcpy(destination, CMSG_DATA(header), length);
        }
    }
    return received;
}

int clinuxnet_udp_transparent_reply(const struct sockaddr *local, socklen_t local_length,
                                    const struct sockaddr *peer, socklen_t peer_length) {
    int descriptor = transparent_socket(local->sa_family);
    if (descriptor < 0) return descriptor;
    if (bind(descriptor, local, local_length) || connect(descriptor, peer, peer_length)) {
        int error = errno;
        close(descriptor);
        return -error;
    }
    return descriptor;
}
#else
#include <errno.h>
int clinuxnet_udp_tproxy_listener(const struct sockaddr *address, socklen_t length) { return -ENOSYS; }
ssize_t clinuxnet_udp_receive(int descriptor, void *buffer, size_t capacity,
                              struct sockaddr_storage *source, struct sockaddr_storage *destination) { return -ENOSYS; }
int clinuxnet_udp_transparent_reply(const struct sockaddr *local, socklen_t local_length,
                                    const struct sockaddr *peer, socklen_t peer_length) { return -ENOSYS; }
#endif
