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

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "1. vnetd starts with nothing defined: it defines and autostarts 'default' (NAT)"
lab_start_vnetd
show "$VNETCTL" --socket "$LAB_SOCK" net-list --all
show "$VNETCTL" --socket "$LAB_SOCK" net-dumpxml default
BR=$(lab_ctl -o json net-info default | python3 -c 'import json,sys; print(json.load(sys.stdin)["bridge"])')
echo "The host's bridge $BR is the guests' virtual router:"
lab_host ip -br addr show "$BR"

step "2. Two guests on 'default' (veth ports; static addresses until DHCP lands)"
lab_guest kvm0 default 192.168.122.10/24 192.168.122.1
lab_guest kvm1 default 192.168.122.11/24 192.168.122.1
show "$VNETCTL" --socket "$LAB_SOCK" port-list default
for g in kvm0 kvm1; do
  printf '%s: eth0 %s\n' "$g" "$(lab_in $g cat /sys/class/net/eth0/address)"
done
echo "Host side (each port's MAC is its guest's MAC with the first byte set to fe):"
lab_host ip -br link show master "$BR"

step "3. kvm1 pings and fetches a page from the inet host 198.51.100.1"
lab_in kvm1 ping -c 1 -W 2 198.51.100.1 | sed -n '2p'
lab_in kvm1 curl -s --max-time 5 http://198.51.100.1/
echo "What the inet host saw (its access log): the host's uplink address, not the guest's:"
sed -n 's/^\([0-9.]*\) .*"GET \(.*\) HTTP.*/  client \1 asked for \2/p' "$LAB_DIR/http.log" | tail -1

step "4. The rules that make it work: nft list table inet vnet (host namespace)"
lab_host nft list table inet vnet

step "done: everything ran in namespaces $LAB_HOST, $LAB_INET, ${LAB_ID}kvm0, ${LAB_ID}kvm1 (removed now)"
