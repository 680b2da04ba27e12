#!/usr/bin/env bash
# Scale: N NAT networks in one vnetd.
#
#   bench/scale/run.sh [--quick] [N]   (default N=500, iperf3 10 s x 3 rounds; --quick: N=30, 3 s x 1)
#
# Two labs side by side (each: its own inet, host and guest namespaces and its own vnetd), so
# the throughput cases can be interleaved and machine noise hits them alike:
#   lab A  one NAT network defined and started: the same name, bridge and subnet as lab B's last;
#   lab B  N NAT networks (bridge snI, 10.(100+I/250).(I%250).0/24, <dhcp> range), defined by
#          files in the config dir, started ONE BY ONE through the API (python3 over the unix
#          socket), each start timed: first-10 median vs last-10 median (goal: the last within
#          2x the first). 10 stops with N active are timed too, for information.
# Throughput: forwarded TCP guest -> inet with iperf3 (server on 198.51.100.1 in the lab's inet
# namespace, client in a guest with a static address on the LAST network, so set lookups cannot
# trivially hit the first entry). Per round, in this order:
#   (a) lab A: 1 network;   (b) lab B: N networks;
#   (c) lab A plus a libvirt-style LINEAR ruleset in table `ip libvirt_linear` of A's host: per
#       network FWX/FWI/FWO/PRT (+INPUT/OUTPUT) rules one after the other, N-1 other bridge names
#       first and the guest's bridge last, so its packets walk every rule (libvirt's worst case);
#       loaded before and deleted after each (c) run.
# A case's figure is the median of iperf3's 1-s intervals over all its rounds (first second of
# each run omitted). Ratios b/a (goal >= 95%: vnet's set lookups cost the same whatever N), c/a.
# Everything runs in the labs' namespaces; nothing in the root one.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

N=500
T=10
ROUNDS=3
while [ $# -gt 0 ]; do
  case $1 in
    --quick) N=30; T=3; ROUNDS=1 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) N=$1 ;;
  esac
  shift
