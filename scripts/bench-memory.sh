#!/usr/bin/env bash
# Memory: dnsgate (release build) and dnsdist (packet cache of 100,000) forwarding over DoT to the bench upstream,
# RSS idle (after one answer) and after ANSWERS distinct names (100,000 by default) have been asked once and cached;
# RSS split into anonymous and file-backed pages (/proc/PID/status), and the growth per cached answer.
# Everything on 127.0.0.1, stopped on exit.
#   scripts/bench-memory.sh
#   ANSWERS=50000 scripts/bench-memory.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-setup.sh"
answers_wanted=${ANSWERS:-100000}
dir=$(mktemp -d /tmp/dnsgate-bench-memory.XXXXXX)
cleanup() {
    stop_daemon "$dir" dnsgate || true
    "$bench/peers.sh" stop "$dir" >/dev/null 2>&1 || true
    "$bench/upstream.sh" stop "$dir" || true
    rm -rf "$dir"
}
trap cleanup EXIT
"$bench/upstream.sh" start "$dir" >&2
PEERS=dnsdist "$bench/peers.sh" start "$dir" >&2
start_daemon "$dir" dnsgate 15300 env DNSGATE_CACHE_MAX_SIZE=128MiB "$binary" serve --listen "$BENCH_HOST:15300" \
    --upstream "tls://$BENCH_HOST:$UPSTREAM_TLS_PORT#$TLS_NAME" --ca-file "$dir/ca.pem" --admin-listen off
wait_answer dnsgate 15300 60 "$dir"
wait_answer dnsdist 15312 60 "$dir"
awk -v n="$answers_wanted" 'BEGIN { for (i = 0; i < n; i++) printf "h%06d.bench.test A\n", i }' >"$dir/names.txt"
status_kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }
echo "| target | idle RSS MiB (anon + file) | RSS after $answers_wanted answers MiB (anon + file) | answered | KiB per answer |"
echo "|---|---|---|---|---|"
for target in dnsgate:15300 dnsdist:15312; do
    name=${target%%:*}
    port=${target##*:}
    pid=$(live_pid "$dir" "$name")
    idle=$(status_kib "$pid" VmRSS)
    idle_anon=$(status_kib "$pid" RssAnon)
    idle_file=$(status_kib "$pid" RssFile)
    out=$(dnsperf -s "$BENCH_HOST" -p "$port" -m udp -d "$dir/names.txt" -c 10 -q 100 -n 1 -t 5)
    done=$(awk '/Queries completed/ { print $3 }' <<<"$out")
    after=$(status_kib "$pid" VmRSS)
    awk -v name="$name" -v idle="$idle" -v ia="$idle_anon" -v if_="$idle_file" -v after="$after" \
        -v aa="$(status_kib "$pid" RssAnon)" -v af="$(status_kib "$pid" RssFile)" -v done="$done" 'BEGIN {
        printf "| %s | %.1f (%.1f + %.1f) | %.1f (%.1f + %.1f) | %d | %.2f |\n", name, idle / 1024, ia / 1024,
            if_ / 1024, after / 1024, aa / 1024, af / 1024, done, (after - idle) / done }'
done
