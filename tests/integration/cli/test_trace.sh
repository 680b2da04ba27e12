#!/usr/bin/env bash
# Issue 7, trace: `vnetctl trace` follows a guest's packets through the host's nftables
# rules (ours and other tables'), shows the NAT conntrack applied and names what dropped a
# packet; its temporary chains in table inet vnet go away however the trace ends.
source "$(dirname "$0")/../lib.sh"
it_begin
lab_up
lab_start_vnetd
lab_guest g1 default 192.168.122.10/24 192.168.122.1
lab_guest g2 default 192.168.122.11/24 192.168.122.1
P1=$(lab_ctl -o json port-list default | python3 -c 'import json,sys; print([p["name"] for p in json.load(sys.stdin) if p.get("netns","").endswith("g1")][0])')
P2=$(lab_ctl -o json port-list default | python3 -c 'import json,sys; print([p["name"] for p in json.load(sys.stdin) if p.get("netns","").endswith("g2")][0])')
# An isolated network beside it: a trace must leave its rules (and everything else) alone.
cat > "$LAB_DIR/iso.xml" <<'XML'
<network><name>iso</name><bridge name='isobr'/><ip address='10.20.0.1' prefix='24'/></network>
XML
lab_ctl net-define "$LAB_DIR/iso.xml" >/dev/null && lab_ctl net-start iso >/dev/null

trace_chains() { lab_host nft list table inet vnet | grep -Eo 'chain trace_[0-9]+(_reply)?' || true; }
TRACE_PID=
# trace_bg OUT ARGS...: vnetctl trace in the background (at most 30 s); returns once vnetd
# has added the trace rules (the start record arrived).
trace_bg() {
  local out=$1
  shift
  # shellcheck disable=SC2086 # TRACE_OPTS: global options such as "-o json"
  timeout 30 "$VNETCTL" --socket "$LAB_SOCK" ${TRACE_OPTS:-} trace "$@" >"$out" 2>&1 &
  TRACE_PID=$!
  LAB_PIDS+=("$TRACE_PID")
  for _ in $(seq 100); do
    grep -q 'Trace rules in table inet vnet\|"type":"start"' "$out" 2>/dev/null && return 0
    kill -0 "$TRACE_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "trace did not start:" >&2
  cat "$out" >&2
  return 1
}
# start_trace DESC OUT ARGS...: trace_bg as a check (not in a subshell: TRACE_PID stays).
start_trace() {
  local desc=$1
  shift
  if trace_bg "$@"; then pass "$desc"; else fail "$desc"; fi
}

# --- a ping through NAT: our forward chain, the masquerade rule, the translation ---
before=$(lab_host nft list table inet vnet)
start_trace "trace starts" "$LAB_DIR/t1.txt" default --port "$P1" --proto icmp --count 2
check_output "while it runs, our table has its chain at prerouting priority -350" \
  'chain trace_[0-9]+ \{' lab_host nft list table inet vnet
check_output "the trace rule matches the guest's MAC on the bridge" \
  'iifname "vnbr0" ether saddr 52:54:00:[0-9a-f:]+ meta l4proto icmp meta nftrace set 1' lab_host nft list table inet vnet
lab_in g1 ping -c 2 -i 0.3 -W 2 198.51.100.1 >/dev/null
wait "$TRACE_PID"
rc=$?
check "vnetctl trace ends by itself after --count 2" test "$rc" = 0
T1=$(cat "$LAB_DIR/t1.txt")
check_output "the output shows the guest's echo request" \
  'Packet 1 from the guest: 192\.168\.122\.10 → 198\.51\.100\.1 icmp echo-request' echo "$T1"
check_output "it names our forward chain and its dispatch to the from-guests chain" \
  'forward +inet vnet forward +rule +iifname @guests jump from_guests .*→ jump from_guests' echo "$T1"
check_output "it names the rule of our forward chain that accepted it" \
  'forward +inet vnet from_guests +rule +iifname \. ip saddr @outbound4 accept .*→ accept' echo "$T1"
check_output "it names our masquerade rule" \
  'postrouting +inet vnet postrouting +rule +iifname \. ip saddr @masq4 masquerade .*→ accept' echo "$T1"
check_output "it shows the translation conntrack applied" \
  'NAT: 192\.168\.122\.10 → 198\.51\.100\.1 leaves uplink0 as 203\.0\.113\.2' echo "$T1"
