#!/usr/bin/env bash
# Issue 6: drift repair. Someone deletes our rules, table, bridge or its address, sets the
# bridge down or turns ip_forward off: vnetd restores the definition within 1 s, without a
# restart, logs one line per repair saying what it found and did, and counts it per network
# (GET /v1/networks/NAME/stats "repairs"). `vnetctl net-autorepair NET --disable` opts out.
source "$(dirname "$0")/../lib.sh"
it_begin
lab_up
lab_start_vnetd --log-level debug  # debug: it logs each time it lists our table to check it

now_ms() { date +%s%3N; }
stat_of() {  # stat_of NET KEY
  curl -sf --unix-socket "$LAB_SOCK" "http://vnetd/v1/networks/$1/stats" |
    python3 -c "import json,sys; print(json.load(sys.stdin).get('$2', ''))"
}
logged_repairs() { grep -c "network '$1': repaired: " "$LAB_VNETD_LOG"; }
guest_online() { lab_in g1 ping -c 1 -W 0.3 198.51.100.1; }
# The forward accept rule guests' traffic needs, and default's entries in its sets.
# (grep without -q: under pipefail, an early exit of grep can fail nft with SIGPIPE.)
rules_ok() {
  lab_host nft list chain inet vnet from_guests | grep '@outbound4 accept' >/dev/null &&
    lab_host nft list set inet vnet outbound4 | grep '"vnbr0" . 192.168.122.0/24' >/dev/null &&
    lab_host nft list set inet vnet replies4 | grep '"vnbr0" . 192.168.122.0/24' >/dev/null
}
handle_of() {  # handle_of CHAIN COMMENT-TEXT
  lab_host nft -a list chain inet vnet "$1" | grep -F "$2" | sed -n 's/.*# handle \([0-9]*\)$/\1/p'
}
delete_accept_rules() {  # the seed's experiment: both forward accept rules (shared by all networks)
  local a b
  a=$(handle_of from_guests '@outbound4 accept')
  b=$(handle_of to_guests '@replies4 ct state')
  [ -n "$a" ] && [ -n "$b" ] || return 1
  T0=$(now_ms)
  printf 'delete rule inet vnet from_guests handle %s\ndelete rule inet vnet to_guests handle %s\n' \
    "$a" "$b" | lab_host nft -f -
}
delete_default_entries() {  # default's own entries behind those rules
  T0=$(now_ms)
  lab_host nft -f - <<'NFT'
delete element inet vnet outbound4 { "vnbr0" . 192.168.122.0/24 }
delete element inet vnet replies4 { "vnbr0" . 192.168.122.0/24 }
NFT
}

LATENCIES=()
# restored DESC CMD...: CMD (which says the state is right again) must succeed within
# 1000 ms of T0, the moment just before the breaking command ran (set by the caller, or
# by delete_accept_rules). Records the latency.
restored() {
  local desc=$1 dt
  shift
  while :; do
    if "$@" >/dev/null 2>&1; then
      dt=$(($(now_ms) - T0))
      LATENCIES+=("$desc: $dt ms")
      if [ "$dt" -le 1000 ]; then pass "$desc: restored after $dt ms"; else fail "$desc: restored only after $dt ms"; fi
      return 0
    fi
    if [ $(($(now_ms) - T0)) -gt 5000 ]; then
      fail "$desc: not restored within 5 s"
      return 1
    fi
    sleep 0.01
  done
}
# counted NET N WHAT: after the dust settles, NET has N repairs, as many log lines, and the
# last one says WHAT (a regex).
counted() {
  sleep 0.3
  check "$1 has $2 repairs counted" test "$(stat_of "$1" repairs)" = "$2"
  check "$1 has $2 repair lines in the log" test "$(logged_repairs "$1")" = "$2"
  check_output "the last repair of $1 says what was found and done" "$3" stat_of "$1" lastRepair
}

lab_http_server
lab_guest g1 default 192.168.122.10/24 192.168.122.1
cat > "$LAB_DIR/other.xml" <<'XML'
<network>
  <name>other</name>
  <forward mode='nat'/>
  <bridge name='otherbr' stp='off'/>
  <ip address='10.55.0.1' prefix='24'/>
</network>
XML
lab_ctl net-define "$LAB_DIR/other.xml" >/dev/null && lab_ctl net-start other >/dev/null
lab_guest o1 other 10.55.0.10/24 10.55.0.1
PID=$LAB_VNETD_PID

check "the guest reaches the inet host" guest_online
check_output "net-info shows drift repair on by default" '^Autorepair: +yes' lab_ctl net-info default
check "no repairs counted at first" test "$(stat_of default repairs)" = 0

