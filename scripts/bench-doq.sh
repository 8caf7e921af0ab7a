#!/usr/bin/env bash
# DNS over QUIC against DNS over TLS, both ends dnsgate's own, in one run (no packaged load tool speaks DoQ here:
# dnsperf and kdig in Debian 12 do not, and aioquic from Python is far slower than either end).
#   server  dnsgate (release build) with a DoT listener on :15300 and a DoQ listener on :15301 and a warm cache of
#           the 100 hot names, forwarding misses to knot over TCP;
#   clients two dnsgate instances without a cache, one forwarding over DoQ (:15310), one over DoT (:15320);
#   load    dnsperf over UDP on each client in turn, 10 clients x 100 queries in flight, the 100 hot names, for
#           LENGTH seconds (10 by default), ROUNDS times (2 by default).
# Each row: the client's qps and, per query, the server's CPU and the client's: the server's is the listener's cost
# of a cache hit over that transport. Everything on 127.0.0.1, stopped on exit.
#   scripts/bench-doq.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-setup.sh"
length=${LENGTH:-10}
rounds=${ROUNDS:-2}
dir=$(mktemp -d /tmp/dnsgate-bench-doq.XXXXXX)
cleanup() {
    for name in doq-client dot-client server; do stop_daemon "$dir" "$name" || true; done
    "$bench/upstream.sh" stop "$dir" || true
    [[ -n ${KEEP:-} ]] || rm -rf "$dir"
}
trap cleanup EXIT
"$bench/upstream.sh" start "$dir" >&2
start_daemon "$dir" server 15300 "$binary" serve --listen "tls://$BENCH_HOST:15300" --listen "quic://$BENCH_HOST:15301" \
    --tls-cert "$dir/upstream.pem" --tls-key "$dir/upstream.key" --upstream "tcp://$BENCH_HOST:$KNOT_PORT" \
    --admin-listen off
for client in doq-client:15310:quic:15301 dot-client:15320:tls:15300; do
    IFS=: read -r name port scheme server_port <<<"$client"
    start_daemon "$dir" "$name" "$port" env DNSGATE_CACHE_ENABLED=false "$binary" serve \
        --listen "$BENCH_HOST:$port" --upstream "$scheme://$BENCH_HOST:$server_port#$TLS_NAME" --ca-file "$dir/ca.pem" \
        --admin-listen off
    wait_answer "$name" "$port" 60 "$dir"
done
python3 -c "[print(f'h{i:06d}.bench.test A') for i in range(100)]" >"$dir/hot"
# The server's cache gets the hot names.
dnsperf -s "$BENCH_HOST" -p 15320 -d "$dir/hot" -n 1 -c 1 -q 10 >/dev/null
server=$(live_pid "$dir" server)
hz=$(getconf CLK_TCK)
echo "| round | transport | qps | server CPU µs/query | client CPU µs/query | lost |"
echo "|---|---|---|---|---|---|"
for round in $(seq "$rounds"); do
    for target in doq-client:15310:DoQ dot-client:15320:DoT; do
        IFS=: read -r name port label <<<"$target"
        client=$(live_pid "$dir" "$name")
        dnsperf -s "$BENCH_HOST" -p "$port" -d "$dir/hot" -c 10 -q 100 -l 1 >/dev/null
        server_before=$(cpu_ticks "$server")
        client_before=$(cpu_ticks "$client")
        out=$(dnsperf -s "$BENCH_HOST" -p "$port" -d "$dir/hot" -c 10 -q 100 -l "$length" -t 5)
        awk -v round="$round" -v label="$label" -v hz="$hz" \
            -v server=$(( $(cpu_ticks "$server") - server_before )) -v client=$(( $(cpu_ticks "$client") - client_before )) '
            /Queries completed/ { done = $3 } /Queries lost/ { lost = $3 } /Queries per second/ { qps = $4 }
            END { printf "| %d | %s | %d | %.1f | %.1f | %d |\n", round, label, qps,
                  server / hz * 1e6 / done, client / hz * 1e6 / done, lost }' <<<"$out"
    done
done
