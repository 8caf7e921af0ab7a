// The client side of dnsgate's QUIC shim (see include/cquic.h): the endpoint, connecting, streams, and what the
// upstream code checks after a handshake (resumption, the server's public key for pins).

#include "cquic_internal.h"

#include <arpa/inet.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cquic_client {
    cquic_endpoint endpoint;
    int verify;
};

/// What a client may receive on one stream: a DoQ answer's two length octets and up to 65,535 of message.
#define CQUIC_CLIENT_STREAM_WINDOW (2 + 65535)

cquic_client *cquic_client_new(const char *alpn, const char *const *ca_files, size_t ca_file_count, int verify,
                               char *error, size_t error_capacity) {
    cquic_client *client = calloc(1, sizeof(*client));
    if (client == NULL) {
        snprintf(error, error_capacity, "out of memory");
        return NULL;
    }
    client->verify = verify;
    if (cquic_endpoint_init(&client->endpoint, alpn, error, error_capacity) != 0) {
        cquic_client_free(client);
        return NULL;
    }
    if (verify) {
        // The system store may be missing (a minimal container); the configured anchors still count.
        (void)gnutls_certificate_set_x509_system_trust(client->endpoint.credentials);
        for (size_t i = 0; i < ca_file_count; i++) {
            int rv = gnutls_certificate_set_x509_trust_file(client->endpoint.credentials, ca_files[i],
                                                            GNUTLS_X509_FMT_PEM);
            if (rv <= 0) {
                snprintf(error, error_capacity, "%s: %s", ca_files[i],
                         gnutls_strerror(rv == 0 ? GNUTLS_E_NO_CERTIFICATE_FOUND : rv));
                cquic_client_free(client);
                return NULL;
            }
        }
    }
    return client;
}

void cquic_client_free(cquic_client *client) {
    if (client == NULL) {
        return;
    }
    cquic_endpoint_free(&client->endpoint);
    free(client);
}

static int is_ip_literal(const char *name) {
    unsigned char address[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, name, address) == 1 || inet_pton(AF_INET6, name, address) == 1;
}

/// The connection's TLS session: TLS 1.3, ALPN required, SNI and the certificate check by name.
static int start_tls(cquic_conn *c, cquic_client *client, const char *server_name, const uint8_t *session,
                     size_t session_length) {
    if (cquic_start_tls(c, &client->endpoint, GNUTLS_CLIENT) != 0 ||
        ngtcp2_crypto_gnutls_configure_client_session(c->tls) != 0) {
        return -1;
    }
    if (!is_ip_literal(server_name) &&
        gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, server_name, strlen(server_name)) != 0) {
        return -1;
    }
    if (client->verify) {
        // Checked during the handshake: chain to a trust anchor, validity, and the name (or IP address).
        c->server_name = strdup(server_name);
        if (c->server_name == NULL) {
            return -1;
        }
        gnutls_session_set_verify_cert(c->tls, c->server_name, 0);
    }
    if (session != NULL && session_length > 0) {
        // A stale or foreign session only means a full handshake.
        (void)gnutls_session_set_data(c->tls, session, session_length);
    }
    cquic_conn_link_tls(c);
    return 0;
}

cquic_conn *cquic_connect(cquic_client *client, const char *server_name,
                          const struct sockaddr *local, socklen_t local_length,
                          const struct sockaddr *remote, socklen_t remote_length,
                          const cquic_events *events, void *user, const uint8_t *session, size_t session_length,
                          uint64_t idle_timeout_ms, uint64_t now) {
    cquic_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    cquic_conn_init(c, events, user, client->endpoint.reset_secret);
    ngtcp2_cid dcid;
    ngtcp2_cid scid;
    cquic_random_bytes(dcid.data, CQUIC_SCID_LENGTH);
    dcid.datalen = CQUIC_SCID_LENGTH;
    cquic_random_bytes(scid.data, CQUIC_SCID_LENGTH);
    scid.datalen = CQUIC_SCID_LENGTH;

    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now;
    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.initial_max_streams_bidi = 0;
    params.initial_max_streams_uni = 0;
    params.initial_max_stream_data_bidi_local = CQUIC_CLIENT_STREAM_WINDOW;
    params.initial_max_data = CQUIC_CONNECTION_WINDOW;
    params.max_idle_timeout = idle_timeout_ms * NGTCP2_MILLISECONDS;

    ngtcp2_callbacks callbacks = {0};
    cquic_common_callbacks(&callbacks);
    callbacks.client_initial = ngtcp2_crypto_client_initial_cb;
    callbacks.recv_retry = ngtcp2_crypto_recv_retry_cb;
    ngtcp2_path path = cquic_path(local, local_length, remote, remote_length);
    if (ngtcp2_conn_client_new(&c->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &callbacks, &settings, &params,
                               NULL, c) != 0) {
        free(c);
        return NULL;
    }
    if (start_tls(c, client, server_name, session, session_length) != 0) {
        cquic_conn_free(c);
        return NULL;
    }
    return c;
}

int64_t cquic_conn_open_stream(cquic_conn *c) {
    int64_t stream;
    return ngtcp2_conn_open_bidi_stream(c->conn, &stream, NULL) == 0 ? stream : -1;
}

ssize_t cquic_conn_session(cquic_conn *c, uint8_t *out, size_t capacity) {
    if (!(gnutls_session_get_flags(c->tls) & GNUTLS_SFLAGS_SESSION_TICKET)) {
        return 0;
    }
    gnutls_datum_t data = {0};
    if (gnutls_session_get_data2(c->tls, &data) != 0) {
        return 0;
    }
    ssize_t length = data.size <= capacity ? (ssize_t)data.size : -1;
    if (length > 0) {
        memcpy(out, data.data, data.size);
    }
    gnutls_free(data.data);
    return length;
}

int cquic_conn_session_resumed(cquic_conn *c) {
    return gnutls_session_is_resumed(c->tls);
}

ssize_t cquic_conn_peer_public_key(cquic_conn *c, uint8_t *out, size_t capacity) {
    unsigned count = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(c->tls, &count);
    if (chain == NULL || count == 0) {
        return -1;
    }
    gnutls_pubkey_t key;
    if (gnutls_pubkey_init(&key) != 0) {
        return -1;
    }
    ssize_t result = -1;
    size_t length = capacity;
    if (gnutls_pubkey_import_x509_raw(key, &chain[0], GNUTLS_X509_FMT_DER, 0) == 0 &&
        gnutls_pubkey_export(key, GNUTLS_X509_FMT_DER, out, &length) == 0) {
        result = (ssize_t)length;
    }
    gnutls_pubkey_deinit(key);
    return result;
}