# --- repair off first: deleting the network's forward entries really cuts the guest off.
# (The rules themselves are shared by all networks: other, whose repair is on, would put
# them back; a network's own part of the table is its set entries.)
check_output "net-autorepair --disable" 'drift repair off' lab_ctl net-autorepair default --disable
check_output "net-autorepair shows it" '^Autorepair: +no' lab_ctl net-autorepair default
check "default's forward entries are deleted by hand" delete_default_entries
check_fails "right after, the guest cannot reach the inet host" guest_online
sleep 1.2
check_fails "with repair off, 1.2 s later it still cannot" guest_online
check_fails "and the rules are still missing" rules_ok
check "nothing was repaired or counted" test "$(stat_of default repairs)" = 0
check_output "net-autorepair --enable" 'drift repair on' lab_ctl net-autorepair default --enable
check "turning it on repaired the rules at once" rules_ok
check "the guest reaches the inet host again" guest_online
counted default 1 'set outbound4 lacks element "vnbr0" . 192.168.122.0/24 comment "default"; set replies4 lacks element .* => re-applied its rules \(one nft batch\) \(drift repair turned on\)'

# --- the seed's experiment with repair on: the forward accept rules are back within 1 s,
# without restarting anything
# Not inside check (a subshell): delete_accept_rules sets T0.
if delete_accept_rules; then pass "the forward accept rules are deleted again"; else fail "deleting the rules again"; fi
restored "forward accept rules (nft delete rule)" rules_ok
restored "the guest reaching the inet host" guest_online
counted default 2 'chain from_guests lacks rule: iifname . ip saddr @outbound4 accept.*; chain to_guests lacks rule: .* => re-applied its rules .*changed by nft \(pid [0-9]+\)'
counted other 1 'chain from_guests lacks rule: ' 
check "vnetd was not restarted" test "$(pgrep -f -- "--socket $LAB_SOCK")" = "$PID"

table_checks() { grep -c 'checking table inet vnet' "$LAB_VNETD_LOG"; }
CHECKS=$(table_checks)
T0=$(now_ms)
check "nft flush ruleset" lab_host nft flush ruleset
restored "our table (nft flush ruleset)" rules_ok
sleep 0.3
check "the flush (one transaction, many events) made vnetd list its table once" \
  test "$(table_checks)" = $((CHECKS + 1))
counted default 3 'table inet vnet is gone => re-applied its rules'
counted other 2 'table inet vnet is gone => re-applied its rules'
check "after the flush: the default guest reaches the inet host" guest_online
check "after the flush: the other guest too" lab_in o1 ping -c 1 -W 1 198.51.100.1

T0=$(now_ms)
check "nft delete table inet vnet" lab_host nft delete table inet vnet
restored "our table (nft delete table)" rules_ok
counted default 4 'table inet vnet is gone'
counted other 3 'table inet vnet is gone'

T0=$(now_ms)
check "flush the NAT chain" lab_host nft flush chain inet vnet postrouting
restored "chain postrouting" bash -c "ip netns exec $LAB_HOST nft list chain inet vnet postrouting | grep -q masquerade"
counted default 5 'chain postrouting lacks rule: iifname vmap @nat_custom'
counted other 4 'chain postrouting lacks rule: '
check "the guest is masqueraded again" guest_online

T0=$(now_ms)
check "delete a set element" lab_host nft delete element inet vnet dns '{ "vnbr0" }'
restored "set element dns vnbr0" bash -c "ip netns exec $LAB_HOST nft list set inet vnet dns | grep -q '\"vnbr0\" comment \"default\"'"
counted default 6 'set dns lacks element "vnbr0" comment "default"'
check "the other network's rules were not touched" test "$(stat_of other repairs)" = 4

T0=$(now_ms)
check "delete the bridge address" lab_host ip addr del 192.168.122.1/24 dev vnbr0
restored "bridge address" bash -c "ip netns exec $LAB_HOST ip -o addr show dev vnbr0 | grep -q ' 192.168.122.1/24 '"
counted default 7 'address 192.168.122.1/24 is missing on vnbr0 => added 192.168.122.1/24 to vnbr0 \(address 192.168.122.1/24 deleted from vnbr0\)'
check "the guest reaches its gateway" lab_in g1 ping -c 1 -W 1 192.168.122.1

bridge_up() { lab_host ip -o link show vnbr0 | grep -q '<[^>]*,UP[,>]'; }
PORT=$(lab_host ip -o link show master vnbr0 | awk -F': ' 'NR==1{print $2}' | cut -d@ -f1)
T0=$(now_ms)
check "set the bridge down" lab_host ip link set vnbr0 down
restored "bridge up" bridge_up
counted default 8 'bridge vnbr0 is down => set vnbr0 up \(bridge vnbr0 down\)'
lab_wait_forwarding "$PORT"  # STP holds the port 2 x 2 s after the bridge comes back up
check "the guest reaches the inet host" guest_online

