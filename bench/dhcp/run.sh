#!/usr/bin/env bash
# DHCPv4 under load: perfdhcp (Kea's load generator) against vnetd's own DHCP server, Kea
# (kea-dhcp4, memfile with persist=true) and dnsmasq (--no-ping, lease file on disk), all in
# one netns lab and one run. A /16 pool, fresh clients (every exchange a new MAC).
#
#   bench/dhcp/run.sh [--quick]
#   RATES="4000" SERVERS="vnetnorm kea" bench/dhcp/run.sh --quick   # some rates and servers
#   PERF_DIR=/tmp/p bench/dhcp/run.sh --quick                       # perf record -g per run
#
# Per server: the highest DORA rate with < 1% of exchanges lost (rates stepped up, servers
# interleaved at each step), DISCOVER-OFFER and REQUEST-ACK latency p50/p99, server CPU time
# (utime+stime from /proc) per 1,000 completed exchanges, server RSS; then the RSS after
# 50,000 leases. Every step starts the server afresh with an empty lease database.
#
# Topology (all inside namespaces this script makes; nothing in the caller's namespace):
#   vnet:    lab host ns: vnetd, network 'perf' (bridge pbr0 10.128.0.1/16, isolated)
#            ns <id>perf: eth0 (a vnetctl port-add --netns veth), 10.128.255.254/16, perfdhcp
#   kea:     ns <id>kea: bridge br0 10.128.0.1/16, kea-dhcp4 | ns <id>kcli: eth0 10.128.255.254/16
#   dnsmasq: ns <id>dnsm: bridge br0 10.128.0.1/16, dnsmasq | ns <id>dcli: eth0 ...
#
# perfdhcp -4 always acts as a relay agent (giaddr = its own address, hops = 1, replies to
# port 67). vnet drops relayed requests (it serves its bridge only), so in every client
# namespace alike an nftables "shim" turns perfdhcp's packets into directly connected client
# traffic: on output it zeroes hops and giaddr, sets the broadcast flag and clears the UDP
# checksum; on input it DNATs the servers' broadcast replies (255.255.255.255:68) to
# perfdhcp's socket (10.128.255.254:67). All three servers see the same plain DORA traffic.
#
# Fairness: per-lease logging off everywhere (vnetd --log-level warn, Kea severity WARN,
# dnsmasq --quiet-dhcp). Durability differs and is printed: vnet commits each batch to SQLite
# (WAL, synchronous=FULL: fsync), dnsmasq rewrites and fsyncs its whole lease file after
# changes, Kea memfile appends to its CSV without fsync. So vnet is measured twice: `vnet`
# (default, --lease-sync full: power-loss safe) and `vnetnorm` (--lease-sync normal: a lease
# is written before its ACK and survives vnetd being killed, not a power loss: Kea memfile's
# guarantee). Kea runs with its packaged defaults (Debian 12: Kea 2.2, multi-threading off).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/dhcp"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1

source "$ROOT/testing/lab/lab.sh"
lab_bench_preflight bench/dhcp perfdhcp nft

RATES_ENV=${RATES:-}
if [ $QUICK = 1 ]; then
  RATES=(500); DUR=2; REPS=0; LEASES=1000; FILL_LIMIT=4
else
  RATES=(100 250 500 1000 2000 3000 4000 6000 8000 12000 16000 24000 32000)
  DUR=10; REPS=3; LEASES=50000; FILL_LIMIT=90
fi
[ -n "${RATES_ENV:-}" ] && read -r -a RATES <<<"$RATES_ENV"
NREQ_CAP=60000        # exchanges per step at most: the pool has 65,521 addresses
CLIENTS=16000000      # perfdhcp -R: MACs are generated sequentially, so every exchange is a new client
CLK_TCK=$(getconf CLK_TCK)

WANT=(${SERVERS:-vnet vnetnorm kea dnsmasq})
SERVERS=()
KEA_MISSING="" DNSMASQ_MISSING=""
for s in "${WANT[@]}"; do
  case $s in
    vnet|vnetnorm) SERVERS+=("$s") ;;
    kea) if command -v kea-dhcp4 >/dev/null; then SERVERS+=(kea); else KEA_MISSING="kea-dhcp4 not installed (Debian package kea-dhcp4-server): Kea not measured"; fi ;;
    dnsmasq) if command -v dnsmasq >/dev/null; then SERVERS+=(dnsmasq); else DNSMASQ_MISSING="dnsmasq not installed (package dnsmasq-base): dnsmasq not measured"; fi ;;
  esac
