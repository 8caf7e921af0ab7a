// What both sides of dnsgate's QUIC shim share (see include/cquic.h): a connection's callbacks, reading, writing,
// timers and closing.

#include "cquic_internal.h"

#include <gnutls/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t cquic_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * NGTCP2_SECONDS + (uint64_t)now.tv_nsec;
}

int cquic_endpoint_init(cquic_endpoint *endpoint, const char *alpn, char *error, size_t error_capacity) {
    size_t alpn_length = strlen(alpn);
    if (alpn_length == 0 || alpn_length >= sizeof(endpoint->alpn)) {
        snprintf(error, error_capacity, "ALPN must be 1 to 255 bytes");
        return -1;
    }
    memcpy(endpoint->alpn, alpn, alpn_length);
    endpoint->alpn_length = alpn_length;
    cquic_random_bytes(endpoint->reset_secret, sizeof(endpoint->reset_secret));
    int rv = gnutls_certificate_allocate_credentials(&endpoint->credentials);
    if (rv == 0) {
        rv = gnutls_priority_init(&endpoint->priority, CQUIC_PRIORITIES, NULL);
    }
    if (rv != 0) {
        snprintf(error, error_capacity, "%s", gnutls_strerror(rv));
        return -1;
    }
    return 0;
}

void cquic_endpoint_free(cquic_endpoint *endpoint) {
    if (endpoint->credentials != NULL) {
        gnutls_certificate_free_credentials(endpoint->credentials);
    }
    if (endpoint->priority != NULL) {
        gnutls_priority_deinit(endpoint->priority);
    }
}

int cquic_start_tls(cquic_conn *c, const cquic_endpoint *endpoint, unsigned role) {
    if (gnutls_init(&c->tls, role | GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA) != 0) {
        c->tls = NULL;
        return -1;
    }
    gnutls_datum_t alpn = {.data = (unsigned char *)endpoint->alpn, .size = (unsigned)endpoint->alpn_length};
    if (gnutls_priority_set(c->tls, endpoint->priority) != 0 ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, endpoint->credentials) != 0 ||
        gnutls_alpn_set_protocols(c->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY) != 0) {
        return -1;
    }
    return 0;
}

void cquic_random_bytes(uint8_t *out, size_t length) {
    if (gnutls_rnd(GNUTLS_RND_RANDOM, out, length) != 0) {
        // GnuTLS's generator does not fail once initialised; zeros would still be a valid (if guessable) value.
        memset(out, 0, length);
    }
}

static ngtcp2_conn *conn_of(ngtcp2_crypto_conn_ref *ref) {
    return ((cquic_conn *)ref->user_data)->conn;
}

static void rand_callback(uint8_t *dest, size_t length, const ngtcp2_rand_ctx *context) {
    (void)context;
    cquic_random_bytes(dest, length);
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
    if (ngtcp2_conn_is_server(conn) && (stream & 0x3) == 0) {
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

int cquic_make_connection_id(cquic_conn *c, ngtcp2_cid *cid, uint8_t *token, size_t length) {
    cquic_random_bytes(cid->data, length);
    cid->datalen = length;
    return ngtcp2_crypto_generate_stateless_reset_token(token, c->reset_secret, 32, cid);
}

static int new_connection_id(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t length, void *user_data) {
    (void)conn;
    cquic_conn *c = user_data;
    if (cquic_make_connection_id(c, cid, token, length) != 0) {
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
    cquic_conn *c = user_data;
    c->handshake_completed = 1;
    if (!ngtcp2_conn_is_server(conn)) {
        return 0;
    }
    // A ticket lets the client resume its next connection.
    return gnutls_session_ticket_send(c->tls, 1, 0) == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

void cquic_common_callbacks(ngtcp2_callbacks *callbacks) {
    callbacks->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    callbacks->handshake_completed = handshake_completed;
    callbacks->encrypt = ngtcp2_crypto_encrypt_cb;
    callbacks->decrypt = ngtcp2_crypto_decrypt_cb;
    callbacks->hp_mask = ngtcp2_crypto_hp_mask_cb;
    callbacks->recv_stream_data = recv_stream_data;
    callbacks->stream_open = stream_open;
    callbacks->stream_close = stream_close;
    callbacks->rand = rand_callback;
    callbacks->get_new_connection_id = new_connection_id;
    callbacks->remove_connection_id = remove_connection_id;
    callbacks->update_key = ngtcp2_crypto_update_key_cb;
    callbacks->stream_reset = stream_reset;
    callbacks->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    callbacks->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    callbacks->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    callbacks->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
}

ngtcp2_path cquic_path(const struct sockaddr *local, socklen_t local_length, const struct sockaddr *remote,
                       socklen_t remote_length) {
    ngtcp2_path path = {
        .local = {.addr = (ngtcp2_sockaddr *)local, .addrlen = local_length},
        .remote = {.addr = (ngtcp2_sockaddr *)remote, .addrlen = remote_length},
        .user_data = NULL,
    };
    return path;
}

void cquic_conn_init(cquic_conn *c, const cquic_events *events, void *user, const uint8_t *reset_secret) {
    c->events = *events;
    c->user = user;
    c->reset_secret = reset_secret;
    ngtcp2_connection_close_error_default(&c->failure);
}

void cquic_conn_link_tls(cquic_conn *c) {
    c->conn_ref.get_conn = conn_of;
    c->conn_ref.user_data = c;
    gnutls_session_set_ptr(c->tls, &c->conn_ref);
    ngtcp2_conn_set_tls_native_handle(c->conn, c->tls);
}

cquic_status cquic_conn_read(cquic_conn *c, const uint8_t *packet, size_t length,
                             const struct sockaddr *local, socklen_t local_length,
                             const struct sockaddr *remote, socklen_t remote_length, uint64_t now) {
    ngtcp2_path path = cquic_path(local, local_length, remote, remote_length);
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

ssize_t cquic_conn_write(cquic_conn *c, int64_t stream, const uint8_t *data, size_t length, int fin, int more,
                         ssize_t *consumed, uint8_t *out, size_t capacity, uint64_t now) {
    ngtcp2_vec vec = {.base = (uint8_t *)data, .len = length};
    ngtcp2_ssize taken = -1;
    ngtcp2_path_storage path;
    ngtcp2_path_storage_zero(&path);
    ngtcp2_pkt_info info;
    uint32_t flags = (stream >= 0 && fin) ? NGTCP2_WRITE_STREAM_FLAG_FIN : NGTCP2_WRITE_STREAM_FLAG_NONE;
    if (more) {
        flags |= NGTCP2_WRITE_STREAM_FLAG_MORE;
    }
    ngtcp2_ssize written = ngtcp2_conn_writev_stream(c->conn, &path.path, &info, out, capacity, &taken, flags,
                                                     stream, stream >= 0 ? &vec : NULL, stream >= 0 ? 1 : 0, now);
    *consumed = taken;
    if (written >= 0) {
        return written;
    }
    switch (written) {
    case NGTCP2_ERR_WRITE_MORE:
        return -3;
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
    free(c->server_name);
    free(c);
}
