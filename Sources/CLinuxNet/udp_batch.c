#define _GNU_SOURCE
#include "CLinuxNet.h"

#ifdef __linux__
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct clinuxnet_udp_batch {
    unsigned capacity;
    size_t slot_size;
    unsigned char *receive_area;
    unsigned char *send_area;
    struct mmsghdr *received;
    struct iovec *receive_vectors;
    struct sockaddr_storage *sources;
    struct mmsghdr *outgoing;
    struct iovec *send_vectors;
    struct sockaddr_storage *destinations;
    unsigned queued;
};

struct clinuxnet_udp_batch *clinuxnet_udp_batch_create(unsigned capacity, size_t slot_size) {
    struct clinuxnet_udp_batch *batch = calloc(1, sizeof(*batch));
    if (batch == NULL) return NULL;
    batch->capacity = capacity;
    batch->slot_size = slot_size;
    batch->receive_area = malloc(capacity * slot_size);
    batch->send_area = malloc(capacity * slot_size);
    batch->received = calloc(capacity, sizeof(struct mmsghdr));
    batch->receive_vectors = calloc(capacity, sizeof(struct iovec));
    batch->sources = calloc(capacity, sizeof(struct sockaddr_storage));
    batch->outgoing = calloc(capacity, sizeof(struct mmsghdr));
    batch->send_vectors = calloc(capacity, sizeof(struct iovec));
    batch->destinations = calloc(capacity, sizeof(struct sockaddr_storage));
    if (!batch->receive_area || !batch->send_area || !batch->received || !batch->receive_vectors ||
        !batch->sources || !batch->outgoing || !batch->send_vectors || !batch->destinations) {
        clinuxnet_udp_batch_destroy(batch);
        return NULL;
    }
    for (unsigned index = 0; index < capacity; index++) {
        batch->receive_vectors[index].iov_base = batch->receive_area + index * slot_size;
        batch->received[index].msg_hdr.msg_iov = &batch->receive_vectors[index];
        batch->received[index].msg_hdr.msg_iovlen = 1;
        batch->received[index].msg_hdr.msg_name = &batch->sources[index];
        batch->send_vectors[index].iov_base = batch->send_area + index * slot_size;
        batch->outgoing[index].msg_hdr.msg_iov = &batch->send_vectors[index];
        batch->outgoing[index].msg_hdr.msg_iovlen = 1;
        batch->outgoing[index].msg_hdr.msg_name = &batch->destinations[index];
    }
    return batch;
}

void clinuxnet_udp_batch_destroy(struct clinuxnet_udp_batch *batch) {
    if (batch == NULL) return;
    free(batch->receive_area);
    free(batch->send_area);
    free(batch->received);
    free(batch->receive_vectors);
    free(batch->sources);
    free(batch->outgoing);
    free(batch->send_vectors);
    free(batch->destinations);
    free(batch);
}

int clinuxnet_udp_batch_receive(int descriptor, struct clinuxnet_udp_batch *batch) {
    for (unsigned index = 0; index < batch->capacity; index++) {
        batch->receive_vectors[index].iov_len = batch->slot_size;
        batch->received[index].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
        batch->received[index].msg_hdr.msg_flags = 0;
    }
    int count = recvmmsg(descriptor, batch->received, batch->capacity, MSG_WAITFORONE, NULL);
    return count < 0 ? -errno : count;
}

const unsigned char *clinuxnet_udp_batch_datagram(const struct clinuxnet_udp_batch *batch, unsigned index,
                                                  size_t *length, int *truncated) {
    *length = batch->received[index].msg_len;
    *truncated = (batch->received[index].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    return batch->receive_area + index * batch->slot_size;
}

const struct sockaddr *clinuxnet_udp_batch_source(const struct clinuxnet_udp_batch *batch, unsigned index,
                                                  socklen_t *length) {
    *length = batch->received[index].msg_hdr.msg_namelen;
    return (const struct sockaddr *)&batch->sources[index];
}

int clinuxnet_udp_batch_queue(struct clinuxnet_udp_batch *batch, const void *data, size_t length,
                              const struct sockaddr *destination, socklen_t destination_length) {
    if (batch->queued == batch->capacity || length > batch->slot_size ||
        destination_length > sizeof(struct sockaddr_storage))
        return -1;
    unsigned index = batch->queued++;
    memcpy(batch->send_vectors[index].iov_base, data, length);
    batch->send_vectors[index].iov_len = length;
    memcpy(&batch->destinations[index], destination, destination_length);
    batch->outgoing[index].msg_hdr.msg_namelen = destination_length;
    return 0;
}

unsigned clinuxnet_udp_batch_flush(int descriptor, struct clinuxnet_udp_batch *batch, int flags) {
    unsigned sent = 0, failed = 0;
    while (sent + failed < batch->queued) {
        unsigned first = sent + failed;
        int count = sendmmsg(descriptor, batch->outgoing + first, batch->queued - first, flags);
        if (count > 0) {
            sent += (unsigned)count;
        } else if (count < 0 && errno == EINTR) {
            continue;
        } else {
            // The first datagram is refused (unreachable destination, full buffer): skip it, send the rest.
            failed++;
        }
    }
    batch->queued = 0;
    return failed;
}
#endif
