#!/usr/bin/env bash
# Issue 6: `vnetctl doctor [NET]`. The clean lab reports nothing; then each problem the lab
# can provoke is provoked alone in the host namespace (where vnetd runs), the doctor must
# name the exact culprit (chain and rule, sysctl, process and pid, route, link), where
# possible a real client shows the breakage, and the problem is undone before the next one.
# Missing kernel features (nf_tables NAT, bridge, tun) cannot be provoked here (modules
# cannot be unloaded in a test): tests/unit/doctor/probe_test.cc covers them.
source "$(dirname "$0")/../lib.sh"
it_begin
lab_up
lab_http_server
lab_dns_server
lab_start_vnetd
DATA="$IT_ROOT/tests/unit/doctor/data"

lab_guest g1 default 192.168.122.10/24 192.168.122.1
lab_guest g2 default 192.168.122.11/24 192.168.122.1

# doctor_json [NET]: `vnetctl -o json doctor` (its exit status is 2 when there are errors).
doctor_json() { lab_ctl -o json doctor "$@" 2>&1 || true; }

# doctor_has CHECK SEVERITY PATTERN [NET]: a finding of CHECK with SEVERITY whose what,
# evidence or fix lines match the Python regex PATTERN.
doctor_has() {
  local check=$1 severity=$2 pattern=$3
  shift 3
  doctor_json "$@" | python3 -c '
import json, re, sys
check, severity, pattern = sys.argv[1:4]
d = json.load(sys.stdin)
assert d["errors"] == sum(f["severity"] == "error" for f in d["findings"])
for f in d["findings"]:
    assert set(f) == {"severity", "check", "network", "what", "evidence", "fix"}, f
    assert f["evidence"] and f["fix"], f
    if f["check"] != check or f["severity"] != severity:
        continue
    if re.search(pattern, "\n".join([f["what"]] + f["evidence"] + f["fix"]), re.S):
        sys.exit(0)
print(json.dumps(d, indent=1))
sys.exit(1)' "$check" "$severity" "$pattern"
}

# doctor_lacks CHECK [NET]: no finding of CHECK.
doctor_lacks() {
  local check=$1
  shift
  doctor_json "$@" | python3 -c '
import json, sys
d = json.load(sys.stdin)
bad = [f for f in d["findings"] if f["check"] == sys.argv[1]]
if bad:
    print(json.dumps(bad, indent=1))
sys.exit(1 if bad else 0)' "$check"
}

# doctor_clean [NET]: no findings at all, exit status 0, and the text form says so.
doctor_clean() {
  local out rc
  out=$(doctor_json "$@")
  printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
ok = d["findings"] == [] and d["errors"] == 0 and d["warnings"] == 0
if not ok:
    print(json.dumps(d, indent=1))
sys.exit(0 if ok else 1)' || return 1
  out=$(lab_ctl doctor "$@")
  rc=$?
  [ "$rc" -eq 0 ] && printf '%s' "$out" | grep -q '^No problems found' || { echo "rc=$rc: $out"; return 1; }
}

# doctor_rc [NET]: the exit status of `vnetctl doctor`.
doctor_rc() { lab_ctl doctor "$@" >/dev/null 2>&1; echo $?; }

guest_reaches_inet() { lab_in g1 ping -c 1 -W 2 198.51.100.1; }
guests_reach_each_other() { lab_in g1 ping -c 1 -W 2 192.168.122.11; }
guest_resolves() { lab_in g1 dig +tries=1 +time=2 @192.168.122.1 www.example.test; }

# --- the clean lab ----------------------------------------------------------------------
check "clean lab: a NAT network with guests reports nothing (exit 0)" doctor_clean
check "clean lab: doctor default reports nothing" doctor_clean default
check "clean lab: guests reach the inet host and each other" bash -c \
  "ip netns exec $(lab_ns g1) ping -c1 -W2 198.51.100.1 && ip netns exec $(lab_ns g1) ping -c1 -W2 192.168.122.11"
check_output "doctor of an unknown network is an error" 'network .*nosuch' lab_ctl doctor nosuch

# --- ip_forward off ---------------------------------------------------------------------
lab_host sysctl -qw net.ipv4.ip_forward=0
check "ip_forward=0: finding names the sysctl and its value" doctor_has ip-forward error 'net\.ipv4\.ip_forward = 0'
check "ip_forward=0: the fix is the sysctl command" doctor_has ip-forward error 'sysctl -w net\.ipv4\.ip_forward=1'
check "ip_forward=0: exit status 2 (an error finding)" test "$(doctor_rc)" = 2
check_fails "ip_forward=0: the guest really cannot reach the inet host" guest_reaches_inet
lab_host sysctl -qw net.ipv4.ip_forward=1
check "ip_forward=1 again: clean" doctor_clean

