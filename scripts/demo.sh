#!/usr/bin/env bash
# The lab demo, README command 1: the NAT walkthrough (../shared/design/WALKTHROUGH.md) with
# vnet, in network namespaces this script creates and removes. The machine's own network is
# not touched: the "internet" is a namespace with TEST-NET addresses (198.51.100.1 is a web
# server and ping target, 203.0.113.0/24 the link to it).
#
#   scripts/demo.sh          text for a person learning how a NAT network works
#   scripts/demo.sh --json   one JSON document with what each step found (for machines)
#
# Steps: 1 a NAT network (vnetd's embedded default): the host's bridge; 2 two guests get
# leases; 3 their ports vnet0/vnet1 and how each port's MAC relates to its guest's; 4 guest 1
# pings the inet host while one capture records vnet0, vnet1, the bridge and the uplink: where
# the packets appear and where the source changes; 5 the rules that make it work, one line of
# explanation each; 6 the forward rules deleted by hand: the ping fails, vnetd repairs, it
# works again; 7 a host-only (isolated) network beside it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JSON=0
[ "${1:-}" = "--json" ] && JSON=1
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }
# VNETD and VNETCTL set (the test suite runs the demo with the binaries it built): use them.
if [ -z "${VNETD:-}" ] || [ -z "${VNETCTL:-}" ]; then
  "$ROOT/scripts/install-deps.sh" >&2
  if [ ! -f "$ROOT/build/release/build.ninja" ]; then
    cmake --preset release -S "$ROOT" >/dev/null
  fi
  cmake --build "$ROOT/build/release" --target vnetd vnetctl >/dev/null
fi

source "$ROOT/testing/lab/lab.sh"
LAB_QUIET=1
lab_init
lab_up
lab_http_server
lab_dns_server

