#!/usr/bin/env bash
# Runs dnsgate's whole test suite on a fresh Debian machine: installs SQLite's headers and the real servers and
# clients the integration tests drive (knot, dnsdist, redis-server, Dante, kdig, dnsperf, ping, nft, ldns's zone
# signer for the DNSSEC tests' private hierarchy, Python for
# echo servers and the Helm chart check, openssl, curl, Prometheus, headless Chromium for the dashboard), builds,
# and runs every unit and integration test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/apt-install.sh

apt_install libsqlite3-dev libssl-dev libnghttp2-dev nghttp2-client knot knot-dnsutils knot-resolver unbound ldnsutils dnsdist dnsperf redis-server openssl ca-certificates iproute2 \
    iputils-ping nftables dante-server python3 python3-yaml curl prometheus chromium \
    buildah podman runc

swift build
# Every target's dependencies and imports against the module table in docs/DESIGN.md.
python3 scripts/check-module-graph.py --self-test
swift test
