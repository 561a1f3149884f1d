#!/usr/bin/env bash
# Installs what is missing, builds both builds, and runs every test through ctest:
# first the ASan+UBSan build, then the Release build. Exits non-zero if anything fails.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

"$root/scripts/setup.sh"
"$root/scripts/build.sh"

jobs=$(nproc)
status=0
echo "== ctest: ASan + UBSan build (build-asan/)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 300 || status=1
echo "== ctest: Release build (build/)"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 300 || status=1
exit $status
