#!/bin/sh
# busybox udhcpc script for lab guests: configures eth0 like the default script and
# records what the server handed out in $UDHCPC_OUT.<event> (ip, router, dns, domain, ...).
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    ip route del default 2>/dev/null
    for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    env | grep -E '^(ip|router|dns|domain|lease|hostname|mtu|subnet|serverid|staticroutes|siaddr|boot_file)=' |
      sort > "$UDHCPC_OUT.$1"
    ;;
esac
exit 0
