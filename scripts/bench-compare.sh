#!/usr/bin/env bash
# Two builds of dnsgate side by side in one run of ../shared/bench/run.sh, both forwarding over DoT to the bench
# terminator, with the TLS peers of peers.sh (PEERS to choose, PEERS= for none):
#   scripts/bench-compare.sh OTHER_BINARY         this tree's release build against OTHER_BINARY (say, main's)
#   ROUNDS=3 SCENARIOS="udp-miss" scripts/bench-compare.sh /tmp/old/.build/release/dnsgate
# Targets: dnsgate (this tree) :15300, dnsgate-other :15301. Everything on 127.0.0.1, stopped on exit.
. "$(dirname "${BASH_SOURCE[0]}")/bench-setup.sh"
other=${1:?usage: scripts/bench-compare.sh OTHER_DNSGATE_BINARY}
[[ -x $other ]] || die "not an executable: $other"
dir=$(mktemp -d /tmp/dnsgate-bench-compare.XXXXXX)
export PEERS=${PEERS-"unbound dnsdist kresd"}
cleanup() {
    for name in dnsgate dnsgate-other; do stop_daemon "$dir" "$name" || true; done
    "$bench/peers.sh" stop "$dir" >/dev/null 2>&1 || true
    "$bench/upstream.sh" stop "$dir" || true
    rm -rf "$dir"
}
trap cleanup EXIT
"$bench/upstream.sh" start "$dir" >&2
dot="tls://$BENCH_HOST:$UPSTREAM_TLS_PORT#$TLS_NAME"
targets=()
for target in "dnsgate 15300 $binary" "dnsgate-other 15301 $other"; do
    set -- $target
    start_daemon "$dir" "$1" "$2" "$3" serve --listen "$BENCH_HOST:$2" --upstream "$dot" --ca-file "$dir/ca.pem" \
        --admin-listen off
    wait_answer "$1" "$2" 60 "$dir"
    targets+=("$1=$BENCH_HOST:$2@$(live_pid "$dir" "$1")")
done
add_peer_targets "$dir" targets
ROUNDS=${ROUNDS:-1} SCENARIOS=${SCENARIOS:-"udp-miss tcp-miss"} run_kit "$dir" "${targets[@]}"
