#!/usr/bin/env bash
# DNS under load: dnsperf against vnetd's own DNS server and dnsmasq, in one netns lab and
# one run, for (a) local names (1,000 static <dns><host> records), (b) forwarded names that
# are cached (100 names, warmed first), (c) forwarded names that are never cached (every query
# a new name) with a fast upstream (a second dnsmasq on 198.51.100.53 in the inet namespace).
#
#   bench/dns/run.sh [--quick]
#   SCENARIOS="c" bench/dns/run.sh --quick        # only some of a b c
#   PERF_DIR=/tmp/p bench/dns/run.sh --quick      # perf record -g of each server's max runs
#
# Per server and scenario: completed queries per second with dnsperf unthrottled (closed loop,
# 100 queries outstanding) and the rate with < 1% lost (the same when the unthrottled run lost
# < 1%, else throttled runs step down), latency p50/p99 (from dnsperf -v, one line per answer),
# server CPU (utime+stime from /proc) per 1,000 queries and queries per server CPU-second, RSS;
# then both servers at one common offered rate (half the lower of their rates) to compare
# latency and CPU at equal load. Medians of the repeats.
#
# Topology (namespaces made here; nothing in the caller's namespace):
#   inet ns: upstream dnsmasq on 198.51.100.53 answering every *.example.test (TTL 300)
#   host ns: vnetd, network 'dnsb' (nat, bridge dnsbr0, 10.128.0.1/16, domain bench.test);
#            dnsmasq under test on its own bridge dbr0 10.129.0.1/16 (made with ip), forwarding
#            to 198.51.100.53 through the same uplink as vnetd
#   <id>dq:  client of vnet (eth0 10.128.255.254/16, a vnetctl port) | <id>dcli: client of dnsmasq
#
# Many clients: vnet limits each client address to 200 queries/s (burst 400; src/dns/
# rate_limiter.h, not configurable). One dnsperf from one address would measure that limit,
# not the server, so in each client namespace an nftables rule spreads dnsperf's queries over
# 1,000 source addresses (10.12X.200.0/22, round robin) and rewrites the answers back; the
# host namespace routes that /22 to the client. Both servers get the same treatment. A last
# single-address run shows the per-client limit itself.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/dns"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1

source "$ROOT/testing/lab/lab.sh"
lab_bench_preflight bench/dns dnsperf dnsmasq nft

if [ $QUICK = 1 ]; then
  DUR=1; REPS=1; COMMON_REPS=0; SINGLE_DUR=1; UNIQUE=100000
else
  DUR=8; REPS=3; COMMON_REPS=3; SINGLE_DUR=4; UNIQUE=600000
fi
NSRC=1000            # source addresses per client namespace
CLK_TCK=$(getconf CLK_TCK)
DNSPERF_OPTS=(-c 8 -q 100 -t 2)

LAB_QUIET=1
lab_init
# Private copies of the binaries: others may rebuild build/release while this runs (and
# vnetd is started more than once).
mkdir -p "$LAB_DIR/bin"
cp "$VNETD" "$VNETCTL" "$LAB_DIR/bin/"
VNETD="$LAB_DIR/bin/vnetd" VNETCTL="$LAB_DIR/bin/vnetctl"
echo "binaries: vnetd built $(date -r "$LAB_DIR/bin/vnetd" '+%F %T'), sha256 $(sha256sum "$VNETD" | cut -c1-12)"
lab_up
RES="$LAB_DIR/results.tsv"
: >"$RES"

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# ---- the fast upstream in the inet namespace ----
lab_bg "$LAB_INET" "$LAB_DIR/upstream.log" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv \
  --no-hosts --listen-address=198.51.100.53 --bind-interfaces --port=53 \
  --address=/example.test/198.51.100.1 --local-ttl=300
UP_PID=$LAB_LAST_PID

