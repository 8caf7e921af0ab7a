#ifndef DNSGATE_CQUIC_INTERNAL_H
#define DNSGATE_CQUIC_INTERNAL_H

// What the shim's server and client sides share: the connection object and the ngtcp2 callbacks every connection
// reports through. Not seen by Swift.

#include "cquic.h"

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

/// Length of the connection IDs this side chooses.
#define CQUIC_SCID_LENGTH 18
/// TLS 1.3 only, without the middlebox-compatibility records QUIC forbids.
#define CQUIC_PRIORITIES "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3"
/// Flow-control credit for a connection as a whole, returned as the application reads.
#define CQUIC_CONNECTION_WINDOW (1024 * 1024)

struct cquic_conn {
    ngtcp2_conn *conn;
    gnutls_session_t tls;
    ngtcp2_crypto_conn_ref conn_ref;
    cquic_events events;
    void *user;
    /// The secret stateless-reset tokens are derived from (the endpoint's; 32 bytes).
    const uint8_t *reset_secret;
    ngtcp2_connection_close_error failure;
    int handshake_completed;
    /// A client's copy of the server name: GnuTLS keeps the pointer it is given for the certificate check.
    char *server_name;
};

/// What a server and a client endpoint both hold: the TLS credentials and priorities, the one ALPN protocol, and
/// the secret stateless-reset and Retry tokens are derived from.
typedef struct cquic_endpoint {
    gnutls_certificate_credentials_t credentials;
    gnutls_priority_t priority;
    unsigned char alpn[256];
    size_t alpn_length;
    uint8_t reset_secret[32];
} cquic_endpoint;

/// Sets up `endpoint` for `alpn` (credentials still empty); returns 0, or -1 with a message in `error`.
int cquic_endpoint_init(cquic_endpoint *endpoint, const char *alpn, char *error, size_t error_capacity);

/// Frees what `cquic_endpoint_init` and the side's own setup put in `endpoint`.
void cquic_endpoint_free(cquic_endpoint *endpoint);

/// A TLS 1.3 session for `c` in the given role (GNUTLS_SERVER or GNUTLS_CLIENT, with early data allowed), with the
/// endpoint's priorities, credentials and ALPN required; the caller adds its side's settings, then links it
/// with `cquic_conn_link_tls`. Returns 0 or -1.
int cquic_start_tls(cquic_conn *c, const cquic_endpoint *endpoint, unsigned role);

/// Random bytes from GnuTLS's generator.
void cquic_random_bytes(uint8_t *out, size_t length);

/// A new connection ID of `length` bytes with its stateless-reset token.
int cquic_make_connection_id(cquic_conn *c, ngtcp2_cid *cid, uint8_t *token, size_t length);

/// `c` as the new connection's state: its events, failure slot, and the TLS session's link back to ngtcp2.
void cquic_conn_init(cquic_conn *c, const cquic_events *events, void *user, const uint8_t *reset_secret);

/// Ties the TLS session to the ngtcp2 connection (after both exist).
void cquic_conn_link_tls(cquic_conn *c);

/// The callbacks both sides use; each side adds its own handshake ones.
void cquic_common_callbacks(ngtcp2_callbacks *callbacks);

/// An ngtcp2 path over the two addresses.
ngtcp2_path cquic_path(const struct sockaddr *local, socklen_t local_length, const struct sockaddr *remote,
                       socklen_t remote_length);

#endif
