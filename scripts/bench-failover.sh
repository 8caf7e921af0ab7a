#!/usr/bin/env bash
# Failover under load: dnsgate with two DoT upstreams (a second dnsdist terminator on :15388, then the bench's own
# on :15385, both in front of the same knot), cache misses over UDP with dnsperf for PHASE seconds per phase:
#   1. a dnsgate with only the bench terminator: the one-upstream figure;
#   2. the two-upstream dnsgate, whose first upstream is black-holed (SIGSTOP: connections stay open, nothing is
#      answered) SWITCH seconds into the run.
# Prints per-second qps of phase 2 (dnsperf -S 1), how long the slowest query waited (it must stay under one
# attempt timeout, 1.5 s, plus a round trip), and the qps after the upstream was marked down against phase 1.
# Everything on 127.0.0.1, stopped on exit (the stopped terminator is continued first).
#   scripts/bench-failover.sh            (PHASE=12 SWITCH=4 by default)
. "$(dirname "${BASH_SOURCE[0]}")/bench-setup.sh"
phase=${PHASE:-12}
switch=${SWITCH:-4}
dir=$(mktemp -d /tmp/dnsgate-bench-failover.XXXXXX)
cleanup() {
    if pid=$(live_pid "$dir" black-hole); then kill -CONT "$pid" 2>/dev/null || true; fi
    for name in single pair black-hole; do stop_daemon "$dir" "$name" || true; done
    "$bench/upstream.sh" stop "$dir" || true
    [[ -n ${KEEP:-} ]] || rm -rf "$dir"
}
trap cleanup EXIT
"$bench/upstream.sh" start "$dir" >&2
cat >"$dir/black-hole.conf" <<CONF
setSecurityPollSuffix("")  -- no status polling over the network
addTLSLocal("$BENCH_HOST:15388", "$dir/upstream.pem", "$dir/upstream.key", {provider="openssl", maxInFlight=100})
newServer({address="$BENCH_HOST:15353", name="knot", maxInFlight=100}):setUp()
CONF
start_daemon "$dir" black-hole 15388 dnsdist --supervised --disable-syslog -C "$dir/black-hole.conf"
main="tls://$BENCH_HOST:$UPSTREAM_TLS_PORT#$TLS_NAME"
first="tls://$BENCH_HOST:15388#$TLS_NAME"
start_daemon "$dir" single 15300 "$binary" serve --listen "$BENCH_HOST:15300" --upstream "$main" \
    --ca-file "$dir/ca.pem" --admin-listen off
start_daemon "$dir" pair 15301 "$binary" serve --listen "$BENCH_HOST:15301" --upstream "$first" --upstream "$main" \
    --ca-file "$dir/ca.pem" --admin-listen off
wait_answer single 15300 60 "$dir" && wait_answer pair 15301 60 "$dir"

names() { python3 -c "import sys; [print(f'h{i:06d}.bench.test A') for i in range(int(sys.argv[1]), int(sys.argv[2]))]" "$@"; }
names 100000 400000 >"$dir/names-single"
names 400000 700000 >"$dir/names-pair"
perf() { dnsperf -s "$BENCH_HOST" -p "$1" -d "$2" -n 1 -l "$phase" -c 10 -q 100 -t 5 -S 1 2>&1; }

perf 15300 "$dir/names-single" >"$dir/single.out" || true
single=$(awk '/Queries per second/ { print int($4) }' "$dir/single.out")
( sleep "$switch"; kill -STOP "$(live_pid "$dir" black-hole)" ) &
stopper=$!
perf 15301 "$dir/names-pair" >"$dir/pair.out" || true
wait "$stopper" || true

echo "one upstream: $single qps"
echo "two upstreams, the first black-holed ${switch}s in: qps per second"
awk '/^[0-9]+\.[0-9]+: [0-9.]+$/ { n++; printf "  %2d s  %6d qps\n", n, $2 }' "$dir/pair.out"
grep -E "Queries (sent|completed|lost)|Average Latency" "$dir/pair.out" | sed 's/^ */  /' || true
slowest=$(sed -n 's/.*Average Latency.*max \([0-9.]*\)).*/\1/p' "$dir/pair.out")
echo "slowest query: ${slowest:-?} s"
# The same seconds of both runs, so that the warm-up of the first seconds weighs on neither.
window() {
    awk -v skip="$((switch + 3))" '/^[0-9]+\.[0-9]+: [0-9.]+$/ { n++; if (n > skip) { sum += $2; count++ } }
        END { if (count) print int(sum / count); else print 0 }' "$1"
}
after=$(window "$dir/pair.out")
before=$(window "$dir/single.out")
echo "seconds $((switch + 4)) on: one upstream $before qps, two after the mark-down $after qps:" \
    "$(awk -v a="$after" -v s="$before" 'BEGIN { printf "%.2f", a / s }')x"
