#!/usr/bin/env bash
# Issue 6: concurrent API requests on one network are serialized. Threads fire start,
# stop, net-update, port-add and port-del at one network of the real vnetd (and hold idle
# half-sent requests open); every answer must be well-formed, and the end state must be
# consistent: an active network has its bridge, rules and listed ports and nothing else,
# an inactive one leaves no bridge, no rules and no ports behind.
source "$(dirname "$0")/../lib.sh"
it_begin
lab_up
lab_start_vnetd

cat > "$LAB_DIR/conc.xml" <<'XML'
<network>
  <name>conc</name>
  <forward mode='nat'/>
  <bridge name='concbr' stp='off'/>
  <ip address='10.66.0.1' prefix='16'>
    <dhcp>
      <range start='10.66.0.100' end='10.66.0.199'/>
      <host mac='52:54:00:66:ff:01' name='fixed' ip='10.66.0.10'/>
    </dhcp>
  </ip>
</network>
XML
check "net-define conc" lab_ctl net-define "$LAB_DIR/conc.xml"

# consistent NAME: what the API says matches the kernel.
consistent() {
  local active ports links
  active=$(lab_ctl -o json net-info conc | python3 -c 'import json,sys; print(json.load(sys.stdin)["active"])')
  ports=$(lab_ctl -o json port-list conc | python3 -c 'import json,sys; print(" ".join(sorted(p["name"] for p in json.load(sys.stdin))))')
  links=$(lab_host ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^vnet' | sort | tr '\n' ' ' | sed 's/ $//')
  if [ "$active" = True ]; then
    lab_host ip link show concbr >/dev/null 2>&1 || { echo "active but no bridge concbr"; return 1; }
    # Our table's sets hold the network's elements, keyed by its bridge.
    lab_host nft list set inet vnet masq4 | grep -q '"concbr" \. 10\.66\.0\.0/16' || { echo "active but concbr not in set masq4"; return 1; }
    local bridged
    bridged=$(lab_host ip -o link show master concbr | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ' | sed 's/ $//')
    [ "$bridged" = "$ports" ] || { echo "ports listed '$ports', on the bridge '$bridged'"; return 1; }
    [ "$links" = "$ports" ] || { echo "ports listed '$ports', vnet links '$links'"; return 1; }
    # Updates go to both the running and the persistent definition.
    diff <(lab_ctl net-dumpxml conc) <(lab_ctl net-dumpxml conc --inactive) || return 1
  else
    ! lab_host ip link show concbr >/dev/null 2>&1 || { echo "inactive but bridge concbr exists"; return 1; }
    ! lab_host nft list table inet vnet 2>/dev/null | grep -q 'concbr' || { echo "inactive but elements of concbr remain"; return 1; }
    [ -z "$links" ] || { echo "inactive but links '$links' remain"; return 1; }
    [ -z "$ports" ] || { echo "inactive but ports '$ports' listed"; return 1; }
  fi
  # The definition on disk is what the API shows.
  diff <(lab_ctl net-dumpxml conc --inactive) "$LAB_DIR/etc/networks/conc.xml" || return 1
}

for run in 1 2 3; do
  check "run $run: concurrent requests get well-formed, expected answers" \
    python3 "$IT_ROOT/tests/integration/cli/concurrent_api.py" "$LAB_SOCK" conc 8 40 "$run"
  check "run $run: the end state is consistent" consistent
done
check "vnetd is still running" kill -0 "$LAB_VNETD_PID"

# Leave it active, stop it, and nothing of it remains.
lab_ctl net-start conc >/dev/null 2>&1
lab_ctl port-add conc --tap >/dev/null
check "active with a port: consistent" consistent
check "net-destroy" lab_ctl net-destroy conc
check "after destroy: no bridge, rules or ports" consistent
check_output "the definition kept every successful update" "52:54:00:66:ff:01" lab_ctl net-dumpxml conc --inactive
check_output "no error lines from vnetd" '^0$' bash -c "grep -c ' error ' '$LAB_VNETD_LOG' || true"

it_end
