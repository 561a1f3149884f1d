#!/usr/bin/env bash
# ThreadSanitizer run (on demand, not part of scripts/test.sh: a third build would double CI's
# build time). Builds every test and program with the tsan preset into build-tsan/ and runs each
# test binary; the real processes the tests start are TSan builds too. Every report, from any
# process, lands in one directory; the script fails if there is any.
#   scripts/tsan.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
"$root/scripts/setup.sh"
dir="$root/build-tsan"
if [[ ! -f "$dir/CMakeCache.txt" ]]; then
  cmake --preset tsan >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log" >&2; exit 1; }
fi
cmake --build --preset tsan -j "$(nproc)"
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
status=0
for t in proto_test common_test tracker_unit_test peer_unit_test tracker_process_test peer_process_test; do
  echo "== $t"
  TSAN_OPTIONS="log_path=$reports/tsan halt_on_error=0 suppressions=$root/scripts/tsan.supp" timeout 1200 "$dir/bin/$t" --gtest_brief=1 || status=1
done
echo "== interop (Cascade's programs against tests/interop/reference.py)"
TSAN_OPTIONS="log_path=$reports/tsan halt_on_error=0 suppressions=$root/scripts/tsan.supp" timeout 600 python3 "$root/tests/interop/interop_test.py" \
  --bin "$dir/bin" --vectors "$root/tests/vectors" 2>&1 | tail -n 3 || status=1
echo "== ops (HTTP pages, reload, shared directories, several trackers, events)"
TSAN_OPTIONS="log_path=$reports/tsan halt_on_error=0 suppressions=$root/scripts/tsan.supp" timeout 900 /usr/bin/python3 "$root/tests/ops/ops_test.py" \
  --bin "$dir/bin" --artifacts "$reports/../cascade-tsan-screenshots" TrackerHttpTest PeerHttpTest PeerLifeTest \
  TrackerReloadTest 2>&1 | tail -n 3 || status=1
if [[ $(id -u) -eq 0 ]]; then
  echo "== interop on a private MTU-1500, 20 Mbit/s link"
  TSAN_OPTIONS="log_path=$reports/tsan halt_on_error=0 suppressions=$root/scripts/tsan.supp" timeout 600 python3 "$root/tests/interop/interop_test.py" \
    --bin "$dir/bin" --vectors "$root/tests/vectors" --link 20mbit 2>&1 | tail -n 3 || status=1
  echo "== netlab (hosts of the network lab)"
  TSAN_OPTIONS="log_path=$reports/tsan halt_on_error=0 suppressions=$root/scripts/tsan.supp" timeout 900 python3 "$root/tests/netlab/netlab_test.py" \
    --bin "$dir/bin" 2>&1 | tail -n 3 || status=1
fi
if compgen -G "$reports/tsan*" >/dev/null; then
  cat "$reports"/tsan* >&2
  echo "tsan: $(ls "$reports" | wc -l) process(es) reported data races (above)" >&2
  exit 1
fi
[[ $status -eq 0 ]] && echo "tsan: every test passed, no reports"
exit $status
