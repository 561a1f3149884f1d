#!/usr/bin/env bash
# Builds each decoder's libFuzzer harness with clang (ASan + UBSan) and runs it for N seconds.
#   scripts/fuzz.sh [SECONDS]   (default 60 per harness)
# New inputs go to build-fuzz/corpus/<target>; crashes to build-fuzz/crash-<target>-*.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
"$root/scripts/setup.sh"
if ! command -v clang++ >/dev/null || ! dpkg-query -W libclang-rt-14-dev >/dev/null 2>&1; then
  apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
fi
out="$root/build-fuzz"
mkdir -p "$out"
srcs=("$root"/proto/*.cpp "$root"/tracker/config.cpp "$root"/common/hex.cpp "$root"/common/endpoint.cpp)
status=0
for target in cascade_file tracker_request tracker_response peer_request peer_response tracker_config; do
  bin="$out/fuzz_$target"
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -DFUZZ_TARGET="\"$target\"" -I"$root" \
    "$root/tests/fuzz/fuzz_targets.cpp" "${srcs[@]}" -o "$bin"
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
