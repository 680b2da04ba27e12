#!/usr/bin/env bash
# Issue 7: capture, stats, net-info addresses, /metrics and events, in the lab with real
# guests, tshark reading the capture and a format check of the metrics.
source "$(dirname "$0")/../lib.sh"
it_begin
command -v tshark >/dev/null || { echo "FAIL: tshark missing (scripts/install-deps.sh installs it)"; exit 1; }
lab_up
lab_start_vnetd --metrics-listen 127.0.0.1:9477
PROMCHECK="$IT_ROOT/tests/integration/cli/promcheck.py"
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
metric_value() {  # metric_value 'NAME{labels}' : the value in a /metrics scrape, or -1
  curl -sf --unix-socket "$LAB_SOCK" http://vnetd/metrics |
    awk -v s="$1" '$1 == s { print $2; found=1 } END { if (!found) print -1 }'
}

# --- events: a subscriber for everything and one for a single network -------------
"$VNETCTL" --socket "$LAB_SOCK" -o json events >"$LAB_DIR/events.all" 2>"$LAB_DIR/events.all.err" &
EV_ALL=$!; LAB_PIDS+=("$EV_ALL")
check "the event subscriber is connected" \
  lab_wait_for bash -c "curl -sf --unix-socket '$LAB_SOCK' http://vnetd/metrics | grep -qx 'vnet_event_subscribers 1'"
check_output "events: a bad --recent is refused" "recent: 'many' is not a whole number" lab_ctl events --recent many

cat > "$LAB_DIR/iso.xml" <<'XML'
<network>
  <name>iso</name>
  <bridge name='isobr'/>
  <ip address='10.30.0.1' prefix='24'/>
</network>
XML
# Subscribed before iso exists: its definition is among the events.
"$VNETCTL" --socket "$LAB_SOCK" -o json events --net iso >"$LAB_DIR/events.iso" 2>&1 &
EV_ISO=$!; LAB_PIDS+=("$EV_ISO")
lab_wait_for bash -c "curl -sf --unix-socket '$LAB_SOCK' http://vnetd/metrics | grep -qx 'vnet_event_subscribers 2'"
lab_ctl net-define "$LAB_DIR/iso.xml" >/dev/null && lab_ctl net-start iso >/dev/null

# --- guests: g1 by DHCP, g2 with a static address -------------------------------
lab_guest g1 default
PORT1=$(lab_ctl -o json port-list default | jq_py 'd[0]["name"]')
check "udhcpc in g1 gets a lease" lab_udhcpc g1 -x hostname:obs1
IP1=$(grep '^ip=' "$LAB_DIR/g1.dhcp.bound" | cut -d= -f2)
lab_guest g2 default 192.168.122.50/24 192.168.122.1 --mac 52:54:00:00:00:50
PORT2=$(lab_ctl -o json port-list default | jq_py '[p["name"] for p in d if p.get("mac")=="52:54:00:00:00:50"][0]')

