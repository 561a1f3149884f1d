#!/usr/bin/env bash
# Configures and builds Cascade with the CMake presets (CMakePresets.json): Release into build/,
# ASan+UBSan into build-asan/.
#   scripts/build.sh              both builds
#   scripts/build.sh --release    only build/
#   scripts/build.sh --bench      only build/, with the benchmark instruments (scripts/bench/)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

configure_and_build() {  # preset
  local preset=$1 dir
  dir=$(preset_dir "$preset")
  if [[ ! -f "$dir/CMakeCache.txt" ]]; then
    cmake --preset "$preset" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log" >&2; exit 1; }
  fi
  cmake --build --preset "$preset" -j "$(nproc)"
}
preset_dir() { case $1 in release) echo build ;; *) echo "build-$1" ;; esac; }

configure_and_build release
case "${1:-}" in
  --release) ;;
  --bench) cmake --build --preset release -j "$(nproc)" --target bench_tools ;;
  *) configure_and_build asan ;;
esac
