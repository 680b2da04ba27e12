#!/usr/bin/env bash
# Issue 4: real DHCP clients (busybox udhcpc, ISC dhclient) against vnetd's own server.
source "$(dirname "$0")/../lib.sh"
it_begin
lab_up
lab_start_vnetd

kv() { grep "^$2=" "$LAB_DIR/$1.dhcp.bound" | cut -d= -f2-; }

# --- udhcpc: address, router, DNS server, lease time ---
lab_guest g1 default
check "udhcpc gets a lease" lab_udhcpc g1 -x hostname:kvm0
IP1=$(kv g1 ip)
check "the address is in the pool" bash -c "[[ '$IP1' =~ ^192\.168\.122\.([2-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-4])$ ]]"
check "router is the bridge address" test "$(kv g1 router)" = 192.168.122.1
check "DNS server is the bridge address" test "$(kv g1 dns)" = 192.168.122.1
check "lease time is libvirt's default hour" test "$(kv g1 lease)" = 3600
check_output "the guest has the address" "$IP1/24" lab_in g1 ip -br addr show eth0
check_output "and the default route" 'default via 192.168.122.1' lab_in g1 ip route
check_output "net-dhcp-leases lists it with the hostname" "ipv4 +$IP1/24 +kvm0 +01:" lab_ctl net-dhcp-leases default
check_output "port-list shows the guest's IP" "vnet[0-9]+ +veth .* $IP1" lab_ctl port-list default
check "the guest reaches the inet host with its leased address" lab_in g1 ping -c 1 -W 2 198.51.100.1

# --- ISC dhclient ---
lab_guest g2 default
cat > "$LAB_DIR/dhclient-script" <<'SH'
#!/bin/sh
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT)
    ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface" 2>/dev/null
    ip route replace default via "$new_routers" dev "$interface"
    env | grep -E '^new_(ip_address|routers|domain_name_servers|subnet_mask|dhcp_lease_time)=' | sort > OUTFILE;;
  RELEASE|EXPIRE|STOP) ip addr flush dev "$interface";;
esac
exit 0
SH
sed -i "s#OUTFILE#$LAB_DIR/g2.dhclient#" "$LAB_DIR/dhclient-script"
chmod +x "$LAB_DIR/dhclient-script"
dhc() { lab_in g2 timeout 30 dhclient -4 -1 -lf "$LAB_DIR/g2.leases" -pf "$LAB_DIR/g2.pid" -sf "$LAB_DIR/dhclient-script" "$@" eth0; }
check "dhclient gets a lease" dhc
DHPID=$(cat "$LAB_DIR/g2.pid" 2>/dev/null); [ -n "$DHPID" ] && LAB_PIDS+=("$DHPID")
check_output "dhclient: router" 'new_routers=192.168.122.1' cat "$LAB_DIR/g2.dhclient"
check_output "dhclient: DNS server" 'new_domain_name_servers=192.168.122.1' cat "$LAB_DIR/g2.dhclient"
IP2=$(sed -n 's/^new_ip_address=//p' "$LAB_DIR/g2.dhclient")
check "two guests get different addresses" test -n "$IP2" -a "$IP2" != "$IP1"
check "dhclient releases (-r)" dhc -r
check_fails "released lease is gone from net-dhcp-leases" bash -c "'$VNETCTL' --socket '$LAB_SOCK' net-dhcp-leases default | grep -q ' $IP2/'"

# --- renew and release with a udhcpc that stays ---
lab_guest g3 default
lab_udhcpc_bg g3 -x hostname:kvm3  # not inside check: it records a PID for cleanup
check "udhcpc (daemon) bound" test -f "$LAB_DIR/g3.dhcp.bound"
IP3=$(kv g3 ip)
kill -USR1 "$LAB_UDHCPC_PID"
check "renew (SIGUSR1) is answered" lab_wait_for test -f "$LAB_DIR/g3.dhcp.renew"
check_output "renewal keeps the address" "^ip=$IP3$" cat "$LAB_DIR/g3.dhcp.renew"
check_output "vnetd logged the renewal" "lease renewed $IP3" cat "$LAB_VNETD_LOG"
kill -USR2 "$LAB_UDHCPC_PID"
check "release (SIGUSR2) removes the lease" lab_wait_for bash -c "! '$VNETCTL' --socket '$LAB_SOCK' net-dhcp-leases default | grep -q ' $IP3/'"

# --- a static host gets its fixed address and name ---
lab_guest g4 default "" "" --mac 52:54:00:00:00:44
check_output "net-update add ip-dhcp-host applies live" 'Updated network default' \
  lab_ctl net-update default add ip-dhcp-host "<host mac='52:54:00:00:00:44' name='fixed' ip='192.168.122.44'/>"
