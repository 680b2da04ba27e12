#!/usr/bin/env bash
# Issue 7: the NAT walkthrough (scripts/demo.sh, the README's first command) runs and shows
# what it claims: leases, DNS names, port MACs, where the source address changes (from the
# capture), the rules with their explanation, the seed's experiment (forward rules deleted
# -> no internet -> repaired -> internet again) and a host-only network beside it. Run with
# the binaries under test; the demo builds its own lab and removes it.
source "$(dirname "$0")/../lib.sh"
it_begin

DEMO="$IT_ROOT/scripts/demo.sh"
before_ns=$(ip netns list | wc -l)

"$DEMO" > "$LAB_DIR/demo.txt" 2> "$LAB_DIR/demo.err"
check "the demo (text) exits 0" test $? -eq 0
T="$LAB_DIR/demo.txt"
check_output "step 1: the bridge is the guests' router" "The host's bridge vnbr0 \(192\.168\.122\.1/24\)" cat "$T"
check_output "step 2: leases listed with the guests' names" "192\.168\.122\.[0-9]+/24 +kvm1 " cat "$T"
check_output "step 2: DNS answers a guest name and a forwarded one" "kvm0 is 192\.168\.122\.[0-9]+; www\.example\.test is 198\.51\.100\.1" cat "$T"
check_output "step 3: each port's MAC is its guest's with fe first" "^vnet[0-9]+ fe:54:00:[0-9a-f:]+ <-> kvm0 52:54:00:" cat "$T"
check_output "step 4: the web server saw the host's uplink address" "names the client 203\.0\.113\.2," cat "$T"
check_output "step 4: on the guest's port the source is the guest" "^  vnet[0-9]+ +request 192\.168\.122\.[0-9]+ -> 198\.51\.100\.1; reply" cat "$T"
check_output "step 4: on the uplink the source is the host" "^  uplink0 +request 203\.0\.113\.2 -> 198\.51\.100\.1; reply 198\.51\.100\.1 -> 203\.0\.113\.2" cat "$T"
check_output "step 4: the other guest's port sees nothing" "^  vnet[0-9]+ +nothing: the packets do not pass here" cat "$T"
check_output "step 5: the masquerade rule with its explanation" "masquerade to :1024-65535 +# nat: masquerade guests" cat "$T"
check_output "step 5: the DHCP input rule with its explanation" "udp dport 67 accept +# DHCP from guests" cat "$T"
check_output "step 6: without the forward rules the ping fails" "kvm1 -> 198\.51\.100\.1: fails now" cat "$T"
check_output "step 6: vnetd put them back" "put them back after [0-9]+ ms" cat "$T"
check_output "step 6: and the ping works again" "kvm1 -> 198\.51\.100\.1: works again" cat "$T"
check_output "step 7: host-only guests reach each other" "iso0 -> iso1 .*: reaches" cat "$T"
check_output "step 7: and the host" "iso0 -> the host .*: reaches" cat "$T"
check_output "step 7: not the inet host" "iso0 -> the inet host .*: cannot reach" cat "$T"
check_output "step 7: not the NAT network's guests" "iso0 -> kvm0 .*: cannot reach" cat "$T"

"$DEMO" --json > "$LAB_DIR/demo.json" 2> "$LAB_DIR/demo.json.err"
check "the demo (--json) exits 0" test $? -eq 0
check "--json: one document with the facts" python3 - "$LAB_DIR/demo.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["bridge"] == "vnbr0", d
assert d["ping_nat"] == "ok" and d["ping_without_rules"] == "failed" and d["ping_after_repair"] == "ok", d
assert int(d["repaired_ms"]) < 1000, d
assert d["web_client"] == "203.0.113.2", d
assert d["capture"]["uplink0"].startswith("request 203.0.113.2 -> 198.51.100.1"), d
for g in ("kvm0", "kvm1"):
    assert d["guest"][g]["port"].startswith("vnet"), d
    assert d["guest"][g]["ip"].startswith("192.168.122."), d
assert d["isolated"] == {"guest": "reaches", "host": "reaches", "inet": "cannot reach",
                         "other_network": "cannot reach"}, d
PY
check "the demo left no namespaces behind" test "$(ip netns list | wc -l)" = "$before_ns"
it_end
