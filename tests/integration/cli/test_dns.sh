#!/usr/bin/env bash
# Issue 5: vnetd's DNS service with dig from guests, forwarding to the lab's inet DNS.
source "$(dirname "$0")/../lib.sh"
it_begin
lab_up
lab_dns_server
cat > "$LAB_DIR/etc/lab.xml" <<'XML'
<network>
  <name>lab</name>
  <forward mode='nat'/>
  <bridge name='labbr'/>
  <domain name='lab.test' localOnly='yes'/>
  <dns forwardPlainNames='no'>
    <host ip='10.70.0.200'><hostname>static1</hostname><hostname>alias1</hostname></host>
    <srv service='http' protocol='tcp' domain='lab.test' target='web.lab.test' port='8080' priority='10' weight='5'/>
    <txt name='info' value='hello from vnet'/>
  </dns>
  <ip address='10.70.0.1' prefix='24' localPtr='yes'>
    <dhcp><range start='10.70.0.100' end='10.70.0.150'/></dhcp>
  </ip>
</network>
XML
mkdir -p "$LAB_DIR/etc/networks" && mv "$LAB_DIR/etc/lab.xml" "$LAB_DIR/etc/networks/lab.xml"
touch "$LAB_DIR/etc/networks/autostart/lab" 2>/dev/null || { mkdir -p "$LAB_DIR/etc/networks/autostart"; touch "$LAB_DIR/etc/networks/autostart/lab"; }
lab_start_vnetd
check_output "network 'lab' autostarted" '^ lab +active' lab_ctl net-list

lab_guest a lab
lab_guest b lab
lab_udhcpc a -x hostname:alpha
lab_udhcpc b -x hostname:beta
IPA=$(grep '^ip=' "$LAB_DIR/a.dhcp.bound" | cut -d= -f2)
IPB=$(grep '^ip=' "$LAB_DIR/b.dhcp.bound" | cut -d= -f2)
d() { lab_in "$1" dig +time=2 +tries=1 @10.70.0.1 "${@:2}"; }

check "guests got leases" test -n "$IPA" -a -n "$IPB"
check_output "a guest resolves another by its DHCP host name" "^$IPB\$" d a +short beta
check_output "... and by name.DOMAIN" "^$IPB\$" d a +short beta.lab.test
check_output "static <dns><host> record" '^10\.70\.0\.200$' d a +short static1.lab.test
check_output "static host alias" '^10\.70\.0\.200$' d a +short alias1
check_output "SRV record" '^10 5 8080 web\.lab\.test\.$' d a +short SRV _http._tcp.lab.test
check_output "TXT record" '"hello from vnet"' d a +short TXT info.lab.test
check_output "PTR for a guest (localPtr)" "^beta" d a +short -x "$IPB"
check_output "a name forwarded to the inet DNS server" '^198\.51\.100\.1$' d a +short www.example.test
check_output "the inet server saw the host's uplink address" 'QUERY 203\.0\.113\.2 www\.example\.test\. 1' cat "$LAB_DIR/inet-dns.log"
check_output "a second query is answered from the cache" '^198\.51\.100\.1$' d b +short www.example.test
check "... without asking upstream again" test "$(grep -c 'www\.example\.test' "$LAB_DIR/inet-dns.log")" = 1
check_output "TCP query" '^198\.51\.100\.1$' d a +tcp +short tcp.example.test
check_output "TCP query for a local name" "^$IPB\$" d a +tcp +short beta.lab.test
check_output "localOnly: unknown name in the domain is NXDOMAIN" 'status: NXDOMAIN' d a nothere.lab.test
check_fails "localOnly: ... and was not forwarded" grep -q nothere "$LAB_DIR/inet-dns.log"
check_output "forwardPlainNames=no: unknown dot-less name is NXDOMAIN" 'status: NXDOMAIN' d a plainname
check_fails "forwardPlainNames=no: ... and was not forwarded" grep -q plainname "$LAB_DIR/inet-dns.log"
check_output "upstream NXDOMAIN passes through" 'status: NXDOMAIN' d a missing.invalid

# --- never an open resolver ---
lab_inet ip route add 10.70.0.0/24 via 203.0.113.2
check_output "a query from outside the subnet is refused" 'status: REFUSED' \
  lab_inet dig +time=2 +tries=1 @10.70.0.1 www.example.test
lab_inet ip route del 10.70.0.0/24 via 203.0.113.2

# --- live changes ---
check "net-update add dns-host" lab_ctl net-update lab add dns-host "<host ip='10.70.0.201'><hostname>added</hostname></host>"
check_output "the new record answers at once" '^10\.70\.0\.201$' d a +short added.lab.test
check "net-update delete dns-host" lab_ctl net-update lab delete dns-host "<host ip='10.70.0.201'><hostname>added</hostname></host>"
check_output "the deleted record is gone" 'status: NXDOMAIN' d a added.lab.test
lab_udhcpc_bg b -x hostname:beta
kill -USR2 "$LAB_UDHCPC_PID"
check "a released guest's name disappears" lab_wait_for bash -c "ip netns exec $(lab_ns a) dig +time=1 +tries=1 @10.70.0.1 beta.lab.test | grep -q NXDOMAIN"

# --- isolated networks never forward ---
cat > "$LAB_DIR/iso.xml" <<'XML'
<network>
  <name>iso</name>
  <bridge name='isobr'/>
  <ip address='10.71.0.1' prefix='24'><dhcp><range start='10.71.0.100' end='10.71.0.150'/></dhcp></ip>
</network>
XML
lab_ctl net-define "$LAB_DIR/iso.xml" >/dev/null && lab_ctl net-start iso >/dev/null
lab_guest i iso
lab_udhcpc i -x hostname:iso1
check_output "isolated: local names answer" '^10\.71\.0\.' lab_in i dig +time=2 +tries=1 @10.71.0.1 +short iso1
check_output "isolated: other names are refused, not forwarded" 'status: REFUSED' lab_in i dig +time=2 +tries=1 @10.71.0.1 isolated.example.test
check_fails "isolated: nothing reached the inet server" grep -q isolated "$LAB_DIR/inet-dns.log"

it_end
