#!/usr/bin/env bash
# Issue 2: with 192.168.122.0/24 already routed in the host, the default network moves to
# the first free 192.168.X.0/24 and says so in the log.
source "$(dirname "$0")/../lib.sh"
it_begin
lab_up
lab_dev "$LAB_HOST" taken0
lab_host ip addr add 192.168.122.5/24 dev taken0
lab_host ip link set taken0 up
lab_start_vnetd
check_output "default moved to 192.168.123.0/24" "<ip address='192.168.123.1'" lab_ctl net-dumpxml default
check_output "range follows the subnet" "<range start='192.168.123.2' end='192.168.123.254'" lab_ctl net-dumpxml default
check_output "the choice is logged" 'default.*192.168.123.0/24' cat "$LAB_VNETD_LOG"
check_output "default is active" '^ default +active' lab_ctl net-list
it_end
