#!/usr/bin/env bash
# A local swarm on 127.0.0.1: a tracker, one seed and N leechers sharing the files of
# sample_data/ (or one file of yours). Shows progress, then checks every copy's SHA-256 and
# prints a summary. Always tears everything down, from any current directory.
#
#   scripts/swarm.sh [--peers N] [--file PATH] [--block-size SIZE] [--timeout SECONDS] [--report FILE.html]
#     --report: one self-contained HTML file with each leecher's progress over time, the blocks
#     each peer served to each other, and the summary (scripts/lib/swarm_report.py)
#   scripts/swarm.sh --hosts [--rate 100mbit] [--peers 8] [--file PATH] [--block-size SIZE]
#     the same across hosts of the network lab (needs root): scripts/swarm_hosts.py
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

peers="" file="" block_size="256KiB" timeout=300 hosts=0 rate="100mbit" report="" bin_dir=""
usage() { echo "usage: $0 [--peers N] [--file PATH] [--block-size SIZE] [--timeout SECONDS] [--report FILE.html] | --hosts [--rate R] [--peers N] [--file PATH]" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --hosts) hosts=1; shift ;;
    --rate) rate=${2:?}; shift 2 ;;
    --peers) peers=${2:?}; shift 2 ;;
    --file) file=${2:?}; shift 2 ;;
    --block-size) block_size=${2:?}; shift 2 ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    --report) report=${2:?}; shift 2 ;;
    --bin) bin_dir=${2:?}; shift 2 ;;  # tests: these programs, no set-up and no build
    -h|--help) usage ;;
    *) echo "unknown option: $1" >&2; usage ;;
  esac
done
if (( hosts )); then
  peers=${peers:-8}
  [[ $peers =~ ^[0-9]+$ ]] || { echo "--peers must be a number" >&2; exit 2; }
  [[ -z $file || -f $file ]] || { echo "--file: no such file: $file" >&2; exit 2; }
  if [[ $(id -u) -ne 0 ]]; then
    echo "swarm --hosts: the network lab needs root (network namespaces): run it as root, or scripts/swarm.sh for the demo on 127.0.0.1" >&2
    exit 2
  fi
  "$root/scripts/setup.sh"
  "$root/scripts/build.sh" --release >/dev/null
  exec timeout 3600 python3 "$root/scripts/swarm_hosts.py" --bin "$root/build/bin" --peers "$peers" --rate "$rate" \
    --block-size "$block_size" ${file:+--file "$file"}
fi
peers=${peers:-4}
[[ $peers =~ ^[0-9]+$ && $peers -ge 1 && $peers -le 64 ]] || { echo "--peers must be 1..64" >&2; exit 2; }
[[ -z $file || -f $file ]] || { echo "--file: no such file: $file" >&2; exit 2; }
[[ -n $file ]] && file=$(cd "$(dirname "$file")" && pwd)/$(basename "$file")
if [[ -n $report ]]; then
  [[ -d $(dirname "$report") ]] || { echo "--report: no such directory: $(dirname "$report")" >&2; exit 2; }
  report=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
fi

if [[ -n $bin_dir ]]; then
  bin=$(cd "$bin_dir" && pwd)
else
  "$root/scripts/setup.sh"
  "$root/scripts/build.sh" --release >/dev/null  # incremental: a no-op when nothing changed
  bin="$root/build/bin"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cascade-swarm.XXXXXX")
pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM

wait_port() {  # file -> port, or fail after 10 s
  for _ in $(seq 1 1000); do [[ -s $1 ]] && { head -n1 "$1"; return; }; sleep 0.01; done
  echo "swarm: a process did not start; its log:" >&2; cat "${1%.port}.log" >&2 || true; exit 1
}

# ---- The files to share ----
mkdir -p "$work/seed"
names=()
if [[ -n $file ]]; then
  name=$(basename "$file")
  cp "$file" "$work/seed/$name"
  "$bin/cascade-peer" make "$work/seed/$name" --block-size "$block_size" -o "$work/$name.cascade" >/dev/null 2>&1
  names=("$name")
  echo '{"port": 0, "open": true}' >"$work/tracker.json"
