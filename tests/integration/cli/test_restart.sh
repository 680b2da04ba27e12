#!/usr/bin/env bash
# Issue 6: restart without disruption. Stopping vnetd (SIGTERM) or killing it (-9) leaves
# the kernel datapath alone; the next vnetd adopts bridges, ports, rules and leases without
# recreating them, so a TCP transfer through NAT runs across the restart. A crash in the
# middle of a start leaves nothing the next vnetd cannot clean up.
source "$(dirname "$0")/../lib.sh"
it_begin
lab_up
lab_http_server
lab_start_vnetd

MIB=8
dd if=/dev/urandom of="$LAB_DIR/www/big.bin" bs=1M count=$MIB status=none
SUM=$(sha256sum < "$LAB_DIR/www/big.bin")

lab_guest g1 default 192.168.122.10/24 192.168.122.1
lab_guest g2 default
lab_udhcpc_bg g2 -x hostname:renewer
IP2=$(grep '^ip=' "$LAB_DIR/g2.dhcp.bound" | cut -d= -f2)
check "the DHCP guest has a lease" test -n "$IP2"

# What must not change across a restart: rules with their handles (a re-created rule gets
# a new handle), the bridge and its ports with their ifindexes, addresses, forwarding.
kernel_state() {
  lab_host nft -a list table inet vnet
  lab_host ip -o link show vnbr0 | cut -d' ' -f1-2
  lab_host ip -o link show master vnbr0 | cut -d' ' -f1-2
  lab_host ip -o addr show dev vnbr0 | awk '{print $4}'
  lab_host cat /proc/sys/net/ipv4/ip_forward
}

# transfer_across SIGNAL: a download from the inet host, slowed to 8 Mbit/s by a token
# bucket on the inet side (about 8.5 s for 8 MiB), runs while vnetd is stopped with SIGNAL
# and started again; it must complete with every byte.
transfer_across() {
  local sig=$1 out="$LAB_DIR/got.$1"
  lab_bg "$(lab_ns g1)" "$LAB_DIR/curl.$sig.log" curl -sS --max-time 60 \
    -o "$out" http://198.51.100.1/big.bin
  local curl_pid=$LAB_LAST_PID old_pid=$LAB_VNETD_PID
  sleep 2
  local size
  size=$(stat -c %s "$out" 2>/dev/null || echo 0)
  check "$sig: the transfer is under way when vnetd goes ($size bytes)" \
    test "$size" -gt 0 -a "$size" -lt $((MIB << 20))
  local before
  before=$(kernel_state)
  lab_stop_vnetd "$sig"
  check_fails "$sig: vnetd is gone" kill -0 "$old_pid"
  sleep 1
  check "$sig: the datapath is untouched while vnetd is down" test "$before" = "$(kernel_state)"
  lab_start_vnetd
  check "$sig: the restart adopted everything as it was (same rule handles, ifindexes)" \
    test "$before" = "$(kernel_state)"
  check_output "$sig: vnetd says it adopted the network as it was" \
    "network 'default' is active \(adopted as it was\)" cat "$LAB_VNETD_LOG"
  size=$(stat -c %s "$out" 2>/dev/null || echo 0)
  check "$sig: the transfer is still under way after the restart ($size bytes)" \
    test "$size" -lt $((MIB << 20))
  wait "$curl_pid"
  check "$sig: curl finished without error" test $? -eq 0
  check "$sig: every byte arrived ($MIB MiB)" test "$(stat -c %s "$out")" -eq $((MIB << 20))
  check "$sig: the content is intact" test "$(sha256sum < "$out")" = "$SUM"
}

lab_inet tc qdisc add dev uplink-peer root tbf rate 8mbit burst 32kbit latency 400ms
transfer_across KILL
transfer_across TERM
lab_inet tc qdisc del dev uplink-peer root

