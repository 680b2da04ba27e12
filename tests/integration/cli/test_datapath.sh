#!/usr/bin/env bash
# Issue 3: the datapath of every forward mode, with real packets in the lab.
source "$(dirname "$0")/../lib.sh"
it_begin
lab_up
lab_http_server
lab_start_vnetd

netdef() {  # netdef NAME MODE BRIDGE THIRD_OCTET [extra forward attrs]
  local mode_el=""
  [ "$2" != none ] && mode_el="<forward mode='$2'${5:-}/>"
  cat > "$LAB_DIR/$1.xml" <<XML
<network>
  <name>$1</name>
  $mode_el
  <bridge name='$3'/>
  <ip address='10.$4.0.1' prefix='24'/>
</network>
XML
  lab_ctl net-define "$LAB_DIR/$1.xml" >/dev/null && lab_ctl net-start "$1" >/dev/null
}

# --- nat (the default network) ---
lab_guest g1 default 192.168.122.10/24 192.168.122.1
lab_guest g2 default 192.168.122.11/24 192.168.122.1
check "nat: guest pings the inet host" lab_in g1 ping -c 1 -W 2 198.51.100.1
check_output "nat: guest fetches a page" 'hello from the inet host' lab_in g1 curl -s --max-time 5 http://198.51.100.1/
check_output "nat: the inet host saw the uplink address 203.0.113.2" '^203\.0\.113\.2 ' tail -1 "$LAB_DIR/http.log"
if grep -q '^192\.168\.' "$LAB_DIR/http.log"; then fail "nat: inet saw a guest address"; else pass "nat: inet never saw a guest address"; fi
lab_inet tcpdump -l -n -i uplink-peer icmp > "$LAB_DIR/cap.txt" 2>/dev/null &
TCPDUMP=$!; LAB_PIDS+=($TCPDUMP); sleep 0.5
lab_in g2 ping -c 2 -W 2 198.51.100.1 >/dev/null
sleep 0.3; kill "$TCPDUMP" 2>/dev/null; wait "$TCPDUMP" 2>/dev/null
check_output "nat: capture on the inet side shows the host as source" '203\.0\.113\.2 > 198\.51\.100\.1: ICMP echo request' cat "$LAB_DIR/cap.txt"
if grep -q '192\.168\.122' "$LAB_DIR/cap.txt"; then fail "nat: guest address leaked to the uplink"; else pass "nat: no guest address on the uplink"; fi
check "nat: guests reach each other" lab_in g1 ping -c 1 -W 2 192.168.122.11
check "nat: guest reaches the host's bridge address" lab_in g1 ping -c 1 -W 2 192.168.122.1
lab_inet ip route add 192.168.122.0/24 via 203.0.113.2
check_fails "nat: inet cannot open a connection to a guest" lab_inet ping -c 1 -W 1 192.168.122.10
lab_inet ip route del 192.168.122.0/24 via 203.0.113.2
check_output "nat: our table has the masquerade rule" 'masquerade' lab_host nft list table inet vnet
check_output "ip_forward is on in the host namespace" '^1$' lab_host cat /proc/sys/net/ipv4/ip_forward
check_output "no IPv6 on a bridge without IPv6" '^1$' lab_host cat /proc/sys/net/ipv6/conf/vnbr0/disable_ipv6
check_output "the bridge has STP on" 'stp_state 1' lab_host ip -d link show vnbr0

# --- isolated ---
netdef iso none isobr 20
lab_guest i1 iso 10.20.0.10/24 10.20.0.1
lab_guest i2 iso 10.20.0.11/24 10.20.0.1
check "isolated: guest <-> guest" lab_in i1 ping -c 1 -W 2 10.20.0.11
check "isolated: guest -> host" lab_in i1 ping -c 1 -W 2 10.20.0.1
check_fails "isolated: guest -> inet fails" lab_in i1 ping -c 1 -W 1 198.51.100.1
lab_inet ip route add 10.20.0.0/24 via 203.0.113.2
check_fails "isolated: inet -> guest fails" lab_inet ping -c 1 -W 1 10.20.0.10
lab_inet ip route del 10.20.0.0/24 via 203.0.113.2