# ---- vnet ----
python3 - "$LAB_DIR/dnsb.xml" "$LAB_DIR/hosts.txt" <<'PY'
import sys
xml, hosts = sys.argv[1], sys.argv[2]
rec = "\n".join(f"    <host ip='10.128.{1 + i // 250}.{1 + i % 250}'><hostname>h{i}</hostname></host>"
                for i in range(1000))
open(xml, "w").write(f"""<network>
  <name>dnsb</name>
  <forward mode='nat'/>
  <bridge name='dnsbr0'/>
  <domain name='bench.test' localOnly='yes'/>
  <dns>
{rec}
  </dns>
  <ip address='10.128.0.1' prefix='16'/>
</network>
""")
# dnsmasq: the same names (FQDN and short) in an addn-hosts file.
open(hosts, "w").write("".join(f"10.129.{1 + i // 250}.{1 + i % 250} h{i}.bench.test h{i}\n"
                               for i in range(1000)))
PY
LAB_VNETD_LOG="$LAB_DIR/vnetd.log"
lab_start_vnetd --log-level warn
lab_ctl net-define "$LAB_DIR/dnsb.xml" >/dev/null
lab_ctl net-start dnsb >/dev/null
lab_guest dq dnsb 10.128.255.254/16
ip -n "$(lab_ns dq)" addr add 10.128.255.253/16 dev eth0   # the single-address check
lab_host ip route add 10.128.200.0/22 via 10.128.255.254 dev dnsbr0

# ---- dnsmasq under test: its own bridge in the host namespace ----
DCLI=$(lab_ns dcli)
lab_netns_add "$DCLI"
lab_host ip link add dbr0 type bridge
lab_host ip addr add 10.129.0.1/16 dev dbr0
lab_host ip link set dbr0 up
lab_host ip link add dcli0 type veth peer name eth0 netns "$DCLI"
lab_host ip link set dcli0 master dbr0
lab_host ip link set dcli0 up
ip -n "$DCLI" addr add 10.129.255.254/16 dev eth0
ip -n "$DCLI" addr add 10.129.255.253/16 dev eth0
ip -n "$DCLI" link set eth0 up
lab_host ip route add 10.129.200.0/22 via 10.129.255.254 dev dbr0
lab_bg "$LAB_HOST" "$LAB_DIR/dnsmasq.log" dnsmasq --no-daemon --conf-file=/dev/null --port=53 \
  --listen-address=10.129.0.1 --bind-interfaces --no-resolv --server=198.51.100.53 \
  --cache-size=10000 --dns-forward-max=1024 --no-hosts --addn-hosts="$LAB_DIR/hosts.txt" \
  --local=/bench.test/
DM_PID=$LAB_LAST_PID

# The source-spreading shim (see the header). $1 ns, $2 server, $3 "10.128" or "10.129".
shim() {
  local ns=$1 srv=$2 p=$3 elems
  elems=$(python3 -c "import sys; n, p = int(sys.argv[1]), sys.argv[2]; print(', '.join(f'{i} : {p}.{200 + i // 256}.{i % 256}' for i in range(n)))" "$NSRC" "$p")
  ip netns exec "$ns" nft -f - <<NFT
table ip dnsshim {
  chain out {
    type filter hook output priority raw; policy accept;
    ip saddr $p.255.254 ip daddr $srv udp dport 53 ip saddr set numgen inc mod $NSRC map { $elems }
  }
  chain pre {
    type filter hook prerouting priority raw; policy accept;
    ip saddr $srv udp sport 53 ip daddr $p.200.0/22 ip daddr set $p.255.254
  }
}
NFT
}
shim "$(lab_ns dq)" 10.128.0.1 10.128
shim "$DCLI" 10.129.0.1 10.129

declare -A CLI SRV PID
CLI[vnet]=$(lab_ns dq); SRV[vnet]=10.128.0.1; PID[vnet]=$LAB_VNETD_PID
CLI[dnsmasq]=$DCLI; SRV[dnsmasq]=10.129.0.1; PID[dnsmasq]=$DM_PID
SERVERS=(vnet dnsmasq)

