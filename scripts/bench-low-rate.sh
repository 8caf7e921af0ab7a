#!/usr/bin/env bash
# CPU per query at a low, fixed rate of UDP cache misses (RATE, 2,000 qps by default, for SECONDS_PER_RUN, 10),
# where nothing is batched and every query pays the wake-ups: dnsgate forwarding to the bench upstream over each
# transport (DoH, DoT, TCP and UDP, one after the other on :15300; over DoT also with TCP clients), and scripts/reference-forwarder (the simplest UDP
# forwarder SwiftNIO allows: one event loop, no cache, no pipeline) on :15320 to knot over UDP, as the floor.
# Everything on 127.0.0.1, stopped on exit.
#   scripts/bench-low-rate.sh
#   RATE=5000 SECONDS_PER_RUN=5 scripts/bench-low-rate.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-setup.sh"
reference_package=$root/scripts/reference-forwarder
swift build -c release --package-path "$reference_package" >&2
reference=$(swift build -c release --package-path "$reference_package" --show-bin-path)/reference-forwarder
dir=$(mktemp -d /tmp/dnsgate-bench-low-rate.XXXXXX)
names="dnsgate-https dnsgate-tls dnsgate-tcp dnsgate-udp reference-forwarder"
cleanup() {
    for name in $names; do stop_daemon "$dir" "$name" || true; done
    "$bench/upstream.sh" stop "$dir" || true
    rm -rf "$dir"
}
trap cleanup EXIT
"$bench/upstream.sh" start "$dir" >&2
rate=${RATE:-2000}
seconds=${SECONDS_PER_RUN:-10}
echo "| target (UDP misses at a fixed rate) | qps asked | answered | lost | CPU µs/query | avg ms |"
echo "|---|---|---|---|---|---|"
for upstream in "https://$BENCH_HOST:$UPSTREAM_DOH_PORT/dns-query#$TLS_NAME" \
    "tls://$BENCH_HOST:$UPSTREAM_TLS_PORT#$TLS_NAME" "tcp://$BENCH_HOST:$KNOT_PORT" \
    "udp://$BENCH_HOST:$KNOT_PORT"; do
    name=dnsgate-${upstream%%:*}
    start_daemon "$dir" "$name" 15300 "$binary" serve --listen "$BENCH_HOST:15300" --upstream "$upstream" \
        --ca-file "$dir/ca.pem" --admin-listen off
    wait_answer "$name" 15300 60 "$dir"
    same_rate_misses "$dir" "$name" 15300 "$rate" "$seconds"
    # The same upstream transport with TCP clients: what a UDP miss should cost no more than.
    [[ $name == dnsgate-tls ]] && same_rate_misses "$dir" "$name" 15300 "$rate" "$seconds" tcp
    stop_daemon "$dir" "$name"
done
start_daemon "$dir" reference-forwarder 15320 "$reference" 15320 "$KNOT_PORT"
for ((try = 0; try < 50; try++)); do answers 15320 && break; sleep 0.2; done   # UDP only: no wait_answer
answers 15320 || die "reference-forwarder on port 15320 did not answer"
same_rate_misses "$dir" reference-forwarder 15320 "$rate" "$seconds"
