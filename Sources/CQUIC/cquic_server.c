// The server side of dnsgate's QUIC shim (see include/cquic.h): ngtcp2 0.12 connections with GnuTLS for TLS 1.3.

#include "cquic.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/// Length of the connection IDs this server chooses.
#define CQUIC_SCID_LENGTH 18
/// TLS 1.3 only, without the middlebox-compatibility records QUIC forbids.
#define CQUIC_PRIORITIES "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3"
/// Flow-control credit for a connection as a whole, returned as the application reads.
#define CQUIC_CONNECTION_WINDOW (1024 * 1024)

struct cquic_server {
    gnutls_certificate_credentials_t credentials;
    gnutls_priority_t priority;
    gnutls_datum_t ticket_key;
    unsigned char alpn[256];
    size_t alpn_length;
    uint8_t reset_secret[32];
    cquic_server_limits limits;
};

struct cquic_conn {
    cquic_server *server;
    ngtcp2_conn *conn;
    gnutls_session_t tls;
    ngtcp2_crypto_conn_ref conn_ref;
    cquic_events events;
    void *user;
    ngtcp2_connection_close_error failure;
    int handshake_completed;
};

uint64_t cquic_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * NGTCP2_SECONDS + (uint64_t)now.tv_nsec;
}

static void random_bytes(uint8_t *out, size_t length) {
    if (gnutls_rnd(GNUTLS_RND_RANDOM, out, length) != 0) {
        // GnuTLS's generator does not fail once initialised; zeros would still be a valid (if guessable) value.
        memset(out, 0, length);
    }
}

cquic_server *cquic_server_new(const char *cert_file, const char *key_file, const char *alpn,
                               cquic_server_limits limits, char *error, size_t error_capacity) {
    size_t alpn_length = strlen(alpn);
    if (alpn_length == 0 || alpn_length > 255) {
        snprintf(error, error_capacity, "ALPN must be 1 to 255 bytes");
        return NULL;
    }
    cquic_server *server = calloc(1, sizeof(*server));
    if (server == NULL) {
        snprintf(error, error_capacity, "out of memory");
        return NULL;
    }
    memcpy(server->alpn, alpn, alpn_length);
    server->alpn_length = alpn_length;
    server->limits = limits;
    random_bytes(server->reset_secret, sizeof(server->reset_secret));
    int rv = gnutls_certificate_allocate_credentials(&server->credentials);
    if (rv == 0) {
        rv = gnutls_certificate_set_x509_key_file(server->credentials, cert_file, key_file, GNUTLS_X509_FMT_PEM);
    }
    if (rv == 0) {
        rv = gnutls_priority_init(&server->priority, CQUIC_PRIORITIES, NULL);
    }
    if (rv == 0) {
        rv = gnutls_session_ticket_key_generate(&server->ticket_key);
    }
    if (rv != 0) {
        snprintf(error, error_capacity, "%s", gnutls_strerror(rv));
        cquic_server_free(server);
        return NULL;
    }
    return server;
}

void cquic_server_free(cquic_server *server) {
    if (server == NULL) {
        return;
    }
    if (server->credentials != NULL) {
        gnutls_certificate_free_credentials(server->credentials);
    }
    if (server->priority != NULL) {
        gnutls_priority_deinit(server->priority);
    }
    if (server->ticket_key.data != NULL) {
        gnutls_memset(server->ticket_key.data, 0, server->ticket_key.size);
        gnutls_free(server->ticket_key.data);
    }
    free(server);
}