# Everyone answers?
for s in "${SERVERS[@]}"; do
  ok=0
  for _ in $(seq 50); do
    if ip netns exec "${CLI[$s]}" dig +time=1 +tries=1 +short @"${SRV[$s]}" h7.bench.test | grep -q '^10\.12' &&
       ip netns exec "${CLI[$s]}" dig +time=1 +tries=1 +short @"${SRV[$s]}" warm.example.test | grep -q '^198\.51\.100\.1$'; then
      ok=1; break
    fi
    sleep 0.1
  done
  [ $ok = 1 ] || { echo "bench/dns: $s does not answer local and forwarded names"; cat "$LAB_DIR"/*.log >&2; exit 1; }
done

# Data files.
python3 - "$LAB_DIR" <<'PY'
import random, sys
d = sys.argv[1]
names = [f"h{i}.bench.test A\n" for i in range(1000)]
random.Random(1).shuffle(names)
open(f"{d}/a.txt", "w").writelines(names)
open(f"{d}/b.txt", "w").writelines(f"c{i}.example.test A\n" for i in range(100))
PY
RUNN=0
unique_file() {  # a file of names never asked before
  RUNN=$((RUNN + 1))
  python3 -c "
import sys
n, tag, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(out, 'w') as f:
    f.writelines(f'u{tag}-{i}.example.test A\n' for i in range(n))" "$UNIQUE" "$RUNN" "$LAB_DIR/c.txt"
}

# run_dnsperf SERVER SCENARIO PHASE QPS(0 = unthrottled) DURATION [SOURCE]: one TSV line.
run_dnsperf() {
  local s=$1 sc=$2 phase=$3 qps=$4 dur=$5 src=${6:-}
  local data="$LAB_DIR/$sc.txt"
  [ "$sc" = c ] && unique_file
  local out="$LAB_DIR/dnsperf.$s.$sc.$phase.$RANDOM.out" args=("${DNSPERF_OPTS[@]}")
  [ "$qps" -gt 0 ] && args+=(-Q "$qps")
  [ -n "$src" ] && args+=(-a "$src")
  local pid=${PID[$s]} c0 c1 u0 u1 t0 t1
  c0=$(cpu_ticks "$pid"); u0=$(cpu_ticks "$UP_PID")
  if [ "$phase" = max ]; then lab_perf_start "$pid" "perf.$s.$sc.data"; fi
  t0=$(date +%s%N)
  ( timeout $((dur + 20)) ip netns exec "${CLI[$s]}" dnsperf -s "${SRV[$s]}" -d "$data" -l "$dur" \
      "${args[@]}" -v >"$out" 2>&1 || true
    times >"$out.times" )
  t1=$(date +%s%N)
  c1=$(cpu_ticks "$pid"); u1=$(cpu_ticks "$UP_PID")
  lab_perf_stop
  local pc
  pc=$(sed -n 2p "$out.times" | awk '{
    t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] } print t }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$sc" "$phase" "$qps" \
    "$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN {printf "%.3f", (b - a) / t}')" "$pc" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')" \
    "$(status_kb "$pid" VmRSS)" "$(status_kb "$pid" VmHWM)" \
    "$(awk -v a="$u0" -v b="$u1" -v t="$CLK_TCK" 'BEGIN {printf "%.3f", (b - a) / t}')" \
    "$(python3 "$HERE/dnsperf_parse.py" "$out")" "$([ "$sc" = c ] && echo "$UNIQUE" || echo 0)" >>"$RES"
  rm -f "$out"   # -v output is large
  tail -1 "$RES" | awk -F'\t' '{printf "  %-8s (%s) %-7s %6s q/s asked: %8.0f q/s done, lost %6.2f%%, p50 %.3f ms p99 %.3f ms, server cpu %.2fs, dnsperf cpu %.2fs, %s\n",
    $1, $2, $3, ($4 == 0 ? "max" : $4), $15, $14, $17, $18, $5, $6, $20}'
}
field() { tail -1 "$RES" | cut -f"$1"; }

echo "== bench/dns$([ $QUICK = 1 ] && echo ' --quick') (dnsperf $(dnsperf -h 2>&1 | sed -n 's/^Version //p'); ${DUR}s runs; dnsperf ${DNSPERF_OPTS[*]}; $NSRC client addresses)"
declare -A RATE1
for sc in ${SCENARIOS:-a b c}; do
  case $sc in
    a) echo "-- (a) local names: 1,000 static host records" ;;
    b) echo "-- (b) forwarded names, cached: 100 names asked over and over (warmed first)"
       for s in "${SERVERS[@]}"; do
         ip netns exec "${CLI[$s]}" dnsperf -s "${SRV[$s]}" -d "$LAB_DIR/b.txt" -n 1 -q 10 >/dev/null 2>&1 || true
       done ;;
    c) echo "-- (c) forwarded names, never cached: every query a new name, upstream dnsmasq in inet" ;;
  esac
  for i in $(seq $REPS); do
    for s in "${SERVERS[@]}"; do run_dnsperf "$s" "$sc" max 0 "$DUR"; done
  done
  # qps at < 1% lost: the unthrottled figure when it lost < 1%, else step the offered rate down.
  for s in "${SERVERS[@]}"; do
    read -r q l < <(awk -F'\t' -v s="$s" -v sc="$sc" '$1 == s && $2 == sc && $3 == "max" {print $15, $14}' "$RES" |
      sort -n | awk '{q[NR] = $1; l[NR] = $2} END {m = int((NR + 1) / 2); print q[m], l[m]}')
    RATE1[$s$sc]=${q%.*}
    if [ $QUICK = 0 ] && awk -v l="$l" 'BEGIN {exit !(l >= 1)}'; then
      for f in 0.8 0.6 0.4 0.2; do
        qq=$(awk -v q="$q" -v f="$f" 'BEGIN {printf "%d", q * f}')
        [ "$qq" -gt 0 ] || break
        run_dnsperf "$s" "$sc" step "$qq" "$DUR"
        RATE1[$s$sc]=$(field 15 | cut -d. -f1)
        awk -v l="$(field 14)" 'BEGIN {exit !(l < 1)}' && break
      done
    fi
  done
  if [ $COMMON_REPS -gt 0 ]; then
    common=$(( ${RATE1[vnet$sc]} < ${RATE1[dnsmasq$sc]} ? ${RATE1[vnet$sc]} : ${RATE1[dnsmasq$sc]} ))
    common=$((common / 2))
    if [ "$common" -gt 0 ]; then
      for i in $(seq $COMMON_REPS); do
        for s in "${SERVERS[@]}"; do run_dnsperf "$s" "$sc" common "$common" "$DUR"; done
      done
    fi
  fi
done

echo "-- one client address (no spreading): (a) at 1000 q/s offered"
for s in "${SERVERS[@]}"; do
  p=${SRV[$s]%.0.1}
  run_dnsperf "$s" a single 1000 "$SINGLE_DUR" "$p.255.253"
done

VWARN=$(grep -ciE ' (warn|warning|error|critical) ' "$LAB_VNETD_LOG" || true)
if [ -n "${BENCH_LOG_DIR:-}" ]; then
  mkdir -p "$BENCH_LOG_DIR"
  cp "$LAB_VNETD_LOG" "$LAB_DIR/dnsmasq.log" "$LAB_DIR/upstream.log" "$RES" "$BENCH_LOG_DIR"/ 2>/dev/null || true
fi
python3 "$HERE/summarize.py" "$RES" "$VWARN" "$(nproc)"
