#!/usr/bin/env python3
"""A swarm across hosts with bandwidth-limited links (the network lab, tests/netlab/netlab.py):
a tracker, one seed and N leechers, each on its own host, each uplink shaped with tbf. Runs
Cascade peer-to-peer (leechers serve what they hold; they keep serving until every leecher is
done, unless --exit-when-done) and client-server (leechers with -c), in the same run, and prints
per run: the time until every leecher had its file verified, the bound T*, time / T*, the copies
the seed sent (bytes it served / F), each leecher's time, and the bytes each got from the seed
and from other peers.

T* = max(F/u_seed, F/min(d_i), N*F/(u_seed + sum u_i)) (Kumar and Ross, 2006), with the links'
raw rates: Ethernet and TCP/IP headers cost about 4.7 % of them, so 1.05 x T* is about the best
any schedule can do.

Every wait is bounded; the lab is torn down on any exit."""
import argparse
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "../../tests/netlab"))
import netlab  # noqa: E402

PORT = 7000


def parse_size(text):
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.lower().rstrip("ib")
    return int(float(t[:-1]) * units[t[-1]]) if t[-1] in units else int(t)


def uplinks(n, rate, mixed):
    """Each leecher's uplink in bits/s: all `rate`, or with --mixed a quarter at 20 Mbit/s, half
    at 100, a quarter at 400 (8 leechers: two, four, two)."""
    if not mixed:
        return [netlab.parse_rate(rate)] * n
    slow = n // 4
    fast = n // 4
    return [20_000_000] * slow + [100_000_000] * (n - slow - fast) + [400_000_000] * fast


read_json, wait_until = netlab.read_json, netlab.wait_until


TRACE_SENT = re.compile(r"^(\d+):(\d+):([\d.]+) \S+ debug: sent block \d+ of (.+) to (\S+) in (\d+) ms$")
TRACE_WAITED = re.compile(r"^\d+:\d+:[\d.]+ \S+ debug: block \d+ of (.+) for \S+ waited (\d+) ms for an upload slot(?: \(and goes without one\))?$")
TRACE_VERIFIED = re.compile(r"^(\d+):(\d+):([\d.]+) \S+ debug: verified block \d+ of (.+) from \S+$")


def percentile(ordered, q):
    """The q-quantile (0..1) of a sorted non-empty list, nearest rank."""
    return ordered[math.ceil(q * len(ordered)) - 1]


