#!/usr/bin/env bash
# What metrics cost the hot path: the same release build twice in one run of ../shared/bench/run.sh, once with the
# admin listener (and with it every counter) on and once with --admin-listen off, UDP and TCP cache hits, in
# alternating order ALTERNATIONS times (each a run.sh run of its own ROUNDS, medians); then how long a scrape of
# /metrics takes with 10 upstreams configured.
# Everything on 127.0.0.1, stopped on exit.
#   scripts/bench-metrics.sh            (ALTERNATIONS=2 ROUNDS=1 SCENARIOS="udp-hit tcp-hit" by default)
. "$(dirname "${BASH_SOURCE[0]}")/bench-setup.sh"
dir=$(mktemp -d /tmp/dnsgate-bench-metrics.XXXXXX)
cleanup() {
    for name in metrics-on metrics-off scrape; do stop_daemon "$dir" "$name" || true; done
    "$bench/upstream.sh" stop "$dir" || true
    rm -rf "$dir"
}
trap cleanup EXIT
"$bench/upstream.sh" start "$dir" >&2
upstream="tls://$BENCH_HOST:$UPSTREAM_TLS_PORT#$TLS_NAME"
start_daemon "$dir" metrics-on 15300 "$binary" serve --listen "$BENCH_HOST:15300" --upstream "$upstream" \
    --ca-file "$dir/ca.pem" --admin-listen "$BENCH_HOST:15308"
start_daemon "$dir" metrics-off 15301 "$binary" serve --listen "$BENCH_HOST:15301" --upstream "$upstream" \
    --ca-file "$dir/ca.pem" --admin-listen off
wait_answer metrics-on 15300 60 "$dir" && wait_answer metrics-off 15301 60 "$dir"
on="metrics-on=$BENCH_HOST:15300@$(live_pid "$dir" metrics-on)"
off="metrics-off=$BENCH_HOST:15301@$(live_pid "$dir" metrics-off)"
for round in $(seq 1 "${ALTERNATIONS:-2}"); do
    echo "## round $round" >&2
    if (( round % 2 )); then order=("$on" "$off"); else order=("$off" "$on"); fi
    ROUNDS=${ROUNDS:-1} SCENARIOS=${SCENARIOS:-"udp-hit tcp-hit"} run_kit "$dir" "${order[@]}"
done

# A scrape with 10 upstreams (the unreachable ones cost a scrape as much as the reachable one).
upstreams=(--upstream "$upstream")
for index in $(seq 2 10); do upstreams+=(--upstream "tcp://127.0.0.$index:15353"); done
start_daemon "$dir" scrape 15302 "$binary" serve --listen "$BENCH_HOST:15302" "${upstreams[@]}" \
    --ca-file "$dir/ca.pem" --admin-listen "$BENCH_HOST:15309"
wait_answer scrape 15302 60 "$dir"
for _ in $(seq 1 20); do curl -s -o /dev/null "http://$BENCH_HOST:15309/metrics"; done
for _ in $(seq 1 200); do curl -s -o /dev/null -w '%{time_total}\n' "http://$BENCH_HOST:15309/metrics"; done |
    sort -n | awk '{ t[NR] = $1 } END { printf "scrape of /metrics with 10 upstreams: median %.2f ms, p99 %.2f ms, max %.2f ms (%d scrapes)\n", t[int(NR/2)] * 1000, t[int(NR*0.99)] * 1000, t[NR] * 1000, NR }'
curl -s "http://$BENCH_HOST:15309/metrics" | wc -lc | awk '{ printf "exposition: %d lines, %d bytes\n", $1, $2 }'
