#!/usr/bin/env bash
# What DNSSEC validation costs: dnsgate (release build) with `dnssec.validate` off and on, forwarding over UDP to a
# non-validating unbound (`module-config: "iterator"`) in front of knot serving scripts/dnssec-test-zones.sh's
# private signed hierarchy. For each mode and each of two zones, ecdsa.test (ECDSA P-256) and rsasha512.test
# (RSA 2,048): cache hits (dnsperf over 100 names for HIT_SECONDS, qps) and cold misses in the secure zone with its
# keys already known (MISSES names asked once, dnsgate's CPU µs per query from /proc). As the floor of a validated
# miss: one verification of each kind by `openssl speed`. Everything on 127.0.0.1, stopped on exit.
#   scripts/bench-dnssec.sh
#   MISSES=20000 HIT_SECONDS=5 scripts/bench-dnssec.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-setup.sh"
misses=${MISSES:-40000}
hit_seconds=${HIT_SECONDS:-8}
knot_port=15344
iterator_port=15345
port=15346
dir=$(mktemp -d /tmp/dnsgate-bench-dnssec.XXXXXX)
names="knotd unbound-iterator dnsgate-off dnsgate-on"
cleanup() {
    for name in $names; do stop_daemon "$dir" "$name" || true; done
    rm -rf "$dir"
}
trap cleanup EXIT
PROBE_NAME=www.ecdsa.test
PROBE_ADDR=192.0.2.1

HOSTS=$(( 2 * misses )) "$root/scripts/dnssec-test-zones.sh" "$dir" >&2 2>/dev/null
{
    printf 'server:\n    rundir: "%s"\n    listen: %s@%d\n' "$dir" "$BENCH_HOST" "$knot_port"
    printf 'database:\n    storage: "%s/knot-db"\ntemplate:\n  - id: default\n    storage: "%s"\n' "$dir" "$dir"
    printf '    semantic-checks: off\n    journal-content: none\n    zonefile-sync: -1\nzone:\n'
    while read -r zone file; do printf '  - domain: "%s"\n    file: "%s"\n' "$zone" "$file"; done <"$dir/zones.list"
} >"$dir/knot.conf"
{
    printf 'server:\n    interface: %s@%d\n    port: %d\n    do-not-query-localhost: no\n' "$BENCH_HOST" \
        "$iterator_port" "$iterator_port"
    printf '    module-config: "iterator"\n    username: ""\n    chroot: ""\n    directory: "%s"\n' "$dir"
    printf '    pidfile: "%s/unbound.pid"\n    use-syslog: no\n    logfile: ""\n    qname-minimisation: no\n' "$dir"
    printf '    access-control: 127.0.0.0/8 allow\n    local-zone: "test." nodefault\n'
    printf '    msg-cache-size: 256m\n    rrset-cache-size: 256m\n'
    while read -r zone _; do printf 'stub-zone:\n    name: "%s"\n    stub-addr: %s@%d\n' "$zone" "$BENCH_HOST" \
        "$knot_port"; done <"$dir/zones.list"
} >"$dir/iterator.conf"
start_daemon "$dir" knotd "$knot_port" knotd -c "$dir/knot.conf"
wait_answer knotd "$knot_port" 60 "$dir"
start_daemon "$dir" unbound-iterator "$iterator_port" unbound -d -c "$dir/iterator.conf"
wait_answer unbound-iterator "$iterator_port" 30 "$dir"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
echo "| zone | dnssec.validate | hits qps (100 names, ${hit_seconds} s) | misses answered | miss CPU µs/query |"
echo "|---|---|---|---|---|"
for zone in ecdsa.test rsasha512.test; do
offset=100
for ((i = 0; i < 100; i++)); do printf 'h%06d.%s A\n' "$i" "$zone"; done >"$dir/hits.txt"
for mode in off on; do
    name=dnsgate-$mode
    printf 'cache:\n  max_size: 256MiB\ndnssec:\n  validate: %s\n  trust_anchors: [%s]\n' \
        "$([[ $mode == on ]] && echo true || echo false)" "$dir/anchor.ds" >"$dir/$name.yaml"
    start_daemon "$dir" "$name" "$port" "$binary" serve --config "$dir/$name.yaml" --listen "$BENCH_HOST:$port" \
        --upstream "udp://$BENCH_HOST:$iterator_port" --admin-listen off
    wait_answer "$name" "$port" 30 "$dir"
    kdig @"$BENCH_HOST" -p "$port" +short +timeout=2 "www.$zone" A >/dev/null   # the zone's keys, fetched once
    pid=$(live_pid "$dir" "$name")
    # Misses in the secure zone, its keys known (the probe fetched them); fresh names for each mode.
    awk -v from="$offset" -v n="$misses" -v zone="$zone" \
        'BEGIN { for (i = from; i < from + n; i++) printf "h%06d.%s A\n", i, zone }' >"$dir/misses-$mode.txt"
    offset=$(( offset + misses ))
    before=$(cpu_ticks "$pid")
    miss_out=$(dnsperf -s "$BENCH_HOST" -p "$port" -m udp -d "$dir/misses-$mode.txt" -c 10 -q 100 -n 1 -t 5)
    after=$(cpu_ticks "$pid")
    dnsperf -s "$BENCH_HOST" -p "$port" -m udp -d "$dir/hits.txt" -c 10 -q 100 -n 1 >/dev/null
    hit_out=$(dnsperf -s "$BENCH_HOST" -p "$port" -m udp -d "$dir/hits.txt" -c 10 -q 200 -l "$hit_seconds")
    hits=$(awk '/Queries per second/ { print $4 }' <<<"$hit_out")
    awk -v zone="$zone" -v mode="$mode" -v hits="$hits" -v ticks=$(( after - before )) -v hz="$(getconf CLK_TCK)" '
        /Queries completed/ { done = $3 }
        END { printf "| %s | %s | %.0f | %d | %.1f |\n", zone, mode, hits, done, ticks / hz * 1e6 / done }' <<<"$miss_out"
    stop_daemon "$dir" "$name"
done
done
echo
ecdsa=$(openssl speed -seconds 3 ecdsap256 2>/dev/null | awk '/256 bits ecdsa \(nistp256\)/ { print $NF }')
rsa=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { print $NF }')
echo "openssl speed: ECDSA P-256 verify $(awk -v v="$ecdsa" 'BEGIN { printf "%.1f", 1e6 / v }') µs," \
    "RSA 2048 verify $(awk -v v="$rsa" 'BEGIN { printf "%.1f", 1e6 / v }') µs"
