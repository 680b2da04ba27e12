#!/bin/sh
# Re-captures the real-client packets in packets/. Run as root. Everything happens inside
# private network namespaces (unshare -n): a "server" namespace holding busybox udhcpd and
# tcpdump, and a "guest" namespace nested in it holding the clients; both vanish when this
# script exits. Never run a DHCP client in the machine's own namespace.
#   usage: capture.sh [OUTDIR]
set -eu
out=$(realpath "${1:-$(dirname "$0")/packets}")
here=$(dirname "$(realpath "$0")")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/client.sh" <<'SCRIPT'
#!/bin/sh
# Minimal client hook: configure the leased address so that unicast RELEASE can be sent.
case "$1/${reason:-}" in
  bound/*|renew/*) ip addr replace "$ip/24" dev "$interface" ;;
  */BOUND|*/REBOOT|*/RENEW) ip addr replace "$new_ip_address/24" dev "$interface" ;;
esac
exit 0
SCRIPT
chmod +x "$tmp/client.sh"
printf 'send host-name "iscguest";\nrequest subnet-mask, routers, domain-name-servers, domain-name, interface-mtu;\n' > "$tmp/dhclient.conf"
exec unshare -n sh -eu -c '
  tmp=$1; out=$2; here=$3
  unshare -n sleep 300 & gpid=$!
  sleep 0.5
  g="nsenter -t $gpid -n"
  ip link add v1 type veth peer name v0
  ip link set v0 netns $gpid
  $g ip link set v0 address 52:54:00:12:34:56
  $g ip link set v0 up; ip link set v1 up
  ip addr add 192.0.2.1/24 dev v1
  cat > $tmp/udhcpd.conf <<CONF
start 192.0.2.100
end 192.0.2.150
interface v1
max_leases 50
lease_file $tmp/udhcpd.leases
pidfile $tmp/udhcpd.pid
option subnet 255.255.255.0
option lease 600
CONF
  touch $tmp/udhcpd.leases
  busybox udhcpd -f $tmp/udhcpd.conf 2>/dev/null & dpid=$!
  tcpdump -i v1 -U -w $tmp/cap.pcap udp port 67 or udp port 68 2>/dev/null & tpid=$!
  sleep 1
  # busybox udhcpc: DISCOVER, REQUEST (selecting), RELEASE on exit (-R).
  $g busybox udhcpc -i v0 -n -q -t 3 -R -s $tmp/client.sh -x hostname:bbguest >/dev/null 2>&1 || true
  $g ip addr flush dev v0
  # ISC dhclient: DORA; then INIT-REBOOT with the remembered lease; then RELEASE.
  d="dhclient -4 -cf $tmp/dhclient.conf -sf $tmp/client.sh -lf $tmp/dhclient.leases -pf $tmp/dhclient.pid"
  # Runs dhclient in the foreground (so that its PID is ours to kill) until the hook
  # configured the leased address, at most 15 s.
  dhclient_bind() {
    $g $d -d -1 v0 >/dev/null 2>&1 & cpid=$!
    i=0
    while [ $i -lt 150 ] && ! $g ip -4 addr show dev v0 | grep -q inet; do sleep 0.1; i=$((i + 1)); done
    kill $cpid 2>/dev/null || true
    wait $cpid 2>/dev/null || true
  }
  dhclient_bind
  $g ip addr flush dev v0
  dhclient_bind
  $g timeout 10 $d -r v0 >/dev/null 2>&1 || true
  sleep 1
  kill $tpid $dpid $gpid; wait $tpid 2>/dev/null || true
  python3 $here/pcap_split.py $tmp/cap.pcap $out
' sh "$tmp" "$out" "$here"
