#!/usr/bin/env bash
# Builds each decoder's libFuzzer fuzzer with the fuzz preset (clang, ASan + UBSan; the harnesses
# are listed once, in tests/fuzz/CMakeLists.txt) and runs each for N seconds.
#   scripts/fuzz.sh [SECONDS]   (default 60 per fuzzer)
# New inputs go to build-fuzz/corpus/<target>; crashes to build-fuzz/crash-<target>-*.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
seconds=${1:-60}
"$root/scripts/setup.sh"
if ! command -v clang++ >/dev/null || ! dpkg-query -W libclang-rt-14-dev >/dev/null 2>&1; then
  apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
fi
out="$root/build-fuzz"
if [[ ! -f "$out/CMakeCache.txt" ]]; then
  cmake --preset fuzz >"$out.configure.log" 2>&1 || { cat "$out.configure.log" >&2; exit 1; }
fi
cmake --build --preset fuzz -j "$(nproc)"
status=0
for bin in "$out"/bin/fuzz_*; do
  target=${bin##*/fuzz_}
  mkdir -p "$out/corpus/$target"
  cp -n "$root/tests/fuzz/corpus/$target/"* "$out/corpus/$target/" 2>/dev/null || true
  echo "== $target: ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -artifact_prefix="$out/crash-$target-" -print_final_stats=1 \
      "$out/corpus/$target" 2>"$out/$target.log"; then
    echo "   FOUND A CRASH: see $out/$target.log"; status=1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$out/$target.log" | sed "s/^/   /"
done
exit $status
