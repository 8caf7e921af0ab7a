#!/usr/bin/env bash
# Lays out the runtime image's whole file system in ROOTFS (the image is FROM scratch): the dnsgate binary with
# only CAP_NET_BIND_SERVICE as a file capability (port 53 as a non-root user), the shared libraries it links and
# the loader, CA certificates, a passwd entry for the non-root user, and a default configuration. With
# NET_ADMIN=1 the binary also gets CAP_NET_ADMIN, for fake-IP's transparent proxy and the TUN responder.
#   scripts/container-rootfs.sh BINARY ROOTFS
set -euo pipefail
binary=$1 rootfs=$2
rm -rf "$rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/dnsgate" "$rootfs/etc/ssl/certs" "$rootfs/var/lib/dnsgate" "$rootfs/tmp"
install -m 0755 "$binary" "$rootfs/usr/local/bin/dnsgate"
strip --strip-unneeded "$rootfs/usr/local/bin/dnsgate"
# Every shared library the binary needs, at the path the loader looks for it, and the loader itself.
ldd "$binary" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }' | while read -r library; do
    mkdir -p "$rootfs$(dirname "$library")"
    cp -L "$library" "$rootfs$library"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/var/lib/dnsgate:/sbin/nologin\n' \
    > "$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$rootfs/etc/group"
cat > "$rootfs/etc/dnsgate/dnsgate.yaml" <<'YAML'
# The image's default: DNS on every address of the container, the admin listener on its loopback only.
listen: ["0.0.0.0:53"]
admin:
  listen: 127.0.0.1:9153
YAML
chown -R 65532:65532 "$rootfs/var/lib/dnsgate"
chmod 1777 "$rootfs/tmp"
capabilities=cap_net_bind_service
[[ ${NET_ADMIN:-0} == 1 ]] && capabilities=cap_net_bind_service,cap_net_admin
setcap "$capabilities=+ep" "$rootfs/usr/local/bin/dnsgate"
