#!/usr/bin/env bash
# Sets up dnsgate on a fresh Debian machine: installs SQLite's headers (the fake-IP mapping is kept in SQLite) and
# builds the release binary, .build/release/dnsgate.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/apt-install.sh

apt_install libsqlite3-dev libssl-dev ca-certificates
swift build -c release
