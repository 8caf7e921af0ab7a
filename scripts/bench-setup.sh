# Sourced by the bench-*.sh scripts: strict mode, the shared benchmark kit (../shared/bench, or BENCH_DIR) and the
# release binary, which must be built first. Sets root, bench and binary.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
. "$bench/common.sh"
binary=$root/.build/release/dnsgate
[[ -x $binary ]] || die "build first: swift build -c release --static-swift-stdlib --product dnsgate"

# run_kit DIR TARGET...: ../shared/bench/run.sh over TARGETs (NAME=HOST:PORT@PID) against the upstream started in
# DIR, set up as bench.sh sets it: the upstream's processes for CPU accounting, its console and knot for the TLS
# handshake and knot query counters, and a miss cursor of this run's own. With the shared default cursor, earlier
# runs move it on until the names wrap around, and a target then answers "miss" names from its cache.
run_kit() {
    local dir=$1
    shift
    UPSTREAM_PIDS="knotd:$(live_pid "$dir" knotd),dot-terminator:$(live_pid "$dir" dot-terminator)" \
        UPSTREAM_CONSOLE_CONF="$dir/dot-terminator.conf" UPSTREAM_KNOT_CONF="$dir/knot.conf" \
        MISS_CURSOR_FILE="$dir/miss-cursor" "$bench/run.sh" "$@"
}

# add_peer_targets DIR ARRAY: starts the peers of ../shared/bench/peers.sh named in PEERS (none when PEERS is empty;
# peers.sh itself would start all of them) and appends one run_kit target (NAME=HOST:PORT@PID) each to ARRAY.
add_peer_targets() {
    local dir=$1 started line
    local -n into=$2
    [[ -n ${PEERS:-} ]] || return 0
    started=$("$bench/peers.sh" start "$dir") || return
    while read -r line; do
        if [[ $line =~ ^([a-z-]+)= ]]; then into+=("$line@$(live_pid "$dir" "${BASH_REMATCH[1]}")"); fi
    done <<<"$started"
}

# same_rate_misses DIR NAME PORT RATE SECONDS [MODE]: misses at RATE qps (dnsperf -Q, pinned to the last CPU) for
# SECONDS through the target NAME started in DIR, over MODE (udp unless given; tcp: 10 connections, pipelined)
# after one second of warm-up; prints a table row: name (with " (tcp)" for TCP), rate,
# answered, lost, the target's CPU µs per query (utime + stime from /proc) and the average latency. The names are
# fresh ones under the zone's wildcard.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
same_rate_misses() {
    local dir=$1 name=$2 port=$3 rate=$4 seconds=$5 mode=${6:-udp} pid queries warmup out before after label=$2
    pid=$(live_pid "$dir" "$name")
    queries="$dir/same-rate-$name.txt"
    warmup="$dir/same-rate-$name-warmup.txt"
    # One second's worth to warm up on, then names enough for the run; none of them asked before.
    python3 -c "import random
for _ in range($rate * ($seconds + 3)): print(f'{random.getrandbits(60):x}.wild.bench.test A')" >"$queries.all"
    head -n "$rate" "$queries.all" >"$warmup"
    tail -n "+$(( rate + 1 ))" "$queries.all" >"$queries"
    [[ $mode == udp ]] || label="$name ($mode)"
    dnsperf -s "$BENCH_HOST" -p "$port" -m "$mode" -d "$warmup" -c 10 -q 100 -l 1 -n 1 -Q "$rate" >/dev/null
    before=$(cpu_ticks "$pid")
    out=$(taskset -c "$(( $(nproc) - 1 ))" dnsperf -s "$BENCH_HOST" -p "$port" -m "$mode" -d "$queries" -c 10 -q 100 \
        -t 5 -l "$seconds" -n 1 -Q "$rate")
    after=$(cpu_ticks "$pid")
    awk -v name="$label" -v rate="$rate" -v ticks=$(( after - before )) -v hz="$(getconf CLK_TCK)" '
        /Queries completed/ { done = $3 } /Queries lost/ { lost = $3 } /Average Latency/ { latency = $4 * 1000 }
        END { printf "| %s | %d | %d | %d | %.1f | %.2f |\n", name, rate, done, lost, ticks / hz * 1e6 / done, latency }
    ' <<<"$out"
}