# --- route (with a <route> via a guest) ---
cat > "$LAB_DIR/rt.xml" <<'XML'
<network>
  <name>rt</name>
  <forward mode='route'/>
  <bridge name='rtbr'/>
  <mtu size='1400'/>
  <ip address='10.30.0.1' prefix='24'/>
  <route address='10.99.0.0' prefix='24' gateway='10.30.0.10'/>
</network>
XML
lab_ctl net-define "$LAB_DIR/rt.xml" >/dev/null && lab_ctl net-start rt >/dev/null
check_output "route: <route> is installed via the guest" '10\.99\.0\.0/24 via 10\.30\.0\.10 dev rtbr' lab_host ip route
check_output "route: <mtu> is set on the bridge" 'mtu 1400' lab_host ip link show rtbr
lab_guest r1 rt 10.30.0.10/24 10.30.0.1
lab_inet ip route add 10.30.0.0/24 via 203.0.113.2
check "route: inet reaches the guest" lab_inet ping -c 1 -W 2 10.30.0.10
check "route: guest reaches inet" lab_in r1 curl -s --max-time 5 -o /dev/null http://198.51.100.1/
check_output "route: inet saw the guest's own address" '^10\.30\.0\.10 ' tail -1 "$LAB_DIR/http.log"

# --- open ---
netdef opn open opbr 40
if lab_host nft list table inet vnet | grep -q 'opbr'; then fail "open: our table has elements for it"; else pass "open: no elements of this network in our table"; fi
lab_guest o1 opn 10.40.0.10/24 10.40.0.1
lab_inet ip route add 10.40.0.0/24 via 203.0.113.2
check "open: guest and inet reach each other (no rules, no NAT)" lab_in o1 ping -c 1 -W 2 198.51.100.1
check "open: inet reaches the guest" lab_inet ping -c 1 -W 2 10.40.0.10

# --- two NAT networks cannot reach each other ---
netdef nat2 nat natbr2 50
lab_guest n1 nat2 10.50.0.10/24 10.50.0.1
check "second nat network reaches inet" lab_in n1 ping -c 1 -W 2 198.51.100.1
check_fails "nat2 guest cannot reach a default guest" lab_in n1 ping -c 1 -W 1 192.168.122.10
check_fails "default guest cannot reach a nat2 guest" lab_in g1 ping -c 1 -W 1 10.50.0.10

# --- tap ports ---
check_output "port-add --tap makes vnetN with libvirt's MAC rule" 'Port vnet[0-9]+ added.*guest MAC 52:54:00:aa:bb:cc, host MAC fe:54:00:aa:bb:cc' \
  lab_ctl port-add default --tap --mac 52:54:00:aa:bb:cc --owner 1000
TAP=$(lab_ctl -o json port-list default | python3 -c 'import json,sys; print([p["name"] for p in json.load(sys.stdin) if p["kind"]=="tap"][0])')
check_output "the tap is persistent with vnet_hdr and no pi" 'tun type tap pi off vnet_hdr on persist on' lab_host ip -d link show "$TAP"
check_output "the tap belongs to uid 1000" '^1000$' lab_host cat "/sys/class/net/$TAP/owner"
check_output "the tap's master is vnbr0" 'master vnbr0' lab_host ip link show "$TAP"
check "port-del removes it" lab_ctl port-del default "$TAP"
check_fails "the tap is gone" lab_host ip link show "$TAP"
lab_host ip tuntap add dev foreign0 mode tap
lab_host ip link set foreign0 master vnbr0
check_output "a tap someone else put on our bridge shows in port-list" 'foreign0 +adopted' lab_ctl port-list default
lab_host ip link del foreign0