done

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
CLI_ADDR=10.128.255.254

# ---- helpers ----
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# UDP datagrams the kernel dropped because a socket's receive buffer was full, in a namespace.
rcvbuf_errors() {
  ip netns exec "$1" awk '$1 == "Udp:" { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 } else print $(c["RcvbufErrors"]) }' /proc/net/snmp
}
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
# Proportional set size (shared pages divided among the processes mapping them), kB.
pss_kb() { awk '$1 == "Pss:" {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null; }

stop_pid() {
  local p=$1
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  lab_forget_pid "$p"
}

# The client-side shim (see the header): identical in every client namespace.
shim() {
  ip netns exec "$1" nft -f - <<NFT
table ip perfshim {
  chain out {
    type filter hook output priority mangle; policy accept;
    udp dport 67 @th,88,8 set 0 @th,144,16 set 0x8000 @th,256,32 set 0 udp checksum set 0
  }
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr 255.255.255.255 udp dport 68 dnat to $CLI_ADDR:67
  }
}
NFT
}

# A server namespace with bridge br0 10.128.0.1/16 and a client namespace on it.
incumbent_pair() {
  local srv=$1 cli=$2
  lab_netns_add "$srv"
  lab_netns_add "$cli"
  ip -n "$srv" link add br0 type bridge
  ip -n "$srv" addr add 10.128.0.1/16 dev br0
  ip -n "$srv" link set br0 up
  ip -n "$srv" link add p0 type veth peer name eth0 netns "$cli"
  ip -n "$srv" link set p0 master br0
  ip -n "$srv" link set p0 up
  ip -n "$cli" addr add "$CLI_ADDR/16" dev eth0
  ip -n "$cli" link set eth0 up
  shim "$cli"
}

# ---- vnet ----
cat >"$LAB_DIR/perf.xml" <<'XML'
<network>
  <name>perf</name>
  <bridge name='pbr0'/>
  <ip address='10.128.0.1' prefix='16'>
    <dhcp><range start='10.128.0.10' end='10.128.255.250'/></dhcp>
  </ip>
</network>
XML
LAB_VNETD_LOG="$LAB_DIR/vnetd.setup.log"
lab_start_vnetd --log-level warn
lab_ctl net-define "$LAB_DIR/perf.xml" >/dev/null
lab_ctl net-start perf >/dev/null
lab_guest perf perf "$CLI_ADDR/16"
shim "$(lab_ns perf)"
VNET_IDLE_RSS=$(status_kb "$LAB_VNETD_PID" VmRSS)
VNET_IDLE_ANON=$(status_kb "$LAB_VNETD_PID" RssAnon)
setup_pid=$LAB_VNETD_PID
lab_stop_vnetd TERM
lab_forget_pid "$setup_pid"

declare -A CLI SRVNS PID
CLI[vnet]=$(lab_ns perf); SRVNS[vnet]=$LAB_HOST
CLI[vnetnorm]=${CLI[vnet]}; SRVNS[vnetnorm]=$LAB_HOST

# ---- Kea ----
if [[ " ${SERVERS[*]} " == *" kea "* ]]; then
  CLI[kea]=$(lab_ns kcli); SRVNS[kea]=$(lab_ns kea)
  incumbent_pair "${SRVNS[kea]}" "${CLI[kea]}"
  mkdir -p "$LAB_DIR/kea"
  cat >"$LAB_DIR/kea.json" <<JSON
{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "br0" ], "dhcp-socket-type": "raw" },
    "lease-database": { "type": "memfile", "persist": true,
                        "name": "$LAB_DIR/kea-leases.csv", "lfc-interval": 0 },
    "valid-lifetime": 3600, "renew-timer": 1800, "rebind-timer": 3150,
    "subnet4": [ {
      "id": 1, "subnet": "10.128.0.0/16",
      "pools": [ { "pool": "10.128.0.10 - 10.128.255.250" } ],
      "option-data": [ { "name": "domain-name-servers", "data": "10.128.0.1" } ]
    } ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ],
                   "severity": "WARN" } ]
  }
}
JSON
fi

# ---- dnsmasq ----
if [[ " ${SERVERS[*]} " == *" dnsmasq "* ]]; then
  CLI[dnsmasq]=$(lab_ns dcli); SRVNS[dnsmasq]=$(lab_ns dnsm)
  incumbent_pair "${SRVNS[dnsmasq]}" "${CLI[dnsmasq]}"
fi

