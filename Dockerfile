# dnsgate's container image: a Swift build stage, then a runtime stage FROM scratch holding only the binary (Swift's
# standard library linked statically), the few shared libraries it still links, CA certificates and a default
# configuration, run as a non-root user.
#   docker build -t dnsgate .                          port 53 with only CAP_NET_BIND_SERVICE (a file capability)
#   docker build --target netadmin -t dnsgate:netadmin .   also CAP_NET_ADMIN, for fake-IP's proxy and TUN
# Without a registry (as in this project's CI), scripts/container-test.sh builds the runtime stages with buildah from
# a rootfs laid out locally by the same script.
ARG SWIFT_IMAGE=swift:6.3-bookworm

FROM ${SWIFT_IMAGE} AS builder
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-dev libssl-dev libnghttp2-dev libngtcp2-dev \
    libngtcp2-crypto-gnutls-dev libgnutls28-dev libcap2-bin ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
COPY scripts ./scripts
RUN swift build -c release --static-swift-stdlib --product dnsgate \
    && scripts/container-rootfs.sh .build/release/dnsgate /rootfs \
    && NET_ADMIN=1 scripts/container-rootfs.sh .build/release/dnsgate /rootfs-netadmin

FROM scratch AS netadmin
COPY --from=builder /rootfs-netadmin/ /
USER 65532:65532
EXPOSE 53/udp 53/tcp 9153/tcp
ENTRYPOINT ["/usr/local/bin/dnsgate"]
CMD ["serve", "--config", "/etc/dnsgate/dnsgate.yaml"]

FROM scratch AS runtime
COPY --from=builder /rootfs/ /
USER 65532:65532
EXPOSE 53/udp 53/tcp 9153/tcp
ENTRYPOINT ["/usr/local/bin/dnsgate"]
CMD ["serve", "--config", "/etc/dnsgate/dnsgate.yaml"]
