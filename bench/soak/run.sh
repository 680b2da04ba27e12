#!/usr/bin/env bash
# Soak: guests keep renewing leases and resolving names while vnetd is killed and restarted.
#
#   bench/soak/run.sh [--quick] [--guests N] [--duration S] [--kill-every S]
#       defaults: 50 guests, 300 s, kill -9 every 30 s;  --quick: 10 guests, 60 s, every 20 s
#
# One NAT network ("soak", 10.77.0.0/24, STP off, 2-minute leases) in the netns lab, N guest
# namespaces attached with `vnetctl port-add --netns`, each running busybox udhcpc (-f, its
# hostname sent) whose script appends every bound/renew to a per-guest history. A python3
# driver (bench/soak/driver.py) opens one UDP socket per guest INSIDE the guest's namespace
# (setns) and, for the whole run, makes every guest renew its lease every ~3 s (SIGUSR1 to its
# udhcpc) and resolve a local name (another guest's hostname) and a forwarded one
# (www.example.test, upstream in the inet namespace) once a second. Every KILL_EVERY seconds
# vnetd is killed with SIGKILL and started again at once; half-way between kills our table's
# forward accept rule is deleted by hand and the time until it is back is measured (repair).
# vnetd's RSS is sampled every 2 s.
#
# Report: leases lost (a guest's address missing from net-dhcp-leases at the end, or a guest's
# address changing during the run; must be 0), addresses handed out twice (two guests with
# one address; must be 0), DNS queries failed in total and how far each was from the nearest
# kill, restart time (kill -> API answers), repair latency, RSS per vnetd instance.
# Benchmarks are not tests: this prints figures and exits 0 unless the lab itself fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

GUESTS=50
DURATION=300
KILL_EVERY=30
while [ $# -gt 0 ]; do
  case $1 in
    --quick) GUESTS=10; DURATION=60; KILL_EVERY=20 ;;
    --guests) GUESTS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --kill-every) KILL_EVERY=$2; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "bench/soak: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[[ $GUESTS =~ ^[0-9]+$ ]] && [ "$GUESTS" -ge 2 ] && [ "$GUESTS" -le 200 ] || { echo "--guests must be 2..200" >&2; exit 2; }

source "$ROOT/testing/lab/lab.sh"
lab_bench_preflight bench/soak busybox python3 nft ip
LAB_QUIET=1
lab_init
say() { echo "bench/soak: $*" >&2; }

lab_up
lab_dns_server
mkdir -p "$LAB_DIR/etc/networks" "$LAB_DIR/hist"
cat > "$LAB_DIR/etc/networks/soak.xml" <<'XML'
<network>
  <name>soak</name>
  <forward mode='nat'/>
  <bridge name='soakbr' stp='off'/>
  <domain name='soak.test' localOnly='yes'/>
  <ip address='10.77.0.1' prefix='24'>
    <dhcp>
      <range start='10.77.0.10' end='10.77.0.250'>
        <lease expiry='2' unit='minutes'/>
      </range>
    </dhcp>
  </ip>
</network>
XML
# Appends "epoch event ip" for every bound/renew (the lab's script keeps only the last one).
cat > "$LAB_DIR/soak-udhcpc.sh" <<'SH'
#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface" ;;
  bound|renew)
    ip addr replace "$ip/${mask:-24}" dev "$interface"
    ip route replace default via "${router%% *}" dev "$interface" 2>/dev/null
    echo "$(date +%s.%N) $1 $ip" >> "$SOAK_HIST"
    ;;
esac
exit 0
SH
chmod +x "$LAB_DIR/soak-udhcpc.sh"

lab_start_vnetd --log-level warn
lab_ctl net-start soak >/dev/null
say "starting $GUESTS guests"
declare -a UPIDS
for i in $(seq 1 "$GUESTS"); do
  lab_guest "g$i" soak
  lab_bg "$(lab_ns "g$i")" "$LAB_DIR/g$i.udhcpc.log" env SOAK_HIST="$LAB_DIR/hist/g$i" \
    busybox udhcpc -i eth0 -f -t 5 -T 1 -x "hostname:g$i" -s "$LAB_DIR/soak-udhcpc.sh"
  UPIDS+=("$LAB_LAST_PID")
done
for i in $(seq 1 "$GUESTS"); do
  for _ in $(seq 100); do [ -s "$LAB_DIR/hist/g$i" ] && break; sleep 0.1; done
  [ -s "$LAB_DIR/hist/g$i" ] || { say "guest g$i got no lease"; exit 1; }
done
say "all $GUESTS guests have a lease; soaking for $DURATION s, kill -9 every $KILL_EVERY s"

printf '%s\n' "${UPIDS[@]}" > "$LAB_DIR/udhcpc.pids"
guest_ns=()
for i in $(seq 1 "$GUESTS"); do guest_ns+=("$(lab_ns "g$i")"); done
python3 "$ROOT/bench/soak/driver.py" --duration "$DURATION" --server 10.77.0.1 \
  --pids "$LAB_DIR/udhcpc.pids" --out "$LAB_DIR/queries.log" "${guest_ns[@]}" \
  > "$LAB_DIR/driver.out" 2>&1 &
DRIVER=$!
LAB_PIDS+=("$DRIVER")

