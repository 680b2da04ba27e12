#!/usr/bin/env bash
# Network start, from request to bridge up with rules in place: vnet vs the sequence of
# processes libvirt's network driver runs, side by side in one lab, one run.
#
#   bench/start/run.sh [--quick] [K]      (K networks each; default 20, --quick 5)
#
# vnet:           K NAT networks (10.1.X.0/24, bridge vsX, <dhcp> range) are defined, then each
#                 `POST /v1/networks/vsX/start` is timed from a python3 client over the unix
#                 socket (request sent -> response read): bridge, MAC, STP, sysctls, address,
#                 link up, ip_forward, one nft batch and (since DHCP/DNS are wired in) its
#                 in-process DHCP and DNS servers, all inside vnetd. The output says whether
#                 vnetd's DHCP/DNS sockets were listening on each bridge after the starts.
# libvirt-style:  K other networks (10.2.X.0/24, bridge lbX) in the same host namespace, one
#                 process per step as libvirt's driver does: 5 `ip` (link add, MAC, stp/delay,
#                 addr, up), sysctl writes through /proc, 18 `nft -ae insert rule` (one rule
#                 per process, table `ip libvirt_bench`: INPUT/OUTPUT DNS+DHCP, FWO/FWI/FWX,
#                 POSTROUTING masquerade exemptions + masquerade tcp/udp/all), then dnsmasq
#                 on the bridge, waiting for its pidfile like libvirt does.
# The two kinds are interleaved (vnet i, libvirt i, libvirt i+1, vnet i+1, ...) so machine
# noise hits both alike. Everything runs in the lab's namespaces; nothing in the root one.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

K=20
while [ $# -gt 0 ]; do
  case $1 in
    --quick) K=5 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) K=$1 ;;
  esac
  shift
done
[[ $K =~ ^[0-9]+$ ]] && [ "$K" -ge 1 ] && [ "$K" -le 250 ] || { echo "K must be 1..250" >&2; exit 2; }

source "$ROOT/testing/lab/lab.sh"
lab_bench_preflight bench/start dnsmasq nft ip python3
DNSMASQ=$(command -v dnsmasq)

LAB_QUIET=1
lab_init
lab_up

# vnet's networks, defined by files in the config dir (read at start, so no default network).
mkdir -p "$LAB_DIR/etc/networks" "$LAB_DIR/lv"
for i in $(seq 0 $((K - 1))); do
  cat > "$LAB_DIR/etc/networks/vs$i.xml" <<XML
<network>
  <name>vs$i</name>
  <forward mode='nat'/>
  <bridge name='vs$i' stp='on' delay='0'/>
  <mac address='52:54:00:aa:00:$(printf '%02x' "$i")'/>
  <ip address='10.1.$i.1' prefix='24'>
    <dhcp><range start='10.1.$i.2' end='10.1.$i.254'/></dhcp>
  </ip>
</network>
XML
done
lab_start_vnetd --log-level warn
n_defined=$(lab_ctl net-list --all | grep -c ' vs[0-9]' || true)
[ "$n_defined" -eq "$K" ] || { echo "bench/start: vnetd sees $n_defined of $K networks" >&2; exit 1; }

# libvirt's private table and chains exist before any network starts (set up once, untimed).
lab_host nft -f - <<'NFT'
table ip libvirt_bench {
  chain guest_input  { }
  chain guest_output { }
  chain guest_cross  { }
  chain guest_nat    { }
  chain input  { type filter hook input priority filter; policy accept; }
  chain output { type filter hook output priority filter; policy accept; }
  chain forward {
    type filter hook forward priority filter; policy accept;
    jump guest_cross
    jump guest_input
    jump guest_output
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    jump guest_nat
  }
}
NFT

# The driver runs inside the host namespace, like vnetd and libvirtd would.
rc=0
lab_host python3 - "$LAB_SOCK" "$LAB_DIR" "$K" "$DNSMASQ" > "$LAB_DIR/result.txt" <<'PY' || rc=$?
import http.client, json, os, socket, subprocess, sys, time

sock_path, lab, K, dnsmasq = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
lv = os.path.join(lab, "lv")
pids = open(os.path.join(lab, "dnsmasq.pids"), "a")

class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("vnetd", timeout=30)
        self.path_ = path
    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(self.path_)
        self.sock = s

