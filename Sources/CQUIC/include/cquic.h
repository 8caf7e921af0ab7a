#ifndef DNSGATE_CQUIC_H
#define DNSGATE_CQUIC_H

// dnsgate's thin shim over Debian's QUIC stack: ngtcp2 0.12 (libngtcp2-dev) with its GnuTLS crypto helper
// (libngtcp2-crypto-gnutls-dev) and GnuTLS for TLS 1.3. ngtcp2's API changed before 1.0 and hides its calls
// behind versioned macros, so Swift sees only this header: plain types, no ngtcp2 or GnuTLS ones. A move to
// ngtcp2 1.x touches cquic_server.c alone.

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/// A server endpoint's shared state: certificate, TLS 1.3 priorities, ALPN, session-ticket key, the secret behind
/// stateless-reset tokens, and the transport limits every connection advertises.
typedef struct cquic_server cquic_server;

/// One QUIC connection, server side.
typedef struct cquic_conn cquic_conn;

/// What a connection reports while it reads a packet. Called synchronously from `cquic_conn_read`.
typedef struct cquic_events {
    /// Bytes for a client-opened stream, in order; `fin` when the client has finished the stream.
    /// Returns 0, or -1 to abort the connection.
    int (*stream_data)(void *user, int64_t stream, const uint8_t *data, size_t length, int fin);
    /// A stream is closed: both sides finished, or reset (`reset` is 1, `error` the application's code).
    void (*stream_closed)(void *user, int64_t stream, int reset, uint64_t error);
    /// The connection now answers to this connection ID too (route datagrams carrying it here).
    void (*cid_added)(void *user, const uint8_t *cid, size_t length);
    /// The connection no longer answers to this connection ID.
    void (*cid_removed)(void *user, const uint8_t *cid, size_t length);
} cquic_events;

/// Limits a server advertises to its clients.
typedef struct cquic_server_limits {
    /// Bidirectional streams a client may have open at once.
    uint64_t max_streams;
    /// Bytes a client may send on one stream (a DoQ query is at most 65,537).
    uint64_t max_stream_data;
    /// QUIC's idle timeout, in milliseconds.
    uint64_t idle_timeout_ms;
    /// How long a handshake may take before the connection is dropped, in milliseconds.
    uint64_t handshake_timeout_ms;
} cquic_server_limits;

/// A server endpoint for `alpn` (for example "doq") with the PEM certificate chain and key at the paths given.
/// Returns NULL with a message in `error` when the files cannot be loaded.
cquic_server *cquic_server_new(const char *cert_file, const char *key_file, const char *alpn,
                               cquic_server_limits limits, char *error, size_t error_capacity);
void cquic_server_free(cquic_server *server);

/// What the first bytes of a datagram say.
typedef enum cquic_packet_kind {
    /// Not a QUIC packet this server can read: drop it.
    CQUIC_PACKET_INVALID = 0,
    /// A packet for an existing connection, or a first Initial; `dcid` holds its destination connection ID.
    CQUIC_PACKET_OK = 1,
    /// A long-header packet of a QUIC version this server does not speak: answer with
    /// `cquic_write_version_negotiation`.
    CQUIC_PACKET_VERSION_NEGOTIATION = 2,
} cquic_packet_kind;

/// Reads a datagram's destination connection ID (at most 20 bytes) into `dcid`.
cquic_packet_kind cquic_packet_dcid(const uint8_t *packet, size_t length, uint8_t *dcid, size_t *dcid_length);

/// A Version Negotiation packet answering `packet`; returns its length, or a negative value.
ssize_t cquic_write_version_negotiation(const uint8_t *packet, size_t length, uint8_t *out, size_t capacity);

/// A new connection for a client's first Initial packet, or NULL when `packet` is not one (or cannot be accepted).
/// `local` and `remote` are the datagram's addresses. The connection reports its connection IDs through
/// `events->cid_added` before this returns; the client's own first destination ID is reported too.
/// With `validate_address`, an Initial without a valid Retry token is not accepted and `*send_retry` is set: answer
/// it with `cquic_write_retry`, which keeps no state, so that a flood of spoofed or abandoned handshakes costs
/// nothing. An Initial with a Retry token is accepted only if the token is valid for `remote`.
cquic_conn *cquic_accept(cquic_server *server, const uint8_t *packet, size_t length,
                         const struct sockaddr *local, socklen_t local_length,
                         const struct sockaddr *remote, socklen_t remote_length,
                         const cquic_events *events, void *user, uint64_t now, int validate_address,
                         int *send_retry);

/// A Retry packet (RFC 9000 §8.1.2) answering the Initial `packet` from `remote`; returns its length, or a negative
/// value.
ssize_t cquic_write_retry(cquic_server *server, const uint8_t *packet, size_t length,
                          const struct sockaddr *remote, socklen_t remote_length, uint8_t *out, size_t capacity,
                          uint64_t now);