check_output "it says where the packet went" 'Fate: accepted by every chain it met, leaves by uplink0' echo "$T1"
check_output "it says why it ended" 'Trace ended \(the packet count was reached\): 2 packets shown' echo "$T1"
check "after the trace, our table has no trace chain" test -z "$(trace_chains)"
check "after the trace, our table is exactly as before" test "$before" = "$(lab_host nft list table inet vnet)"

# --- replies are followed once the guest's address is known ---
start_trace "trace with replies starts" "$LAB_DIR/t2.txt" default --port "$P1" --to 198.51.100.1 --count 4
lab_in g1 ping -c 4 -i 0.3 -W 2 198.51.100.1 >/dev/null
wait "$TRACE_PID"
check_output "it learns the guest's address and follows replies" \
  'the guest sends from 192\.168\.122\.10; replies to it are traced from now on' cat "$LAB_DIR/t2.txt"
check_output "a reply shows on its way to the guest, the masquerade undone" \
  'Packet [0-9] to the guest: 198\.51\.100\.1 → 203\.0\.113\.2 icmp echo-reply' cat "$LAB_DIR/t2.txt"
check_output "the reply's destination is restored to the guest's" \
  'NAT: 198\.51\.100\.1 → 203\.0\.113\.2 is delivered to 192\.168\.122\.10' cat "$LAB_DIR/t2.txt"
check_output "the reply passes our to-guests rule" \
  'inet vnet to_guests +rule +oifname \. ip daddr @replies4 ct state established,related return' cat "$LAB_DIR/t2.txt"
check "no trace chain left" test -z "$(trace_chains)"

# --- -o json: one JSON record per line ---
TRACE_OPTS="-o json" start_trace "json trace starts" "$LAB_DIR/t3.json" default --port "$P2" --proto icmp --count 1
lab_in g2 ping -c 1 -W 2 198.51.100.1 >/dev/null
wait "$TRACE_PID"
check "-o json prints start, packet, end records, each a JSON object, with our masquerade step" python3 - "$LAB_DIR/t3.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert [r["type"] for r in recs if r["type"] != "note"] == ["start", "packet", "end"], recs
p = [r["packet"] for r in recs if r["type"] == "packet"][0]
assert p["packet"]["src"] == "192.168.122.11" and p["direction"] == "from-guest", p
assert any(s["chain"] == "postrouting" and "masquerade" in s.get("rule", "") for s in p["steps"]), p
assert any(n["after"] == "203.0.113.2" for n in p["nat"]), p
PY

# --- a foreign table whose policy drops forwarded traffic ---
lab_host nft add table ip filter
lab_host nft add chain ip filter FORWARD '{ type filter hook forward priority 0; policy drop; }'
start_trace "trace starts (foreign drop policy)" "$LAB_DIR/t4.txt" default --port "$P1" --proto icmp --count 1
check_fails "the guest's ping is dropped" lab_in g1 ping -c 1 -W 1 198.51.100.1
wait "$TRACE_PID"
check_output "the foreign chain's policy shows as a step" 'forward +ip filter FORWARD +policy drop' cat "$LAB_DIR/t4.txt"
check_output "it names the table, chain and policy that dropped it" \
  'Fate: DROPPED by the policy of chain FORWARD of table ip filter, hook forward' cat "$LAB_DIR/t4.txt"

# --- ... and one with an explicit drop rule ---
lab_host nft delete table ip filter
lab_host nft add table ip filter
lab_host nft add chain ip filter FORWARD '{ type filter hook forward priority 0; policy accept; }'
lab_host nft add rule ip filter FORWARD ip saddr 192.168.122.0/24 counter drop
start_trace "trace starts (foreign drop rule)" "$LAB_DIR/t5.txt" default --port "$P1" --proto icmp --count 1
check_fails "the guest's ping is dropped by the rule" lab_in g1 ping -c 1 -W 1 198.51.100.1
wait "$TRACE_PID"
check_output "it names the table, chain and rule that dropped it" \
  'Fate: DROPPED by rule "ip saddr 192\.168\.122\.0/24 counter drop" \(handle [0-9]+\) in chain FORWARD of table ip filter, hook forward' \
  cat "$LAB_DIR/t5.txt"
