// Reference TCP relays for scripts/proxy-bench.sh: what a relay that is not dnsgate reaches in the same namespaces
// and the same run, so that dnsgate's figure can be read against a ceiling and not only against a direct
// connection. Not part of dnsgate. Built by proxy-bench.sh with the toolchain's clang.
//
//   reference-relay MODE LISTEN-IPv4 LISTEN-PORT TARGET-IPv4 TARGET-PORT
//
// MODE is one of
//   copy     a thread per direction, blocking read(2)/write(2) through a 256 KiB buffer
//   splice   a thread per direction, splice(2) through a 1 MiB pipe (no copy into user space)
//   sockmap  in-kernel forwarding: both sockets go into a BPF SOCKHASH whose sk_skb verdict program redirects
//            every segment to the other socket; user space only waits for the ends. A measurement, not a usable
//            relay: bytes that arrive before both sockets are in the map are dropped, and there is no back-pressure.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

enum mode { COPY, SPLICE, SOCKMAP };
static enum mode mode;
static struct sockaddr_in target;
static int sockhash = -1;

struct direction {
    int from, to;
};

static void copy_direction(const struct direction *d) {
    static __thread char buffer[256 * 1024];
    for (;;) {
        ssize_t n = read(d->from, buffer, sizeof buffer);
        if (n <= 0) return;
        for (ssize_t done = 0; done < n;) {
            ssize_t m = write(d->to, buffer + done, (size_t)(n - done));
            if (m <= 0) return;
            done += m;
        }
    }
}

static void splice_direction(const struct direction *d) {
    int pipefd[2];
    if (pipe2(pipefd, 0) != 0) return;
    fcntl(pipefd[0], F_SETPIPE_SZ, 1 << 20);
    for (;;) {
        ssize_t n = splice(d->from, NULL, pipefd[1], NULL, 1 << 20, SPLICE_F_MOVE);
        if (n <= 0) break;
        while (n > 0) {
            ssize_t m = splice(pipefd[0], NULL, d->to, NULL, (size_t)n, SPLICE_F_MOVE);
            if (m <= 0) goto done;
            n -= m;
        }
    }
done:
    close(pipefd[0]);
    close(pipefd[1]);
}

// With the socket in the map the kernel moves its data, and a read here returns only at the end of input. Under a
// verdict program, recv reports EAGAIN even on a blocking socket and poll reports the socket readable (or hung up)
// while it is not, so this checks every 10 ms instead of spinning.
static void wait_for_end(const struct direction *d) {
    char byte;
    for (;;) {
        ssize_t n = recv(d->from, &byte, 1, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            usleep(10000);
            continue;
        }
        if (n <= 0) return;
        send(d->to, &byte, 1, 0);
    }
}

static void *run_direction(void *argument) {
    const struct direction *d = argument;
    switch (mode) {
    case COPY: copy_direction(d); break;
    case SPLICE: splice_direction(d); break;
    case SOCKMAP: wait_for_end(d); break;
    }
    shutdown(d->to, SHUT_WR);
    return NULL;
}

static long bpf(int command, union bpf_attr *attributes) {
    return syscall(__NR_bpf, command, attributes, sizeof *attributes);
}

static uint64_t cookie(int fd) {
    uint64_t value = 0;
    socklen_t length = sizeof value;
    getsockopt(fd, SOL_SOCKET, SO_COOKIE, &value, &length);
    return value;
}

// Entry "cookie of `from`" -> socket `to`: the verdict program looks up the cookie of the socket a segment
// arrived on and redirects the segment to the socket stored under it.
static int sockhash_update(int from, int to, int delete) {
    uint64_t key = cookie(from);
    uint32_t value = (uint32_t)to;
    union bpf_attr a = {.map_fd = (uint32_t)sockhash, .key = (uint64_t)(uintptr_t)&key};
    if (delete) return (int)bpf(BPF_MAP_DELETE_ELEM, &a);
    a.value = (uint64_t)(uintptr_t)&value;
    a.flags = BPF_ANY;
    return (int)bpf(BPF_MAP_UPDATE_ELEM, &a);
}

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

