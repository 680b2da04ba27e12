# The netns lab (TESTING.md): source this file, then call lab_init.
#
#  ns INET   198.51.100.1 (HTTP, ping), 198.51.100.53 (DNS, later) on its loopback
#     | veth  uplink-peer 203.0.113.1/24  <->  uplink0 203.0.113.2/24
#  ns HOST   vnetd with its own temp dirs and socket; default route via 203.0.113.1
#     | bridge + ports made by vnetd
#  ns guestN veth peer "eth0" moved there by `vnetctl port-add NET --netns`
#
# Everything lives in namespaces this file creates; lab_down (run on EXIT) kills the
# processes it started, by PID, deletes the namespaces and the temp dir. Nothing is
# created in the caller's network namespace.

LAB_ROOT="${LAB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${VNETD:=$LAB_ROOT/build/release/src/cmd/vnetd/vnetd}"
: "${VNETCTL:=$LAB_ROOT/build/release/src/cmd/vnetctl/vnetctl}"

LAB_PIDS=()
LAB_NETNS=()

lab_log() { [ -n "${LAB_QUIET:-}" ] || echo "lab: $*" >&2; }

lab_init() {
  LAB_ID="vl$$$(printf '%04x' $((RANDOM % 65536)))"
  LAB_DIR=$(mktemp -d "/tmp/vnet-lab.XXXXXX")
  LAB_INET="${LAB_ID}inet"
  LAB_HOST="${LAB_ID}host"
  LAB_SOCK="$LAB_DIR/run/vnetd.sock"
  LAB_VNETD_LOG="$LAB_DIR/vnetd.log"
  mkdir -p "$LAB_DIR"/{etc,state,run,www}
  echo "hello from the inet host" > "$LAB_DIR/www/index.html"
  # Upstream DNS for vnetd lives inside the lab, never the machine's resolvers.
  echo "nameserver 198.51.100.53" > "$LAB_DIR/resolv.conf"
  trap lab_down EXIT
  trap 'exit 130' INT TERM
}

lab_netns_add() {
  ip netns add "$1"
  LAB_NETNS+=("$1")
  ip -n "$1" link set lo up
}

# Builds the inet and host namespaces and the uplink between them.
lab_up() {
  lab_netns_add "$LAB_INET"
  lab_netns_add "$LAB_HOST"
  ip -n "$LAB_INET" link add uplink-peer type veth peer name uplink0 netns "$LAB_HOST"
  ip -n "$LAB_INET" addr add 203.0.113.1/24 dev uplink-peer
  ip -n "$LAB_INET" link set uplink-peer up
  # The "internet" servers' addresses live on inet's loopback (no dummy module needed).
  ip -n "$LAB_INET" addr add 198.51.100.1/24 dev lo
  ip -n "$LAB_INET" addr add 198.51.100.53/24 dev lo
  ip -n "$LAB_HOST" addr add 203.0.113.2/24 dev uplink0
  ip -n "$LAB_HOST" link set uplink0 up
  ip -n "$LAB_HOST" route add default via 203.0.113.1
  lab_log "namespaces $LAB_INET (198.51.100.1) and $LAB_HOST (uplink0 203.0.113.2) are up"
}

# Runs a command in the background inside a namespace and remembers its PID.
lab_bg() {
  local ns=$1 log=$2
  shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 &
  LAB_PIDS+=($!)
  LAB_LAST_PID=$!
}

# Drops a PID the caller has waited for from the list lab_down kills (PIDs are reused).
lab_forget_pid() {
  local p=$1 keep=() q
  for q in "${LAB_PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  LAB_PIDS=("${keep[@]}")
}

