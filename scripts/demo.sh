#!/usr/bin/env bash
# The lab demo: vnetd on its embedded default (a NAT network), two guests, traffic to a
# simulated internet through NAT. Everything runs in network namespaces this script
# creates and removes; the machine's own network is not touched.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }
"$ROOT/scripts/install-deps.sh"
if [ ! -f "$ROOT/build/release/build.ninja" ]; then
  cmake --preset release -S "$ROOT" >/dev/null
fi
cmake --build "$ROOT/build/release" --target vnetd vnetctl >/dev/null

source "$ROOT/testing/lab/lab.sh"
LAB_QUIET=1
lab_init
lab_up
lab_http_server
lab_dns_server

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "1. vnetd starts with nothing defined: it defines and autostarts 'default' (NAT)"
lab_start_vnetd
show "$VNETCTL" --socket "$LAB_SOCK" net-list --all
show "$VNETCTL" --socket "$LAB_SOCK" net-dumpxml default
BR=$(lab_ctl -o json net-info default | python3 -c 'import json,sys; print(json.load(sys.stdin)["bridge"])')
echo "The host's bridge $BR is the guests' virtual router:"
lab_host ip -br addr show "$BR"

step "2. Two guests on 'default' ask vnetd's DHCP server for an address (busybox udhcpc)"
lab_guest kvm0 default
lab_guest kvm1 default
lab_udhcpc kvm0 -x hostname:kvm0
lab_udhcpc kvm1 -x hostname:kvm1
for g in kvm0 kvm1; do
  printf '%s got: %s\n' "$g" "$(tr '\n' ' ' < "$LAB_DIR/$g.dhcp.bound")"
done
show "$VNETCTL" --socket "$LAB_SOCK" net-dhcp-leases default
show "$VNETCTL" --socket "$LAB_SOCK" port-list default
for g in kvm0 kvm1; do
  printf '%s: eth0 %s\n' "$g" "$(lab_in $g cat /sys/class/net/eth0/address)"
done
echo "Host side (each port's MAC is its guest's MAC with the first byte set to fe):"
lab_host ip -br link show master "$BR"

step "3. Names: vnetd's DNS answers guest names and forwards the rest to the inet DNS server"
printf '$ dig +short kvm0        (from kvm1)  -> %s\n' "$(lab_in kvm1 dig +short +time=2 @192.168.122.1 kvm0)"
WWW=$(lab_in kvm1 dig +short +time=2 @192.168.122.1 www.example.test)
printf '$ dig +short www.example.test (kvm1) -> %s\n' "$WWW"

step "4. kvm1 pings and fetches a page from www.example.test ($WWW, the address DNS gave)"
lab_in kvm1 ping -c 1 -W 2 "$WWW" | sed -n '2p'
lab_in kvm1 curl -s --max-time 5 --resolve "www.example.test:80:$WWW" http://www.example.test/
echo "What the inet host saw (its access log): the host's uplink address, not the guest's:"
sed -n 's/^\([0-9.]*\) .*"GET \(.*\) HTTP.*/  client \1 asked for \2/p' "$LAB_DIR/http.log" | tail -1

step "5. The rules that make it work, each with why (vnet's own table inet vnet)"
show "$VNETCTL" --socket "$LAB_SOCK" net-rules default

step "done: everything ran in namespaces $LAB_HOST, $LAB_INET, ${LAB_ID}kvm0, ${LAB_ID}kvm1 (removed now)"
