#!/usr/bin/env bash
# Installs what is missing, checks the formatting, builds both builds (CMake presets release and
# asan), and runs every test through ctest: first the ASan+UBSan build, then the Release build.
# Exits non-zero if anything fails.
#   ctest --test-dir build -L unit      the in-process tests alone (seconds)
#   ctest --test-dir build -L process   the tests that run the real programs
#   ctest --test-dir build -L interop   against the independent implementation
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

"$root/scripts/setup.sh"
status=0
"$root/scripts/format.sh" --check || status=1
"$root/scripts/build.sh"

jobs=$(nproc)
echo "== ctest: ASan + UBSan build (build-asan/)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 300 || status=1
echo "== ctest: Release build (build/)"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 300 || status=1
exit $status