# Benchmarks with PERF_DIR set: `perf record -g` of PID into FILE from lab_perf_start until
# lab_perf_stop; without PERF_DIR both do nothing.
lab_perf_start() {  # PID FILE
  LAB_PERF_PID=
  [ -n "${PERF_DIR:-}" ] || return 0
  mkdir -p "$PERF_DIR"
  perf record -q -g -p "$1" -o "$PERF_DIR/$2" >/dev/null 2>&1 &
  LAB_PERF_PID=$!
  LAB_PIDS+=("$LAB_PERF_PID")
}
lab_perf_stop() {
  [ -n "${LAB_PERF_PID:-}" ] || return 0
  kill -INT "$LAB_PERF_PID" 2>/dev/null
  wait "$LAB_PERF_PID" 2>/dev/null || true
  lab_forget_pid "$LAB_PERF_PID"
  LAB_PERF_PID=
}

# An HTTP server on 198.51.100.1:80 whose access log records the client address it saw.
lab_http_server() {
  lab_bg "$LAB_INET" "$LAB_DIR/http.log" python3 -u -m http.server --bind 198.51.100.1 \
    --directory "$LAB_DIR/www" 80
  for _ in $(seq 50); do
    ip netns exec "$LAB_INET" bash -c 'echo > /dev/tcp/198.51.100.1/80' 2>/dev/null && return 0
    sleep 0.1
  done
  echo "lab: HTTP server did not start" >&2
  return 1
}

# The inet DNS server on 198.51.100.53 (testing/lab/inet_dns.py): example.test. names
# resolve to 198.51.100.1; its log ($LAB_DIR/inet-dns.log) lists every query it got.
lab_dns_server() {
  lab_bg "$LAB_INET" "$LAB_DIR/inet-dns.log" python3 -u "$LAB_ROOT/testing/lab/inet_dns.py" 198.51.100.53
  for _ in $(seq 50); do
    grep -q READY "$LAB_DIR/inet-dns.log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "lab: inet DNS server did not start" >&2
  return 1
}

# lab_bench_preflight NAME TOOL...: the checks every benchmark makes before it builds a
# lab: root, the release binaries, the tools it drives. Exits with a message naming NAME.
lab_bench_preflight() {
  local name=$1
  shift
  [ "$(id -u)" -eq 0 ] || { echo "$name: must run as root (it builds network namespaces)" >&2; exit 1; }
  for b in "$VNETD" "$VNETCTL"; do
    [ -x "$b" ] || { echo "$name: $b missing; build: cmake --preset release && cmake --build --preset release --target vnetd vnetctl" >&2; exit 1; }
  done
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "$name: $t not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
  done
}

lab_start_vnetd() {
  lab_bg "$LAB_HOST" "$LAB_VNETD_LOG" "$VNETD" --config-dir "$LAB_DIR/etc" \
    --state-dir "$LAB_DIR/state" --run-dir "$LAB_DIR/run" --socket "$LAB_SOCK" \
    --resolv-conf "$LAB_DIR/resolv.conf" "$@"
  LAB_VNETD_PID=$LAB_LAST_PID
  for _ in $(seq 100); do
    [ -S "$LAB_SOCK" ] && lab_ctl net-list --all >/dev/null 2>&1 && return 0
    if ! kill -0 "$LAB_VNETD_PID" 2>/dev/null; then
      echo "lab: vnetd exited; its log:" >&2
      cat "$LAB_VNETD_LOG" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "lab: vnetd did not answer on $LAB_SOCK" >&2
  return 1
}

# Stops the vnetd this lab started (SIGTERM, or the signal given: lab_stop_vnetd KILL).
lab_stop_vnetd() {
  local sig=${1:-TERM}
  [ -n "${LAB_VNETD_PID:-}" ] || return 0
  kill "-$sig" "$LAB_VNETD_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$LAB_VNETD_PID" 2>/dev/null || break; sleep 0.05; done
  wait "$LAB_VNETD_PID" 2>/dev/null || true
  LAB_VNETD_PID=
}

lab_ctl() { "$VNETCTL" --socket "$LAB_SOCK" "$@"; }