/// Outcome of reading a packet or handling a timer.
typedef enum cquic_status {
    /// Go on: write what the connection has to send.
    CQUIC_OK = 0,
    /// The packet was not usable; the connection goes on.
    CQUIC_DISCARDED = 1,
    /// The connection is closing or draining, or timed out: drop it without sending anything more.
    CQUIC_GONE = 2,
    /// A protocol or TLS error: send `cquic_conn_write_close`'s packet, then drop the connection.
    CQUIC_FAILED = 3,
} cquic_status;

/// Feeds one datagram to the connection; events arrive through the callbacks given at accept.
cquic_status cquic_conn_read(cquic_conn *conn, const uint8_t *packet, size_t length,
                             const struct sockaddr *local, socklen_t local_length,
                             const struct sockaddr *remote, socklen_t remote_length, uint64_t now);

/// Writes one datagram into `out`: frames of stream `stream` (`data`, then FIN when `fin`), or, with stream -1,
/// whatever the connection itself has to send (handshake, acknowledgements, flow control). Returns the datagram's
/// length (0: nothing to send now), and in `consumed` how many of `data`'s bytes it took (-1 when the datagram
/// carries no frame of the stream; 0 with `fin` and no data means the FIN went). With `more`, frames of several
/// streams share a datagram: -3 means the stream's frame went into a datagram that still has room, to be filled by
/// the next call (another stream, or stream -1 to finish it). Otherwise negative: -1 when the stream cannot take
/// data now (closed or blocked: try again later, or drop it when closed), -2 on a fatal error.
/// ngtcp2 keeps pointers into `data` until the peer acknowledges it: keep the bytes until the stream closes.
ssize_t cquic_conn_write(cquic_conn *conn, int64_t stream, const uint8_t *data, size_t length, int fin, int more,
                         ssize_t *consumed, uint8_t *out, size_t capacity, uint64_t now);

/// When the connection's next timer is due (nanoseconds on `cquic_now`'s clock; UINT64_MAX for none).
uint64_t cquic_conn_expiry(cquic_conn *conn);

/// Runs the connection's due timers (retransmission, acknowledgement delay, idle timeout).
cquic_status cquic_conn_handle_expiry(cquic_conn *conn, uint64_t now);

/// A CONNECTION_CLOSE with application error `error` (DoQ: 0 for DOQ_NO_ERROR, 2 for DOQ_PROTOCOL_ERROR), or with
/// the transport or TLS error that failed the connection when `after_failure` is set; returns its length, or a
/// negative value when nothing can be sent.
ssize_t cquic_conn_write_close(cquic_conn *conn, int after_failure, uint64_t error, uint8_t *out,
                               size_t capacity, uint64_t now);

/// Abandons a stream both ways with application error `error` (RESET_STREAM and STOP_SENDING).
void cquic_conn_reset_stream(cquic_conn *conn, int64_t stream, uint64_t error);

/// Whether the TLS handshake has completed.
int cquic_conn_handshake_completed(cquic_conn *conn);

void cquic_conn_free(cquic_conn *conn);

/// A client endpoint's shared state: the ALPN it offers, how it authenticates servers (the system's trust store plus
/// extra PEM files of trust anchors, or not at all), and the secret behind its stateless-reset tokens.
typedef struct cquic_client cquic_client;

/// A client endpoint; returns NULL with a message in `error` when a trust anchor file cannot be loaded.
cquic_client *cquic_client_new(const char *alpn, const char *const *ca_files, size_t ca_file_count, int verify,
                               char *error, size_t error_capacity);
void cquic_client_free(cquic_client *client);

/// A new connection to `remote` that starts its handshake (write to send its first packet). `server_name` is sent
/// as SNI unless it is an IP literal, and the server's certificate must carry it when the endpoint verifies.
/// `session` (NULL for none) is what `cquic_conn_session` returned on an earlier connection: TLS resumes it.
/// `idle_timeout_ms` is the QUIC idle timeout offered. Returns NULL on failure.
cquic_conn *cquic_connect(cquic_client *client, const char *server_name,
                          const struct sockaddr *local, socklen_t local_length,
                          const struct sockaddr *remote, socklen_t remote_length,
                          const cquic_events *events, void *user, const uint8_t *session, size_t session_length,
                          uint64_t idle_timeout_ms, uint64_t now);

/// Opens a bidirectional stream and returns its ID, or -1 when the server's stream limit allows none now.
int64_t cquic_conn_open_stream(cquic_conn *conn);

/// Copies the TLS session into `out` for a later connection to resume, once the server has sent a ticket; returns
/// its length, 0 when there is none yet, or a negative value when `capacity` is too small.
ssize_t cquic_conn_session(cquic_conn *conn, uint8_t *out, size_t capacity);

/// Whether the handshake resumed an earlier session.
int cquic_conn_session_resumed(cquic_conn *conn);

/// Copies the server's public key (its certificate's SubjectPublicKeyInfo, DER) into `out`; returns its length, or
/// a negative value.
ssize_t cquic_conn_peer_public_key(cquic_conn *conn, uint8_t *out, size_t capacity);

/// The monotonic clock the connections run on, in nanoseconds.
uint64_t cquic_now(void);

#endif