ev_has() {  # ev_has FILE TYPE NETWORK [DETAIL_KEY DETAIL_VALUE]
  python3 - "$@" <<'PY'
import json, sys
path, typ, net = sys.argv[1:4]
want = dict(zip(sys.argv[4::2], sys.argv[5::2]))
for line in open(path):
    e = json.loads(line)
    if e["type"] == typ and e.get("network") == net and all(e["details"].get(k) == v for k, v in want.items()):
        sys.exit(0)
sys.exit(1)
PY
}
ev_has_re() {  # ev_has_re FILE TYPE NETWORK KEY REGEX
  python3 - "$@" <<'PY'
import json, re, sys
path, typ, net, key, rx = sys.argv[1:6]
for line in open(path):
    e = json.loads(line)
    if e["type"] == typ and e.get("network") == net and re.search(rx, e["details"].get(key, "")):
        sys.exit(0)
sys.exit(1)
PY
}
check "event: network.defined iso" lab_wait_for ev_has "$LAB_DIR/events.all" network.defined iso
check "event: network.started iso (bridge isobr)" lab_wait_for ev_has "$LAB_DIR/events.all" network.started iso bridge isobr
check "event: port.added for g1's port" lab_wait_for ev_has "$LAB_DIR/events.all" port.added default port "$PORT1"
check "event: lease.granted with g1's address" lab_wait_for ev_has "$LAB_DIR/events.all" lease.granted default ip "$IP1" hostname obs1
check "every event line is one JSON object with seq, time, type" python3 -c "
import json
seqs = [json.loads(l)['seq'] for l in open('$LAB_DIR/events.all')]
assert seqs == sorted(seqs) and len(seqs) >= 5, seqs"
check "the --net iso subscriber saw only iso's events" python3 -c "
import json
ev = [json.loads(l) for l in open('$LAB_DIR/events.iso')]
assert ev and all(e['network'] == 'iso' for e in ev), ev
assert [e['type'] for e in ev] == ['network.defined', 'network.started'], ev"
check_output "events --recent replays the past (text form)" "network\.started +iso +bridge=isobr" \
  timeout 2 "$VNETCTL" --socket "$LAB_SOCK" events --net iso --recent 5

# --- stats before traffic ----------------------------------------------------------
lab_ctl -o json stats default >"$LAB_DIR/stats.before"
check "stats: JSON with the bridge's counters" jq_py '"ok" if d["network"]["rx_packets"] >= 0 else sys.exit(1)' <"$LAB_DIR/stats.before"
check "stats: DHCP counters include the lease" jq_py '"ok" if d["dhcp"]["acks"] >= 1 and d["dhcp"]["leases"] >= 1 else sys.exit(1)' <"$LAB_DIR/stats.before"
rx_before=$(jq_py "[p for p in d['ports'] if p['name']=='$PORT1'][0]['link']['rx_packets']" <"$LAB_DIR/stats.before")
dnsq_before=$(jq_py 'd["dns"]["queries"]' <"$LAB_DIR/stats.before")

# --- capture while g1 pings the inet host; DNS keeps answering meanwhile --------------
CAP="$LAB_DIR/ping.pcapng"
"$VNETCTL" --socket "$LAB_SOCK" capture default --ports "$PORT1" --bridge --uplink -w "$CAP" \
  --duration 5 icmp >"$LAB_DIR/capture.out" 2>&1 &
CAP_PID=$!; LAB_PIDS+=("$CAP_PID")
check "the capture started (file created)" lab_wait_for test -s "$CAP"
check "g1 pings 198.51.100.1 during the capture" lab_in g1 ping -c 3 -i 0.3 -W 2 198.51.100.1
check "g2 (static) pings 198.51.100.1 too" lab_in g2 ping -c 2 -i 0.3 -W 2 198.51.100.1
check "vnetd answers DNS during the capture" lab_in g1 dig +short +time=2 +tries=1 @192.168.122.1 obs1
wait "$CAP_PID"; cap_rc=$?
check "capture --duration ends by itself with status 0" test "$cap_rc" = 0
check_output "capture reports what it wrote" "packet\(s\) captured on $PORT1, vnbr0, uplink0 into" cat "$LAB_DIR/capture.out"

tsv() { tshark -r "$CAP" -Y "$1" -T fields -e frame.interface_name -e ip.src -e ip.dst 2>/dev/null; }
check_output "the IDBs name the interfaces" "^$PORT1,vnbr0,uplink0$" \
  bash -c "tshark -r '$CAP' -T fields -e frame.interface_name 2>/dev/null | awk '!s[\$0]++' | paste -sd,"
