#!/usr/bin/env bash
# Swarm benchmark (W1, W2, W3 against this machine's SHA-256 and loopback TCP ceilings).
#   scripts/bench/swarm.sh [--size 1GiB] [--runs 3] [--workloads W1,W2,W3] [--dir /var/tmp | --tmpfs]
#     [--baseline-bin DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" --bench >/dev/null
if [[ " $* " == *" --libtorrent "* ]] && ! /usr/bin/python3 -c "import libtorrent" 2>/dev/null; then
  echo "bench: installing Debian's python3-libtorrent for the comparison" >&2
  ${SUDO:-$([[ $(id -u) -ne 0 ]] && echo sudo)} apt-get install -y -qq python3-libtorrent >/dev/null
fi
exec timeout 1800 python3 "$root/scripts/bench/swarm_bench.py" --bin "$root/build/bin" "$@"
