#ifndef DNSGATE_CNGHTTP2_SHIM_H
#define DNSGATE_CNGHTTP2_SHIM_H

// Debian's libnghttp2 (libnghttp2-dev): HTTP/2 framing, HPACK, stream states and flow control for both DoH ends.
// Its API is plain functions and structs, which Swift calls directly; nothing needs wrapping.

#include <nghttp2/nghttp2.h>

#endif