check_output "on $PORT1: g1's echo request from $IP1" "^$PORT1	$IP1	198\.51\.100\.1$" tsv "icmp.type == 8"
check_output "on vnbr0: the same request, still from $IP1" "^vnbr0	$IP1	198\.51\.100\.1$" tsv "icmp.type == 8"
check_output "on uplink0: the source changed to the host, 203.0.113.2" "^uplink0	203\.0\.113\.2	198\.51\.100\.1$" tsv "icmp.type == 8"
check_output "on uplink0: the reply comes back to 203.0.113.2" "^uplink0	198\.51\.100\.1	203\.0\.113\.2$" tsv "icmp.type == 0"
check_fails "the guest address never appears on the uplink" bash -c "tshark -r '$CAP' -Y 'frame.interface_name == \"uplink0\" && ip.addr == $IP1' 2>/dev/null | grep -q ."
check "the icmp filter applied: nothing but ICMP in the file" test -z "$(tshark -r "$CAP" -Y '!icmp' 2>/dev/null)"
check "the file ends with one Interface Statistics Block per interface" python3 -c "
import struct
b = open('$CAP', 'rb').read()
types, off = [], 0
while off < len(b):
    t, n = struct.unpack_from('<II', b, off)
    types.append(t)
    off += n
assert off == len(b) and types[-3:] == [5, 5, 5] and types[1:4] == [1, 1, 1], types"

# --- stats after traffic -------------------------------------------------------------
# A fresh ping: ICMP conntrack entries last 30 s, the checks above may take that long.
lab_in g1 ping -c 1 -W 2 198.51.100.1 >/dev/null
lab_ctl -o json stats default >"$LAB_DIR/stats.after"
rx_after=$(jq_py "[p for p in d['ports'] if p['name']=='$PORT1'][0]['link']['rx_packets']" <"$LAB_DIR/stats.after")
check "stats: $PORT1 received more packets after the ping ($rx_before -> $rx_after)" test "$rx_after" -gt "$rx_before"
check "stats: DNS queries grew" test "$(jq_py 'd["dns"]["queries"]' <"$LAB_DIR/stats.after")" -gt "$dnsq_before"
check "stats: NAT sessions of the guests are counted" jq_py '"ok" if d["nat"]["sessions"] >= 1 and d["nat"]["translated"] >= 1 else sys.exit(str(d.get("nat")))' <"$LAB_DIR/stats.after"
check_output "stats --port shows only that port" "^ $PORT2 " lab_ctl stats default --port "$PORT2"
check "stats --port: one port in JSON" test "$(lab_ctl -o json stats default --port "$PORT2" | jq_py 'len(d["ports"])')" = 1
check_output "stats text names the NAT sessions" "NAT sessions: +[1-9]" lab_ctl stats default
check_output "stats of an unknown port is an error" "has no port vnet999" lab_ctl stats default --port vnet999
check_output "stats of an unknown network is an error" "not found" lab_ctl stats nosuch

# --- net-info: ports with MAC and IP, the static guest from the neighbour table -------
check_output "net-info lists g1 with its leased IP" "$PORT1 +veth .* $IP1 +lease" lab_ctl net-info default
check_output "net-info lists static g2 from the neighbour table" "$PORT2 +veth +52:54:00:00:00:50 .* 192\.168\.122\.50 +neighbour" lab_ctl net-info default
check "net-info -o json carries the ports" bash -c "'$VNETCTL' --socket '$LAB_SOCK' -o json net-info default | python3 -c 'import json,sys; d=json.load(sys.stdin); assert any(p.get(\"ip\")==\"192.168.122.50\" for p in d[\"ports\"])'"