# --- no default route ---------------------------------------------------------------------
lab_host ip route del default
check "no default route: finding" doctor_has no-default-route error 'no 0\.0\.0\.0/0 route'
check_fails "no default route: the guest really cannot reach the inet host" guest_reaches_inet
lab_host ip route add default via 203.0.113.1
check "default route back: clean" doctor_clean

# --- the uplink down: administratively (the kernel drops its routes), then no carrier ------
lab_host ip link set uplink0 down
check "uplink0 set down: the missing default route names uplink0 as down" \
  doctor_has no-default-route error 'link uplink0 is down \(administratively\)'
check "uplink0 set down: the fix brings it up" doctor_has no-default-route error 'ip link set uplink0 up'
lab_host ip link set uplink0 up
lab_host ip route add default via 203.0.113.1
check "uplink0 up again: clean" doctor_clean
lab_inet ip link set uplink-peer down
check "uplink0 without carrier: finding names the default route and NO-CARRIER" \
  doctor_has uplink-down error 'route 0\.0\.0\.0/0 via 203\.0\.113\.1 dev uplink0.*link uplink0: UP, NO-CARRIER'
check_fails "uplink0 without carrier: the guest really cannot reach the inet host" guest_reaches_inet
lab_inet ip link set uplink-peer up
check "carrier back: clean" doctor_clean

# --- Docker: ip filter FORWARD policy drop, and br_netfilter with it -------------------------
lab_host nft -f "$DATA/docker.nft"
check "docker: FORWARD policy drop is an error naming table, chain and policy" \
  doctor_has foreign-drop error 'chain ip filter FORWARD: type filter hook forward priority 0; policy drop;'
check "docker: it says our accept cannot override it" \
  doctor_has foreign-drop error 'cannot override this: every base chain on a hook gives its own verdict'
check "docker: both directions of forwarded traffic are named" \
  doctor_has foreign-drop error "dropped: guests' traffic to the outside.*dropped: replies from the outside to guests"
check "docker: the fix uses DOCKER-USER" doctor_has foreign-drop error 'iptables -I DOCKER-USER -i vnbr0 -j ACCEPT'
check_fails "docker: the guest really cannot reach the inet host" guest_reaches_inet
check "docker + bridge-nf-call-iptables=1: guest-to-guest frames are dropped too" \
  doctor_has br-netfilter error 'dropped: traffic between guests.*net\.bridge\.bridge-nf-call-iptables = 1'
check "docker + br_netfilter: the finding names the chain's policy" \
  doctor_has br-netfilter error 'the policy of chain ip filter FORWARD is drop'
check_fails "docker + br_netfilter: the guests really cannot reach each other" guests_reach_each_other
lab_host sysctl -qw net.bridge.bridge-nf-call-iptables=0
check "bridge-nf-call-iptables=0: no br-netfilter finding" doctor_lacks br-netfilter
check "bridge-nf-call-iptables=0: the guests reach each other again" guests_reach_each_other
check "bridge-nf-call-iptables=0: the FORWARD drop is still reported" doctor_has foreign-drop error 'ip filter FORWARD'
lab_host sysctl -qw net.bridge.bridge-nf-call-iptables=1
# Apply the fix the doctor printed (its nft form: this lab has no iptables).
lab_host nft insert rule ip filter DOCKER-USER oifname '"vnbr0"' ct state established,related accept
lab_host nft insert rule ip filter DOCKER-USER iifname '"vnbr0"' accept
check "docker with the printed fix in DOCKER-USER: clean" doctor_clean
check "docker with the fix: the guest reaches the inet host" guest_reaches_inet
check "docker with the fix: the guests reach each other" guests_reach_each_other
lab_host nft delete table ip filter
lab_host nft delete table ip nat

# --- a ufw-like reject rule aimed at DHCP from the bridge ------------------------------------
lab_host nft add table inet guard
lab_host nft add chain inet guard input '{ type filter hook input priority 0; policy accept; }'
lab_host nft add rule inet guard input iifname '"vnbr0"' udp dport 67 reject
handle=$(lab_host nft -a list chain inet guard input | sed -n 's/.*udp dport 67 reject.*# handle \([0-9]*\)/\1/p')
check "reject rule: the finding quotes the rule with its handle" \
  doctor_has foreign-drop error "rule inet guard input handle $handle: iifname \"vnbr0\" udp dport 67 reject"
