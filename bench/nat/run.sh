#!/usr/bin/env bash
# NAT throughput: forwarded TCP guest -> inet through a vnet `nat` network vs the same path
# through a `route` network (no NAT; the inet host routes the guest subnet back via
# 203.0.113.2). Goal: nat >= 90% of route.
#
#   bench/nat/run.sh [--quick]      (default: iperf3 10 s x 3 repetitions each; --quick 3 s x 1)
#
# Both networks are active at once (vnet table holds both), each with one guest namespace
# (static address) attached with `vnetctl port-add --netns`; the iperf3 server runs in the
# inet namespace on 198.51.100.1. Runs alternate nat, route, nat, route, ... so machine noise
# hits both alike; each run's figure is iperf3's received rate (first second omitted), the
# result the median over repetitions. Everything runs in the lab's namespaces.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

T=10
REPS=3
while [ $# -gt 0 ]; do
  case $1 in
    --quick) T=3; REPS=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
  esac
  shift
done

source "$ROOT/testing/lab/lab.sh"
lab_bench_preflight bench/nat iperf3 ip python3

LAB_QUIET=1
lab_init
lab_up
say() { echo "bench/nat: $*" >&2; }

mkdir -p "$LAB_DIR/etc/networks"
netdef() {  # netdef NAME MODE THIRD_OCTET
  cat > "$LAB_DIR/etc/networks/$1.xml" <<XML
<network>
  <name>$1</name>
  <forward mode='$2'/>
  <bridge name='$1' stp='on' delay='0'/>
  <ip address='10.$3.0.1' prefix='24'>
    <dhcp><range start='10.$3.0.2' end='10.$3.0.254'/></dhcp>
  </ip>
</network>
XML
}
netdef bnat nat 10
netdef broute route 11
lab_start_vnetd --log-level warn
lab_ctl net-start bnat >/dev/null
lab_ctl net-start broute >/dev/null
lab_inet ip route add 10.11.0.0/24 via 203.0.113.2

lab_guest gn bnat 10.10.0.10/24 10.10.0.1
lab_guest gr broute 10.11.0.10/24 10.11.0.1
lab_bg "$LAB_INET" "$LAB_DIR/iperf3-server.log" iperf3 -s -B 198.51.100.1 --forceflush
for _ in $(seq 100); do
  lab_inet bash -c 'echo > /dev/tcp/198.51.100.1/5201' 2>/dev/null && break
  sleep 0.05
done
for g in gn gr; do
  lab_in "$g" ping -c 1 -W 2 198.51.100.1 >/dev/null || { say "guest $g cannot reach the inet host"; exit 1; }
done

# run GUEST OUTFILE: one iperf3 run, prints Gbit/s received (first second omitted)
run() {
  local i
  for i in 1 2 3; do   # the server takes one client at a time; a late previous one may hold it
    if lab_in "$1" iperf3 -c 198.51.100.1 -t "$T" -O 1 -J > "$2" 2>/dev/null; then break; fi
    sleep 1
  done
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
if "error" in d: sys.exit("iperf3: " + d["error"])
print(d["end"]["sum_received"]["bits_per_second"] / 1e9)' "$2"
}

nat=() route=()
for r in $(seq "$REPS"); do
  nat+=("$(run gn "$LAB_DIR/nat$r.json")")
  route+=("$(run gr "$LAB_DIR/route$r.json")")
  say "repetition $r: nat $(printf %.2f "${nat[-1]}") Gbit/s, route $(printf %.2f "${route[-1]}") Gbit/s"
done

# What the inet host saw: the uplink address for nat, the guest's own address for route.
seen=$(grep -o 'Accepted connection from [0-9.]*' "$LAB_DIR/iperf3-server.log" | awk '{print $4}' | sort | uniq -c |
  awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')

python3 - "$T" "$REPS" "$seen" "${nat[*]}" "${route[*]}" <<'PY'
import statistics, sys
T, reps, seen = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
nat = [float(x) for x in sys.argv[4].split()]
route = [float(x) for x in sys.argv[5].split()]
n, r = statistics.median(nat), statistics.median(route)
runs = lambda v: ", ".join(f"{x:.2f}" for x in v)
print(f"\n== bench/nat (iperf3 {T} s x {reps}, guest -> inet 198.51.100.1, one TCP stream)")
print(f"nat   network: median {n:.2f} Gbit/s  (runs: {runs(nat)})")
print(f"route network: median {r:.2f} Gbit/s  (runs: {runs(route)})")
print(f"ratio        : nat/route {100 * n / r:.1f}% (goal >= 90%)")
print(f"inet saw     : {seen}  (203.0.113.2 = masqueraded nat guest, 10.11.0.10 = routed guest)")
PY
