#ifndef DNSGATE_COPENSSL_SHIM_H
#define DNSGATE_COPENSSL_SHIM_H

// Debian's OpenSSL (libssl-dev) for the upstream TLS client: swift-nio-ssl offers no client session resumption.
// The functions below wrap OpenSSL's function-like macros, which Swift cannot call.

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/// SSL_CTX_set_min_proto_version.
static inline int dnsgate_ssl_ctx_set_min_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_min_proto_version(context, version);
}

/// No TLS compression (CRIME) and no renegotiation.
static inline void dnsgate_ssl_ctx_set_client_options(SSL_CTX *context) {
    SSL_CTX_set_options(context, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
}

/// Client-side session caching with no internal store: sessions reach the new-session callback only.
static inline void dnsgate_ssl_ctx_cache_sessions_externally(SSL_CTX *context) {
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
}

/// SSL_CTX_set_app_data.
static inline int dnsgate_ssl_ctx_set_app_data(SSL_CTX *context, void *data) {
    return SSL_CTX_set_app_data(context, data);
}

/// SSL_CTX_get_app_data.
static inline void *dnsgate_ssl_ctx_get_app_data(const SSL_CTX *context) {
    return SSL_CTX_get_app_data(context);
}

/// SSL_set_tlsext_host_name: the SNI server name.
static inline int dnsgate_ssl_set_server_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

/// A memory BIO that reports "retry" rather than end of file when it runs empty, so that SSL_read and
/// SSL_do_handshake say SSL_ERROR_WANT_READ until more bytes arrive from the socket.
static inline BIO *dnsgate_bio_new_nonblocking_memory(void) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio != NULL) BIO_set_mem_eof_return(bio, -1);
    return bio;
}

/// Whether an error from OpenSSL's queue is the server's no_application_protocol alert (RFC 7301 §3.2): it offers
/// none of the ALPN protocols the client does.
static inline int dnsgate_err_is_no_application_protocol(unsigned long code) {
    return ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL;
}

#endif