check_output "the stored definition has the host" "<host mac='52:54:00:00:00:44' name='fixed' ip='192.168.122.44'/>" cat "$LAB_DIR/etc/networks/default.xml"
check "static host gets a lease" lab_udhcpc g4
check "static host gets its fixed address" test "$(kv g4 ip)" = 192.168.122.44
check "static host gets its name" test "$(kv g4 hostname)" = fixed
check_output "the live update kept the earlier lease" " $IP1/24" lab_ctl net-dhcp-leases default
check_output "net-update with a duplicate host is refused" 'already' \
  lab_ctl net-update default add ip-dhcp-host "<host mac='52:54:00:00:00:44' name='again' ip='192.168.122.45'/>"
check_output "net-update outside the subnet is refused" 'outside|not in' \
  lab_ctl net-update default add ip-dhcp-host "<host mac='52:54:00:00:00:55' ip='10.1.1.1'/>"

# --- --mac filter and JSON ---
MAC1=$(lab_in g1 cat /sys/class/net/eth0/address)
check_output "net-dhcp-leases --mac" "$MAC1" lab_ctl net-dhcp-leases default --mac "$MAC1"
check "net-dhcp-leases --mac shows only that lease" test "$(lab_ctl net-dhcp-leases default --mac "$MAC1" | grep -c ipv4)" = 1
check "-o json leases parse" bash -c "'$VNETCTL' --socket '$LAB_SOCK' -o json net-dhcp-leases default | python3 -c 'import json,sys; l=json.load(sys.stdin); assert any(x[\"ip\"]==\"$IP1\" for x in l)'"
check_output "GET /v1/networks/default/stats counts the ACKs" '"acks": [1-9]' curl -sf --unix-socket "$LAB_SOCK" http://vnetd/v1/networks/default/stats
check "GET /v1/networks/default/leases" bash -c "curl -sf --unix-socket '$LAB_SOCK' http://vnetd/v1/networks/default/leases | grep -q '$IP1'"

# --- restart: clients renew and keep their addresses ---
lab_stop_vnetd TERM
lab_start_vnetd
check_output "leases survive a restart" " $IP1/24" lab_ctl net-dhcp-leases default
check "after restart a client asking again gets the same address" lab_udhcpc g1 -r "$IP1"
check "same address" test "$(kv g1 ip)" = "$IP1"
lab_stop_vnetd KILL
lab_start_vnetd
check_output "leases survive kill -9" " $IP1/24" lab_ctl net-dhcp-leases default
check "after kill -9 the static host renews its address" lab_udhcpc g4 -r 192.168.122.44
check "static address kept" test "$(kv g4 ip)" = 192.168.122.44

# --- an isolated network gives no router ---
cat > "$LAB_DIR/iso.xml" <<'XML'
<network>
  <name>iso</name>
  <bridge name='isobr'/>
  <ip address='10.20.0.1' prefix='24'>
    <dhcp><range start='10.20.0.100' end='10.20.0.120'/></dhcp>
  </ip>
</network>
XML
lab_ctl net-define "$LAB_DIR/iso.xml" >/dev/null && lab_ctl net-start iso >/dev/null
lab_guest i1 iso
check "isolated: udhcpc gets a lease" lab_udhcpc i1
check "isolated: no router option" test -z "$(kv i1 router)"
check "isolated: still a DNS server" test "$(kv i1 dns)" = 10.20.0.1

# --- an exhausted pool: no offer, a counter, a log line ---
cat > "$LAB_DIR/tiny.xml" <<'XML'
<network>
  <name>tiny</name>
  <bridge name='tinybr'/>
  <ip address='10.21.0.1' prefix='24'>
    <dhcp><range start='10.21.0.100' end='10.21.0.100'/></dhcp>
  </ip>
</network>
XML
lab_ctl net-define "$LAB_DIR/tiny.xml" >/dev/null && lab_ctl net-start tiny >/dev/null
lab_guest t1 tiny
lab_guest t2 tiny
check "tiny pool: the first guest gets the only address" lab_udhcpc t1
check_fails "tiny pool: the second guest gets no offer" lab_in t2 timeout 6 busybox udhcpc -i eth0 -n -q -t 2 -T 1 -s /bin/true
check "tiny pool: vnetd logs the exhausted pool (within one 10 s sweep)" \
  bash -c "for i in \$(seq 120); do grep -q \"network 'tiny': DHCP pool exhausted\" '$LAB_VNETD_LOG' && exit 0; sleep 0.1; done; exit 1"

# --- the server answers only on its own bridge ---
check_output "DHCP socket is bound to the bridge" '%vnbr0|%isobr' lab_host ss -ulpn 'sport = :67'

it_end