# lab_guest NAME NETWORK [ADDRESS/PREFIX GATEWAY]: a guest namespace attached with
# `vnetctl port-add NETWORK --netns`; with an address it is configured statically.
lab_guest() {
  local name=$1 net=$2 addr=${3:-} gw=${4:-}
  local ns="${LAB_ID}$name"
  lab_netns_add "$ns"
  local port
  port=$(lab_ctl -o json port-add "$net" --netns "$ns" --ifname eth0 "${@:5}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])') || return 1
  ip -n "$ns" link set eth0 up
  lab_wait_forwarding "$port"
  if [ -n "$addr" ]; then
    ip -n "$ns" addr add "$addr" dev eth0
    [ -n "$gw" ] && ip -n "$ns" route add default via "$gw"
  fi
  return 0
}

# Waits until a bridge port is in the forwarding state. With STP on (libvirt's default)
# the kernel holds a new port in listening/learning for 2 x forward delay (>= 2 s each).
lab_wait_forwarding() {
  local port=$1
  for _ in $(seq 200); do
    [ "$(lab_host cat "/sys/class/net/$port/brport/state" 2>/dev/null)" = 3 ] && return 0
    sleep 0.05
  done
  echo "lab: port $port did not reach the forwarding state" >&2
  return 1
}

# lab_udhcpc GUEST [udhcpc args]: one DHCP exchange with busybox udhcpc in the guest;
# what it got is in $LAB_DIR/GUEST.dhcp.bound (ip=, router=, dns=, ...).
lab_udhcpc() {
  local g=$1
  shift
  lab_in "$g" env UDHCPC_OUT="$LAB_DIR/$g.dhcp" timeout 20 busybox udhcpc -i eth0 -n -q -t 5 -T 1 \
    -s "$LAB_ROOT/testing/lab/udhcpc-script.sh" "$@" >"$LAB_DIR/$g.udhcpc.log" 2>&1
}

# lab_udhcpc_bg GUEST [args]: a udhcpc that stays (renews on SIGUSR1, releases on SIGUSR2).
lab_udhcpc_bg() {
  local g=$1
  shift
  rm -f "$LAB_DIR/$g.dhcp.bound" "$LAB_DIR/$g.dhcp.renew"
  lab_bg "$(lab_ns "$g")" "$LAB_DIR/$g.udhcpc.log" env UDHCPC_OUT="$LAB_DIR/$g.dhcp" \
    busybox udhcpc -i eth0 -f -t 5 -T 1 -s "$LAB_ROOT/testing/lab/udhcpc-script.sh" "$@"
  LAB_UDHCPC_PID=$LAB_LAST_PID
  for _ in $(seq 100); do [ -f "$LAB_DIR/$g.dhcp.bound" ] && return 0; sleep 0.1; done
  return 1
}

# lab_wait_for CMD...: retries CMD for up to 5 s.
lab_wait_for() {
  for _ in $(seq 50); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

lab_ns() { echo "${LAB_ID}$1"; }
lab_in() { local ns; ns=$(lab_ns "$1"); shift; ip netns exec "$ns" "$@"; }
# lab_dev NS NAME: a plain non-bridge device (one end of a veth pair, the other end named
# NAME-p) for tests that need "some other interface" in a namespace.
lab_dev() { ip -n "$1" link add "$2" type veth peer name "${2}p"; }

lab_host() { ip netns exec "$LAB_HOST" "$@"; }
lab_inet() { ip netns exec "$LAB_INET" "$@"; }

lab_down() {
  local rc=$?
  set +e
  for pid in "${LAB_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${LAB_PIDS[@]}"; do
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  LAB_PIDS=()
  for ns in "${LAB_NETNS[@]}"; do
    # Any process still inside (a client a test forgot) dies with its namespace.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  LAB_NETNS=()
  [ -n "${LAB_KEEP_DIR:-}" ] || rm -rf "${LAB_DIR:?}"
  return $rc
}
