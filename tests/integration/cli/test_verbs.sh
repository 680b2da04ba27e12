#!/usr/bin/env bash
# Issue 2: every vnetctl verb against the real vnetd, the REST API over the socket,
# persistence across restarts, rejected definitions that change nothing.
source "$(dirname "$0")/../lib.sh"
it_begin
lab_up
lab_start_vnetd

# --- first start: the default network ---
check_output "first start defines and autostarts 'default'" \
  '^ default +active +yes +yes' lab_ctl net-list --all
check_output "default is NAT on vnbr0 with libvirt's subnet and range" \
  "<forward mode='nat'" lab_ctl net-dumpxml default
check_output "dumpxml has the generated uuid, bridge and mac" \
  "<bridge name='vnbr0' stp='on' delay='0'/>" lab_ctl net-dumpxml default
check_output "dumpxml has the DHCP range .2-.254" \
  "<range start='192.168.122.2' end='192.168.122.254'" lab_ctl net-dumpxml default
check_output "the default network's bridge exists in the host namespace" \
  '192.168.122.1/24' lab_host ip -br addr show vnbr0
check_output "definition is on disk" 'default.xml' ls "$LAB_DIR/etc/networks"

# --- define/start/info/uuid/name/autostart/destroy/undefine ---
cat > "$LAB_DIR/lab1.xml" <<'XML'
<network>
  <name>lab1</name>
  <bridge name='labbr1'/>
  <ip address='10.77.0.1' prefix='24'>
    <dhcp><range start='10.77.0.100' end='10.77.0.199'/></dhcp>
  </ip>
</network>
XML
check_output "net-define" 'Network lab1 defined from' lab_ctl net-define "$LAB_DIR/lab1.xml"
check_output "net-list --all shows it inactive" '^ lab1 +inactive +no +yes' lab_ctl net-list --all
check_output "net-list without --all hides inactive networks" '^ default ' lab_ctl net-list
if lab_ctl net-list | grep -q lab1; then fail "inactive lab1 listed without --all"; else pass "inactive lab1 not listed without --all"; fi
check_output "net-start" 'Network lab1 started' lab_ctl net-start lab1
check_output "net-info" 'Active: +yes' lab_ctl net-info lab1
check_output "net-info shows the bridge" 'Bridge: +labbr1' lab_ctl net-info lab1
UUID=$(lab_ctl net-uuid lab1)
check "net-uuid prints a uuid" bash -c "[[ '$UUID' =~ ^[0-9a-f-]{36}$ ]]"
check_output "net-name maps the uuid back" '^lab1$' lab_ctl net-name "$UUID"
check_output "net-autostart" 'marked as autostarted' lab_ctl net-autostart lab1
check "autostart marker on disk" test -e "$LAB_DIR/etc/networks/autostart/lab1"
check_output "net-autostart --disable" 'unmarked as autostarted' lab_ctl net-autostart lab1 --disable
check "autostart marker gone" test ! -e "$LAB_DIR/etc/networks/autostart/lab1"
check_output "-o json net-list" '"name": "lab1"' lab_ctl -o json net-list --all
check "-o json net-info parses" bash -c "'$VNETCTL' --socket '$LAB_SOCK' -o json net-info lab1 | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"active\"] and d[\"definition\"][\"name\"]==\"lab1\"'"
check_output "net-start of an active network is a conflict" 'already active' lab_ctl net-start lab1
check_output "net-destroy" 'Network lab1 destroyed' lab_ctl net-destroy lab1
check_fails "bridge labbr1 is gone after destroy" lab_host ip link show labbr1
check_output "net-undefine" 'Network lab1 has been undefined' lab_ctl net-undefine lab1
check "definition file removed" test ! -e "$LAB_DIR/etc/networks/lab1.xml"
check_output "unknown network: clear error" "network 'lab1' not found" lab_ctl net-info lab1

# --- transient networks ---
sed 's/lab1/tr1/; s/labbr1/trbr1/; s/10.77.0/10.78.0/g' "$LAB_DIR/lab1.xml" > "$LAB_DIR/tr1.xml"
check_output "net-create starts a transient network" 'Network tr1 created from' lab_ctl net-create "$LAB_DIR/tr1.xml"
check_output "transient network is active and not persistent" '^ tr1 +active +no +no' lab_ctl net-list --all
check "no definition file for a transient network" test ! -e "$LAB_DIR/etc/networks/tr1.xml"
check "net-destroy of a transient network" lab_ctl net-destroy tr1
if lab_ctl net-list --all | grep -q tr1; then fail "transient network still listed"; else pass "transient network vanished"; fi

# --- bad definitions change nothing ---
before=$(cd "$LAB_DIR/etc" && find . -type f | sort | xargs sha256sum)
state_before=$(python3 -c "import sqlite3;print(list(sqlite3.connect('$LAB_DIR/state/vnet.db').iterdump()))")
cat > "$LAB_DIR/bad.xml" <<'XML'
<network>
  <name>bad</name>
  <forward mode='nat'/>
  <ip address='10.79.0.1' prefix='24'>
    <dhcp><range start='10.80.0.2' end='10.80.0.9'/></dhcp>
  </ip>