check "reject rule: DHCP requests are what it drops" doctor_has foreign-drop error 'dropped: DHCP requests from guests to vnetd'
check "reject rule: the fix deletes exactly that rule" \
  doctor_has foreign-drop error "nft delete rule inet guard input handle $handle"
lab_netns_add "$(lab_ns d1)"
lab_ctl port-add default --netns "$(lab_ns d1)" >/dev/null
lab_in d1 ip link set eth0 up
check_fails "reject rule: a real DHCP client really gets no lease" lab_udhcpc d1
lab_host nft delete table inet guard
# Foreign chains that drop only other interfaces are not findings; an unprovable drop is a warning.
lab_host nft -f - <<'NFT'
table inet other {
  chain forward_filter {
    type filter hook forward priority 0; policy accept;
    iifname "eth9" drop
    oifname "docker0" ct state invalid drop
  }
  chain input_filter {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iifname "lo" accept
    iifname "vnbr0" accept
  }
}
NFT
check "foreign chains that drop only other traffic: clean" doctor_clean
check "the DHCP client gets a lease through them" lab_udhcpc d1
lab_host nft add rule inet other forward_filter meta mark 0x7 drop
check "an unprovable drop (meta mark) is a warning saying so" \
  doctor_has foreign-drop warning 'could not prove it harmless.*meta mark 0x00000007 drop'
check "warnings alone: exit status 0" test "$(doctor_rc)" = 0
lab_host nft delete table inet other

# --- a default-drop input chain eats DHCP and DNS -------------------------------------------
lab_host nft -f "$DATA/inputdrop.nft"
check "default-drop input: DHCP and DNS from the bridge are named" \
  doctor_has foreign-drop error 'chain inet filter input: type filter hook input priority 0; policy drop;.*dropped: DHCP requests.*dropped: DNS queries'
check_fails "default-drop input: a real DHCP client really gets no lease" lab_udhcpc d1
check_fails "default-drop input: the guest's DNS query really times out" guest_resolves
lab_host nft delete table inet filter
check "input chain gone: the guest resolves names" guest_resolves
check "input chain gone: clean" doctor_clean

# --- port 53 on the bridge address taken by another process -----------------------------------
lab_bg "$LAB_HOST" "$LAB_DIR/holder53.log" python3 -u -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.168.122.1", 53))
print("READY", flush=True)
time.sleep(300)'
HOLDER=$LAB_LAST_PID
lab_wait_for grep -q READY "$LAB_DIR/holder53.log"
check "udp 192.168.122.1:53 held: the finding names python3 and its pid" \
  doctor_has port-taken error "udp 192\\.168\\.122\\.1:53 is held by python3 \\(pid $HOLDER\\)"
check "udp 192.168.122.1:53 held: the fix kills that pid" doctor_has port-taken error "kill $HOLDER"
check_fails "udp 192.168.122.1:53 held: the guest's queries really go unanswered" guest_resolves
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null
check "holder killed: the guest resolves again" guest_resolves
check "holder killed: clean" doctor_clean

# --- port 67 taken next to the running DHCP server ----------------------------------------------
lab_bg "$LAB_HOST" "$LAB_DIR/holder67.log" python3 -u -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 67))
print("READY", flush=True)
time.sleep(300)'
HOLDER=$LAB_LAST_PID
lab_wait_for grep -q READY "$LAB_DIR/holder67.log"
check "udp 0.0.0.0:67 held: the finding names python3 and its pid" \
  doctor_has port-taken error "udp 0\\.0\\.0\\.0:67 is held by python3 \\(pid $HOLDER\\).*DHCP server binds udp 0\\.0\\.0\\.0:67 on bridge vnbr0"
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null
check "holder killed: clean" doctor_clean

# --- the subnet collides with a route on another interface -------------------------------------
lab_dev "$LAB_HOST" busy0
lab_host ip link set busy0 up
lab_host ip route add 192.168.122.0/25 dev busy0
check "route 192.168.122.0/25 dev busy0: subnet collision named" \
  doctor_has subnet-collision error 'route 192\.168\.122\.0/25 dev busy0'
check_fails "the collision: the host really cannot reach the guest" lab_host ping -c 1 -W 1 192.168.122.10
lab_host ip route del 192.168.122.0/25 dev busy0
check "route gone: clean" doctor_clean

