#!/usr/bin/env bash
# Issue 6: a start that fails leaves nothing behind, with real conflicts in the lab kernel:
# a route that exists already (the start fails half-way, after the bridge and its
# addresses), the DHCP port taken by another process (fails after bridge, addresses and
# rules), a bridge name taken by a non-bridge and a subnet already routed (refused before
# anything). After each: no bridge, no rules, ip_forward as it was, the network inactive,
# and once the conflict is gone the same start works. A failing net-update changes nothing.
source "$(dirname "$0")/../lib.sh"
it_begin
lab_up

# A definition present at the first start: no default network, so ip_forward stays 0.
mkdir -p "$LAB_DIR/etc/networks"
cat > "$LAB_DIR/etc/networks/tx.xml" <<'XML'
<network>
  <name>tx</name>
  <forward mode='nat'/>
  <bridge name='txbr' stp='off'/>
  <ip address='10.76.0.1' prefix='24'>
    <dhcp>
      <range start='10.76.0.100' end='10.76.0.199'/>
    </dhcp>
  </ip>
  <route address='10.201.0.0' prefix='24' gateway='10.76.0.2'/>
</network>
XML
lab_host sysctl -qw net.ipv4.ip_forward=0
lab_start_vnetd

nothing_left() {
  ! lab_host ip link show txbr >/dev/null 2>&1 || { echo "bridge txbr exists"; return 1; }
  ! lab_host nft list table inet vnet 2>/dev/null | grep -q 'txbr' || { echo "elements of txbr remain"; lab_host nft list table inet vnet; return 1; }
  [ "$(lab_host sysctl -n net.ipv4.ip_forward)" = 0 ] || { echo "ip_forward left on"; return 1; }
  lab_ctl net-list --all | grep -Eq '^ tx +inactive' || { echo "tx not inactive"; return 1; }
}
check "before: nothing of tx exists" nothing_left

# 1. The <route> exists already: addRoute fails after the bridge is up with its address.
lab_host ip route add 10.201.0.0/24 via 203.0.113.1
check_output "start with an existing route fails, naming the route" \
  'network/route\[1\] \(line 10\): adding route 10.201.0.0/24 via 10.76.0.2 dev txbr: File exists' \
  lab_ctl net-start tx
check "after the half-way failure nothing is left" nothing_left
lab_host ip route del 10.201.0.0/24 via 203.0.113.1

# 2. UDP port 67 taken by another process: the DHCP service cannot start, after the whole
# datapath (bridge, addresses, route, forwarding, rules) was built.
lab_bg "$LAB_HOST" "$LAB_DIR/holder.log" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 67))
print("READY", flush=True)
time.sleep(600)'
HOLDER=$LAB_LAST_PID
lab_wait_for grep -q READY "$LAB_DIR/holder.log"
check_output "start with port 67 taken fails, naming the port" 'bind port 67.*Address already in use' \
  lab_ctl net-start tx
check "after the services failure nothing is left" nothing_left
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null

# 3. The bridge name is taken by a device that is not a bridge: refused before anything.
lab_dev "$LAB_HOST" txbr
check_output "start with the bridge name taken by a veth is a conflict" \
  'the name txbr is taken by a device that is not a bridge' lab_ctl net-start tx
check_output "the veth is untouched" 'txbr@txbrp' lab_host ip -o link show txbr
lab_host ip link del txbr
check "after the refusal nothing is left" nothing_left

# 4. The subnet is already routed on another interface.
lab_dev "$LAB_HOST" busy0
lab_host ip addr add 10.76.0.200/24 dev busy0
lab_host ip link set busy0 up
check_output "start with the subnet routed elsewhere is a conflict" \
  '10.76.0.0/24 is already routed on busy0' lab_ctl net-start tx
lab_host ip link del busy0
check "after the refusal nothing is left" nothing_left

# Conflicts gone: the same start works, and stop cleans up.
check "start works once the conflicts are gone" lab_ctl net-start tx
check_output "the bridge is up with its address" '10.76.0.1/24' lab_host ip -br addr show txbr
check_output "the route is there" '10.201.0.0/24 via 10.76.0.2 dev txbr' lab_host ip route show 10.201.0.0/24

# A failing net-update changes nothing: definition, live definition, DHCP config.
lab_ctl net-update tx add ip-dhcp-host "<host mac='52:54:00:76:00:01' name='keep' ip='10.76.0.10'/>" >/dev/null
live_before=$(lab_ctl net-dumpxml tx)
def_before=$(cat "$LAB_DIR/etc/networks/tx.xml")
check_output "an update outside the subnet is refused with the element path" \
  "network/ip\[1\]/dhcp/host\[2\]: ip 10.77.0.11 is outside 10.76.0.0/24" \
  lab_ctl net-update tx add ip-dhcp-host "<host mac='52:54:00:76:00:02' ip='10.77.0.11'/>"
check_output "an update with broken XML is refused with the line" \
  "ip-dhcp-host: line 1, column" lab_ctl net-update tx add ip-dhcp-host "<host mac='52:54:00:76:00:02'"
check "the running definition is unchanged" test "$(lab_ctl net-dumpxml tx)" = "$live_before"
check "the stored definition is unchanged" test "$(cat "$LAB_DIR/etc/networks/tx.xml")" = "$def_before"
# The DHCP server still has the static host of the successful update, and only it.
lab_guest g1 tx "" "" --mac 52:54:00:76:00:01 >/dev/null
check "the guest with the static MAC gets a lease" lab_udhcpc g1
check_output "the lease is the static address" '^ip=10.76.0.10$' cat "$LAB_DIR/g1.dhcp.bound"

check "net-destroy" lab_ctl net-destroy tx
lab_host sysctl -qw net.ipv4.ip_forward=0
check "after destroy nothing is left" nothing_left
it_end
