#!/usr/bin/env bash
# Installs Debian packages with apt-get, as root directly or through sudo for another user; sourced by setup.sh and
# test.sh so that both README commands work as written on a fresh machine either way.
#   apt_install PACKAGE...
apt_install() {
    local sudo=""
    if [[ $(id -u) != 0 ]]; then
        command -v sudo >/dev/null || { echo "installing packages needs root or sudo" >&2; return 1; }
        sudo="sudo"
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
