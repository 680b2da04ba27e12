#!/usr/bin/env bash
# Installs every Debian 12 package vnet needs to build, test, demo and benchmark.
# Idempotent: when everything is present it does nothing (no apt-get update).
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build g++ pkg-config clang clang-format libclang-rt-14-dev
  libnl-3-dev libnl-route-3-dev libnftables-dev libmnl-dev libnftnl-dev
  libnetfilter-conntrack-dev libpcap-dev libboost-dev libpugixml-dev nlohmann-json3-dev
  libcli11-dev libspdlog-dev libfmt-dev libsqlite3-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # the lab, tests and the demo look at what vnet did with these
  iproute2 iputils-ping nftables busybox udhcpc isc-dhcp-client bind9-dnsutils tcpdump iperf3 curl
  tshark
  # benchmarks: the libvirt-style comparison spawns dnsmasq like libvirt does
  dnsmasq-base
  python3 procps util-linux kmod
  # bench/dhcp and bench/dns: perfdhcp (kea-admin), Kea as the DHCP incumbent, dnsperf
  kea-admin kea-dhcp4-server dnsperf
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Servers we install only to benchmark against (kea-dhcp4-server, dnsmasq) must not start
# on the machine's own network: forbid service starts while installing (policy-rc.d 101).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