FACTS="$LAB_DIR/facts"
: > "$FACTS"
fact() { printf '%s\t%s\n' "$1" "$2" >> "$FACTS"; }   # fact KEY VALUE (for --json)
out() { [ "$JSON" = 1 ] || printf '%s\n' "$*"; }
step() { [ "$JSON" = 1 ] || printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() {  # show CMD...: prints the command as a user would type it (host namespace), then its output
  [ "$JSON" = 1 ] && { "$@" >/dev/null; return; }
  printf '$ %s\n' "$*" | sed "s|$VNETCTL --socket $LAB_SOCK|vnetctl|; s|ip netns exec $LAB_HOST ||"
  "$@"
}
ctl() { "$VNETCTL" --socket "$LAB_SOCK" "$@"; }
jq1() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

step "1. A NAT network: vnetd defines and starts its embedded default"
lab_start_vnetd
BR=$(ctl -o json net-info default | jq1 'd["bridge"]')
GW=$(ctl -o json net-dumpxml default >/dev/null 2>&1; lab_host ip -4 -o addr show "$BR" | awk '{print $4}')
show ctl net-list --all
show lab_host ip -br addr show "$BR"
out "The host's bridge $BR ($GW) is the guests' virtual router (libvirt calls it virbr0);"
out "it says DOWN until the first guest's port joins it (a bridge without ports has no carrier)."
fact bridge "$BR"
fact bridge_address "$GW"

step "2. Two guests, kvm0 and kvm1, join the network and get addresses from vnetd's DHCP server"
declare -A IP MAC PORT
for g in kvm0 kvm1; do
  lab_guest "$g" default
  lab_udhcpc "$g" -x "hostname:$g"
  IP[$g]=$(sed -n 's/^ip=//p' "$LAB_DIR/$g.dhcp.bound")
  MAC[$g]=$(lab_in "$g" cat /sys/class/net/eth0/address)
  out "$g: eth0 ${MAC[$g]}  got ${IP[$g]}"
  fact "guest.$g.ip" "${IP[$g]}"
  fact "guest.$g.mac" "${MAC[$g]}"
done
show ctl net-dhcp-leases default
NAME_ANSWER=$(lab_in kvm1 dig +short +time=2 @"${GW%/*}" kvm0 || true)
WWW=$(lab_in kvm1 dig +short +time=2 @"${GW%/*}" www.example.test || true)
out "vnetd's DNS (on ${GW%/*}) knows the guests by the names they sent with DHCP and forwards"
out "the rest to the inet's DNS server: from kvm1, kvm0 is $NAME_ANSWER; www.example.test is $WWW"
fact dns.kvm0 "$NAME_ANSWER"
fact dns.www "$WWW"

step "3. One host port per guest: vnet0 and vnet1"
show lab_host ip -br link show master "$BR"
while read -r port mac; do
  for g in kvm0 kvm1; do
    if [ "${mac:3}" = "${MAC[$g]:3}" ]; then
      PORT[$g]=$port
      out "$port ${mac} <-> $g ${MAC[$g]}: same MAC but the first byte, fe on the host side (libvirt's rule)"
      fact "guest.$g.port" "$port"
    fi
  done
done < <(lab_host ip -br link show master "$BR" | awk '{print $1, $3}' | sed 's/@[^ ]*//')
[ -n "${PORT[kvm0]:-}" ] && [ -n "${PORT[kvm1]:-}" ] || { echo "demo: could not match ports to guests" >&2; exit 1; }

step "4. kvm1 pings the inet host 198.51.100.1; one capture on ${PORT[kvm0]}, ${PORT[kvm1]}, $BR and the uplink"
PCAP="$LAB_DIR/walkthrough.pcapng"
ctl capture default --ports "${PORT[kvm0]},${PORT[kvm1]}" --bridge --uplink -w "$PCAP" \
  --duration 4 icmp > "$LAB_DIR/capture.out" 2>&1 &
CAP=$!
LAB_PIDS+=("$CAP")
sleep 1.5   # the capture is armed on every interface
if lab_in kvm1 ping -c 1 -W 2 198.51.100.1 > "$LAB_DIR/ping.out"; then
  out "$(sed -n 2p "$LAB_DIR/ping.out")"
  fact ping_nat ok
else
  out "kvm1 could not reach 198.51.100.1"
  fact ping_nat failed
fi
if [ -n "$WWW" ] && lab_in kvm1 curl -s --max-time 5 --resolve "www.example.test:80:$WWW" \
  http://www.example.test/ > "$LAB_DIR/page.out"; then
  CLIENT=$(sed -n 's/^\([0-9.]*\) .*"GET .* HTTP.*/\1/p' "$LAB_DIR/http.log" | tail -1)
  out "kvm1 fetched http://www.example.test/; the web server's log names the client $CLIENT,"
  out "the host's uplink address, not the guest's ${IP[kvm1]}"
  fact web_client "$CLIENT"
else
  out "kvm1 could not fetch http://www.example.test/"
  fact web_client none
fi
wait "$CAP" || { cat "$LAB_DIR/capture.out" >&2; exit 1; }
out "Where the echo request and reply were seen (tshark -r walkthrough.pcapng):"
tshark -r "$PCAP" -T fields -e frame.interface_name -e ip.src -e ip.dst -e icmp.type 2>/dev/null |
  python3 -c '
import sys
order = sys.argv[1:]
seen = {i: [] for i in order}
for line in sys.stdin:
    f = line.rstrip("\n").split("\t")
    if len(f) == 4 and f[0] in seen:
        seen[f[0]].append((f[1], f[2], "request" if f[3] == "8" else "reply" if f[3] == "0" else "icmp " + f[3]))
for i in order:
    pk = seen[i]
    print(f"  {i:8} " + ("nothing: the packets do not pass here" if not pk else
          "; ".join(f"{k} {s} -> {d}" for s, d, k in pk)))
' "${PORT[kvm0]}" "${PORT[kvm1]}" "$BR" uplink0 | tee "$LAB_DIR/where.txt" | { [ "$JSON" = 1 ] && cat >/dev/null || cat; }
out "The guest's address ${IP[kvm1]} is the source on ${PORT[kvm1]} and $BR; on the uplink the"
out "source is the host's 203.0.113.2: the masquerade rule rewrote it on the way out, and"
out "conntrack rewrote the reply's destination back. ${PORT[kvm0]} (the other guest) sees nothing."
while IFS= read -r line; do
  iface=$(awk '{print $1}' <<< "$line")
  fact "capture.$iface" "$(sed 's/^ *[^ ]* *//' <<< "$line")"
done < "$LAB_DIR/where.txt"

step "5. The rules that make it work (vnet's own table, inet vnet; other tables untouched)"
show ctl net-rules default
out "INPUT lets the guests reach vnetd's DHCP and DNS; FORWARD lets the subnet out and only"
out "established traffic back in; POSTROUTING masquerades the subnet behind the uplink address."

step "6. Delete the forward rules by hand, as in the walkthrough"
out "vnetd would put deleted rules back within a second; switch that off for this network first:"
show ctl net-autorepair default --disable
H_OUT=$(lab_host nft -a list chain inet vnet from_guests | sed -n 's/.*@outbound4 accept .*# handle \([0-9]*\)$/\1/p')
H_IN=$(lab_host nft -a list chain inet vnet to_guests | sed -n 's/.*@replies4 ct state established,related return .*# handle \([0-9]*\)$/\1/p')
show lab_host nft delete rule inet vnet from_guests handle "$H_OUT"
show lab_host nft delete rule inet vnet to_guests handle "$H_IN"
if lab_in kvm1 ping -c 1 -W 1 198.51.100.1 >/dev/null 2>&1; then
  out "kvm1 -> 198.51.100.1: still works (unexpected)"; fact ping_without_rules ok
else
  out "kvm1 -> 198.51.100.1: fails now (vnetd's repair was switched off for this step)"; fact ping_without_rules failed
fi
t0=$(date +%s%N)
show ctl net-autorepair default --enable
back=""
for _ in $(seq 200); do
  if lab_host nft list chain inet vnet from_guests | grep -q '@outbound4 accept'; then back=$(date +%s%N); break; fi
  sleep 0.01
done
if [ -n "$back" ]; then
  out "vnetd noticed the missing rules and put them back after $(( (back - t0) / 1000000 )) ms:"
  fact repaired_ms "$(( (back - t0) / 1000000 ))"
  grep -i 'repair' "$LAB_VNETD_LOG" | tail -2 | sed 's/^/  vnetd: /' | { [ "$JSON" = 1 ] && cat >/dev/null || cat; }
else
  out "vnetd did not repair the rules within 2 s"; fact repaired_ms none
fi
if lab_in kvm1 ping -c 1 -W 2 198.51.100.1 >/dev/null 2>&1; then
  out "kvm1 -> 198.51.100.1: works again, nothing was restarted"; fact ping_after_repair ok
else
  out "kvm1 -> 198.51.100.1: still fails"; fact ping_after_repair failed
fi

step "7. A host-only network beside it: the same bridge, no way out"
cat > "$LAB_DIR/hostonly.xml" <<'XML'
<network>
  <name>hostonly</name>
  <bridge name='vnbr1'/>
  <ip address='10.10.10.1' prefix='24'>
    <dhcp><range start='10.10.10.10' end='10.10.10.99'/></dhcp>
  </ip>
</network>
XML
show ctl net-create "$LAB_DIR/hostonly.xml"
for g in iso0 iso1; do
  lab_guest "$g" hostonly
  lab_udhcpc "$g" -x "hostname:$g"
  IP[$g]=$(sed -n 's/^ip=//p' "$LAB_DIR/$g.dhcp.bound")
done
try() {  # try LABEL KEY GUEST ADDR
  if lab_in "$3" ping -c 1 -W 1 "$4" >/dev/null 2>&1; then r=reaches; else r="cannot reach"; fi
  out "  $1: $r"
  fact "$2" "$r"
}
try "iso0 -> iso1 (${IP[iso1]}), a guest of the same network" isolated.guest iso0 "${IP[iso1]}"
try "iso0 -> the host (10.10.10.1)" isolated.host iso0 10.10.10.1
try "iso0 -> the inet host (198.51.100.1)" isolated.inet iso0 198.51.100.1
try "iso0 -> kvm0 (${IP[kvm0]}), a guest of the NAT network" isolated.other_network iso0 "${IP[kvm0]}"

if [ "$JSON" = 1 ]; then
  python3 - "$FACTS" <<'PY'
import json, sys
out = {}
for line in open(sys.argv[1]):
    k, v = line.rstrip("\n").split("\t", 1)
    d = out
    *path, last = k.split(".")
    for p in path:
        d = d.setdefault(p, {})
    d[last] = v
print(json.dumps(out, indent=2))
PY
else
  step "done: everything ran in namespaces ${LAB_ID}* (removed now)"
fi