# --- metrics: unix socket and TCP listener, parsed --------------------------------------
curl -sf --unix-socket "$LAB_SOCK" http://vnetd/metrics >"$LAB_DIR/metrics.txt"
check "GET /metrics on the API socket parses" python3 "$PROMCHECK" "$LAB_DIR/metrics.txt" \
  --require "vnet_port_receive_packets_total{network=\"default\",port=\"$PORT1\"}" '>' 0 \
  --require 'vnet_network_receive_bytes_total{network="default"}' '>' 0 \
  --require 'vnet_dhcp_acks_total{network="default"}' '>=' 1 \
  --require 'vnet_dns_queries_total{network="default"}' '>=' 1 \
  --require 'vnet_nat_sessions{network="default"}' '>=' 1 \
  --require 'vnet_network_active{network="iso"}' '==' 1 \
  --require 'vnet_repairs_total{network="default"}' '>=' 0 \
  --require 'vnet_events_published_total' '>=' 5
check_output "metrics carry HELP and TYPE" "^# TYPE vnet_port_receive_bytes_total counter$" cat "$LAB_DIR/metrics.txt"
check "GET /metrics on --metrics-listen (TCP, in vnetd's namespace) parses" \
  bash -c "ip netns exec '$LAB_HOST' curl -sf http://127.0.0.1:9477/metrics | python3 '$PROMCHECK' --require 'vnet_dhcp_acks_total{network=\"default\"}' '>=' 1"
check_output "the TCP listener serves nothing but /metrics" "^404$" \
  ip netns exec "$LAB_HOST" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9477/v1/networks

# --- capture: errors before anything is written, clean stops ----------------------------
check_output "capture: unknown port is refused" "has no port vnet999" lab_ctl capture default --ports vnet999 -w "$LAB_DIR/bad1.pcapng"
check_fails "capture: no file for a refused capture" test -e "$LAB_DIR/bad1.pcapng"
check_output "capture: a bad filter is refused" "filter 'tcp port nope'" lab_ctl capture default -w "$LAB_DIR/bad2.pcapng" tcp port nope
check_fails "capture: no file for a bad filter" test -e "$LAB_DIR/bad2.pcapng"
check_output "capture: a bad --duration is refused" "duration: 'soon'" lab_ctl capture default --duration soon -w "$LAB_DIR/bad4.pcapng"
check_output "capture: an inactive network is refused" "not active" bash -c "'$VNETCTL' --socket '$LAB_SOCK' net-destroy iso >/dev/null; '$VNETCTL' --socket '$LAB_SOCK' capture iso -w '$LAB_DIR/bad3.pcapng'"
check_output "capture --count stops after N packets" "^3 packet" lab_ctl capture default --bridge --count 3 -w "$LAB_DIR/count.pcapng" icmp &
CNT_PID=$!
sleep 0.5
lab_in g1 ping -c 6 -i 0.2 -W 1 198.51.100.1 >/dev/null
wait "$CNT_PID"
check "capture --count: tshark reads exactly 3 packets" test "$(tshark -r "$LAB_DIR/count.pcapng" 2>/dev/null | wc -l)" = 3
# Default interfaces, then Ctrl-C: the file ends cleanly with the statistics.
"$VNETCTL" --socket "$LAB_SOCK" capture default -w "$LAB_DIR/int.pcapng" >"$LAB_DIR/int.out" 2>&1 &
INT_PID=$!; LAB_PIDS+=("$INT_PID")
lab_wait_for test -s "$LAB_DIR/int.pcapng"
lab_in g1 ping -c 2 -i 0.2 -W 1 198.51.100.1 >/dev/null
kill -INT "$INT_PID"; wait "$INT_PID"; int_rc=$?
check "capture: Ctrl-C ends it with status 0" test "$int_rc" = 0
check_output "capture without interface flags covers every port, the bridge and the uplink" \
  "captured on ($PORT1|$PORT2), ($PORT1|$PORT2), vnbr0, uplink0" cat "$LAB_DIR/int.out"
check "capture after Ctrl-C: tshark reads the whole file" tshark -r "$LAB_DIR/int.pcapng"
check "capture after Ctrl-C: the statistics came after the half-close (4 ISBs at the end)" python3 -c "
import struct
b = open('$LAB_DIR/int.pcapng', 'rb').read()
types, off = [], 0
while off < len(b):
    t, n = struct.unpack_from('<II', b, off)
    types.append(t)
    off += n
