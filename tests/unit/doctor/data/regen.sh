#!/usr/bin/env bash
# Regenerates NAME.json (nft -j list ruleset) and NAME.txt (nft -a -s list ruleset) from
# NAME.nft with the real nft, inside a scratch network namespace (root needed). The unit
# tests read these listings as the probe would get them from libnftables.
set -euo pipefail
cd "$(dirname "$0")"
ns="vnet-doctor-regen-$$"
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
for f in *.nft; do
  n=${f%.nft}
  ip netns exec "$ns" nft flush ruleset
  ip netns exec "$ns" nft -I . -f "$f"
  ip netns exec "$ns" nft -j list ruleset > "$n.json"
  ip netns exec "$ns" nft -a -s list ruleset > "$n.txt"
done
