#!/usr/bin/env bash
# Blocklist and rate-limit cost: three release dnsgates in front of the bench's DoT upstream, all answering the
# same 100 hot names from their caches over UDP (dnsperf -l LENGTH, ROUNDS rounds, alternating):
#   plain    (15300) nothing extra;
#   listed   (15301) a generated 1,000,000-entry hosts file as its blocklist;
#   limited  (15302) rate limits on, with a rate no client reaches (the cost of the check itself).
# Prints how long the list took to load and how much memory it took (RSS against plain), and the qps of each.
#   scripts/bench-blocklist.sh            (ROUNDS=2 LENGTH=10 by default)
. "$(dirname "${BASH_SOURCE[0]}")/bench-setup.sh"
rounds=${ROUNDS:-2}
length=${LENGTH:-10}
dir=$(mktemp -d /tmp/dnsgate-bench-blocklist.XXXXXX)
cleanup() {
    for name in plain listed limited; do stop_daemon "$dir" "$name" || true; done
    "$bench/upstream.sh" stop "$dir" || true
    [[ -n ${KEEP:-} ]] || rm -rf "$dir"
}
trap cleanup EXIT
"$bench/upstream.sh" start "$dir" >&2
python3 -c "import sys; sys.stdout.writelines(f'0.0.0.0 b{i:07d}.blocked.test\n' for i in range(1000000))" \
    >"$dir/blocklist.hosts"
upstream="tls://$BENCH_HOST:$UPSTREAM_TLS_PORT#$TLS_NAME"
common=(serve --upstream "$upstream" --ca-file "$dir/ca.pem" --admin-listen off)
start_daemon "$dir" plain 15300 "$binary" "${common[@]}" --listen "$BENCH_HOST:15300"
start_daemon "$dir" listed 15301 "$binary" "${common[@]}" --listen "$BENCH_HOST:15301" \
    --blocklist "$dir/blocklist.hosts"
DNSGATE_RATE_LIMIT_QPS=10000000 start_daemon "$dir" limited 15302 "$binary" "${common[@]}" \
    --listen "$BENCH_HOST:15302"
for target in plain:15300 listed:15301 limited:15302; do wait_answer "${target%%:*}" "${target##*:}" 60 "$dir"; done

rss() { awk '/VmRSS/ { print $2 }' "/proc/$(live_pid "$dir" "$1")/status"; }
echo "blocklist: $(grep -o 'entries=[0-9]*' "$dir/listed.log" | head -1), load $(grep -o 'took=[^ ]*' "$dir/listed.log" | head -1)"
echo "RSS: plain $(($(rss plain) / 1024)) MiB, listed $(($(rss listed) / 1024)) MiB, limited $(($(rss limited) / 1024)) MiB"
kdig +short -p 15301 @"$BENCH_HOST" b0999999.blocked.test A | sed "s/^/a blocked name answers: /"

python3 -c "[print(f'h{i:06d}.bench.test A') for i in range(100)]" >"$dir/hot"
declare -A total
for round in $(seq "$rounds"); do
    for target in plain:15300 listed:15301 limited:15302; do
        name=${target%%:*}
        qps=$(dnsperf -s "$BENCH_HOST" -p "${target##*:}" -d "$dir/hot" -l "$length" -c 10 -q 100 -t 5 2>&1 |
            awk '/Queries per second/ { print int($4) }')
        echo "round $round $name: $qps qps"
        total[$name]=$(( ${total[$name]:-0} + qps ))
    done
done
for name in listed limited; do
    awk -v n="$name" -v a="${total[$name]}" -v p="${total[plain]}" \
        'BEGIN { printf "%s: %.3f of plain\n", n, a / p }'
done