cquic_packet_kind cquic_packet_dcid(const uint8_t *packet, size_t length, uint8_t *dcid, size_t *dcid_length) {
    ngtcp2_version_cid cids;
    int rv = ngtcp2_pkt_decode_version_cid(&cids, packet, length, CQUIC_SCID_LENGTH);
    if (rv != 0 && rv != NGTCP2_ERR_VERSION_NEGOTIATION) {
        return CQUIC_PACKET_INVALID;
    }
    if (cids.dcidlen > NGTCP2_MAX_CIDLEN) {
        return CQUIC_PACKET_INVALID;
    }
    memcpy(dcid, cids.dcid, cids.dcidlen);
    *dcid_length = cids.dcidlen;
    return rv == NGTCP2_ERR_VERSION_NEGOTIATION ? CQUIC_PACKET_VERSION_NEGOTIATION : CQUIC_PACKET_OK;
}

ssize_t cquic_write_version_negotiation(const uint8_t *packet, size_t length, uint8_t *out, size_t capacity) {
    ngtcp2_version_cid cids;
    if (ngtcp2_pkt_decode_version_cid(&cids, packet, length, CQUIC_SCID_LENGTH) != NGTCP2_ERR_VERSION_NEGOTIATION) {
        return -1;
    }
    uint8_t unused;
    random_bytes(&unused, 1);
    const uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
    // The client's source ID becomes the destination, and the other way round.
    return ngtcp2_pkt_write_version_negotiation(out, capacity, unused, cids.scid, cids.scidlen, cids.dcid,
                                                cids.dcidlen, versions, 1);
}

static ngtcp2_conn *conn_of(ngtcp2_crypto_conn_ref *ref) {
    return ((cquic_conn *)ref->user_data)->conn;
}

static void rand_callback(uint8_t *dest, size_t length, const ngtcp2_rand_ctx *context) {
    (void)context;
    random_bytes(dest, length);
}

static int recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t stream, uint64_t offset,
                            const uint8_t *data, size_t length, void *user_data, void *stream_user_data) {
    (void)offset;
    (void)stream_user_data;
    cquic_conn *c = user_data;
    if (c->events.stream_data(c->user, stream, data, length, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0) != 0) {
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    // The bytes are copied: give the connection its credit back. A stream's own credit is never returned, so
    // no stream can carry more than the limit advertised for it.
    ngtcp2_conn_extend_max_offset(conn, length);
    return 0;
}

static int stream_open(ngtcp2_conn *conn, int64_t stream, void *user_data) {
    (void)conn;
    (void)stream;
    (void)user_data;
    return 0;
}

static int stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t stream, uint64_t error, void *user_data,
                        void *stream_user_data) {
    (void)stream_user_data;
    cquic_conn *c = user_data;
    if ((stream & 0x3) == 0) {
        // A client-opened bidirectional stream ended: the client may open another.
        ngtcp2_conn_extend_max_streams_bidi(conn, 1);
    }
    c->events.stream_closed(c->user, stream, (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) != 0, error);
    return 0;
}

static int stream_reset(ngtcp2_conn *conn, int64_t stream, uint64_t final_size, uint64_t error, void *user_data,
                        void *stream_user_data) {
    (void)conn;
    (void)final_size;
    (void)stream_user_data;
    cquic_conn *c = user_data;
    // The client abandoned its query: the application drops it and resets its side after this read.
    c->events.stream_closed(c->user, stream, 1, error);
    return 0;
}

/// A new connection ID for `cid`, with the stateless-reset token derived from the server's secret.
static int make_connection_id(cquic_conn *c, ngtcp2_cid *cid, uint8_t *token, size_t length) {
    random_bytes(cid->data, length);
    cid->datalen = length;
    return ngtcp2_crypto_generate_stateless_reset_token(token, c->server->reset_secret,
                                                        sizeof(c->server->reset_secret), cid);
}