T0=$(now_ms)
check "delete the bridge" lab_host ip link del vnbr0
restored "bridge with its address and port" bash -c "ip netns exec $LAB_HOST ip -o addr show dev vnbr0 | grep -q ' 192.168.122.1/24 ' && ip netns exec $LAB_HOST ip -o link show master vnbr0 | grep -q '$PORT@'"
counted default 9 "bridge vnbr0 is gone; port $PORT is not on vnbr0 => recreated vnbr0 with its addresses; attached $PORT to vnbr0; restarted its DHCP/DNS on the new bridge"
check_output "the recreated bridge has STP as defined" 'stp_state 1' lab_host ip -d link show vnbr0
check_output "and no IPv6" '^1$' lab_host cat /proc/sys/net/ipv6/conf/vnbr0/disable_ipv6
lab_wait_forwarding "$PORT"
check "the guest reaches the inet host through the new bridge" guest_online

T0=$(now_ms)
check "turn ip_forward off" lab_host sysctl -qw net.ipv4.ip_forward=0
restored "ip_forward" bash -c "[ \"\$(ip netns exec $LAB_HOST cat /proc/sys/net/ipv4/ip_forward)\" = 1 ]"
counted default 10 'net.ipv4.ip_forward is 0 => set it to 1'
counted other 5 'net.ipv4.ip_forward is 0 => set it to 1'
check "the guest reaches the inet host" guest_online

# --- with repair off, nothing is repaired; turning it on repairs everything at once
lab_ctl net-autorepair default --disable >/dev/null
lab_ctl net-autorepair other --disable >/dev/null
check "delete default's forward entries again" delete_default_entries
check "delete the bridge address again" lab_host ip addr del 192.168.122.1/24 dev vnbr0
check "turn ip_forward off again" lab_host sysctl -qw net.ipv4.ip_forward=0
check "and remove the other network's NAT element" lab_host nft delete element inet vnet masq4 '{ "otherbr" . 10.55.0.0/24 }'
sleep 1.5
check_fails "repair off: the rules stay deleted" rules_ok
check_fails "repair off: the address stays deleted" bash -c "ip netns exec $LAB_HOST ip -o addr show dev vnbr0 | grep -q 192.168.122.1/"
check "repair off: ip_forward stays off" test "$(lab_host cat /proc/sys/net/ipv4/ip_forward)" = 0
check_fails "repair off: the other guest stays cut off" lab_in o1 ping -c 1 -W 0.5 198.51.100.1
check "repair off: no repair counted" test "$(stat_of default repairs)/$(stat_of other repairs)" = 10/5
T0=$(now_ms)
lab_ctl net-autorepair default --enable >/dev/null
restored "everything of default, once repair is on again" bash -c "ip netns exec $LAB_HOST nft list set inet vnet outbound4 | grep -q '\"vnbr0\" . 192.168.122.0/24' && ip netns exec $LAB_HOST ip -o addr show dev vnbr0 | grep -q ' 192.168.122.1/24 ' && [ \"\$(ip netns exec $LAB_HOST cat /proc/sys/net/ipv4/ip_forward)\" = 1 ]"
check "default: one repair per kind (links, forwarding, rules)" test "$(stat_of default repairs)" = 13
check "the default guest is online" guest_online
check_fails "other is still off, so its element is still missing" lab_in o1 ping -c 1 -W 0.5 198.51.100.1
lab_ctl net-autorepair other --enable >/dev/null
check "other repaired once turned on" lab_in o1 ping -c 1 -W 1 198.51.100.1
counted other 6 'set masq4 lacks element "otherbr" . 10.55.0.0/24 comment "other"'

# --- our own changes never trigger repairs (no loops), and repairs stop when all is right;
# neither our own nft batches nor changes to other tables make vnetd even list its table.
CHECKS=$(table_checks)
before=$(stat_of default repairs)/$(stat_of other repairs)/$(grep -c 'repaired: ' "$LAB_VNETD_LOG")
sed "s/other/third/; s/otherbr/thirdbr/; s/10.55.0/10.56.0/" "$LAB_DIR/other.xml" > "$LAB_DIR/third.xml"
lab_ctl net-define "$LAB_DIR/third.xml" >/dev/null
check "starting a network" lab_ctl net-start third
lab_guest t1 third 10.56.0.10/24 10.56.0.1
check "destroying a network" lab_ctl net-destroy third
check "someone else's table comes and goes" lab_host nft -f - <<'NFT'
add table ip foreign
add chain ip foreign c { type filter hook forward priority 10; policy accept; }
add rule ip foreign c counter
NFT
check "and goes" lab_host nft delete table ip foreign
sleep 1
check "none of that made vnetd list its table" test "$(table_checks)" = "$CHECKS"
check "no repairs came from our own changes" test "$before" = "$(stat_of default repairs)/$(stat_of other repairs)/$(grep -c 'repaired: ' "$LAB_VNETD_LOG")"
check "still the same vnetd" test "$(pgrep -f -- "--socket $LAB_SOCK")" = "$PID"
check_fails "no repair failed" grep -Eq 'repairing .*failed|re-applying its rules failed|checking our firewall table failed' "$LAB_VNETD_LOG"

echo "# repair latencies (break command issued -> state seen restored, polled every ~10 ms):"
for l in "${LATENCIES[@]}"; do echo "#   $l"; done
it_end