def vnet_start(i):
    t0 = time.perf_counter_ns()
    c = UnixHTTP(sock_path)
    c.request("POST", f"/v1/networks/vs{i}/start", body=b"", headers={"Content-Length": "0"})
    r = c.getresponse()
    body = r.read()
    t1 = time.perf_counter_ns()
    c.close()
    if r.status != 200:
        sys.exit(f"vnet start vs{i}: HTTP {r.status} {body[:300]!r}")
    return (t1 - t0) / 1e6

def run(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)

def sysctl(path, value):
    with open("/proc/sys/" + path, "w") as f:
        f.write(value)

NFT_PROCS = 0
def libvirt_start(i):
    global NFT_PROCS
    br, net, sub = f"lb{i}", f"10.2.{i}", f"10.2.{i}.0/24"
    t0 = time.perf_counter_ns()
    # bridge, as libvirt's virNetDevBridgeCreate + virNetDevSetMAC + STP/delay + address + up
    run("ip", "link", "add", br, "type", "bridge")
    run("ip", "link", "set", br, "address", f"52:54:00:bb:00:{i:02x}")
    run("ip", "link", "set", br, "type", "bridge", "forward_delay", "0", "stp_state", "1")
    sysctl(f"net/ipv6/conf/{br}/disable_ipv6", "1")
    run("ip", "addr", "add", f"{net}.1/24", "broadcast", f"{net}.255", "dev", br)
    run("ip", "link", "set", br, "up")
    sysctl("net/ipv4/ip_forward", "1")
    # firewall: one process per rule, `insert` like libvirt (later rules end up first)
    T = ["nft", "-ae", "insert", "rule", "ip", "libvirt_bench"]
    rules = [
        ["input", "iifname", br, "udp", "dport", "53", "accept"],
        ["input", "iifname", br, "tcp", "dport", "53", "accept"],
        ["input", "iifname", br, "udp", "dport", "67", "accept"],
        ["input", "iifname", br, "tcp", "dport", "67", "accept"],
        ["output", "oifname", br, "udp", "dport", "53", "accept"],
        ["output", "oifname", br, "tcp", "dport", "53", "accept"],
        ["output", "oifname", br, "udp", "dport", "68", "accept"],
        ["output", "oifname", br, "tcp", "dport", "68", "accept"],
        # FWO: from guests (reject first, then the accept inserted above it)
        ["guest_output", "iifname", br, "reject"],
        ["guest_output", "iifname", br, "ip", "saddr", sub, "accept"],
        # FWI: to guests
        ["guest_input", "oifname", br, "reject"],
        ["guest_input", "oifname", br, "ip", "daddr", sub, "ct", "state", "related,established", "accept"],
        # FWX: bridge to itself
        ["guest_cross", "iifname", br, "oifname", br, "accept"],
        # POSTROUTING, inserted bottom-up
        ["guest_nat", "ip", "saddr", sub, "ip", "daddr", "!=", sub, "masquerade"],
        ["guest_nat", "ip", "saddr", sub, "ip", "daddr", "!=", sub, "meta", "l4proto", "udp", "masquerade", "to", ":1024-65535"],
        ["guest_nat", "ip", "saddr", sub, "ip", "daddr", "!=", sub, "meta", "l4proto", "tcp", "masquerade", "to", ":1024-65535"],
        ["guest_nat", "ip", "saddr", sub, "ip", "daddr", "255.255.255.255", "return"],
        ["guest_nat", "ip", "saddr", sub, "ip", "daddr", "224.0.0.0/24", "return"],
    ]
    for r in rules:
        run(*T, *r)
    NFT_PROCS = len(rules)
    t1 = time.perf_counter_ns()
    pidfile = os.path.join(lv, f"{br}.pid")
    run(dnsmasq, "--conf-file=/dev/null", f"--pid-file={pidfile}", "--except-interface=lo",
        "--bind-dynamic", f"--interface={br}", f"--dhcp-range={net}.2,{net}.254,255.255.255.0",
        "--strict-order", "--dhcp-no-override", "--dhcp-authoritative", "--dhcp-lease-max=253",
        f"--dhcp-leasefile={lv}/{br}.leases", "--no-hosts", f"--resolv-file={lab}/resolv.conf",
        f"--log-facility={lv}/{br}.log")
    pid = ""
    for _ in range(10000):                       # bounded: 10 s
        try:
            pid = open(pidfile).read().strip()
        except FileNotFoundError:
            pid = ""
        if pid:
            break
        time.sleep(0.001)
    t2 = time.perf_counter_ns()
    if not pid:
        sys.exit(f"dnsmasq for {br} wrote no pidfile")
    pids.write(pid + "\n")
    pids.flush()
    return (t2 - t0) / 1e6, (t1 - t0) / 1e6

