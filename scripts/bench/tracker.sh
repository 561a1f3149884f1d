#!/usr/bin/env bash
# Tracker benchmark: the real tracker, then a trivial fixed-answer server (this instrument's
# ceiling on this machine), each driven at concurrency 1, 16 and 64 by tests/load/tracker_load
# (two client threads, 1000 simulated peers over 8 hashes, 90% LIST / 10% SUBSCRIBE).
#   scripts/bench/tracker.sh [--seconds N]   (default 10 s per run)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=10
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N]" >&2; exit 2 ;;
  esac
done

"$root/scripts/setup.sh"
"$root/scripts/build.sh" --bench >/dev/null
bin="$root/build/bin"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

wait_port() {  # file
  for _ in $(seq 1 500); do [[ -s $1 ]] && { cat "$1"; return; }; sleep 0.01; done
  echo "server did not start" >&2; exit 1
}

cpu_of() {  # pid -> its CPU seconds so far (user + system), from /proc/PID/stat
  awk -v tck="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / tck }' "/proc/$1/stat"
}

run_series() {  # label port server-pid extra-args -> lines "label concurrency=... server_cpu_s=..."
  for c in 1 16 64; do
    before=$(cpu_of "$3")
    line=$("$bin/tracker_load" load --port "$2" --concurrency "$c" --seconds "$seconds" --threads 2 $4)
    after=$(cpu_of "$3")
    echo "$1 $line server_cpu_s=$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", a - b }')" | tee -a "$work/results"
  done
}

echo '{"port": 0, "open": true}' >"$work/tracker.json"
"$bin/cascade-tracker" --config "$work/tracker.json" --bind 127.0.0.1 --port 0 --port-file "$work/tracker.port" \
  --stats-interval 0 --log-level warn &
pids+=($!)
tport=$(wait_port "$work/tracker.port")
echo "== cascade-tracker (127.0.0.1:$tport), ${seconds}s per run"
run_series tracker "$tport" "${pids[0]}" --strict
kill "${pids[0]}"; wait "${pids[0]}" || true

"$bin/tracker_load" trivial-server --port-file "$work/trivial.port" --threads 2 &
pids+=($!)
vport=$(wait_port "$work/trivial.port")
echo "== trivial fixed-answer server (127.0.0.1:$vport): the instrument's ceiling"
run_series trivial "$vport" "${pids[1]}" ""

echo "== tracker / trivial"
python3 - "$work/results" <<'PY'
import sys, re
rows = {}
for line in open(sys.argv[1]):
    label, rest = line.split(" ", 1)
    kv = dict(re.findall(r"(\S+?)=(\S+)", rest))
    rows[(label, kv["concurrency"])] = kv
print(f"{'conc':>5} {'tracker req/s':>14} {'trivial req/s':>14} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6} {'timeouts':>8} {'invalid':>7} {'trivial p99 ms':>14} {'tracker cpu s':>13} {'load cpu s':>10}")
for c in ("1", "16", "64"):
    t, v = rows[("tracker", c)], rows[("trivial", c)]
    ratio = float(t["requests/s"]) / max(1.0, float(v["requests/s"]))
    print(f"{c:>5} {t['requests/s']:>14} {v['requests/s']:>14} {ratio:>6.2f} {t['p50_ms']:>7} {t['p99_ms']:>7} {t['max_ms']:>7} {t['errors']:>6} {t['timeouts']:>8} {t['invalid']:>7} {v['p99_ms']:>14} {t['server_cpu_s']:>13} {t['load_cpu_s']:>10}")
t = rows[("tracker", "64")]
n = float(t["requests"])
print(f"CPU per request at concurrency 64: tracker {float(t['server_cpu_s']) / n * 1e6:.1f} us, "
      f"load generator {float(t['load_cpu_s']) / n * 1e6:.1f} us (both on the same cores; loopback TCP work "
      f"is counted to whichever side's system call set it off)")
print("Where a request's time went at concurrency 64 (mean / p99 ms). The connect and the write finish in "
      "the kernel at once on loopback, so their time is the load generator's own queueing:")
for label in ("tracker", "trivial"):
    r = rows[(label, "64")]
    print(f"  {label:>8}: " + ", ".join(f"{ph} {r[ph + '_mean_ms']} / {r[ph + '_p99_ms']}" for ph in ("connect", "write", "reply"))
          + f"; total p50 {r['p50_ms']}, p99 {r['p99_ms']}")
PY
