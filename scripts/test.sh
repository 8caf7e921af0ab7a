#!/usr/bin/env bash
# Runs dnsgate's whole test suite on a fresh Debian machine: installs SQLite's headers and the real servers and
# clients the integration tests drive (knot, dnsdist, redis-server, Dante, kdig, dnsperf, ping, nft, ldns's zone
# signer for the DNSSEC tests' private hierarchy, Python (with aioquic from PyPI for the DoQ tests) for
# echo servers and the Helm chart check, openssl, curl, Prometheus, headless Chromium for the dashboard), builds,
# and runs every unit and integration test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/apt-install.sh

apt_install libsqlite3-dev libssl-dev libnghttp2-dev libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev nghttp2-client knot knot-dnsutils knot-resolver unbound ldnsutils dnsdist dnsperf redis-server openssl ca-certificates iproute2 \
    iputils-ping nftables dante-server python3 python3-yaml python3-venv curl prometheus chromium \
    buildah podman runc

# aioquic (PyPI; Debian does not package it) is the independent QUIC peer of the DoQ tests, with dnspython.
python3 -m venv .build/test-python
.build/test-python/bin/pip install --quiet --disable-pip-version-check "aioquic>=1.2,<2" "dnspython>=2.3,<3"

swift build
# Every target's dependencies and imports against the module table in docs/DESIGN.md.
python3 scripts/check-module-graph.py --self-test
swift test