assert off == len(b) and types[-4:] == [5, 5, 5, 5], types[-6:]"
check_output "vnetd logged the end of each capture" "capture ended" cat "$LAB_VNETD_LOG"
# A client killed outright: vnetd notices and keeps serving.
ends_before=$(grep -c "capture ended" "$LAB_VNETD_LOG")
"$VNETCTL" --socket "$LAB_SOCK" capture default -w "$LAB_DIR/killed.pcapng" >/dev/null 2>&1 &
KILL_PID=$!
lab_wait_for test -s "$LAB_DIR/killed.pcapng"
kill -KILL "$KILL_PID"; wait "$KILL_PID" 2>/dev/null
check "vnetd ends a capture whose client died" \
  lab_wait_for bash -c "[ \$(grep -c 'capture ended' '$LAB_VNETD_LOG') -gt $ends_before ]"
check "vnetd still answers" lab_ctl net-list

# --- a repair is an event and a counter: someone deletes default's DNS set entry --------
lab_host nft delete element inet vnet dns '{ "vnbr0" }'
check "event: repair of default, saying what was found" \
  lab_wait_for ev_has_re "$LAB_DIR/events.all" repair default what 'set dns lacks element "vnbr0"'
check "metrics count the repair" bash -c "curl -sf --unix-socket '$LAB_SOCK' http://vnetd/metrics | python3 '$PROMCHECK' --require 'vnet_repairs_total{network=\"default\"}' '==' 1"
check_output "stats show the last repair" 'Repairs: +1' lab_ctl stats default

# --- port removal is an event; a subscriber that went away is forgotten ---------------
# A port deleted under a capture: its interface is gone, the capture (on it alone) ends.
"$VNETCTL" --socket "$LAB_SOCK" capture default --ports "$PORT2" -w "$LAB_DIR/gone.pcapng" >"$LAB_DIR/gone.out" 2>&1 &
GONE_PID=$!; LAB_PIDS+=("$GONE_PID")
lab_wait_for test -s "$LAB_DIR/gone.pcapng"
lab_ctl port-del default "$PORT2" >/dev/null
check "a capture whose only interface disappeared ends by itself" lab_wait_for bash -c "! kill -0 $GONE_PID 2>/dev/null"
check_output "vnetd says where it stopped capturing" "no longer capturing there" cat "$LAB_VNETD_LOG"
check "that capture's file is still readable" tshark -r "$LAB_DIR/gone.pcapng"
check "event: port.removed" lab_wait_for ev_has "$LAB_DIR/events.all" port.removed default port "$PORT2"
# --- an interface someone else puts on the bridge (libvirt's <interface type='bridge'>) ---
lab_host ip link add fx0 type veth peer name fx1
lab_host ip link set fx0 master vnbr0
check "event: port.added, kind adopted, for an interface someone else put on the bridge" \
  lab_wait_for ev_has "$LAB_DIR/events.all" port.added default port fx0 kind adopted
lab_host ip link del fx0
check "event: port.removed when that interface is deleted" \
  lab_wait_for ev_has "$LAB_DIR/events.all" port.removed default port fx0
kill -INT "$EV_ISO"; wait "$EV_ISO" 2>/dev/null
check "Ctrl-C on events unsubscribes" \
  lab_wait_for bash -c "curl -sf --unix-socket '$LAB_SOCK' http://vnetd/metrics | grep -qx 'vnet_event_subscribers 1'"

# --- vnetd stopping with a subscriber attached: clean exit, no sanitizer report ----------
lab_stop_vnetd TERM
check_fails "no sanitizer report in vnetd's log" grep -Eq "AddressSanitizer|LeakSanitizer|runtime error" "$LAB_VNETD_LOG"
wait "$EV_ALL" 2>/dev/null
it_end
