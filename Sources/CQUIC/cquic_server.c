// The server side of dnsgate's QUIC shim (see include/cquic.h): the endpoint, first packets, Retry and accept.

#include "cquic_internal.h"

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cquic_server {
    cquic_endpoint endpoint;
    gnutls_datum_t ticket_key;
    cquic_server_limits limits;
};

cquic_server *cquic_server_new(const char *cert_file, const char *key_file, const char *alpn,
                               cquic_server_limits limits, char *error, size_t error_capacity) {
    cquic_server *server = calloc(1, sizeof(*server));
    if (server == NULL) {
        snprintf(error, error_capacity, "out of memory");
        return NULL;
    }
    server->limits = limits;
    if (cquic_endpoint_init(&server->endpoint, alpn, error, error_capacity) != 0) {
        cquic_server_free(server);
        return NULL;
    }
    int rv = gnutls_certificate_set_x509_key_file(server->endpoint.credentials, cert_file, key_file,
                                                  GNUTLS_X509_FMT_PEM);
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
    cquic_endpoint_free(&server->endpoint);
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
    cquic_random_bytes(&unused, 1);
    const uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
    // The client's source ID becomes the destination, and the other way round.
    return ngtcp2_pkt_write_version_negotiation(out, capacity, unused, cids.scid, cids.scidlen, cids.dcid,
                                                cids.dcidlen, versions, 1);
}

/// The connection's TLS session: TLS 1.3, the server's certificate, ALPN required, tickets for resumption.
static int start_tls(cquic_conn *c, cquic_server *server) {
    if (cquic_start_tls(c, &server->endpoint, GNUTLS_SERVER) != 0 ||
        gnutls_session_ticket_enable_server(c->tls, &server->ticket_key) != 0 ||
        // RFC 9001 §4.6.1: a ticket that allows 0-RTT says so with 0xffffffff, not a byte count.
        gnutls_record_set_max_early_data_size(c->tls, 0xffffffffu) != 0 ||
        ngtcp2_crypto_gnutls_configure_server_session(c->tls) != 0) {
        return -1;
    }
    cquic_conn_link_tls(c);
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
    cquic_random_bytes(retry_scid.data, CQUIC_SCID_LENGTH);
    retry_scid.datalen = CQUIC_SCID_LENGTH;
    uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
    ngtcp2_ssize token_length = ngtcp2_crypto_generate_retry_token(
        token, server->endpoint.reset_secret, sizeof(server->endpoint.reset_secret), header.version, (const ngtcp2_sockaddr *)remote,
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
                                             server->endpoint.reset_secret, sizeof(server->endpoint.reset_secret), header.version,
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
    cquic_conn_init(c, events, user, server->endpoint.reset_secret);

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
    if (cquic_make_connection_id(c, &scid, params.stateless_reset_token, CQUIC_SCID_LENGTH) != 0) {
        free(c);
        return NULL;
    }
    ngtcp2_callbacks callbacks = {0};
    cquic_common_callbacks(&callbacks);
    callbacks.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    ngtcp2_path path = cquic_path(local, local_length, remote, remote_length);
    if (ngtcp2_conn_server_new(&c->conn, &header.scid, &scid, &path, header.version, &callbacks, &settings,
                               &params, NULL, c) != 0) {
        free(c);
        return NULL;
    }
    if (start_tls(c, server) != 0) {
        cquic_conn_free(c);
        return NULL;
    }
    // Until the client learns the server's ID, its packets carry the ID it chose.
    c->events.cid_added(user, header.dcid.data, header.dcid.datalen);
    c->events.cid_added(user, scid.data, scid.datalen);
    return c;
}

