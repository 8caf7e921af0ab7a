# Sourced by the bench-*.sh scripts: strict mode, the shared benchmark kit (../shared/bench, or BENCH_DIR) and the
# release binary, which must be built first. Sets root, bench and binary.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
. "$bench/common.sh"
binary=$root/.build/release/dnsgate
[[ -x $binary ]] || die "build first: swift build -c release --product dnsgate"
