#!/usr/bin/env bash
# Sets up dnsgate on a fresh Debian machine: installs the headers of SQLite (the fake-IP mapping), OpenSSL, nghttp2,
# ngtcp2 and GnuTLS (DoQ), and builds the release binary, .build/release/dnsgate, with the Swift runtime and
# Foundation linked in (so that it runs without the toolchain's shared libraries, as in the container image).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/apt-install.sh

apt_install libsqlite3-dev libssl-dev libnghttp2-dev libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev \
    ca-certificates
swift build -c release --static-swift-stdlib --product dnsgate
