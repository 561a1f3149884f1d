#!/usr/bin/env bash
# Our leecher against the independent implementation's simple leecher (one connection per
# block), on a real-sized link (a private network namespace: MTU 1500, a tbf rate), for each
# kind of seed the interop tests know. Needs root (it makes the namespace).
#   scripts/bench/interop_link.sh [--rate 20mbit] [--runs 3] [--baseline-bin DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" --release >/dev/null
exec timeout 1800 python3 "$root/scripts/bench/interop_link.py" --bin "$root/build/bin" "$@"
