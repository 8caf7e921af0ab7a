#!/usr/bin/env bash
# Cache hits over DNS-over-TLS and DNS-over-HTTPS: dnsgate's listeners against dnsdist's own DoT and DoH frontends
# with its packet cache, in one run, the same 100 hot names from the bench zone, ROUNDS rounds alternating: DoT with
# dnsperf -m dot -c 10 -q 100 -l LENGTH; DoH with h2load (dnsperf's DoH client tops out near 120 qps per client
# here, whatever the server), GET ?dns= for the 100 names, 10 HTTP/2 connections with 10 streams each, COUNT
# requests. Both answer from their caches after a warm-up; both forward misses to the bench's knot over TCP. Prints
# qps and CPU µs per answered query (utime+stime of the target over the run, from /proc).
#   dnsgate  DoT 127.0.0.1:15300, DoH https://127.0.0.1:15301/dns-query
#   dnsdist  DoT 127.0.0.1:15302, DoH https://127.0.0.1:15303/dns-query, packet cache of 100000 entries
#   scripts/bench-edge.sh                 (ROUNDS=2 LENGTH=10 COUNT=200000 by default; needs h2load)
. "$(dirname "${BASH_SOURCE[0]}")/bench-setup.sh"
rounds=${ROUNDS:-2}
length=${LENGTH:-10}
count=${COUNT:-200000}
command -v h2load >/dev/null || die "h2load is needed for DoH load: apt-get install nghttp2-client"
dir=$(mktemp -d /tmp/dnsgate-bench-edge.XXXXXX)
cleanup() {
    for name in dnsgate dnsdist-edge; do stop_daemon "$dir" "$name" || true; done
    "$bench/upstream.sh" stop "$dir" || true
    [[ -n ${KEEP:-} ]] || rm -rf "$dir"
}
trap cleanup EXIT
"$bench/upstream.sh" start "$dir" >&2
start_daemon "$dir" dnsgate "15300 15301" "$binary" serve --listen "tls://$BENCH_HOST:15300" \
    --listen "https://$BENCH_HOST:15301/dns-query" --tls-cert "$dir/upstream.pem" --tls-key "$dir/upstream.key" \
    --upstream "tcp://$BENCH_HOST:$KNOT_PORT" --admin-listen off
cat >"$dir/dnsdist-edge.conf" <<CONF
setSecurityPollSuffix("")  -- no status polling over the network
addTLSLocal("$BENCH_HOST:15302", "$dir/upstream.pem", "$dir/upstream.key", {provider="openssl"})
addDOHLocal("$BENCH_HOST:15303", "$dir/upstream.pem", "$dir/upstream.key", "/dns-query")
newServer({address="$BENCH_HOST:$KNOT_PORT", name="knot", tcpOnly=true}):setUp()
getPool(""):setCache(newPacketCache(100000))
CONF
start_daemon "$dir" dnsdist-edge "15302 15303" dnsdist --supervised --disable-syslog -C "$dir/dnsdist-edge.conf"
sleep 2
python3 -c "[print(f'h{i:06d}.bench.test A') for i in range(100)]" >"$dir/hot"
# The same names as RFC 8484 GET paths: ID 0, RD, one question, base64url without padding.
python3 - "$dir/hot-paths" <<'PY'
import base64, struct, sys
with open(sys.argv[1], "w") as out:
    for i in range(100):
        name = b"".join(bytes([len(l)]) + l for l in f"h{i:06d}.bench.test".encode().split(b".")) + b"\0"
        query = struct.pack(">HHHHHH", 0, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 1, 1)
        out.write("/dns-query?dns=" + base64.urlsafe_b64encode(query).decode().rstrip("=") + "\n")
PY

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# run NAME PID MODE PORT: qps and CPU µs per query of one load run (dnsperf for dot, h2load for doh).
run() {
    local name=$1 pid=$2 mode=$3 port=$4 before after out qps completed
    if [[ $mode == dot ]]; then
        dnsperf -s "$BENCH_HOST" -p "$port" -m dot -d "$dir/hot" -n 2 -c 10 -q 100 -t 5 >/dev/null 2>&1 || true
        before=$(cpu_ticks "$pid")
        out=$(dnsperf -s "$BENCH_HOST" -p "$port" -m dot -d "$dir/hot" -l "$length" -c 10 -q 100 -t 5 2>&1)
        after=$(cpu_ticks "$pid")
        qps=$(awk '/Queries per second/ { print int($4) }' <<<"$out")
        completed=$(awk '/Queries completed/ { print $3 }' <<<"$out")
    else
        # h2load takes scheme, host and port from the first URI of the file.
        sed "s#^#https://$BENCH_HOST:$port#" "$dir/hot-paths" >"$dir/hot-uris-$port"
        h2load -n 1000 -c 10 -m 10 -t 1 -i "$dir/hot-uris-$port" >/dev/null 2>&1 || true
        before=$(cpu_ticks "$pid")
        out=$(timeout 120 h2load -n "$count" -c 10 -m 10 -t 1 -i "$dir/hot-uris-$port" 2>&1)
        after=$(cpu_ticks "$pid")
        qps=$(awk '/^finished in/ { print int($4) }' <<<"$out")
        completed=$(awk '/^status codes:/ { print $3 }' <<<"$out")
    fi
    awk -v n="$name" -v m="$mode" -v q="$qps" -v c="$completed" -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%-8s %-4s %7d qps  %6.1f µs CPU/query\n", n, m, q, c ? t / hz * 1e6 / c : 0 }'
}
gate=$(live_pid "$dir" dnsgate)
dist=$(live_pid "$dir" dnsdist-edge)
for round in $(seq "$rounds"); do
    echo "round $round"
    run dnsgate "$gate" dot 15300
    run dnsdist "$dist" dot 15302
    run dnsgate "$gate" doh 15301
    run dnsdist "$dist" doh 15303
done
