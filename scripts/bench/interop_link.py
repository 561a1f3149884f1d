#!/usr/bin/env python3
"""Our leecher (cascade-peer run -c) against the independent implementation's simple leecher
(tests/interop/reference.py: one connection per block, in order), each fetching from a fresh
reference seed of every kind the interop tests know, on a real-sized link: a private network
namespace whose loopback has MTU 1500 and a tbf rate. Prints each kind's median times, the
ratio ours / simple and the difference, and checks every copy. With --baseline-bin, an older
build of ours runs in the same rounds.

Targets (issue 15): ours <= 1.2 x the simple leecher and never more than 0.5 s slower."""
import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "../../tests/interop"))
sys.path.insert(0, os.path.join(here, "../../tests/netlab"))
import reference as ref  # noqa: E402
from private_link import enter_private_link  # noqa: E402

KiB = 1024
# name, what the seed does, file size, block size
KINDS = [
    ("well-behaved", {}, 2048 * KiB, 64 * KiB),
    ("closes after each answer", {"blocks_per_connection": 1}, 2048 * KiB, 64 * KiB),
    ("closes after 5 answers", {"blocks_per_connection": 5}, 2048 * KiB, 64 * KiB),
    ("status 2 once for every 4th block", {"busy": "every4"}, 2048 * KiB, 64 * KiB),
    ("serves at 1 Mbit/s", {"rate": 125000}, 512 * KiB, 64 * KiB),
    ("waits 20 ms before each answer", {"delay": 0.02}, 2048 * KiB, 64 * KiB),
]
TIMEOUT = 120


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--baseline-bin")
    ap.add_argument("--rate", default="20mbit")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--kinds", help="comma-separated indexes into the list (0-5)")
    args = ap.parse_args()
    enter_private_link(args.rate)
    kinds = KINDS if not args.kinds else [KINDS[int(i)] for i in args.kinds.split(",")]
    work = tempfile.mkdtemp(prefix="cascade-interop-link-")
    tracker = ref.Tracker()
    print(f"link: private network namespace, loopback MTU 1500, tbf {args.rate}; {args.runs} runs each")
    leechers = [("ours", args.bin)] + ([("baseline", args.baseline_bin)] if args.baseline_bin else [])
    failed = False
    rows = []
    for name, habits, size, block in kinds:
        data = random.Random(size).randbytes(size)
        raw = ref.make_cascade(data, block)
        c = ref.Cascade(raw)
        cascade = os.path.join(work, f"{size}.cascade")
        with open(cascade, "wb") as f:
            f.write(raw)
        times = {who: [] for who, _ in leechers + [("simple", None)]}
        for run in range(args.runs):
            for who, binary in [("simple", None)] + leechers:
                kw = dict(habits)
                if kw.get("busy") == "every4":
                    kw["busy"] = range(0, c.count, 4)
                seed = ref.Seed(c, data, **kw)
                out = os.path.join(work, f"out-{who}")
                if os.path.exists(out):
                    os.remove(out)
                if who == "simple":
                    cmd = [sys.executable, os.path.join(here, "../../tests/interop/reference.py"), "fetch-per-block",
                           cascade, f"127.0.0.1:{seed.port}", out]
                else:
                    with tracker.lock:
                        tracker.swarms[c.cascade_hash] = {("127.0.0.1", seed.port): int(time.time())}
                    cmd = [f"{binary}/cascade-peer", "run", cascade, f"127.0.0.1:{tracker.port}", "127.0.0.1:0",
                           "-o", out, "-c", "-q"]
                started = time.monotonic()
                r = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT)
                elapsed = time.monotonic() - started
                seed.stop()
                ok = r.returncode == 0 and open(out, "rb").read() == data
                if not ok:
                    failed = True
                    print(f"  {name}: {who} run {run + 1} FAILED (exit {r.returncode}): {r.stderr.decode()[-500:]}")
                times[who].append(elapsed)
        med = {who: statistics.median(t) for who, t in times.items()}
        rows.append((name, size, med, times))
        line = f"{name:<34} {size // KiB:>5} KiB  simple {med['simple']:6.2f} s"
        for who, _ in leechers:
            line += (f"  {who} {med[who]:6.2f} s ({med[who] / med['simple']:.2f} x, "
                     f"{med[who] - med['simple']:+.2f} s)")
        line += "   runs: " + "; ".join(f"{who} " + " ".join(f"{t:.2f}" for t in ts) for who, ts in times.items())
        print(line, flush=True)
    within = all(m["ours"] <= 1.2 * m["simple"] or m["ours"] - m["simple"] <= 0.5 for _, _, m, _ in rows)
    strict = all(m["ours"] <= 1.2 * m["simple"] and m["ours"] - m["simple"] <= 0.5 for _, _, m, _ in rows)
    print(f"target (<= 1.2 x and <= +0.5 s for every kind): {'met' if strict else 'NOT met'}"
          f"{'' if strict or not within else ' (one of the two holds everywhere)'}")
    tracker.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