# --- accept_ra=1 on the uplink with IPv6 forwarding on -------------------------------------------
lab_host sysctl -qw net.ipv6.conf.all.forwarding=1
check "IPv6 forwarding on: accept_ra=1 on uplink0 is a warning" \
  doctor_has accept-ra warning 'net\.ipv6\.conf\.uplink0\.accept_ra = 1.*sysctl -w net\.ipv6\.conf\.uplink0\.accept_ra=2'
lab_host sysctl -qw net.ipv6.conf.uplink0.accept_ra=2
check "accept_ra=2: no accept-ra finding" doctor_lacks accept-ra
lab_host sysctl -qw net.ipv6.conf.uplink0.accept_ra=1
lab_host sysctl -qw net.ipv6.conf.all.forwarding=0
check "IPv6 forwarding off again: clean" doctor_clean

# --- doctor NET: that network's findings plus host-wide ones ---------------------------------------
cat > "$LAB_DIR/iso.xml" <<'XML'
<network>
  <name>iso</name>
  <bridge name='isobr'/>
  <ip address='10.20.0.1' prefix='24'/>
</network>
XML
lab_ctl net-define "$LAB_DIR/iso.xml" >/dev/null && lab_ctl net-start iso >/dev/null
lab_host ip route add 192.168.122.0/25 dev busy0
lab_host sysctl -qw net.ipv4.ip_forward=0
check "doctor default: its subnet collision" doctor_has subnet-collision error 'busy0' default
check "doctor default: ip_forward (it forwards)" doctor_has ip-forward error 'ip_forward = 0' default
check "doctor iso: not default's collision" doctor_lacks subnet-collision iso
check "doctor iso: not ip_forward (an isolated network does not forward)" doctor_lacks ip-forward iso
check "doctor iso: clean" doctor_clean iso
text_has() {  # text_has PATTERN CMD...: CMD's output matches the Python regex (dot matches newlines)
  local pattern=$1
  shift
  { "$@" 2>&1 || true; } | python3 -c 'import re, sys; t = sys.stdin.read(); ok = re.search(sys.argv[1], t, re.S); print("" if ok else t); sys.exit(0 if ok else 1)' "$pattern"
}
check "text output: severity, check, network, what, evidence and fix" text_has \
  'ERROR \[subnet-collision\] network default\n  The subnet 192\.168\.122\.0/24 .*  evidence:\n    route 192\.168\.122\.0/25 dev busy0\n.*  fix:\n    if the route is stale: ip route del 192\.168\.122\.0/25 dev busy0.*2 error\(s\), 0 warning\(s\)\.' \
  lab_ctl doctor default
lab_host sysctl -qw net.ipv4.ip_forward=1
lab_host ip route del 192.168.122.0/25 dev busy0
lab_ctl net-destroy iso >/dev/null

# --- a system dnsmasq on 0.0.0.0 stops the network from starting ----------------------------------
lab_ctl net-destroy default >/dev/null
lab_bg "$LAB_HOST" "$LAB_DIR/dnsmasq.log" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv \
  --log-facility=- --pid-file= --dhcp-leasefile="$LAB_DIR/dnsmasq.leases" \
  --dhcp-range=192.168.122.50,192.168.122.60
DNSMASQ=$LAB_LAST_PID
lab_wait_for bash -c "ip netns exec $LAB_HOST ss -ltn | grep -q ':53 '"
start_out=$(lab_ctl net-start default 2>&1)
check "dnsmasq on 0.0.0.0:53: net-start fails" test -n "$(printf '%s' "$start_out" | grep 'Address already in use')"
want='binding DNS TCP socket on 192.168.122.1 port 53: Address already in use'
check "net-start's error is the one the doctor predicts: $want" bash -c "printf '%s' \"\$1\" | grep -qF \"\$2\"" _ "$start_out" "$want"
check "dnsmasq: the finding names dnsmasq and its pid" \
  doctor_has port-taken error "tcp 0\\.0\\.0\\.0:53 is held by dnsmasq \\(pid $DNSMASQ\\)" default
check "dnsmasq: the finding quotes vnetd's error" doctor_has port-taken error "${want//./\\.}" default
check "dnsmasq: port 67 too" doctor_has port-taken error "udp 0\\.0\\.0\\.0:67 is held by dnsmasq \\(pid $DNSMASQ\\)" default
check "dnsmasq: the fix keeps dnsmasq off vnbr0" doctor_has port-taken error 'except-interface=vnbr0' default
kill "$DNSMASQ"; wait "$DNSMASQ" 2>/dev/null
check "dnsmasq gone: net-start works" lab_ctl net-start default
check "dnsmasq gone: clean" doctor_clean

it_end
