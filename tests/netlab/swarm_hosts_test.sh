#!/usr/bin/env bash
# scripts/swarm.sh --hosts end to end: 3 leechers on the network lab; the live view, the
# summary (T*, the speed-up over client-server, the seed's copies, who served) and every copy
# checked. Skipped (77) where no lab can be made (not root).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[[ $(id -u) -eq 0 ]] || { echo "needs root for the network lab; skipped"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$root/scripts/swarm.sh" --hosts --peers 3 --rate 100mbit | tee "$out"
for want in 'of 3 copies' '\[###\]' 'x T\*' 'x faster' 'the seed sent [0-9.]+ copies' 'who served: the seed' \
            'OK: all 3 copies match'; do
  grep -Eq "$want" "$out" || { echo "missing from the output: $want" >&2; exit 1; }
done
# Not root (or no namespaces): one clear line and exit 2.
if command -v setpriv >/dev/null; then
  set +e
  msg=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$root/scripts/swarm.sh" --hosts 2>&1 >/dev/null)
  code=$?
  set -e
  [[ $code -eq 2 && $msg == *"needs root"* ]] || { echo "as nobody: exit $code, said: $msg" >&2; exit 1; }
fi
echo "swarm_hosts_test: OK"