static int load_sockmap(void) {
    union bpf_attr a = {.map_type = BPF_MAP_TYPE_SOCKHASH, .key_size = 8, .value_size = 4, .max_entries = 65536};
    sockhash = (int)bpf(BPF_MAP_CREATE, &a);
    if (sockhash < 0) return perror("BPF_MAP_CREATE"), -1;
    // r6 = skb; r0 = get_socket_cookie(skb); *(u64 *)(r10 - 8) = r0;
    // return sk_redirect_hash(skb, sockhash, r10 - 8, 0)
    struct bpf_insn program[] = {
        INSN(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0),
        INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_socket_cookie),
        INSN(BPF_STX | BPF_MEM | BPF_DW, 10, 0, -8, 0),
        INSN(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0),
        INSN(BPF_LD | BPF_DW | BPF_IMM, 2, BPF_PSEUDO_MAP_FD, 0, sockhash),
        INSN(0, 0, 0, 0, 0),
        INSN(BPF_ALU64 | BPF_MOV | BPF_X, 3, 10, 0, 0),
        INSN(BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, -8),
        INSN(BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, 0),
        INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_sk_redirect_hash),
        INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
    };
    static char log[16384];
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_SK_SKB;
    a.insns = (uint64_t)(uintptr_t)program;
    a.insn_cnt = sizeof program / sizeof program[0];
    a.license = (uint64_t)(uintptr_t)"GPL";
    a.log_buf = (uint64_t)(uintptr_t)log;
    a.log_size = sizeof log;
    a.log_level = 1;
    int program_fd = (int)bpf(BPF_PROG_LOAD, &a);
    if (program_fd < 0) return fprintf(stderr, "BPF_PROG_LOAD: %s\n%s\n", strerror(errno), log), -1;
    memset(&a, 0, sizeof a);
    a.target_fd = (uint32_t)sockhash;
    a.attach_bpf_fd = (uint32_t)program_fd;
    a.attach_type = BPF_SK_SKB_VERDICT;
    if (bpf(BPF_PROG_ATTACH, &a) != 0) return perror("BPF_PROG_ATTACH"), -1;
    return 0;
}

static void *run_connection(void *argument) {
    int client = (int)(intptr_t)argument, one = 1;
    int server = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (server >= 0 && connect(server, (struct sockaddr *)&target, sizeof target) == 0) {
        if (mode == SOCKMAP && (sockhash_update(client, server, 0) || sockhash_update(server, client, 0)))
            perror("BPF_MAP_UPDATE_ELEM");
        struct direction up = {client, server}, down = {server, client};
        pthread_t thread;
        if (pthread_create(&thread, NULL, run_direction, &down) == 0) {
            run_direction(&up);
            pthread_join(thread, NULL);
        }
        if (mode == SOCKMAP) {
            sockhash_update(client, server, 1);
            sockhash_update(server, client, 1);
        }
    }
    if (server >= 0) close(server);
    close(client);
    return NULL;
}

static int parse_address(const char *host, const char *port, struct sockaddr_in *address) {
    *address = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    return inet_pton(AF_INET, host, &address->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv) {
    struct sockaddr_in listen_address;
    if (argc != 6 || parse_address(argv[2], argv[3], &listen_address) || parse_address(argv[4], argv[5], &target)) {
        fprintf(stderr, "usage: %s copy|splice|sockmap LISTEN-IPv4 PORT TARGET-IPv4 PORT\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "copy") == 0) mode = COPY;
    else if (strcmp(argv[1], "splice") == 0) mode = SPLICE;
    else if (strcmp(argv[1], "sockmap") == 0) mode = SOCKMAP;
    else return fprintf(stderr, "unknown mode %s\n", argv[1]), 2;
    signal(SIGPIPE, SIG_IGN);
    if (mode == SOCKMAP && load_sockmap() != 0) return 1;
    int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&listen_address, sizeof listen_address) != 0 || listen(listener, 128) != 0)
        return perror("listen"), 1;
    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) continue;
        pthread_t thread;
        if (pthread_create(&thread, NULL, run_connection, (void *)(intptr_t)client) != 0) {
            close(client);
            continue;
        }
        pthread_detach(thread);
    }
}
