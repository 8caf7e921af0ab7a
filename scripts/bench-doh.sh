#!/usr/bin/env bash
# Cache-miss forwarding over DNS-over-HTTPS and DNS-over-TLS, in one run of ../shared/bench/run.sh:
#   dnsgate-doh  :15300  dnsgate, DoH upstream https://127.0.0.1:15387/dns-query (the bench terminator's DoH side)
#   dnsgate-dot  :15301  dnsgate, DoT upstream 127.0.0.1:15385 (the same terminator, same knot)
#   dnsdist-doh  :15302  dnsdist forwarding to the same DoH backend (outgoing DoH), packet cache as in peers.sh
#   + the TLS peers of peers.sh (unbound, dnsdist over DoT, kresd; PEERS to choose)
# Everything on 127.0.0.1, stopped on exit.
#   scripts/bench-doh.sh                  (SCENARIOS="udp-miss tcp-miss" ROUNDS=1 by default; PEERS= for none)
#   SAME_RATE=2000 scripts/bench-doh.sh   (then both DoH forwarders at the same fixed rate: see the end)
. "$(dirname "${BASH_SOURCE[0]}")/bench-setup.sh"
dir=$(mktemp -d /tmp/dnsgate-bench-doh.XXXXXX)
export PEERS=${PEERS-"unbound dnsdist kresd"}
cleanup() {
    for name in dnsgate-doh dnsgate-dot dnsdist-doh; do stop_daemon "$dir" "$name" || true; done
    "$bench/peers.sh" stop "$dir" >/dev/null 2>&1 || true
    "$bench/upstream.sh" stop "$dir" || true
    rm -rf "$dir"
}
trap cleanup EXIT
"$bench/upstream.sh" start "$dir" >&2
doh="https://$BENCH_HOST:15387/dns-query#$TLS_NAME"
dot="tls://$BENCH_HOST:$UPSTREAM_TLS_PORT#$TLS_NAME"
start_daemon "$dir" dnsgate-doh 15300 "$binary" serve --listen "$BENCH_HOST:15300" --upstream "$doh" \
    --ca-file "$dir/ca.pem" --admin-listen off
start_daemon "$dir" dnsgate-dot 15301 "$binary" serve --listen "$BENCH_HOST:15301" --upstream "$dot" \
    --ca-file "$dir/ca.pem" --admin-listen off
cat >"$dir/dnsdist-doh.conf" <<CONF
setSecurityPollSuffix("")  -- no status polling over the network
setLocal("$BENCH_HOST:15302")
newServer({address="$BENCH_HOST:15387", name="doh-upstream", tls="openssl", dohPath="/dns-query",
           subjectName="$TLS_NAME", validateCertificates=true, caStore="$dir/ca.pem",
           checkName="bench.test.", checkType="SOA", checkInterval=10, maxInFlight=100})
getPool(""):setCache(newPacketCache(100000))
CONF
start_daemon "$dir" dnsdist-doh 15302 dnsdist --supervised --disable-syslog -C "$dir/dnsdist-doh.conf"
for target in "dnsgate-doh 15300" "dnsgate-dot 15301" "dnsdist-doh 15302"; do
    set -- $target
    wait_answer "$1" "$2" 60 "$dir"
done
targets=("dnsgate-doh=$BENCH_HOST:15300@$(live_pid "$dir" dnsgate-doh)"
         "dnsgate-dot=$BENCH_HOST:15301@$(live_pid "$dir" dnsgate-dot)"
         "dnsdist-doh=$BENCH_HOST:15302@$(live_pid "$dir" dnsdist-doh)")
add_peer_targets "$dir" targets
ROUNDS=${ROUNDS:-1} SCENARIOS=${SCENARIOS:-"udp-miss tcp-miss"} run_kit "$dir" "${targets[@]}"

# SAME_RATE=N: afterwards, UDP misses at N qps (dnsperf -Q) through dnsgate-doh and dnsdist-doh for
# SAME_RATE_SECONDS (10), so that both pay for their DoH misses at the same load (dnsdist's outgoing DoH tops out
# near 2,000-3,000 qps here, and CPU per query is not comparable between a proxy at that rate and one at 10,000).
if [[ -n ${SAME_RATE:-} ]]; then
    echo
    echo "| target (UDP misses at a fixed rate) | qps asked | answered | lost | CPU µs/query | avg ms |"
    echo "|---|---|---|---|---|---|"
    for target in "dnsgate-doh 15300" "dnsdist-doh 15302"; do
        set -- $target
        same_rate_misses "$dir" "$1" "$2" "$SAME_RATE" "${SAME_RATE_SECONDS:-10}"
    done
fi