done
[[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 20 ] && [ "$N" -le 1500 ] || { echo "N must be 20..1500" >&2; exit 2; }

source "$ROOT/testing/lab/lab.sh"
lab_bench_preflight bench/scale iperf3 nft ip python3

LAB_QUIET=1
lab_init
say() { echo "bench/scale: $*" >&2; }

# Two labs through the one lab library: its functions read LAB_ID/LAB_DIR/LAB_INET/LAB_HOST/
# LAB_SOCK; use_lab switches them. LAB_PIDS and LAB_NETNS are shared, so lab_down (run on exit
# with LAB_DIR set back to the top dir) removes both labs.
TOP=$LAB_DIR
BASE_ID=$LAB_ID
trap 'rc=$?; LAB_DIR=$TOP; (exit $rc); lab_down' EXIT
use_lab() {
  LAB_ID=$BASE_ID$1
  LAB_DIR=$TOP/$1
  LAB_INET="${LAB_ID}inet"
  LAB_HOST="${LAB_ID}host"
  LAB_SOCK="$LAB_DIR/run/vnetd.sock"
  LAB_VNETD_LOG="$LAB_DIR/vnetd.log"
}
for l in a b; do
  mkdir -p "$TOP/$l"/{etc/networks,state,run}
  cp "$TOP/resolv.conf" "$TOP/$l/"
done

LAST=$((N - 1))
GNET="10.$((100 + LAST / 250)).$((LAST % 250))"

# defs DIR FIRST LAST: the definitions of networks FIRST..LAST
defs() {
  python3 - "$@" <<'PY'
import sys
d, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(first, last + 1):
    s = f"10.{100 + i // 250}.{i % 250}"
    open(f"{d}/sn{i}.xml", "w").write(f"""<network>
  <name>sn{i}</name>
  <forward mode='nat'/>
  <bridge name='sn{i}' stp='on' delay='0'/>
  <ip address='{s}.1' prefix='24'>
    <dhcp><range start='{s}.2' end='{s}.254'/></dhcp>
  </ip>
</network>
""")
PY
}
defs "$TOP/a/etc/networks" "$LAST" "$LAST"
defs "$TOP/b/etc/networks" 0 "$LAST"

# An API driver: `SOCKET start|stop FIRST LAST OUTFILE` times each call, one JSON list of ms.
cat > "$TOP/api.py" <<'PY'
import http.client, json, socket, sys, time
sock_path, verb, first, last, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("vnetd", timeout=120)
        self.path_ = path
    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(120)
        s.connect(self.path_)
        self.sock = s
times = []
for i in range(first, last + 1):
    t0 = time.perf_counter_ns()
    c = UnixHTTP(sock_path)
    c.request("POST", f"/v1/networks/sn{i}/{verb}", body=b"", headers={"Content-Length": "0"})
    r = c.getresponse()
    body = r.read()
    t1 = time.perf_counter_ns()
    c.close()
    if r.status != 200:
        sys.exit(f"{verb} sn{i}: HTTP {r.status} {body[:300]!r}")
    times.append((t1 - t0) / 1e6)
    if (i - first + 1) % 100 == 0:
        print(f"  {verb}: {i - first + 1} done, last {times[-1]:.1f} ms", file=sys.stderr, flush=True)
json.dump(times, open(out, "w"))
PY
api() { lab_host python3 "$TOP/api.py" "$LAB_SOCK" "$@"; }
elements() { lab_host nft list set inet vnet outbound4 | grep -o '"sn[0-9]*" \.' | wc -l; }

# setup_lab: namespaces, vnetd, (the caller starts networks), then guest + iperf3 server.
guest_and_server() {
  lab_guest g1 "sn$LAST" "$GNET.10/24" "$GNET.1"
  lab_bg "$LAB_INET" "$LAB_DIR/iperf3-server.log" iperf3 -s -B 198.51.100.1 --forceflush
  for _ in $(seq 100); do
    lab_inet bash -c 'echo > /dev/tcp/198.51.100.1/5201' 2>/dev/null && break
    sleep 0.05
  done
  lab_in g1 ping -c 1 -W 2 198.51.100.1 >/dev/null || { say "lab $1: the guest cannot reach the inet host"; exit 1; }
}

use_lab a
lab_up
lab_start_vnetd --log-level warn
api start "$LAST" "$LAST" "$TOP/a-start.json"
guest_and_server a

use_lab b
lab_up
lab_start_vnetd --log-level warn
say "lab b: starting $N networks one by one"
t0=$(date +%s%N)
api start 0 "$LAST" "$TOP/start.json"
t1=$(date +%s%N)
nbr=$(lab_host ip -o link show type bridge up | grep -c ': sn[0-9]*:' || true)
nel=$(elements)
say "lab b: started in $(( (t1 - t0) / 1000000 )) ms: $nbr bridges up, $nel outbound4 elements"
[ "$nbr" -eq "$N" ] && [ "$nel" -eq "$N" ] || { say "expected $N bridges and map elements"; exit 1; }
guest_and_server b

# The libvirt-style linear table for lab A's host (loaded in one batch; setup is not measured).
python3 - "$N" "sn$LAST" "$GNET.0/24" > "$TOP/linear.nft" <<'PY'
import sys
n, gbr, gsub = int(sys.argv[1]), sys.argv[2], sys.argv[3]
nets = [(f"lvd{i}", f"172.{16 + i // 250}.{i % 250}.0/24") for i in range(n - 1)] + [(gbr, gsub)]
ch = {k: [] for k in ("input", "output", "guest_cross", "guest_input", "guest_output", "guest_nat")}
for br, sub in nets:
    br = f'"{br}"'
    for p, port in (("udp", 53), ("tcp", 53), ("udp", 67), ("tcp", 67)):
        ch["input"].append(f"iifname {br} {p} dport {port} accept")
    for p, port in (("udp", 53), ("tcp", 53), ("udp", 68), ("tcp", 68)):
        ch["output"].append(f"oifname {br} {p} dport {port} accept")
    ch["guest_cross"].append(f"iifname {br} oifname {br} accept")
    ch["guest_input"].append(f"oifname {br} ip daddr {sub} ct state related,established accept")
    ch["guest_input"].append(f"oifname {br} reject")
    ch["guest_output"].append(f"iifname {br} ip saddr {sub} accept")
    ch["guest_output"].append(f"iifname {br} reject")
    ch["guest_nat"] += [f"ip saddr {sub} ip daddr 224.0.0.0/24 return",
                        f"ip saddr {sub} ip daddr 255.255.255.255 return",
                        f"ip saddr {sub} ip daddr != {sub} meta l4proto tcp masquerade to :1024-65535",
                        f"ip saddr {sub} ip daddr != {sub} meta l4proto udp masquerade to :1024-65535",
                        f"ip saddr {sub} ip daddr != {sub} masquerade"]
hooks = {"input": "type filter hook input priority filter; policy accept;",
         "output": "type filter hook output priority filter; policy accept;"}
print("table ip libvirt_linear {")
for name in ("guest_cross", "guest_input", "guest_output", "guest_nat"):
    print(f"  chain {name} {{", *("    " + r for r in ch[name]), "  }", sep="\n")
for name in ("input", "output"):
    print(f"  chain {name} {{ {hooks[name]}", *("    " + r for r in ch[name]), "  }", sep="\n")
print("  chain forward { type filter hook forward priority filter; policy accept;\n"
      "    jump guest_cross\n    jump guest_input\n    jump guest_output\n  }")
print("  chain postrouting { type nat hook postrouting priority srcnat; policy accept;\n"
      "    jump guest_nat\n  }")
print("}")
PY
nrules=$(grep -cE '^    (iif|oif|ip )' "$TOP/linear.nft")

# iperf LAB CASE ROUND: one run from lab LAB's guest, JSON kept as CASE-ROUND.json
iperf() {
  use_lab "$1"
  local out="$TOP/$2-$3.json" i
  for i in 1 2 3; do   # the server takes one client at a time; a late previous one may hold it
    if lab_in g1 iperf3 -c 198.51.100.1 -t "$T" -O 1 -J > "$out" 2>/dev/null; then break; fi
    sleep 1
  done
  python3 -c '
import json, statistics, sys
d = json.load(open(sys.argv[1]))
if "error" in d: sys.exit("iperf3: " + d["error"])
iv = [x["sum"]["bits_per_second"] for x in d["intervals"] if not x["sum"].get("omitted")]
print(f"{statistics.median(iv) / 1e9:.2f}")' "$out"
}

for r in $(seq "$ROUNDS"); do
  a=$(iperf a one "$r")
  b=$(iperf b all "$r")
  use_lab a
  lab_host nft -f "$TOP/linear.nft"
  c=$(iperf a linear "$r")
  use_lab a
  lab_host nft delete table ip libvirt_linear
  say "round $r: (a) $a  (b) $b  (c) $c Gbit/s (median of 1-s intervals)"
done

use_lab b
say "lab b: stopping 10 networks (for information)"
api stop 0 9 "$TOP/stop.json"

python3 - "$N" "$T" "$ROUNDS" "$nrules" "$TOP" <<'PY'
import glob, json, statistics, sys
N, T, R, nrules, d = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
st = json.load(open(f"{d}/start.json"))
sp = json.load(open(f"{d}/stop.json"))
f10, l10 = statistics.median(st[:10]), statistics.median(st[-10:])
def rate(case):
    iv = []
    for f in sorted(glob.glob(f"{d}/{case}-*.json")):
        iv += [x["sum"]["bits_per_second"] for x in json.load(open(f))["intervals"] if not x["sum"].get("omitted")]
    return statistics.median(iv) / 1e9
a, b, c = rate("one"), rate("all"), rate("linear")
print(f"\n== bench/scale (N={N}; iperf3 {T} s x {R} rounds per case, interleaved; guest on the last network)")
print(f"vnet start  : first-10 median {f10:.1f} ms, last-10 median {l10:.1f} ms, all {N} starts {sum(st)/1000:.1f} s; "
      f"ratio last/first {l10 / f10:.2f}x (goal <= 2x)")
print(f"vnet stop   : median {statistics.median(sp):.1f} ms over 10 stops with ~{N} networks active (for information)")
print(f"throughput  : (a) 1 network {a:.2f} Gbit/s   (b) {N} networks {b:.2f} Gbit/s   ratio b/a {100 * b / a:.1f}% (goal >= 95%)")
print(f"contrast    : (c) 1 vnet network + libvirt-style linear table ({nrules} rules for {N} bridges, "
      f"guest's last) {c:.2f} Gbit/s   ratio c/a {100 * c / a:.1f}%")
PY
