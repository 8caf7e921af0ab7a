# Sourced by the bench-*.sh scripts: strict mode, the shared benchmark kit (../shared/bench, or BENCH_DIR) and the
# release binary, which must be built first. Sets root, bench and binary.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
. "$bench/common.sh"
binary=$root/.build/release/dnsgate
[[ -x $binary ]] || die "build first: swift build -c release --product dnsgate"

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

# peer_targets DIR: starts the peers of ../shared/bench/peers.sh named in PEERS (none when PEERS is empty; peers.sh
# itself would start all of them) and prints one target (NAME=HOST:PORT@PID) per line for run_kit.
peer_targets() {
    local dir=$1 started line
    [[ -n ${PEERS:-} ]] || return 0
    started=$("$bench/peers.sh" start "$dir") || return
    while read -r line; do
        if [[ $line =~ ^([a-z-]+)= ]]; then echo "$line@$(live_pid "$dir" "${BASH_REMATCH[1]}")"; fi
    done <<<"$started"
}
