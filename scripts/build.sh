#!/usr/bin/env bash
# Configures and builds Cascade: Release into build/, ASan+UBSan into build-asan/.
#   scripts/build.sh              both builds
#   scripts/build.sh --release    only build/
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
jobs=$(nproc)

configure_and_build() {  # dir, extra cmake args...
  local dir=$1; shift
  if [[ ! -f "$dir/CMakeCache.txt" ]]; then
    cmake -S . -B "$dir" "${generator[@]}" "$@" >"$dir.configure.log" 2>&1 || {
      cat "$dir.configure.log" >&2; exit 1; }
  fi
  cmake --build "$dir" -j "$jobs"
}

configure_and_build build -DCMAKE_BUILD_TYPE=Release
if [[ "${1:-}" != "--release" ]]; then
  # -O1 -g1: quicker to compile on two cores, still readable sanitizer stack traces.
  configure_and_build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DCASCADE_SANITIZE=ON -DCASCADE_BENCH_TOOLS=OFF
fi