# --- bridge mode: an existing bridge, nothing created ---
lab_host ip link add extbr type bridge
lab_host ip link set extbr up
cat > "$LAB_DIR/brmode.xml" <<'XML'
<network>
  <name>brmode</name>
  <forward mode='bridge'/>
  <bridge name='extbr'/>
</network>
XML
lab_ctl net-define "$LAB_DIR/brmode.xml" >/dev/null
before_tbl=$(lab_host nft list table inet vnet)
check "bridge mode: starts on the existing bridge" lab_ctl net-start brmode
check "bridge mode: no rules added" test "$before_tbl" = "$(lab_host nft list table inet vnet)"
lab_netns_add "$(lab_ns bm1)"
check "bridge mode: port-add attaches to the existing bridge" lab_ctl port-add brmode --netns "$(lab_ns bm1)"
check_output "bridge mode: the veth is on extbr" 'master extbr' lab_host ip -o link show master extbr
check "bridge mode: net-destroy" lab_ctl net-destroy brmode
check "bridge mode: the bridge itself stays" lab_host ip link show extbr
check_fails "bridge mode: our port is gone from it" bash -c "ip netns exec $LAB_HOST ip -o link show master extbr | grep -q ."

# --- refused starts leave the namespace exactly as before ---
# IPv6 DAD ends on its own timer ("tentative" goes away about 1 s after a link gets carrier,
# e.g. extbr above): not a change anyone made.
snapshot() { lab_host ip -o link show | sed 's/^[0-9]*: //' | sort; lab_host ip -o addr show | sed 's/^[0-9]*: //; s/ tentative//' | sort; lab_host nft list ruleset; }
lab_dev "$LAB_HOST" busy0
lab_host ip addr add 10.60.0.5/24 dev busy0
lab_host ip link set busy0 up
netdef_only() { sed "s/iso/$1/; s/isobr/$2/; s/10.20.0/10.$3.0/" "$LAB_DIR/iso.xml" > "$LAB_DIR/$1.xml"; lab_ctl net-define "$LAB_DIR/$1.xml" >/dev/null; }
netdef_only routed routedbr 60
before=$(snapshot)
check_output "refused: subnet already routed" '10.60.0.0/24 is already routed on busy0' lab_ctl net-start routed
check "refused start (routed subnet) left the namespace as it was" test "$before" = "$(snapshot)"
lab_dev "$LAB_HOST" takenbr
netdef_only taken takenbr 61
before=$(snapshot)
check_output "refused: bridge name taken by a non-bridge" 'takenbr is taken by a device that is not a bridge' lab_ctl net-start taken
check "refused start (name taken) left the namespace as it was" test "$before" = "$(snapshot)"
sed "s/iso/unsup/; s/isobr/unsupbr/; s/10.20.0/10.62.0/; s#</network>#<portgroup name='pg'/></network>#" "$LAB_DIR/iso.xml" > "$LAB_DIR/unsup.xml"
lab_ctl net-define "$LAB_DIR/unsup.xml" >/dev/null
before=$(snapshot)
check_output "refused: unsupported element" 'not supported yet: .*portgroup.*\(line [0-9]+\)' lab_ctl net-start unsup
check "refused start (unsupported) left the namespace as it was" test "$before" = "$(snapshot)"

# --- destroy leaves nothing ---
for n in iso rt opn nat2 default; do lab_ctl net-destroy "$n" >/dev/null; done
check_fails "no vnet bridges left (extbr is the test's own)" bash -c "ip netns exec $LAB_HOST ip -o link show type bridge | grep -v extbr | grep -q ."
check_fails "no vnet ports left" bash -c "ip netns exec $LAB_HOST ip -o link show | grep -Eq 'vnet[0-9]|vnh'"
table=$(lab_host nft list table inet vnet 2>/dev/null || true)
check "no element of any destroyed network left in our table" \
  bash -c "! printf '%s' \"\$1\" | grep -Eq 'vnbr0|isobr|rtbr|natbr2|192\.168\.122|10\.(20|30|50)\.0'" _ "$table"

it_end
