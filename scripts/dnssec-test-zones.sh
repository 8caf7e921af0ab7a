#!/usr/bin/env bash
# Builds a private signed DNS hierarchy for DNSSEC tests and benchmarks: a root, a TLD `test.` and child zones
# signed with every algorithm dnsgate checks, NSEC and NSEC3 (with opt-out), unsigned delegations, CNAME and DNAME
# chains across zones, and zones broken on purpose (expired and future signatures, a tampered record, a missing
# RRSIG, a DS matching no key, a signature by a key outside the DNSKEY set, stripped NSEC proofs, an unknown DS
# algorithm, NSEC3 iterations over RFC 9276's limit). Keys are made fresh each run with ldns-keygen.
#   scripts/dnssec-test-zones.sh DIR
#   HOSTS=100000 scripts/dnssec-test-zones.sh DIR   (also h000000 ... A records in ecdsa.test (ECDSA P-256) and
#                                                    rsasha512.test (RSA 2048), for benchmarks)
# writes DIR/zones/*.zone (signed where meant to be), DIR/zones.list (one "zone file" per line for knot) and
# DIR/anchor.ds (the private root's DS, the trust anchor).
set -euo pipefail
dir=$1
rm -rf "$dir/zones" "$dir/keys"
mkdir -p "$dir/zones" "$dir/keys"
zones=$dir/zones
keys=$dir/keys
: > "$dir/zones.list"

stamp() { date -u -d "$1" +%Y%m%d%H%M%S; }
valid=(-i "$(stamp '-1 day')" -e "$(stamp '+30 days')")

# key ZONE ALGORITHM [BITS] [-k]: makes a key, prints its base name.
key() {
    local zone=$1 algorithm=$2 bits=${3:-} ksk=${4:-}
    (cd "$keys" && ldns-keygen -a "$algorithm" ${bits:+-b "$bits"} $ksk "$zone")
}

# header ZONE: SOA and NS, the name server at 127.0.0.1.
header() {
    local zone=$1 origin
    origin=${1%.}
    cat <<ZONE
\$ORIGIN ${zone}
\$TTL 3600
@ SOA ns.${origin:-root}. hostmaster.${origin:-root}. 1 3600 600 86400 300
@ NS ns.${origin:-root}.
ZONE
}

# delegate PARENTFILE CHILD [DS-LINE...]: the child's NS and glue in the parent, and its DS lines if signed.
delegate() {
    local parent=$1 child=$2
    shift 2
    printf '%s NS ns.%s\nns.%s A 127.0.0.1\n' "$child" "$child" "$child" >> "$parent"
    for line in "$@"; do echo "$line" >> "$parent"; done
}

# ds KEYBASE: the key's DS (SHA-256) as one zone-file line.
ds() { ldns-key2ds -n -2 "$keys/$1.key" | awk '{print $1, "IN", "DS", $5, $6, $7, $8}'; }