def trace_summary(log_path, host_of_data):
    """Lines describing one run from the peers' debug log: "sent block B of DATA to IP in N ms"
    (its sender's data file; logged once a send is done, that is with at most TCP_NOTSENT_LOWAT
    still unsent, so sends that failed or were cut short at the end are not among them) and
    "verified block B of DATA from IP:PORT" (its receiver's), and "block B of DATA for IP waited N
    ms for an upload slot" (its sender's; only waits of 1 ms or more), with times counted from the
    start of the first send."""
    def seconds(m):  # the line's HH:MM:SS.mmm
        return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    sends, firsts, waits = [], {}, []
    with open(log_path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if m := TRACE_SENT.match(line):
                sends.append((seconds(m) - int(m[6]) / 1000, seconds(m), host_of_data.get(m[4], "?")))
            elif m := TRACE_WAITED.match(line):
                waits.append((host_of_data.get(m[1], "?"), int(m[2]) / 1000))
            elif m := TRACE_VERIFIED.match(line):
                firsts.setdefault(host_of_data.get(m[4], "?"), seconds(m))
    if not sends:
        return ["no \"sent block\" lines in the log (a build without them?)"]
    t0 = min([b for b, _, _ in sends] + list(firsts.values()))
    out = []
    for who, rows in (("the seed's", [x for x in sends if x[2] == "seed"]),
                      ("the leechers'", [x for x in sends if x[2] != "seed"])):
        d = sorted(e - b for b, e, _ in rows)
        if d:
            out.append(f"{who} sends: {len(d)}, median {1000 * percentile(d, 0.5):.0f} ms, 90th percentile "
                       f"{1000 * percentile(d, 0.9):.0f} ms, longest {1000 * d[-1]:.0f} ms")

    for who, rows, n in (("at the seed", [w for h, w in waits if h == "seed"], sum(x[2] == "seed" for x in sends)),
                         ("at the leechers", [w for h, w in waits if h != "seed"], sum(x[2] != "seed" for x in sends))):
        d = sorted(rows)
        out.append(f"answers that first waited for an upload slot {who}: {len(d)} (sends completed: {n})" + (
            f", median wait {1000 * percentile(d, 0.5):.0f} ms, 90th percentile "
            f"{1000 * percentile(d, 0.9):.0f} ms" if d else ""))

    def order(name):  # seed, l1, l2, ..., then anything else
        return (name != "seed", not name[1:].isdigit(), int(name[1:]) if name[1:].isdigit() else 0, name)
    out.append("first block verified (s): " + " ".join(
        f"{h} {t - t0:.2f}" for h, t in sorted(firsts.items(), key=lambda kv: kv[1])))
    hosts = sorted({x[2] for x in sends} | {"seed"}, key=order)
    end = max(e for _, e, _ in sends)
    out.append("sends going at once per host (" + " ".join(hosts) + ") over the last 1.5 s:")
    for k in range(6, 0, -1):
        at = end - 0.25 * k
        going = [sum(1 for b, e, snd in sends if snd == h and b <= at < e) for h in hosts]
        out.append(f"  {at - t0:5.2f} s: " + " ".join(str(g) for g in going))
    return out


def tx_bytes(proc, host):
    """Bytes sent so far on eth0 of `host`, read through `proc` running there (its
    /proc/PID/net/dev: `ip netns exec` becomes the program, same pid). None before the process has
    entered the host's namespace (it is `ip` still, wherever it was started) and once it has
    exited."""
    try:
        here, there = os.stat(f"/proc/{proc.pid}/ns/net"), os.stat(f"/run/netns/{host.ns}")
        if (here.st_dev, here.st_ino) != (there.st_dev, there.st_ino):
            return None
        with open(f"/proc/{proc.pid}/net/dev") as f:
            for line in f:
                name, _, fields = line.partition(":")
                if name.strip() == "eth0":
                    return int(fields.split()[8])
    except (OSError, ValueError, IndexError):
        pass
    return None


def run_once(args, binary, mode, work, data_path, cascade, size, ups, seed_up, timeout, tick=None):
    """One swarm on a fresh lab. mode: p2p or cs. Returns a dict of figures. tick(seconds,
    leechers), if given, is called as it goes with each leecher's statistics (None until it has
    written some)."""
    with netlab.Lab() as lab:
        tracker_host = lab.add_host("tracker")
        seed = lab.add_host("seed", up=seed_up)
        leechers = [lab.add_host(f"l{i + 1}", up=ups[i], down=args.down) for i in range(len(ups))]
        log = open(os.path.join(work, f"{mode}.log"), "wb")
        with open(os.path.join(work, "tracker.json"), "w") as f:
            json.dump({"port": PORT, "open": True}, f)
        tracker_host.start([f"{binary}/cascade-tracker", "--config", os.path.join(work, "tracker.json"),
                            "--bind", tracker_host.ip, "--stats-interval", "0"], log)
        tracker = f"{tracker_host.ip}:{PORT}"
        seed_stats = os.path.join(work, "seed.json")
        for p in (seed_stats,):
            if os.path.exists(p):
                os.remove(p)
        seed_proc = seed.start([f"{binary}/cascade-peer", "run", cascade, tracker, f"{seed.ip}:{PORT}", "-o", data_path,
                                "--stats-json", seed_stats, *([] if getattr(args, "trace", False) else ["-q"]), *args.seed_args], log)
        # The seed has checked its file once its statistics say so (it serves only after).
        wait_until("the seed to check its file",
                   lambda: (read_json(seed_stats) or {}).get("files", [{}])[0].get("verified_blocks") ==
                   -(-size // args.block_size_bytes), 60)
        outs, stats, procs, starts = [], [], [], []
        for i, h in enumerate(leechers):
            out = os.path.join(work, f"leecher{i + 1}")
            st = os.path.join(work, f"leecher{i + 1}.json")
            for p in (out, st, out + ".cascade-journal"):
                if os.path.exists(p):
                    os.remove(p)
            outs.append(out)
            stats.append(st)
        extra = ["-c"] if mode == "cs" else (["--exit-when-done"] if args.exit_when_done else [])
        t0 = time.monotonic()
        for i, h in enumerate(leechers):
            starts.append(time.monotonic())
            procs.append(h.start([f"{binary}/cascade-peer", "run", cascade, tracker, f"{h.ip}:{PORT}", "-o", outs[i],
                                  "--stats-json", stats[i], *([] if getattr(args, "trace", False) else ["-q"]), *extra, *args.peer_args], log))

        def done_times():
            out = []
            for st in stats:
                j = read_json(st)
                s = j["files"][0].get("complete_seconds", -1) if j else -1
                if s is None or s < 0:
                    return None
                out.append(s)
            return out
        timeline = []

        def sample_and_check():
            now = time.monotonic() - t0
            if tick:
                tick(now, [(read_json(st) or {}).get("files", [None])[0] for st in stats])
            if not timeline or now - timeline[-1][0] >= 0.5:
                got, up = 0, []
                for i, st in enumerate(stats):
                    j = read_json(st)
                    got += j["files"][0]["verified_blocks"] if j else 0
                    # Bytes the host's interface sent as they leave (headers, and its ACKs and
                    # requests for its own download, included: about 2 % of a 100 Mbit/s uplink):
                    # bytes_served counts a block once all of it is out, too coarse for half a
                    # second. Unreadable this time (not started, or exited): as last time.
                    sent = tx_bytes(procs[i], leechers[i])
                    up.append(sent if sent is not None else (timeline[-1][4][i] if timeline else 0))
                seed_j = read_json(seed_stats)
                sf = seed_j["files"][0] if seed_j else {}
                timeline.append((now, got, sf.get("bytes_served", 0), sf.get("first_copy_unsent", 0), up))
            return done_times()
        try:
            wait_until("every leecher to complete", sample_and_check, timeout)
        except AssertionError:
            for p in procs:
                p.terminate()
            raise
        finish = time.monotonic()
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            p.wait(20)
        seed_proc.terminate()
        seed_proc.wait(20)
        times = [starts[i] - t0 + s for i, s in enumerate(done_times())]
        seed_served = read_json(seed_stats)["files"][0]["bytes_served"]
        per = []
        seed_key = f"{seed.ip}:{PORT}"
        froms = [read_json(st)["files"][0]["blocks_from"] for st in stats]
        for i, st in enumerate(stats):
            j = read_json(st)["files"][0]
            key = f"{leechers[i].ip}:{PORT}"
            served_to = sum(1 for k, fr in enumerate(froms) if k != i and fr.get(key, 0) > 0)
            from_seed = j["blocks_from"].get(seed_key, 0)
            from_peers = sum(n for k, n in j["blocks_from"].items() if k != seed_key)
            per.append((times[i], from_seed * args.block_size_bytes, from_peers * args.block_size_bytes,
                        j["bytes_served"], served_to))
            with open(outs[i], "rb") as f:
                if f.read() != open(data_path, "rb").read():
                    raise RuntimeError(f"leecher {i + 1}'s copy differs")
        log.close()
        trace = trace_summary(os.path.join(work, f"{mode}.log"),
                              {data_path: "seed", **{o: f"l{i + 1}" for i, o in enumerate(outs)}}) if getattr(args, "trace", False) else []
        # Everything served, over what the leechers needed: above 1, second copies of blocks
        # (endgame) and sends their receiver no longer read.
        served = (seed_served + sum(p[3] for p in per)) / (size * len(per))
        return {"total": max(times), "copies": seed_served / size, "served": served, "per": per,
                "wall": finish - t0,
                "timeline": timeline, "trace": trace}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--peers", type=int, default=8)
    ap.add_argument("--size", default="64MiB")
    ap.add_argument("--block-size", default="256KiB")
    ap.add_argument("--rate", default="100mbit", help="every uplink (tc notation)")
    ap.add_argument("--down", default=None, help="shape the leechers' downlinks too")
    ap.add_argument("--mixed", action="store_true", help="leecher uplinks 20/100/400 Mbit/s, seed at --rate")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--modes", default="p2p,cs")
    ap.add_argument("--exit-when-done", action="store_true", help="leechers leave once done")
    ap.add_argument("--peer-args", default="", help="extra options for the leechers")
    ap.add_argument("--seed-args", default="",
                    help="extra options for the seed, as one argument: --seed-args='--upload-slots 1'")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--timeline", action="store_true",
                    help="print the blocks all leechers hold and the seed's copies every 0.5 s, and how busy the "
                         "leechers' uplinks were (their interfaces' bytes sent against their shaped rates)")
    ap.add_argument("--trace", action="store_true",
                    help="run the peers at --log-level debug and print, from their one line per block sent "
                         "and verified, how long sends took (those that completed: a send is done once at most "
                         "128 KiB of it is unsent), how many first waited for an upload slot and how long, when "
                         "each leecher verified its first block, and how many "
                         "sends each host had going over the last 1.5 s")
    args = ap.parse_args()
    args.peer_args = args.peer_args.split()
    args.seed_args = args.seed_args.split()
    if args.trace:  # (an option given twice is an error)
        for extra in (args.peer_args, args.seed_args):
            if not any(a == "--log-level" or a.startswith("--log-level=") for a in extra):
                extra += ["--log-level", "debug"]
    netlab.require_lab_or_exit()
    size = parse_size(args.size)
    args.block_size_bytes = parse_size(args.block_size)
    work = tempfile.mkdtemp(prefix="cascade-netswarm-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        data_path = os.path.join(work, "seed-data")
        with open(data_path, "wb") as f:
            f.write(random.Random(7).randbytes(size))
        cascade = data_path + ".cascade"
        subprocess.run([f"{args.bin}/cascade-peer", "make", data_path, "-o", cascade, "--block-size", args.block_size],
                       check=True, capture_output=True)
        ups = uplinks(args.peers, args.rate, args.mixed)
        seed_up = netlab.parse_rate(args.rate)
        downs = [netlab.parse_rate(args.down)] * args.peers if args.down else []
        t_seed = size * 8 / seed_up
        t_down = size * 8 / min(downs) if downs else 0
        t_all = args.peers * size * 8 / (seed_up + sum(ups))
        t_star = max(t_seed, t_down, t_all)
        print(f"netswarm: {args.peers} leechers, {size >> 20} MiB in {args.block_size} blocks; seed uplink "
              f"{seed_up / 1e6:g} Mbit/s, leecher uplinks {', '.join(f'{u / 1e6:g}' for u in ups)} Mbit/s"
              f"{', downlinks ' + args.down if args.down else ''}; "
              f"leechers {'leave when done' if args.exit_when_done else 'serve until all are done'}")
        print(f"T* = max(F/u_seed {t_seed:.2f} s, F/min d {t_down:.2f} s, N*F/(u_seed+sum u) {t_all:.2f} s) = "
              f"{t_star:.2f} s")
        results = {m: [] for m in args.modes.split(",")}
        for run in range(args.runs):
            for mode in results:
                r = run_once(args, args.bin, mode, work, data_path, cascade, size, ups, seed_up, timeout=600)
                results[mode].append(r)
                print(f"run {run + 1} {mode:>3}: {r['total']:6.2f} s = {r['total'] / t_star:.2f} x T*, "
                      f"seed sent {r['copies']:.2f} copies, served in all {r['served']:.2f} x needed",
                      flush=True)
                if args.timeline:
                    blocks = -(-size // args.block_size_bytes) * args.peers
                    print("    timeline (s: % of all copies held, seed copies sent, blocks the seed has not yet sent "
                          "once): " + "  ".join(f"{t:.1f}: {100 * got / blocks:.0f}% {sent / size:.2f} {unsent}"
                                                for t, got, sent, unsent, _ in r["timeline"]))
                    tl = r["timeline"]
                    if mode == "p2p":  # (with -c the leechers serve nothing)
                        print("    leecher uplinks busy (s: mean % of the shaped rate, from the bytes each host's "
                              "interface sent, headers, ACKs and requests included; leechers under half busy): " +
                              "  ".join(f"{b[0]:.1f}: {100 * statistics.mean(busy):.0f}% {sum(x < 0.5 for x in busy)}"
                                        for a, b in zip(tl, tl[1:])
                                        for busy in [[8 * (y - x) / ((b[0] - a[0]) * ups[i])
                                                      for i, (x, y) in enumerate(zip(a[4], b[4]))]]))
                for line in r["trace"]:
                    print("    trace: " + line)
                for i, (t, fs, fp, served, served_to) in enumerate(r["per"]):
                    print(f"    leecher {i + 1:>2} ({ups[i] / 1e6:g} Mbit/s up): {t:6.2f} s, from seed "
                          f"{fs / 2**20:6.1f} MiB, from peers {fp / 2**20:6.1f} MiB, served {served / 2**20:6.1f} MiB"
                          f" to {served_to} peers")
        print("medians:")
        for mode, rs in results.items():
            total = statistics.median(r["total"] for r in rs)
            copies = statistics.median(r["copies"] for r in rs)
            print(f"  {mode:>3}: {total:6.2f} s = {total / t_star:.2f} x T*, seed sent {copies:.2f} copies"
                  f"  (runs: {' '.join('%.2f' % r['total'] for r in rs)})")
        if "p2p" in results and "cs" in results:
            p = statistics.median(r["total"] for r in results["p2p"])
            c = statistics.median(r["total"] for r in results["cs"])
            print(f"  peer-to-peer is {c / p:.2f} x faster than client-server")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