static int new_connection_id(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t length, void *user_data) {
    (void)conn;
    cquic_conn *c = user_data;
    if (make_connection_id(c, cid, token, length) != 0) {
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    c->events.cid_added(c->user, cid->data, cid->datalen);
    return 0;
}

static int remove_connection_id(ngtcp2_conn *conn, const ngtcp2_cid *cid, void *user_data) {
    (void)conn;
    cquic_conn *c = user_data;
    c->events.cid_removed(c->user, cid->data, cid->datalen);
    return 0;
}

static int handshake_completed(ngtcp2_conn *conn, void *user_data) {
    (void)conn;
    cquic_conn *c = user_data;
    c->handshake_completed = 1;
    // A ticket lets the client resume its next connection.
    return gnutls_session_ticket_send(c->tls, 1, 0) == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

static const ngtcp2_callbacks server_callbacks = {
    .recv_client_initial = ngtcp2_crypto_recv_client_initial_cb,
    .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
    .handshake_completed = handshake_completed,
    .encrypt = ngtcp2_crypto_encrypt_cb,
    .decrypt = ngtcp2_crypto_decrypt_cb,
    .hp_mask = ngtcp2_crypto_hp_mask_cb,
    .recv_stream_data = recv_stream_data,
    .stream_open = stream_open,
    .stream_close = stream_close,
    .rand = rand_callback,
    .get_new_connection_id = new_connection_id,
    .remove_connection_id = remove_connection_id,
    .update_key = ngtcp2_crypto_update_key_cb,
    .stream_reset = stream_reset,
    .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
    .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
    .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
    .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
};

static ngtcp2_path path_of(const struct sockaddr *local, socklen_t local_length, const struct sockaddr *remote,
                           socklen_t remote_length) {
    ngtcp2_path path = {
        .local = {.addr = (ngtcp2_sockaddr *)local, .addrlen = local_length},
        .remote = {.addr = (ngtcp2_sockaddr *)remote, .addrlen = remote_length},
        .user_data = NULL,
    };
    return path;
}

/// The connection's TLS session: TLS 1.3, the server's certificate, ALPN required, tickets for resumption.
static int start_tls(cquic_conn *c) {
    cquic_server *server = c->server;
    if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA) != 0) {
        c->tls = NULL;
        return -1;
    }
    gnutls_datum_t alpn = {.data = server->alpn, .size = (unsigned)server->alpn_length};
    if (gnutls_priority_set(c->tls, server->priority) != 0 ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, server->credentials) != 0 ||
        gnutls_session_ticket_enable_server(c->tls, &server->ticket_key) != 0 ||
        // RFC 9001 §4.6.1: a ticket that allows 0-RTT says so with 0xffffffff, not a byte count.
        gnutls_record_set_max_early_data_size(c->tls, 0xffffffffu) != 0 ||
        gnutls_alpn_set_protocols(c->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY) != 0 ||
        ngtcp2_crypto_gnutls_configure_server_session(c->tls) != 0) {
        return -1;
    }
    c->conn_ref.get_conn = conn_of;
    c->conn_ref.user_data = c;
    gnutls_session_set_ptr(c->tls, &c->conn_ref);
    ngtcp2_conn_set_tls_native_handle(c->conn, c->tls);
    return 0;
}

/// How long a Retry token stays valid.
#define CQUIC_RETRY_TOKEN_LIFETIME (10 * NGTCP2_SECONDS)

ssize_t cquic_write_retry(cquic_server *server, const uint8_t *packet, size_t length,
                          const struct sockaddr *remote, socklen_t remote_length, uint8_t *out, size_t capacity,
                          uint64_t now) {
    ngtcp2_pkt_hd header;
    if (ngtcp2_accept(&header, packet, length) != 0 || header.type != NGTCP2_PKT_INITIAL) {
        return -1;
    }
    ngtcp2_cid retry_scid;
    random_bytes(retry_scid.data, CQUIC_SCID_LENGTH);
    retry_scid.datalen = CQUIC_SCID_LENGTH;
    uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
    ngtcp2_ssize token_length = ngtcp2_crypto_generate_retry_token(
        token, server->reset_secret, sizeof(server->reset_secret), header.version, (const ngtcp2_sockaddr *)remote,
        remote_length, &retry_scid, &header.dcid, now);
    if (token_length < 0) {
        return -1;
    }
    return ngtcp2_crypto_write_retry(out, capacity, header.version, &header.scid, &retry_scid, &header.dcid, token,
                                     (size_t)token_length);
}