vnet, lv_total, lv_nodns = [], [], []
for i in range(K):
    order = (0, 1) if i % 2 == 0 else (1, 0)
    for o in order:
        if o == 0:
            vnet.append(vnet_start(i))
        else:
            a, b = libvirt_start(i)
            lv_total.append(a)
            lv_nodns.append(b)
print(json.dumps({"vnet": vnet, "lv_total": lv_total, "lv_nodns": lv_nodns, "nft_procs": NFT_PROCS}))
PY
while read -r pid; do [ -n "$pid" ] && LAB_PIDS+=("$pid"); done < <(cat "$LAB_DIR/dnsmasq.pids" 2>/dev/null || true)
[ "$rc" -eq 0 ] || { echo "bench/start: the driver failed (rc $rc)" >&2; tail -20 "$LAB_VNETD_LOG" >&2; exit 1; }

# What each side left behind, checked (untimed): bridges up, vnet rules, dnsmasq alive.
up_vnet=$(lab_host ip -o link show type bridge up | grep -c ': vs[0-9]*:' || true)
up_lv=$(lab_host ip -o link show type bridge up | grep -c ': lb[0-9]*:' || true)
vnet_elems=$(lab_host nft list set inet vnet outbound4 | grep -o '"vs[0-9]*" \.' | wc -l)
lv_rules=$(lab_host nft -a list table ip libvirt_bench | grep -cE '(accept|reject|masquerade.*|return) # handle' || true)
alive=0
for pid in $(cat "$LAB_DIR/dnsmasq.pids"); do kill -0 "$pid" 2>/dev/null && alive=$((alive + 1)); done
# vnetd's own DHCP (:67 on the bridge) and DNS (:53 on the bridge address) sockets, if any.
socks=$(lab_host ss -H -lunp 2>/dev/null | grep "pid=$LAB_VNETD_PID," || true)
vnet_dhcp=$(printf '%s\n' "$socks" | grep -cE '%vs[0-9]+:67 ' || true)
vnet_dns=$(printf '%s\n' "$socks" | grep -cE '10\.1\.[0-9]+\.1:53 ' || true)

python3 - "$LAB_DIR/result.txt" "$K" "$up_vnet" "$up_lv" "$vnet_elems" "$alive" "$lv_rules" "$vnet_dhcp" "$vnet_dns" <<'PY'
import json, math, statistics, sys
K, up_vnet, up_lv, elems, alive, lv_rules, vdhcp, vdns = map(int, sys.argv[2:])
d = json.load(open(sys.argv[1]))
def p90(v):
    s = sorted(v); return s[max(0, math.ceil(0.9 * len(s)) - 1)]
def fmt(ms): return f"{ms:.1f} ms" if ms >= 10 else f"{ms:.2f} ms"
vm, lm, ln = (statistics.median(d[k]) for k in ("vnet", "lv_total", "lv_nodns"))
print(f"checked: {up_vnet}/{K} vnet bridges up with {elems} outbound4 set elements; "
      f"{up_lv}/{K} libvirt-style bridges up with {lv_rules} rules, {alive}/{K} dnsmasq running")
print(f"\n== bench/start (K={K})")
if vdhcp == K and vdns == K:
    what = "bridge+addr+sysctls+one nft batch+in-process DHCP and DNS listening"
elif vdhcp == 0 and vdns == 0:
    what = "bridge+addr+sysctls+one nft batch; NOTE: this vnetd starts no DHCP/DNS server"
else:
    what = f"bridge+addr+sysctls+one nft batch; DHCP on {vdhcp}/{K}, DNS on {vdns}/{K} bridges"
print(f"vnet       start: median {fmt(vm)}  p90 {fmt(p90(d['vnet']))}   ({what})")
print(f"libvirt-style  : median {fmt(lm)}  p90 {fmt(p90(d['lv_total']))}   (ip 5, nft {d['nft_procs']} processes, dnsmasq spawn)")
print(f"  w/o dnsmasq  : median {fmt(ln)}  p90 {fmt(p90(d['lv_nodns']))}   (ip 5, nft {d['nft_procs']} processes)")
print(f"ratio          : vnet {lm / vm:.1f}x faster (goal >= 10x); without dnsmasq: {ln / vm:.1f}x")
PY