# sign NAME FILE KEYBASE... [-- ldns-signzone options]: signs FILE for zone NAME into FILE.signed.
sign() {
    local zone=$1 file=$2
    shift 2
    local keylist=() options=()
    while (( $# )) && [[ $1 != -- ]]; do keylist+=("$keys/$1"); shift; done
    (( $# )) && shift
    options=("$@")
    ldns-signzone "${options[@]}" -o "$zone" -f "$file.signed" "$file" "${keylist[@]}" >/dev/null
}

serve() { echo "$1 $2" >> "$dir/zones.list"; }

test_zone=$zones/test.zone
header test. > "$test_zone"

# child NAME ALGORITHM BITS KIND [ldns-signzone options]: a signed child of test. with a few records.
child() {
    local name=$1 algorithm=$2 bits=$3 kind=$4
    shift 4
    local file=$zones/$name.zone ksk
    header "$name.test." > "$file"
    cat >> "$file" <<ZONE
ns A 127.0.0.1
www A 192.0.2.1
txt TXT "dnsgate dnssec test"
*.wild A 192.0.2.2
a.b A 192.0.2.3
ZONE
    ksk=$(key "$name.test." "$algorithm" "$bits" -k)
    case $kind in
        extra) cat >> "$file" ;;
    esac
    if [[ ($name == ecdsa || $name == rsasha512) && -n ${HOSTS:-} ]]; then
        awk -v n="$HOSTS" 'BEGIN { for (i = 0; i < n; i++) printf "h%06d A 198.18.%d.%d\n", i, int(i / 256) % 256, i % 256 }' >> "$file"
    fi
    sign "$name.test." "$file" "$ksk" -- "${valid[@]}" "$@"
    serve "$name.test." "$file.signed"
    delegate "$test_zone" "$name.test." "$(ds "$ksk")"
}

# Secure zones, one per algorithm; NSEC3 without and with opt-out.
child ecdsa ECDSAP256SHA256 "" extra <<'ZONE'
cname CNAME www.insecure.test.
chain CNAME www.ed.test.
dname DNAME ed.test.
ZONE
child rsasha512 RSASHA512 2048 plain
child p384 ECDSAP384SHA384 "" plain
child ed ED25519 "" plain
child nsec3 ECDSAP256SHA256 "" plain -n -t 0
# RSA/SHA-256 with a 2,048-bit KSK and a 1,024-bit ZSK, as many zones still have.
rsa=$zones/rsa.zone
header rsa.test. > "$rsa"
printf 'ns A 127.0.0.1\nwww A 192.0.2.1\n' >> "$rsa"
rsa_ksk=$(key rsa.test. RSASHA256 2048 -k)
rsa_zsk=$(key rsa.test. RSASHA256 1024)
sign rsa.test. "$rsa" "$rsa_ksk" "$rsa_zsk" -- "${valid[@]}"
serve rsa.test. "$rsa.signed"
delegate "$test_zone" rsa.test. "$(ds "$rsa_ksk")"

# Opt-out NSEC3 with an unsigned delegation below it.
optout=$zones/optout.zone
header optout.test. > "$optout"
printf 'ns A 127.0.0.1\nwww A 192.0.2.1\n' >> "$optout"
delegate "$optout" sub.optout.test.
optout_ksk=$(key optout.test. ECDSAP256SHA256 "" -k)
sign optout.test. "$optout" "$optout_ksk" -- "${valid[@]}" -n -p -t 0
serve optout.test. "$optout.signed"
delegate "$test_zone" optout.test. "$(ds "$optout_ksk")"
sub=$zones/sub.optout.zone
header sub.optout.test. > "$sub"
printf 'ns A 127.0.0.1\nwww A 192.0.2.9\n' >> "$sub"
serve sub.optout.test. "$sub"

# Unsigned: a delegation without DS, with a CNAME back into a signed zone.
insecure=$zones/insecure.zone
header insecure.test. > "$insecure"
printf 'ns A 127.0.0.1\nwww A 192.0.2.8\nback CNAME www.ecdsa.test.\n' >> "$insecure"
serve insecure.test. "$insecure"
delegate "$test_zone" insecure.test.

# A private zone the root denies, for conditional forwarding.
corp=$zones/corp.zone
header corp. > "$corp"
printf 'ns A 127.0.0.1\nwww A 192.0.2.10\n' >> "$corp"
serve corp. "$corp"

# DS with an algorithm nobody implements: insecure, not bogus.
child unknownalg ECDSAP256SHA256 "" plain
sed -i -E 's/^(unknownalg\.test\. IN DS [0-9]+) 13 /\1 200 /' "$test_zone"
# NSEC3 iterated more than RFC 9276 allows: its proofs are insecure.
child iter ECDSAP256SHA256 "" plain -n -t 200

# Broken on purpose.
child expired ECDSAP256SHA256 "" plain -i "$(stamp '-30 days')" -e "$(stamp '-2 days')"
child future ECDSAP256SHA256 "" plain -i "$(stamp '+2 days')" -e "$(stamp '+30 days')"
child tampered ECDSAP256SHA256 "" plain
sed -i -E 's/^(www\.tampered\.test\.\s+[0-9]+\s+IN\s+A\s+)192\.0\.2\.1$/\1192.0.2.99/' "$zones/tampered.zone.signed"
child nosig ECDSAP256SHA256 "" plain
sed -i -E '/^www\.nosig\.test\.\s+[0-9]+\s+IN\s+RRSIG\s+A /d' "$zones/nosig.zone.signed"
child wrongds ECDSAP256SHA256 "" plain
stray=$(key wrongds.test. ECDSAP256SHA256 "" -k)
sed -i -E '/^wrongds\.test\. IN DS /d' "$test_zone"
ds "$stray" >> "$test_zone"
child badkey ECDSAP256SHA256 "" plain
outsider=$(key badkey.test. ECDSAP256SHA256 "" -k)
cp "$zones/badkey.zone" "$zones/badkey-outsider.zone"
sign badkey.test. "$zones/badkey-outsider.zone" "$outsider" -- "${valid[@]}" -d
foreign=$(grep -E '^www\.badkey\.test\.\s+[0-9]+\s+IN\s+RRSIG\s+A ' "$zones/badkey-outsider.zone.signed")
grep -v -E '^www\.badkey\.test\.\s+[0-9]+\s+IN\s+RRSIG\s+A ' "$zones/badkey.zone.signed" > "$zones/badkey.tmp"
echo "$foreign" >> "$zones/badkey.tmp"
mv "$zones/badkey.tmp" "$zones/badkey.zone.signed"
child nsecstrip ECDSAP256SHA256 "" plain
sed -i -E '/\sIN\s+NSEC\s/d; /\sIN\s+RRSIG\s+NSEC /d' "$zones/nsecstrip.zone.signed"
child wildstrip ECDSAP256SHA256 "" extra <<'ZONE'
*.w A 192.0.2.7
ZONE
sed -i -E '/^\*\.w\.wildstrip\.test\.\s+[0-9]+\s+IN\s+(NSEC|RRSIG\s+NSEC)\s/d' "$zones/wildstrip.zone.signed"

# test. and the root, signed last so that they hold every DS above.
test_ksk=$(key test. RSASHA256 2048 -k)
sign test. "$test_zone" "$test_ksk" -- "${valid[@]}"
serve test. "$test_zone.signed"
root=$zones/root.zone
header . > "$root"
printf 'ns.root. A 127.0.0.1\n' >> "$root"
delegate "$root" test. "$(ds "$test_ksk")"
root_ksk=$(key . ECDSAP256SHA256 "" -k)
root_zsk=$(key . ECDSAP256SHA256 "")
sign . "$root" "$root_ksk" "$root_zsk" -- "${valid[@]}"
serve . "$root.signed"
ds "$root_ksk" > "$dir/anchor.ds"
