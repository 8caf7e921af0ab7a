#!/usr/bin/env bash
# Throughput and connection rate through dnsgate's transparent proxy against a direct connection, same
# namespaces, same client, same run (issue 5's benchmark). Needs root, iperf3, knot, python3, nft, and a release
# build. Everything runs inside three network namespaces this script creates and deletes:
#   pbc (client 10.78.1.2) -- pbg (gateway: dnsgate, knot on 127.0.0.1, TPROXY) -- pbs (server 10.78.2.2: iperf3, echo)
# Direct runs are routed by the gateway's kernel; proxied runs go to the fake address dnsgate hands out for the
# server's name. Each round also measures the throughput of the reference relays in scripts/reference-relay.c
# (REFERENCES, default "copy splice sockmap"; empty for none), listening on the gateway's own address, as a ceiling
# for what any relay reaches here. ROUNDS (5) alternating rounds of RUN_SECONDS (5) each; prints every round and the
# medians.
set -euo pipefail
ROUNDS=${ROUNDS:-5}
RUN_SECONDS=${RUN_SECONDS:-5}
REFERENCES=${REFERENCES-copy splice sockmap}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dnsgate=${DNSGATE:-$here/.build/release/dnsgate}
work=$(mktemp -d /tmp/dnsgate-proxy-bench.XXXXXX)
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for ns in pbc pbg pbs; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

for ns in pbc pbg pbs; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add pbc0 netns pbc type veth peer name pbg0 netns pbg
ip link add pbs0 netns pbs type veth peer name pbg1 netns pbg
ip -n pbc addr add 10.78.1.2/24 dev pbc0 && ip -n pbc link set pbc0 up
ip -n pbg addr add 10.78.1.1/24 dev pbg0 && ip -n pbg link set pbg0 up
ip -n pbg addr add 10.78.2.1/24 dev pbg1 && ip -n pbg link set pbg1 up
ip -n pbs addr add 10.78.2.2/24 dev pbs0 && ip -n pbs link set pbs0 up
ip -n pbc route add default via 10.78.1.1
ip -n pbs route add default via 10.78.2.1
ip netns exec pbg sysctl -qw net.ipv4.ip_forward=1
# Both ends that close first keep TIME_WAIT entries; reusing them keeps the connection-rate runs from running out
# of ports.
ip netns exec pbc sysctl -qw net.ipv4.tcp_tw_reuse=1
ip netns exec pbg sysctl -qw net.ipv4.tcp_tw_reuse=1
ip -n pbg rule add fwmark 1 lookup 100
ip -n pbg route add local 0.0.0.0/0 dev lo table 100
ip netns exec pbg nft "add table ip pb ; add chain ip pb prerouting { type filter hook prerouting priority mangle ; } ;
    add rule ip pb prerouting ip daddr 198.18.0.0/15 meta l4proto tcp tproxy to :15400 meta mark set 1"

cat >"$work/zone" <<'ZONE'
$ORIGIN perf.test.
$TTL 3600
@ SOA ns hostmaster 1 3600 600 86400 300
@ NS ns
ns A 127.0.0.1
server A 10.78.2.2
ZONE
cat >"$work/knot.conf" <<KNOT
server:
    rundir: "$work"
    listen: 127.0.0.1@15371
database:
    storage: "$work/db"
zone:
  - domain: perf.test.
    file: "$work/zone"
KNOT
cat >"$work/echo.py" <<'ECHO'
import socketserver
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("10.78.2.2", 8007), Echo).serve_forever()
ECHO
# One connection at a time: connect, one byte each way, close; prints connections per second.
cat >"$work/connect.py" <<'CONNECT'
import socket, sys, time
host, seconds = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + seconds
count = 0
while time.monotonic() < end:
    with socket.create_connection((host, 8007), timeout=3) as s:
        s.sendall(b"x")
        s.recv(1)
    count += 1
print(round(count / seconds))
CONNECT
printf 'fakeip:\n  enabled: true\n  database: %s/map.sqlite\n  proxy:\n    listen: [0.0.0.0:15400]\n' "$work" >"$work/dnsgate.yaml"

ip netns exec pbg knotd -c "$work/knot.conf" >"$work/knot.log" 2>&1 & pids+=($!)
ip netns exec pbs python3 "$work/echo.py" >/dev/null 2>&1 & pids+=($!)
ip netns exec pbs iperf3 -s -B 10.78.2.2 -p 5201 >/dev/null 2>&1 & pids+=($!)
ip netns exec pbg "$dnsgate" serve --listen 10.78.1.1:15392 --upstream udp://127.0.0.1:15371 \
    --config "$work/dnsgate.yaml" --log-level warning >"$work/dnsgate.log" 2>&1 & pids+=($!)
port=5202
declare -A reference_ports
for mode in $REFERENCES; do
    [[ -x $work/reference-relay ]] || clang -O2 -o "$work/reference-relay" "$here/scripts/reference-relay.c" -lpthread
    ip netns exec pbg "$work/reference-relay" "$mode" 10.78.1.1 "$port" 10.78.2.2 5201 & pids+=($!)
    reference_ports[$mode]=$port
    port=$((port + 1))
done
fake=""
for _ in $(seq 50); do
    fake=$(ip netns exec pbc kdig @10.78.1.1 -p 15392 +short +time=1 +retry=0 server.perf.test A 2>/dev/null || true)
    [[ $fake == 198.18.* ]] && break
    sleep 0.2
done
[[ $fake == 198.18.* ]] || { echo "dnsgate gave no fake address: $fake" >&2; cat "$work/dnsgate.log" >&2; exit 1; }
echo "server.perf.test -> $fake (real 10.78.2.2)"

throughput() {
    ip netns exec pbc iperf3 -c "$1" -p "${2:-5201}" -t "$RUN_SECONDS" -J 2>/dev/null | python3 -c \
        "import json, sys; print(round(json.load(sys.stdin)['end']['sum_received']['bits_per_second'] / 1e9, 2))"
}
declare -A results
for round in $(seq "$ROUNDS"); do
    for target in 10.78.2.2 "$fake"; do
        gbits=$(throughput "$target")
        rate=$(ip netns exec pbc python3 "$work/connect.py" "$target" "$RUN_SECONDS")
        echo "round $round $target: $gbits Gbit/s, $rate connections/s"
        results[$target]+="$gbits,$rate "
    done
    for mode in $REFERENCES; do
        gbits=$(throughput 10.78.1.1 "${reference_ports[$mode]}")
        echo "round $round reference $mode relay: $gbits Gbit/s"
        results[$mode]+="$gbits,0 "
    done
done
summary=("direct=${results[10.78.2.2]}" "dnsgate=${results[$fake]}")
for mode in $REFERENCES; do summary+=("$mode relay=${results[$mode]}"); done
python3 - "${summary[@]}" <<'SUMMARY'
import statistics, sys
def medians(text):
    rows = [tuple(map(float, item.split(","))) for item in text.split()]
    return statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)
runs = {name: medians(rows) for name, rows in (argument.split("=", 1) for argument in sys.argv[1:])}
direct = runs.pop("direct")
print(f"median throughput: direct {direct[0]:.2f} Gbit/s", end="")
for name, (gbits, _) in runs.items():
    print(f", {name} {gbits:.2f} ({gbits / direct[0]:.0%})", end="")
print()
proxied = runs["dnsgate"]
print(f"median connections/s: direct {direct[1]:.0f}, dnsgate {proxied[1]:.0f} ({proxied[1] / direct[1]:.0%})")
SUMMARY