wait_dhcp_socket() {  # NS PID
  for _ in $(seq 200); do
    ip netns exec "$1" ss -Hulpn 'sport = :67' 2>/dev/null | grep -q "pid=$2," && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

srv_start() {  # SERVER TAG
  local s=$1 tag=$2
  # vnet and vnetnorm are one vnetd (one state dir, socket and bridge) started two ways.
  case $s in
    vnet) srv_stop vnetnorm ;;
    vnetnorm) srv_stop vnet ;;
  esac
  case $s in
    vnet)
      LAB_VNETD_LOG="$LAB_DIR/vnetd.$tag.log"
      lab_start_vnetd --log-level warn
      PID[vnet]=$LAB_VNETD_PID ;;
    vnetnorm)
      LAB_VNETD_LOG="$LAB_DIR/vnetd.$tag.log"
      lab_start_vnetd --log-level warn --lease-sync normal
      PID[vnetnorm]=$LAB_VNETD_PID ;;
    kea)
      lab_bg "${SRVNS[kea]}" "$LAB_DIR/kea.$tag.log" env KEA_PIDFILE_DIR="$LAB_DIR/kea" \
        KEA_LOCKFILE_DIR="$LAB_DIR/kea" kea-dhcp4 -c "$LAB_DIR/kea.json"
      PID[kea]=$LAB_LAST_PID ;;
    dnsmasq)
      lab_bg "${SRVNS[dnsmasq]}" "$LAB_DIR/dnsmasq.$tag.log" dnsmasq --no-daemon \
        --conf-file=/dev/null --port=0 --no-ping --interface=br0 --bind-interfaces \
        --dhcp-range=10.128.0.10,10.128.255.250,1h --dhcp-leasefile="$LAB_DIR/dnsmasq.leases" \
        --dhcp-authoritative --dhcp-lease-max=70000 --quiet-dhcp
      PID[dnsmasq]=$LAB_LAST_PID ;;
  esac
  if ! wait_dhcp_socket "${SRVNS[$s]}" "${PID[$s]}"; then
    echo "bench/dhcp: $s did not start; its log:" >&2
    cat "$LAB_DIR"/*"${s%norm}"*".$tag.log" >&2 2>/dev/null || true
    return 1
  fi
  sleep 0.2  # Kea opens its raw socket next to the UDP one
}

srv_stop() {
  local s=$1
  [ -n "${PID[$s]:-}" ] || return 0
  if [ "$s" = vnet ] || [ "$s" = vnetnorm ]; then
    LAB_VNETD_PID=${PID[$s]}
    lab_stop_vnetd TERM
  else
    stop_pid "${PID[$s]}"
  fi
  lab_forget_pid "${PID[$s]}"
  PID[$s]=
}

srv_clear() {
  case $1 in
    vnet|vnetnorm) rm -f "$LAB_DIR/state/leases.db" "$LAB_DIR/state/leases.db-wal" "$LAB_DIR/state/leases.db-shm" ;;
    kea) rm -f "$LAB_DIR"/kea-leases.csv* ;;
    dnsmasq) rm -f "$LAB_DIR/dnsmasq.leases" ;;
  esac
}

srv_leases() {
  case $1 in
    # Read from vnet's lease database (SQLite, WAL: readers do not block vnetd), not through
    # the API: listing tens of thousands of leases grows vnetd's heap (measured separately).
    vnet|vnetnorm) python3 -c "
import sqlite3, sys, time
try:
    db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
    print(db.execute('SELECT COUNT(*) FROM dhcp_leases WHERE state = 1 AND (expiry = 0 OR expiry > ?)', (int(time.time()),)).fetchone()[0])
except Exception:
    print(0)" "$LAB_DIR/state/leases.db" ;;
    kea) awk -F, 'NR > 1 && $1 != "" {a[$1] = 1} END {print length(a)}' "$LAB_DIR"/kea-leases.csv 2>/dev/null || echo 0 ;;
    dnsmasq) wc -l <"$LAB_DIR/dnsmasq.leases" 2>/dev/null || echo 0 ;;
  esac
}

# run_perf SERVER PHASE RATE DURATION NREQ MACBASE [fresh]: one perfdhcp run, one TSV line.
STEP=0
run_perf() {
  local s=$1 phase=$2 rate=$3 dur=$4 nreq=$5 base=$6 fresh=${7:-fresh}
  STEP=$((STEP + 1))
  local tag="$STEP"
  if [ "$fresh" = fresh ]; then
    srv_stop "$s"
    srv_clear "$s"
    srv_start "$s" "$tag" || { printf '%s\t%s\t%s\tFAILED\n' "$s" "$phase" "$rate" >>"$RES"; return 1; }
  fi
  local pid=${PID[$s]} out="$LAB_DIR/perfdhcp.$s.$tag.out"
  local c0 c1 t0 t1 pc
  c0=$(cpu_ticks "$pid")
  local e0 e1 log naks
  e0=$(rcvbuf_errors "${SRVNS[$s]}"); local f0 f1; f0=$(rcvbuf_errors "${CLI[$s]}")
  lab_perf_start "$pid" "perf.$s.$rate.$tag.data"
  t0=$(date +%s%N)
  ( timeout $((dur + 30)) ip netns exec "${CLI[$s]}" perfdhcp -4 -l eth0 -r "$rate" -R "$CLIENTS" \
      -b "mac=$base" -p "$dur" -n "$nreq" -W 1000000 -x t >"$out" 2>&1 || true
    times >"$out.times" )
  t1=$(date +%s%N)
  c1=$(cpu_ticks "$pid")
  lab_perf_stop
  e1=$(rcvbuf_errors "${SRVNS[$s]}"); f1=$(rcvbuf_errors "${CLI[$s]}")
  # `times`, second line: user and system time of the subshell's children (perfdhcp).
  pc=$(sed -n 2p "$out.times" | awk '{
    t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] } print t }')
  local parsed rss hwm leases
  parsed=$(python3 "$HERE/perfdhcp_parse.py" "$out")
  rss=$(status_kb "$pid" VmRSS)
  hwm=$(status_kb "$pid" VmHWM)
  leases=$(srv_leases "$s")
  # NAKs the server logged during this run (dnsmasq logs them even with --quiet-dhcp).
  log=$(ls -t "$LAB_DIR"/*"$s"*.log 2>/dev/null | head -1)
  naks=$(grep -c 'DHCPNAK' "$log" 2>/dev/null || true)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$phase" "$rate" "$parsed" \
    "$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN {printf "%.3f", (b - a) / t}')" \
    "$pc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')" "$rss" "$hwm" "$leases" "$((e1 - e0))" "${naks:-0}" "$((f1 - f0))" >>"$RES"
  tail -1 "$RES" | awk -F'\t' '{printf "  %-8s %-6s %6s/s: done %8.0f/s  lost %6.2f%%  server cpu %6.2fs  perfdhcp cpu %6.2fs  leases %s  rcvbuf drops %s\n", $1, $2, $3, $4, $9, $14, $15, $19, $20}'
}

# Did the last line pass (< 1% lost and >= 90% of the asked rate completed)?
last_ok() {
  tail -1 "$RES" | awk -F'\t' '$4 != "FAILED" && $9 != "nan" && $9 < 1 && $4 >= 0.9 * $3 {ok = 1} END {exit !ok}'
}

echo "== bench/dhcp$([ $QUICK = 1 ] && echo ' --quick') (perfdhcp $(perfdhcp -v 2>&1 | head -1); servers: ${SERVERS[*]})"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs; other processes share them)"
[ -n "$KEA_MISSING" ] && echo "NOTE: $KEA_MISSING"
[ -n "$DNSMASQ_MISSING" ] && echo "NOTE: $DNSMASQ_MISSING"
echo "-- rate search: ${DUR}s per step (at most $NREQ_CAP exchanges), fresh server and empty lease database each step"
declare -A ALIVE BEST
for s in "${SERVERS[@]}"; do ALIVE[$s]=1; BEST[$s]=0; done
MACN=0
# A new MAC base for every perfdhcp run (never in a subshell: MACN must advance).
next_mac() { MACN=$((MACN + 1)); printf -v MAC '02:%02x:%02x:00:00:00' $((MACN / 256 % 256)) $((MACN % 256)); }
for r in "${RATES[@]}"; do
  any=0
  for s in "${SERVERS[@]}"; do
    [ "${ALIVE[$s]}" = 1 ] || continue
    any=1
    n=$((r * DUR)); [ $n -gt $NREQ_CAP ] && n=$NREQ_CAP
    next_mac; run_perf "$s" search "$r" "$DUR" "$n" "$MAC" || true
    if last_ok; then BEST[$s]=$r; continue; fi
    [ $QUICK = 1 ] && { ALIVE[$s]=0; continue; }
    echo "  $s at $r/s: over the limit, retrying once (noise)"
    next_mac; run_perf "$s" search "$r" "$DUR" "$n" "$MAC" || true
    if last_ok; then BEST[$s]=$r; else ALIVE[$s]=0; fi
  done
  [ $any = 1 ] || break
done
for s in "${SERVERS[@]}"; do srv_stop "$s"; done

# Rates to compare at: every server's best rate. Each server repeats at each of these it can
# sustain, so vnet and each incumbent meet at the incumbent's best rate (CPU per exchange at
# equal load) and each server is repeated at its own best.
CMP_RATES=$(for s in "${SERVERS[@]}"; do if [ "${BEST[$s]}" -gt 0 ]; then echo "${BEST[$s]}"; fi; done | sort -nu | tr '\n' ' ')
if [ $REPS -gt 0 ] && [ -n "$CMP_RATES" ]; then
  echo "-- repeats: $REPS rounds at the rates $CMP_RATES(each server up to its best), interleaved"
  for i in $(seq $REPS); do
    for r in $CMP_RATES; do
      for s in "${SERVERS[@]}"; do
        [ "${BEST[$s]}" -ge "$r" ] || continue
        n=$((r * DUR)); [ $n -gt $NREQ_CAP ] && n=$NREQ_CAP
        next_mac; run_perf "$s" rep "$r" "$DUR" "$n" "$MAC" || true
      done
    done
  done
  for s in "${SERVERS[@]}"; do srv_stop "$s"; done
fi

echo "-- filling each server with $LEASES fresh clients (at most ${FILL_LIMIT}s each)"
for s in "${SERVERS[@]}"; do
  [ "$s" = vnetnorm ] && continue  # memory does not depend on --lease-sync
  b=${BEST[$s]}
  [ "$b" -gt 0 ] || b=${RATES[0]}
  fresh=fresh
  start=$(date +%s)
  for pass in 1 2 3; do
    have=$( [ $pass = 1 ] && echo 0 || srv_leases "$s")
    need=$((LEASES - have))
    [ $need -gt $((LEASES / 100)) ] || break
    left=$((FILL_LIMIT - ($(date +%s) - start)))
    [ $left -ge 2 ] || break
    next_mac; run_perf "$s" fill "$b" "$left" "$need" "$MAC" "$fresh" || break
    fresh=keep
  done
  # The RSS figure of the fill phase: after the last pass, the server still running. For vnet
  # also after `vnetctl net-dhcp-leases` listed them all (the API builds the whole list).
  [ -n "${PID[$s]:-}" ] && kill -0 "${PID[$s]}" 2>/dev/null || continue
  rss=$(status_kb "${PID[$s]}" VmRSS); hwm=$(status_kb "${PID[$s]}" VmHWM); n=$(srv_leases "$s")
  anon=$(status_kb "${PID[$s]}" RssAnon); file=$(status_kb "${PID[$s]}" RssFile); pss=$(pss_kb "${PID[$s]}")
  listed="" rss2="" hwm2="" anon2="" file2=""
  if [ "$s" = vnet ]; then
    listed=$(lab_ctl net-dhcp-leases perf | grep -c ' ipv4 ' || true)
    rss2=$(status_kb "${PID[$s]}" VmRSS); hwm2=$(status_kb "${PID[$s]}" VmHWM)
    anon2=$(status_kb "${PID[$s]}" RssAnon); file2=$(status_kb "${PID[$s]}" RssFile)
  fi
  printf '%s\tfillrss\t0\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$rss" "$hwm" "$n" "$rss2" "$hwm2" \
    "$listed" "$anon" "$file" "$anon2" "$file2" "$pss" >>"$RES"
  srv_stop "$s"
done

VLOGS=$(cat "$LAB_DIR"/vnetd.*.log 2>/dev/null | grep -ciE ' (warn|warning|error|critical) ' || true)
if [ -n "${BENCH_LOG_DIR:-}" ]; then
  mkdir -p "$BENCH_LOG_DIR"
  cp "$LAB_DIR"/vnetd.*.log "$LAB_DIR"/kea.*.log "$LAB_DIR"/dnsmasq.*.log "$RES" \
    "$LAB_DIR"/perfdhcp.*.out "$BENCH_LOG_DIR"/ 2>/dev/null || true
fi

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$HERE/summarize.py" "$RES" "$DUR" "$LEASES" "$VNET_IDLE_RSS:$VNET_IDLE_ANON" "$VLOGS" \
  "$(nproc)" "${KEA_MISSING:-}" "${DNSMASQ_MISSING:-}"