cquic_conn *cquic_accept(cquic_server *server, const uint8_t *packet, size_t length,
                         const struct sockaddr *local, socklen_t local_length,
                         const struct sockaddr *remote, socklen_t remote_length,
                         const cquic_events *events, void *user, uint64_t now, int validate_address,
                         int *send_retry) {
    *send_retry = 0;
    ngtcp2_pkt_hd header;
    if (ngtcp2_accept(&header, packet, length) != 0 || header.type != NGTCP2_PKT_INITIAL) {
        return NULL;
    }
    // After a Retry the client's Initial carries our token: it proves the address, and names the client's first
    // destination ID, which the transport parameters must repeat.
    ngtcp2_cid original_dcid = header.dcid;
    int retried = header.token.len > 0 && header.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY;
    if (retried) {
        if (ngtcp2_crypto_verify_retry_token(&original_dcid, header.token.base, header.token.len,
                                             server->reset_secret, sizeof(server->reset_secret), header.version,
                                             (const ngtcp2_sockaddr *)remote, remote_length, &header.dcid,
                                             CQUIC_RETRY_TOKEN_LIFETIME, now) != 0) {
            return NULL;
        }
    } else if (validate_address) {
        *send_retry = 1;
        return NULL;
    }
    cquic_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->server = server;
    c->events = *events;
    c->user = user;
    ngtcp2_connection_close_error_default(&c->failure);

    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now;
    settings.handshake_timeout = server->limits.handshake_timeout_ms * NGTCP2_MILLISECONDS;
    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.initial_max_streams_bidi = server->limits.max_streams;
    params.initial_max_streams_uni = 0;
    params.initial_max_stream_data_bidi_remote = server->limits.max_stream_data;
    params.initial_max_data = CQUIC_CONNECTION_WINDOW;
    params.max_idle_timeout = server->limits.idle_timeout_ms * NGTCP2_MILLISECONDS;
    params.disable_active_migration = 1;
    params.original_dcid = original_dcid;
    if (retried) {
        params.retry_scid = header.dcid;
        params.retry_scid_present = 1;
    }
    params.stateless_reset_token_present = 1;

    ngtcp2_cid scid;
    if (make_connection_id(c, &scid, params.stateless_reset_token, CQUIC_SCID_LENGTH) != 0) {
        free(c);
        return NULL;
    }
    ngtcp2_path path = path_of(local, local_length, remote, remote_length);
    if (ngtcp2_conn_server_new(&c->conn, &header.scid, &scid, &path, header.version, &server_callbacks, &settings,
                               &params, NULL, c) != 0) {
        free(c);
        return NULL;
    }
    if (start_tls(c) != 0) {
        cquic_conn_free(c);
        return NULL;
    }
    // Until the client learns the server's ID, its packets carry the ID it chose.
    c->events.cid_added(user, header.dcid.data, header.dcid.datalen);
    c->events.cid_added(user, scid.data, scid.datalen);
    return c;
}

cquic_status cquic_conn_read(cquic_conn *c, const uint8_t *packet, size_t length,
                             const struct sockaddr *local, socklen_t local_length,
                             const struct sockaddr *remote, socklen_t remote_length, uint64_t now) {
    ngtcp2_path path = path_of(local, local_length, remote, remote_length);
    ngtcp2_pkt_info info = {0};
    int rv = ngtcp2_conn_read_pkt(c->conn, &path, &info, packet, length, now);
    switch (rv) {
    case 0:
        return CQUIC_OK;
    case NGTCP2_ERR_DRAINING:
    case NGTCP2_ERR_CLOSING:
    case NGTCP2_ERR_DROP_CONN:
    case NGTCP2_ERR_RETRY:
        return CQUIC_GONE;
    case NGTCP2_ERR_DISCARD_PKT:
        return CQUIC_DISCARDED;
    case NGTCP2_ERR_CRYPTO:
        ngtcp2_connection_close_error_set_transport_error_tls_alert(&c->failure, ngtcp2_conn_get_tls_alert(c->conn),
                                                                    NULL, 0);
        return CQUIC_FAILED;
    default:
        ngtcp2_connection_close_error_set_transport_error_liberr(&c->failure, rv, NULL, 0);
        return CQUIC_FAILED;
    }
}