</network>
XML
check_output "range outside the subnet is rejected with path and line" \
  'network/ip.*/dhcp/range.*line 5' lab_ctl net-define "$LAB_DIR/bad.xml"
check_fails "vnetctl exits non-zero on a rejected definition" lab_ctl net-define "$LAB_DIR/bad.xml"
printf '<network><name>x</name><ip address="10.81.0.1"' > "$LAB_DIR/broken.xml"
check_output "malformed XML is rejected with a line" 'line 1' lab_ctl net-define "$LAB_DIR/broken.xml"
sed 's/lab1/clash/; s/labbr1/clashbr/; s/10.77.0/192.168.122/g; s/\.100/.10/; s/\.199/.19/' "$LAB_DIR/lab1.xml" > "$LAB_DIR/clash.xml"
check_output "a subnet overlapping another network is a conflict" "default" lab_ctl net-define "$LAB_DIR/clash.xml"
after=$(cd "$LAB_DIR/etc" && find . -type f | sort | xargs sha256sum)
state_after=$(python3 -c "import sqlite3;print(list(sqlite3.connect('$LAB_DIR/state/vnet.db').iterdump()))")
check "config dir untouched by rejected definitions" test "$before" = "$after"
check "state untouched by rejected definitions" test "$state_before" = "$state_after"

# --- the REST API over the socket ---
api() { curl -s --unix-socket "$LAB_SOCK" "$@"; }
check_output "GET /v1/networks" '"name": "default"' api http://vnetd/v1/networks
code=$(api -o "$LAB_DIR/body.json" -w '%{http_code}' http://vnetd/v1/networks/nope)
check "GET unknown network: 404" test "$code" = 404
check_output "404 carries a JSON error and detail" '"detail":"network .nope. not found","error":"not found"' cat "$LAB_DIR/body.json"
code=$(api -o /dev/null -w '%{http_code}' -X POST -d '{"xml":"<network><name>a/b</name></network>"}' http://vnetd/v1/networks)
check "POST invalid definition: 400" test "$code" = 400
code=$(api -o /dev/null -w '%{http_code}' -X POST -d 'not json' http://vnetd/v1/networks)
check "POST malformed JSON: 400" test "$code" = 400
head -c 2000000 /dev/zero | tr '\0' 'a' > "$LAB_DIR/big.txt"
code=$(api -o /dev/null -w '%{http_code}' -X POST --data-binary @"$LAB_DIR/big.txt" http://vnetd/v1/networks)
check "oversized request: 413" test "$code" = 413
code=$(api -o /dev/null -w '%{http_code}' -X PATCH http://vnetd/v1/networks/default)
check "wrong method: 405" test "$code" = 405
code=$(api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data "{\"xml\": $(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$LAB_DIR/lab1.xml")}" \
  http://vnetd/v1/networks)
check "POST a definition as JSON {xml}: 201" test "$code" = 201
check_output "GET /v1/networks/lab1/xml" "<name>lab1</name>" api http://vnetd/v1/networks/lab1/xml
check "socket mode is 0660" test "$(stat -c %a "$LAB_SOCK")" = 660
check_output "vnetd still answers after bad requests" '"name": "default"' api http://vnetd/v1/networks

# --- net-edit through $EDITOR ---
check_output "net-edit applies an edited definition" 'XML configuration edited' \
  env EDITOR="sed -i s/10.77.0.199/10.77.0.150/" "$VNETCTL" --socket "$LAB_SOCK" net-edit lab1
check_output "the edit is stored" "end='10.77.0.150'" lab_ctl net-dumpxml lab1 --inactive
check_output "net-edit with an invalid edit is refused" 'outside|error' \
  env EDITOR="sed -i s/10.77.0.150/10.99.0.150/" "$VNETCTL" --socket "$LAB_SOCK" net-edit lab1
check_output "the refused edit changed nothing" "end='10.77.0.150'" lab_ctl net-dumpxml lab1 --inactive

# --- persistence across a restart ---
lab_ctl net-autostart lab1 >/dev/null
UUID=$(lab_ctl net-uuid lab1)
lab_stop_vnetd
check_output "vnetctl without vnetd: clear message" 'is vnetd running' lab_ctl net-list
check_fails "vnetctl without vnetd exits non-zero" lab_ctl net-list
lab_start_vnetd
check_output "definitions survive a restart; autostart networks run" '^ lab1 +active +yes +yes' lab_ctl net-list --all
check_output "default still active after restart" '^ default +active +yes +yes' lab_ctl net-list --all
check_output "uuid unchanged across restart" "^$UUID\$" lab_ctl net-uuid lab1

it_end
