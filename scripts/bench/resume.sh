#!/usr/bin/env bash
# Start-up time of a peer on a complete file, a half-complete one, and a half-complete one with
# its journal.   scripts/bench/resume.sh [--size BYTES] [--runs N] [--dir /var/tmp | --tmpfs]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" --bench >/dev/null
exec timeout 900 python3 "$root/scripts/bench/resume_bench.py" --bin "$root/build/bin" "$@"
