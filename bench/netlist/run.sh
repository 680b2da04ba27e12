#!/usr/bin/env bash
# Issue 2 speed goals: with 1,000 defined networks, `vnetctl net-list --all` answers in
# < 50 ms (median) and vnetd starts and loads them in < 1 s. Runs in the netns lab.
#   bench/netlist/run.sh [N_NETWORKS] [RUNS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-1000}
RUNS=${2:-30}
source "$ROOT/testing/lab/lab.sh"
lab_bench_preflight bench/netlist python3 curl
LAB_QUIET=1
lab_init
lab_up

mkdir -p "$LAB_DIR/etc/networks"
python3 - "$LAB_DIR/etc/networks" "$N" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    a, b = 100 + i // 250, i % 250
    open(f"{d}/bn{i}.xml", "w").write(f"""<network>
  <name>bn{i}</name>
  <bridge name='vb{i}'/>
  <ip address='10.{a}.{b}.1' prefix='24'>
    <dhcp><range start='10.{a}.{b}.2' end='10.{a}.{b}.254'/></dhcp>
  </ip>
</network>
""")
PY

ms() { python3 -c "import time; print(time.monotonic_ns())"; }
t0=$(date +%s%N)
lab_start_vnetd --log-level warn
t1=$(date +%s%N)
count=$(lab_ctl net-list --all | grep -c '^ bn' || true)
echo "vnetd start with $count defined networks: $(( (t1 - t0) / 1000000 )) ms (goal < 1000 ms; includes process start and polling)"

times=()
for _ in $(seq "$RUNS"); do
  a=$(date +%s%N)
  lab_ctl net-list --all >/dev/null
  b=$(date +%s%N)
  times+=($(( (b - a) / 1000 )))
done
printf '%s\n' "${times[@]}" | sort -n | awk -v runs="$RUNS" '
  {v[NR]=$1} END {printf "vnetctl net-list --all (%d networks): median %.1f ms, p90 %.1f ms over %d runs (goal < 50 ms)\n", '"$count"', v[int((NR+1)/2)]/1000, v[int(NR*0.9)]/1000, runs}'
a=$(date +%s%N)
curl -s --unix-socket "$LAB_SOCK" 'http://vnetd/v1/networks?all=1' >/dev/null
b=$(date +%s%N)
echo "GET /v1/networks?all=1 with curl: $(( (b - a) / 1000 )) us"
echo "RSS of vnetd: $(awk '/VmRSS/ {print $2, $3}' /proc/$LAB_VNETD_PID/status)"
