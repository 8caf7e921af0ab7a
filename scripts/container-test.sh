#!/usr/bin/env bash
# Builds the Dockerfile's runtime stages with buildah and runs the image with podman, on a machine without a
# registry: the Swift build stage is replaced (--build-context builder=…) by the rootfs that the same
# container-rootfs.sh lays out from a release binary built here. Then runs the image on the host's network as its
# non-root user and queries it on port 53 of a loopback address.
#   scripts/container-test.sh BINARY UPSTREAM DNS_ADDRESS
# prints "answered", and the image's user and size, or fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
binary=$1 upstream=$2 address=$3
# vfs storage and runc: overlay storage and crun fail inside some VMs (nested overlay; crun refuses hybrid cgroups),
# and podman's default ulimits exceed what such a VM's root may set.
storage=(--storage-driver vfs --runtime runc)
limits=(--ulimit nofile=4096:4096 --ulimit nproc=1024:1024)
work=$(mktemp -d)
cleanup() {
    podman "${storage[@]}" rm -f dnsgate-container-test >/dev/null 2>&1 || true
    podman "${storage[@]}" rmi -f localhost/dnsgate:runtime-test localhost/dnsgate:netadmin-test >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
scripts/container-rootfs.sh "$binary" "$work/builder/rootfs"
NET_ADMIN=1 scripts/container-rootfs.sh "$binary" "$work/builder/rootfs-netadmin"
mkdir "$work/context"
for target in runtime netadmin; do
    buildah "${storage[@]}" build --quiet --build-context builder="$work/builder" --target "$target" \
        -t "localhost/dnsgate:$target-test" -f Dockerfile "$work/context" >/dev/null
done
podman "${storage[@]}" run -d --name dnsgate-container-test --network host "${limits[@]}" localhost/dnsgate:runtime-test \
    serve --listen "$address:53" --upstream "$upstream" --admin-listen off >/dev/null
for _ in $(seq 1 50); do
    if kdig @"$address" -p 53 +timeout=1 +retry=0 h000001.test.example A | grep -q "198.18.0.1"; then
        echo answered
        break
    fi
    sleep 0.2
done
echo "user $(podman "${storage[@]}" inspect --format '{{.Config.User}}' localhost/dnsgate:runtime-test)"
echo "process user $(podman "${storage[@]}" top dnsgate-container-test user | tail -1)"
echo "size $(podman "${storage[@]}" image inspect --format '{{.Size}}' localhost/dnsgate:runtime-test)"