ssize_t cquic_conn_write(cquic_conn *c, int64_t stream, const uint8_t *data, size_t length, int fin,
                         ssize_t *consumed, uint8_t *out, size_t capacity, uint64_t now) {
    ngtcp2_vec vec = {.base = (uint8_t *)data, .len = length};
    ngtcp2_ssize taken = -1;
    ngtcp2_path_storage path;
    ngtcp2_path_storage_zero(&path);
    ngtcp2_pkt_info info;
    uint32_t flags = (stream >= 0 && fin) ? NGTCP2_WRITE_STREAM_FLAG_FIN : NGTCP2_WRITE_STREAM_FLAG_NONE;
    ngtcp2_ssize written = ngtcp2_conn_writev_stream(c->conn, &path.path, &info, out, capacity, &taken, flags,
                                                     stream, stream >= 0 ? &vec : NULL, stream >= 0 ? 1 : 0, now);
    *consumed = taken;
    if (written >= 0) {
        return written;
    }
    switch (written) {
    case NGTCP2_ERR_STREAM_DATA_BLOCKED:
    case NGTCP2_ERR_STREAM_SHUT_WR:
    case NGTCP2_ERR_STREAM_NOT_FOUND:
        return -1;
    default:
        ngtcp2_connection_close_error_set_transport_error_liberr(&c->failure, (int)written, NULL, 0);
        return -2;
    }
}

uint64_t cquic_conn_expiry(cquic_conn *c) {
    return ngtcp2_conn_get_expiry(c->conn);
}

cquic_status cquic_conn_handle_expiry(cquic_conn *c, uint64_t now) {
    int rv = ngtcp2_conn_handle_expiry(c->conn, now);
    switch (rv) {
    case 0:
        return CQUIC_OK;
    case NGTCP2_ERR_IDLE_CLOSE:
    case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
        return CQUIC_GONE;
    default:
        ngtcp2_connection_close_error_set_transport_error_liberr(&c->failure, rv, NULL, 0);
        return CQUIC_FAILED;
    }
}

ssize_t cquic_conn_write_close(cquic_conn *c, int after_failure, uint64_t error, uint8_t *out, size_t capacity,
                               uint64_t now) {
    ngtcp2_connection_close_error close_error;
    if (after_failure) {
        close_error = c->failure;
    } else {
        ngtcp2_connection_close_error_default(&close_error);
        ngtcp2_connection_close_error_set_application_error(&close_error, error, NULL, 0);
    }
    ngtcp2_path_storage path;
    ngtcp2_path_storage_zero(&path);
    ngtcp2_pkt_info info;
    return ngtcp2_conn_write_connection_close(c->conn, &path.path, &info, out, capacity, &close_error, now);
}

void cquic_conn_reset_stream(cquic_conn *c, int64_t stream, uint64_t error) {
    ngtcp2_conn_shutdown_stream(c->conn, stream, error);
}

int cquic_conn_handshake_completed(cquic_conn *c) {
    return c->handshake_completed;
}

void cquic_conn_free(cquic_conn *c) {
    if (c == NULL) {
        return;
    }
    if (c->conn != NULL) {
        ngtcp2_conn_del(c->conn);
    }
    if (c->tls != NULL) {
        gnutls_deinit(c->tls);
    }
    free(c);
}