lab_host nft delete table ip filter
check "the guest reaches the inet host again" lab_in g1 ping -c 1 -W 2 198.51.100.1
check "no trace chain left" test -z "$(trace_chains)"

# --- bad requests: a clear error, nothing added ---
snapshot() { lab_host nft list ruleset; }
before=$(snapshot)
check_output "unknown port" "error: .*network 'default' has no port 'vnet99' \(its ports: " lab_ctl trace default --port vnet99
check_output "bad address" "error: .*to: '198\.51\.100' is not an IPv4 or IPv6 address" lab_ctl trace default --port "$P1" --to 198.51.100
check_output "bad protocol" "error: .*proto: 'sctp' is not icmp, icmpv6, tcp or udp" lab_ctl trace default --port "$P1" --proto sctp
check_output "unknown network" "error: .*network 'nope' not found" lab_ctl trace nope --port "$P1"
check_output "a port of another network" "error: .*network 'iso' has no port '$P1'" lab_ctl trace iso --port "$P1"
check_output "bad count (API)" '"detail": ?"count: .x. is not a whole number"' \
  curl -s --unix-socket "$LAB_SOCK" "http://vnetd/v1/networks/default/trace?port=$P1&count=x"
check "refused traces changed no rule" test "$before" = "$(snapshot)"

# --- two traces at once, each sees its own guest ---
start_trace "first of two traces starts" "$LAB_DIR/t6a.txt" default --port "$P1" --proto icmp --count 1
A_PID=$TRACE_PID
start_trace "second of two traces starts" "$LAB_DIR/t6b.txt" default --port "$P2" --proto icmp --count 1
B_PID=$TRACE_PID
check_output "both traces have their chains" '^2$' bash -c "ip netns exec $LAB_HOST nft list table inet vnet | grep -Ec 'chain trace_[0-9]+ '"
lab_in g1 ping -c 1 -W 2 198.51.100.1 >/dev/null
lab_in g2 ping -c 1 -W 2 198.51.100.1 >/dev/null
wait "$A_PID"; wait "$B_PID"
check_output "trace 1 saw guest 1" 'Packet 1 from the guest: 192\.168\.122\.10 →' cat "$LAB_DIR/t6a.txt"
check_output "trace 2 saw guest 2" 'Packet 1 from the guest: 192\.168\.122\.11 →' cat "$LAB_DIR/t6b.txt"
check_fails "trace 1 did not show guest 2's packet" grep -q '192\.168\.122\.11 →' "$LAB_DIR/t6a.txt"
check "no trace chain left" test -z "$(trace_chains)"

# --- the client going away ends the trace ---
start_trace "an open-ended trace starts" "$LAB_DIR/t7.txt" default --port "$P1"
check "its chains are there" test -n "$(trace_chains)"
kill -INT "$TRACE_PID"; wait "$TRACE_PID" 2>/dev/null
no_trace_chains() { [ -z "$(trace_chains)" ]; }
check "Ctrl-C on vnetctl removes the trace chains" lab_wait_for no_trace_chains

# --- vnetd stopping ends the trace and removes its chains ---
start_trace "a trace runs when vnetd stops" "$LAB_DIR/t8.txt" default --port "$P1"
lab_stop_vnetd TERM
wait "$TRACE_PID"
check_output "vnetctl trace ends, saying vnetd stopped it" \
  'Trace ended \(vnetd is stopping\)|error: the trace stopped without an end record' cat "$LAB_DIR/t8.txt"
check "vnetd stopping removed the trace chains" test -z "$(trace_chains)"
check_output "the network's rules stay (vnetd leaves the datapath up)" '"vnbr0" \. 192\.168\.122\.0/24 comment "default"' lab_host nft list table inet vnet

# --- a vnetd killed mid-trace: the next one removes the leftovers ---
lab_start_vnetd
start_trace "a trace runs when vnetd is killed" "$LAB_DIR/t9.txt" default --port "$P1"
lab_stop_vnetd KILL
wait "$TRACE_PID" 2>/dev/null
check "a killed vnetd leaves its trace chains" test -n "$(trace_chains)"
lab_start_vnetd
check "the next vnetd removes them at start" test -z "$(trace_chains)"
check "and the guest still reaches the inet host" lab_in g1 ping -c 1 -W 2 198.51.100.1

it_end
