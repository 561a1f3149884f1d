#!/usr/bin/env bash
# A swarm across hosts on bandwidth-limited links (the network lab: namespaces, a bridge, tbf),
# peer-to-peer against client-server in the same run, against the bound T*. Needs root.
#   scripts/bench/netswarm.sh [--peers N] [--size S] [--block-size B] [--rate R] [--mixed] [--runs K]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" --bench >/dev/null
exec timeout 3600 python3 "$root/scripts/bench/netswarm.py" --bin "$root/build/bin" "$@"