# DHCP after the restarts: the lease is still known and a renewal keeps the address.
check_output "the lease survived both restarts" " $IP2/24 +renewer" lab_ctl net-dhcp-leases default
rm -f "$LAB_DIR/g2.dhcp.renew"
kill -USR1 "$LAB_UDHCPC_PID"
check "the DHCP client renews with the new vnetd" lab_wait_for test -f "$LAB_DIR/g2.dhcp.renew"
check_output "and keeps its address" "^ip=$IP2$" cat "$LAB_DIR/g2.dhcp.renew"
check_output "the new vnetd logged the renewal" "lease renewed $IP2" cat "$LAB_VNETD_LOG"

# Something that drifted while vnetd was down is put right by the next one.
lab_stop_vnetd KILL
lab_host ip link set vnbr0 down
lab_host nft flush chain inet vnet from_guests
lab_start_vnetd
check_output "adoption repaired what drifted while vnetd was down" \
  "network 'default' is active \(adopted: bridge vnbr0 is down => set vnbr0 up\)" cat "$LAB_VNETD_LOG"
check_output "and re-applied the rules that differed" \
  "network 'default' adopted: chain from_guests lacks rule" cat "$LAB_VNETD_LOG"
for port in $(lab_host ip -o link show master vnbr0 | awk -F': ' '{print $2}' | cut -d@ -f1); do
  lab_wait_forwarding "$port"  # STP: a bridge set up again holds its ports for 2 x 2 s
done
check "the guest reaches the inet host again" lab_in g1 ping -c 1 -W 2 198.51.100.1

# --- a crash in the middle of a start ---
cat > "$LAB_DIR/crash.xml" <<'XML'
<network>
  <name>crash</name>
  <forward mode='nat'/>
  <bridge name='crashbr' stp='off'/>
  <ip address='10.66.0.1' prefix='24'/>
</network>
XML
lab_ctl net-define "$LAB_DIR/crash.xml" >/dev/null
crash_left() {  # what of network crash is in the kernel
  lab_host ip -o link show crashbr 2>/dev/null | cut -d' ' -f2
  lab_host nft list table inet vnet | grep -E 'crash|10\.66\.0' || true
}
for step in start:recorded start:bridge start:addresses start:firewall start:services; do
  lab_stop_vnetd TERM
  VNETD_TEST_CRASH_AT=$step lab_start_vnetd
  lab_ctl net-start crash >/dev/null 2>&1
  wait "$LAB_VNETD_PID" 2>/dev/null
  check "$step: vnetd died there (status 86)" test $? -eq 86
  LAB_VNETD_PID=
  left=$(crash_left)
  case $step in
    start:recorded) check "$step: nothing was made yet" test -z "$left" ;;
    *) check "$step: the start left something behind" test -n "$left" ;;
  esac
  lab_start_vnetd
  check_output "$step: the next vnetd says what it cleans up" \
    "network 'crash': vnetd stopped in the middle of starting it; removing what that start left" \
    cat "$LAB_VNETD_LOG"
  check "$step: nothing of the interrupted start is left" test -z "$(crash_left)"
  check_output "$step: the network is inactive" '^Active: +no' lab_ctl net-info crash
  check "$step: it starts now" lab_ctl net-start crash
  check_output "$step: and its rules are complete" '"crashbr" . 10.66.0.0/24 comment "crash"' \
    lab_host nft list set inet vnet outbound4
  lab_ctl net-destroy crash >/dev/null
done

# Autostart interrupted during vnetd's own start: the vnetd after it starts the network.
lab_ctl net-autostart crash >/dev/null
lab_stop_vnetd TERM
VNETD_TEST_CRASH_AT=start:firewall lab_start_vnetd 2>/dev/null
wait "$LAB_VNETD_PID" 2>/dev/null
check "autostart: vnetd died in the middle of it (status 86)" test $? -eq 86
LAB_VNETD_PID=
lab_start_vnetd
check_output "autostart: the network is active after the next start" '^Active: +yes' lab_ctl net-info crash
lab_guest c1 crash 10.66.0.10/24 10.66.0.1
check "autostart: a guest of it reaches the inet host" lab_in c1 ping -c 1 -W 2 198.51.100.1
check "default kept working through all of it" lab_in g1 ping -c 1 -W 2 198.51.100.1

it_end