else
  for c in "$root"/sample_data/*.cascade; do
    name=$(basename "${c%.cascade}")
    cp "$root/sample_data/$name" "$work/seed/$name"
    cp "$c" "$work/$name.cascade"
    names+=("$name")
  done
  cp "$root/sample_data/tracker.json" "$work/tracker.json"
fi
sources="" ; for n in "${names[@]}"; do sources+="${sources:+:}$work/$n.cascade"; done
outputs() { local dir=$1 out=""; for n in "${names[@]}"; do out+="${out:+:}$dir/$n"; done; echo "$out"; }
total_bytes=0; for n in "${names[@]}"; do total_bytes=$((total_bytes + $(stat -c %s "$work/seed/$n"))); done

# ---- Tracker and seed ----
"$bin/cascade-tracker" --config "$work/tracker.json" --bind 127.0.0.1 --port 0 --port-file "$work/tracker.port" \
  --stats-interval 0 >"$work/tracker.log" 2>&1 &
pids+=($!)
tracker="127.0.0.1:$(wait_port "$work/tracker.port")"
"$bin/cascade-peer" run "$sources" "$tracker" 127.0.0.1:0 -o "$(outputs "$work/seed")" --port-file "$work/seed.port" \
  --stats-json "$work/seed.json" --announce-interval 5 >"$work/seed.log" 2>&1 &
pids+=($!)
seed_port=$(wait_port "$work/seed.port")
echo "swarm: tracker $tracker, seed 127.0.0.1:$seed_port, $peers leechers, ${#names[@]} file(s), $total_bytes bytes each"

# ---- Leechers: all at once; they serve what they have, so they trade blocks ----
start=$(date +%s.%N)
for i in $(seq 1 "$peers"); do
  mkdir -p "$work/leecher$i"
  "$bin/cascade-peer" run "$sources" "$tracker" 127.0.0.1:0 -o "$(outputs "$work/leecher$i")" \
    --port-file "$work/leecher$i.port" --stats-json "$work/leecher$i.json" --announce-interval 5 --list-interval 1 \
    >"$work/leecher$i.log" 2>&1 &
  pids+=($!)
done

# ---- Progress until every leecher has every file complete: one aggregate line and a strip with
# one character per leecher (scripts/lib/swarm_view.py), redrawn in place on a terminal ----
tty=0; [[ -t 1 ]] && tty=1
deadline=$(( $(date +%s) + timeout ))
shown=0 last_print=0
draw() {  # $1: the frame (lines)
  if (( tty )); then
    (( shown > 0 )) && printf '\e[%dF' "$shown"
    while IFS= read -r l; do printf '\e[2K%s\n' "$l"; done <<<"$1"
    shown=$(wc -l <<<"$1")
  elif (( $(date +%s) - last_print >= 2 )) || [[ ${2:-} == final ]]; then
    echo "$1"; last_print=$(date +%s)
  fi
}
while true; do
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null || { echo; echo "swarm: a process exited early; logs in $work are shown below" >&2; tail -n 5 "$work"/*.log >&2; exit 1; }
  done
  if frame=$(python3 "$root/scripts/lib/swarm_view.py" "$work" "$peers" "$start" "$work/timeline.ndjson"); then break; fi
  draw "$frame"
  (( $(date +%s) < deadline )) || { echo; echo "swarm: timed out after ${timeout}s" >&2; exit 1; }
  sleep 0.2
done
end=$(date +%s.%N)
draw "$frame" final

# ---- Stop everyone (SIGTERM: clean exits write final statistics) ----
for p in "${pids[@]:1}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${pids[@]:1}"; do wait "$p" || { echo "swarm: a peer exited with an error" >&2; exit 1; }; done
kill -TERM "${pids[0]}"; wait "${pids[0]}" || true
pids=()

# ---- Verify every copy and summarise ----
status=0
for n in "${names[@]}"; do
  want=$("$bin/cascade-peer" info --json "$work/$n.cascade" | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_sha256"])')
  for i in $(seq 1 "$peers"); do
    got=$(sha256sum "$work/leecher$i/$n" | cut -d' ' -f1)
    if [[ $got != "$want" ]]; then echo "MISMATCH leecher$i/$n: $got (want $want)"; status=1; fi
  done
done
python3 - "$work" "$peers" "$start" "$end" "$total_bytes" "$seed_port" <<'PY'
import json, sys
work, n, start, end, total, seed_port = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
secs = max(end - start, 1e-6)
ports = {f"127.0.0.1:{seed_port}": "seed"}
for i in range(1, n + 1):
    ports[f"127.0.0.1:{open(f'{work}/leecher{i}.port').read().strip()}"] = f"leecher{i}"
served = {name: 0 for name in ports.values()}
from_others = 0
for i in range(1, n + 1):
    s = json.load(open(f"{work}/leecher{i}.json"))
    for f in s["files"]:
        for src, blocks in f["blocks_from"].items():
            who = ports.get(src, src)
            served[who] = served.get(who, 0) + blocks
            if who != "seed": from_others += blocks
print(f"swarm: {n} leechers x {total} bytes in {secs:.2f} s ({n * total / secs / 1e6:.1f} MB/s in total)")
print("swarm: blocks served: " + ", ".join(f"{k} {v}" for k, v in served.items()))
print(f"swarm: blocks leechers got from other leechers: {from_others}")
PY
if [[ -n $report ]]; then
  python3 "$root/scripts/lib/swarm_report.py" "$work" "$peers" "$(python3 -c "print($end - $start)")" "$total_bytes" \
    "$seed_port" "$(( status == 0 ))" "$report"
  echo "swarm: report written to $report"
fi
if (( status == 0 )); then
  echo "swarm: OK: all $((peers * ${#names[@]})) copies match their cascade files' SHA-256"
else
  echo "swarm: FAILED"; exit 1
fi