rss_of() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
now() { date +%s.%N; }
: > "$LAB_DIR/kills.log"; : > "$LAB_DIR/rss.log"; : > "$LAB_DIR/repairs.log"
instance=1
t_end=$(( $(date +%s) + DURATION ))
next_kill=$(( $(date +%s) + KILL_EVERY ))
repaired_this_cycle=0
while [ "$(date +%s)" -lt "$t_end" ]; do
  t=$(date +%s)
  echo "$(now) $instance $(rss_of "$LAB_VNETD_PID")" >> "$LAB_DIR/rss.log"
  if [ "$repaired_this_cycle" = 0 ] && [ "$t" -ge $(( next_kill - KILL_EVERY / 2 )) ]; then
    repaired_this_cycle=1
    h=$(lab_host nft -a list chain inet vnet from_guests 2>/dev/null |
        sed -n 's/.*@outbound4 accept .*# handle \([0-9]*\)$/\1/p')
    if [ -n "$h" ]; then
      t0=$(now)
      lab_host nft delete rule inet vnet from_guests handle "$h"
      back=""
      deadline=$(( $(date +%s) + 5 ))
      while [ "$(date +%s)" -le "$deadline" ]; do
        if lab_host nft list chain inet vnet from_guests 2>/dev/null | grep -q '@outbound4 accept'; then back=$(now); break; fi
      done
      echo "$t0 ${back:-never}" >> "$LAB_DIR/repairs.log"
    fi
  fi
  if [ "$t" -ge "$next_kill" ]; then
    t0=$(now)
    kill -KILL "$LAB_VNETD_PID"
    wait "$LAB_VNETD_PID" 2>/dev/null || true
    lab_start_vnetd --log-level warn
    t1=$(now)
    instance=$((instance + 1))
    echo "$t0 $t1" >> "$LAB_DIR/kills.log"
    next_kill=$(( $(date +%s) + KILL_EVERY ))
    repaired_this_cycle=0
  fi
  sleep 2
done
wait "$DRIVER" || { say "driver failed:"; cat "$LAB_DIR/driver.out" >&2; exit 1; }
lab_ctl -o json net-dhcp-leases soak > "$LAB_DIR/leases.json"
for i in $(seq 1 "$GUESTS"); do
  echo "g$i $(lab_in "g$i" cat /sys/class/net/eth0/address)" >> "$LAB_DIR/macs"
done

python3 - "$LAB_DIR" "$GUESTS" "$DURATION" "$KILL_EVERY" <<'PY'
import json, statistics as st, sys
d, n, duration, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
macs = dict(l.split() for l in open(f"{d}/macs"))
leases = json.load(open(f"{d}/leases.json"))
if isinstance(leases, dict): leases = leases.get("leases", [])
by_mac = {l["mac"].lower(): l["ip"] for l in leases}
lost, changed, holders = [], [], {}
for i in range(1, n + 1):
    g = f"g{i}"
    hist = [l.split() for l in open(f"{d}/hist/{g}")]
    ips = [h[2] for h in hist]
    if len(set(ips)) > 1: changed.append(f"{g}: {' -> '.join(dict.fromkeys(ips))}")
    for ip in set(ips): holders.setdefault(ip, set()).add(g)
    if by_mac.get(macs[g].lower()) != ips[-1]: lost.append(f"{g} holds {ips[-1]}, server lists {by_mac.get(macs[g].lower())}")
twice = {ip: sorted(gs) for ip, gs in holders.items() if len(gs) > 1}
renews = sum(sum(1 for _ in open(f"{d}/hist/g{i}")) for i in range(1, n + 1))
kills = [tuple(map(float, l.split())) for l in open(f"{d}/kills.log")]
restart = [b - a for a, b in kills]
q = [l.split() for l in open(f"{d}/queries.log")]
total = len(q); failed = [float(x[0]) for x in q if x[2] != "ok"]
def dist(t):
    return min((abs(t - a) for a, _ in kills), default=float("inf"))
near = [dist(t) for t in failed]
rep = [l.split() for l in open(f"{d}/repairs.log")]
rep_ms = [(float(b) - float(a)) * 1000 for a, b in rep if b != "never"]
never = sum(1 for _, b in rep if b == "never")
rss = {}
for l in open(f"{d}/rss.log"):
    t, inst, kb = l.split()
    if int(kb) > 0: rss.setdefault(int(inst), []).append(int(kb))
print(f"\n== bench/soak ({n} guests, {duration} s, vnetd killed with -9 every {every} s: {len(kills)} kills)")
print(f"leases       : {renews} bound/renew events; lost {len(lost)} (must be 0); address changed for {len(changed)} guests")
for x in lost + changed: print(f"               {x}")
print(f"handed twice : {len(twice)} addresses held by two guests (must be 0) {twice if twice else ''}")
print(f"DNS          : {total} queries, {len(failed)} failed ({100.0 * len(failed) / max(total, 1):.2f}%)", end="")
if failed: print(f"; failures within {max(near):.1f} s of a kill (median {st.median(near):.2f} s)")
else: print()
if restart: print(f"restart      : kill -> API answers median {st.median(restart) * 1000:.0f} ms, max {max(restart) * 1000:.0f} ms")
if rep: print(f"repair       : forward accept rule deleted {len(rep)} times: back after median {st.median(rep_ms) if rep_ms else float('nan'):.0f} ms, max {max(rep_ms) if rep_ms else float('nan'):.0f} ms; never repaired (within 5 s) {never}")
if rss:
    last = {i: v[-1] / 1024 for i, v in rss.items()}
    firsts = [v[0] / 1024 for v in rss.values()]
    print("RSS (MB)     : per vnetd instance, last sample: " + " ".join(f"{last[i]:.1f}" for i in sorted(last)))
    print(f"               first instance {last[min(last)]:.1f}, last instance {last[max(last)]:.1f}; max over the run {max(max(v) for v in rss.values()) / 1024:.1f}")
PY
