#!/usr/bin/env python3
"""Swarm benchmark: W1 (1 seed -> 1 leecher, 1 MiB blocks), W2 (1 seed -> 4 leechers at once,
1 MiB blocks), W3 (1 seed -> 1 leecher, 64 KiB blocks) on 127.0.0.1, plus this machine's
ceilings measured in the same run (single-core SHA-256, raw loopback TCP copy, and for the
directory the files are in: page-cache fill (fresh pages, and rewriting cached ones), the disk's sequential write with and without a final
fdatasync (plainly, and with each MiB's writeback started as it is written), and its cold read).

Files go where users keep them: a directory on the disk (--dir, default /var/tmp); --tmpfs puts
them in /dev/shm for the CPU-only view. The report names the file system.

The clock starts once the seed has verified its file (its start-up hashing is not counted) and
runs from the leechers' start until every leecher has exited 0 in client-only mode
(which it does only after its whole file's SHA-256 matched). Every timed wait is bounded."""
import argparse, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time

def parse_size(text):
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.lower().rstrip("ib")
    return int(float(t[:-1]) * units[t[-1]]) if t[-1] in units else int(t)

class Proc:
    """A process run under GNU time, which reports its own child's CPU time and peak RSS (a
    child forked from Python would inherit Python's RSS in its maxrss)."""
    def __init__(self, args, log):
        self.log = open(log, "w")
        self.time_file = log + ".time"
        self.p = subprocess.Popen(["/usr/bin/time", "-o", self.time_file, "-f", "%U %S %M"] + args,
                                  stdout=self.log, stderr=subprocess.STDOUT)
        self.rusage = None
        self.code = None
    def wait(self, timeout):
        deadline = time.time() + timeout
        while self.code is None:
            pid, status, ru = os.wait4(self.p.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
                self.rusage = ru
                self.p.returncode = self.code
                break
            if time.time() > deadline:
                return None
            time.sleep(0.002)
        return self.code
    def stop(self):
        if self.code is None:
            # Signal the program itself (the child of time), so time still reports on it.
            kids = subprocess.run(["pgrep", "-P", str(self.p.pid)], capture_output=True, text=True).stdout.split()
            for k in kids:
                os.kill(int(k), signal.SIGTERM)
            if self.wait(10) is None:
                self.p.kill(); self.wait(10)
    def _times(self):
        try:
            with open(self.time_file) as f:
                u, s, m = f.read().split()[-3:]
            return float(u) + float(s), int(m) / 1024.0
        except (OSError, ValueError):
            return float("nan"), float("nan")
    def cpu(self): return self._times()[0]
    def rss_mib(self): return self._times()[1]

def wait_file(path, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path) as f:
                text = f.read()
            if text.endswith("\n"):
                return text
        time.sleep(0.01)
    sys.exit(f"timed out waiting for {path}")

def wait_seed_complete(stats_path, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(stats_path) as f:
                if all(x["complete"] for x in json.load(f)["files"]):
                    return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    sys.exit(f"timed out waiting for the seed to verify its file ({stats_path})")

def ceiling(b, *args):
    """Runs one of the machine's ceilings (tests/load/ceilings.cpp) and returns what it printed."""
    r = subprocess.run([f"{b}/ceilings", *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"swarm_bench: ceilings {' '.join(args)} failed: {r.stderr.strip() or r.returncode}")
    return r.stdout

def finish(what, run, start, seed, leechers, copies, results):
    """Waits for every leecher to exit 0, stops the seed, books the run into `results` (times,
    leecher CPU, seed CPU, leecher RSS, seed RSS) and, on the first run, compares every copy."""
    times, lcpu, scpu, lrss, srss = results
    for l in leechers:
        code = l.wait(320)
        if code != 0:
            sys.exit(f"{what}: a leecher failed (exit {code}); see its log beside the files")
    times.append(time.time() - start)
    seed.stop()
    lcpu.append(max(l.cpu() for l in leechers)); lrss.append(max(l.rss_mib() for l in leechers))
    scpu.append(seed.cpu()); srss.append(seed.rss_mib())
    if run == 0:
        for copy in copies:
            if subprocess.run(["cmp", "-s", DATA, copy]).returncode != 0:
                sys.exit(f"{what}: {copy} differs from the original")
    print(f"{what} run {run + 1}: {times[-1]:.3f} s", flush=True)

DATA = None  # the original file, set in main()

def main():
    global DATA
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--size", default="1GiB")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workloads", default="W1,W2,W3")
    ap.add_argument("--libtorrent", action="store_true",
                    help="also run W1 and W2 with libtorrent (Debian's python3-libtorrent) in the same run")
    ap.add_argument("--lt-kind", choices=["v2", "v1", "hybrid"], default="v2",
                    help="libtorrent's torrent: v2 hashes SHA-256 as Cascade does (default)")
    ap.add_argument("--dir", default="/var/tmp", help="where the files go (default: /var/tmp, on the disk)")
    ap.add_argument("--tmpfs", action="store_true", help="put the files in /dev/shm instead (the CPU-only view)")
    ap.add_argument("--baseline-bin", help="an older build's bin/ to A/B against: its cascade-peer runs "
                    "each workload in the same run, alternating with this one")
    args = ap.parse_args()
    size = parse_size(args.size)
    b = args.bin
    base = "/dev/shm" if args.tmpfs else args.dir
    if not os.path.isdir(base):
        sys.exit(f"bench: no such directory: {base}")
    if args.libtorrent and subprocess.run(["/usr/bin/python3", "-c", "import libtorrent"],
                                          capture_output=True).returncode != 0:
        sys.exit("bench: --libtorrent needs Debian's python3-libtorrent (apt-get install python3-libtorrent)")
    if shutil.disk_usage(base).free < 8 * size:
        sys.exit(f"bench: {base} has {shutil.disk_usage(base).free >> 20} MiB free; {8 * size >> 20} MiB needed")
    work = tempfile.mkdtemp(prefix="cascade-bench.", dir=base)
    fs = (subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE,TARGET", "-T", work], capture_output=True,
                         text=True).stdout.splitlines() or [""])[0].split()  # the first of its mounts
    fs_name = f"{fs[0]} ({fs[1]} on {fs[2]})" if len(fs) == 3 else "unknown file system"
    procs = []
    try:
        print(f"bench: {size} bytes, {args.runs} runs each, files in {work}: {fs_name}", flush=True)
        sha = ceiling(b, "sha", "--bytes", str(size))
        tcp = ceiling(b, "tcp", "--bytes", str(size))
        tcp_kv = dict(kv.split("=") for kv in tcp.split())
        sha_mbps = float(sha.split("=")[1]); tcp_mbps = float(tcp_kv["tcp_loopback_MBps"])
        receive_cpu = float(tcp_kv["receive_cpu_s"])
        print(f"ceilings: single-core SHA-256 {sha_mbps:.0f} MB/s, loopback TCP copy {tcp_mbps:.0f} MB/s "
              f"(receiving side {receive_cpu:.2f} CPU s)", flush=True)
        # Writing fresh pages into the page cache, which every downloaded byte needs. On a virtual
        # machine whose host reclaims freed guest memory, this alone can cost seconds per GiB.
        fills = {}
        for k in (1, 4):
            out = ceiling(b, "fill", "--bytes", str(size), "--files", str(k), "--dir", work)
            fills[k] = float(out.split("=")[1])
            print(f"ceilings: filling {k} fresh file(s) of {size} bytes at once: {fills[k]:.0f} MB/s in total "
                  f"({k * size / fills[k] / 1e6:.2f} s)", flush=True)

        # Copying into pages already in the cache (the same 64 MiB written over and over): on a
        # disk, a peer that drops what it has synced and hashed reuses pages instead of taking
        # fresh ones, so only this copy is unavoidable. tmpfs pages cannot be dropped.
        window = min(64 << 20, size // 2 >> 20 << 20)
        rewrite = float(ceiling(b, "fill", "--bytes", str(size), "--window", str(window), "--dir", work).split("=")[1]) \
            if window > 0 else 0.0
        if rewrite:
            print(f"ceilings: writing {size} bytes round a {window >> 20} MiB window of cached pages: {rewrite:.0f} MB/s "
                  f"({size / rewrite / 1e6:.2f} s)", flush=True)
        # What the disk takes durably: k files of `size` written at once, each then fdatasync'd (as k
        # leechers do), plainly and with each MiB's writeback started as it is written (as the peer
        # does per block: the disk works while the rest is written, so this can beat the plain
        # write). Measured again after each workload's runs: this disk's speed moves within a run
        # (from 1143 down to 242 MB/s seen), and the floor takes the fastest it showed either way, so
        # it stays a bound. The two alternate in which goes first, as a disk may slow under writes.
        synced = {}
        ways = [("", ()), (", writeback started per MiB", ("--stream",))]
        def measure_synced(when):
            for k in (1, 4):
                ways.reverse()
                for how, flags in ways:
                    rate = float(ceiling(b, "fill", "--bytes", str(size), "--files", str(k), "--sync", *flags,
                                         "--dir", work).split("=")[1])
                    synced[k] = max(synced.get(k, 0.0), rate)
                    print(f"ceilings{when}: writing {k} file(s) of {size} bytes at once and fdatasync{how}: {rate:.0f} "
                          f"MB/s in total ({k * size / rate / 1e6:.2f} s)", flush=True)
        if not args.tmpfs:
            measure_synced("")

        data = DATA = os.path.join(work, "data.bin")
        subprocess.run(["openssl", "rand", "-out", data, str(size)], check=True)
        cold = ceiling(b, "read", "--file", data).split()
        cold_mbps, evicted = float(cold[0].split("=")[1]), cold[1].split("=")[1]
        print(f"ceilings: cold sequential read of {size} bytes: {cold_mbps:.0f} MB/s ({size / cold_mbps / 1e6:.2f} s; "
              f"cache dropped by {evicted})", flush=True)
        # What serving costs: the same file handed to a loopback socket with sendfile() from the
        # page cache, as peers serve. Not in the floor (a measured figure, not a bound: it moves
        # with how the sends are batched), printed beside it.
        sent = dict(kv.split("=") for kv in ceiling(b, "tcp", "--bytes", str(size), "--file", data).split())
        send_cpu = float(sent["send_cpu_s"])
        print(f"ceilings: sending the cached file with sendfile(): {float(sent['tcp_loopback_MBps']):.0f} MB/s, "
              f"{send_cpu:.2f} CPU s sending and {float(sent['receive_cpu_s']):.2f} receiving", flush=True)
        cascades = {}
        for bs in ("1MiB", "64KiB"):
            c = os.path.join(work, f"data-{bs}.cascade")
            subprocess.run([f"{b}/cascade-peer", "make", data, "--block-size", bs, "-o", c], check=True, capture_output=True)
            cascades[bs] = c
        with open(os.path.join(work, "t.json"), "w") as f:
            f.write('{"port": 0, "open": true}\n')
        tracker = Proc([f"{b}/cascade-tracker", "--config", os.path.join(work, "t.json"), "--bind", "127.0.0.1",
                        "--port", "0", "--port-file", os.path.join(work, "t.port"), "--stats-interval", "0",
                        "--log-level", "warn"], os.path.join(work, "tracker.log"))
        procs.append(tracker)
        tport = wait_file(os.path.join(work, "t.port")).strip()
        workloads = {"W1": ("1MiB", 1), "W2": ("1MiB", 4), "W3": ("64KiB", 1)}
        rows = []
        variants = [("", b)] + ([("base", args.baseline_bin)] if args.baseline_bin else [])
        lt_peer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lt_peer.py")
        torrent = os.path.join(work, "data.torrent")
        if args.libtorrent:
            subprocess.run(["/usr/bin/python3", lt_peer, "make", data, torrent, "--piece-size", str(1 << 20),
                            "--kind", args.lt_kind], check=True)
        for name in args.workloads.split(","):
          bs, n = workloads[name]
          these = variants + ([("libtorrent", None)] if args.libtorrent and bs == "1MiB" else [])
          per = {label: ([], [], [], [], []) for label, _ in these}
          for run in range(args.runs):
            for label, pb in these:
                times, lcpu, scpu, lrss, srss = per[label]
                for f in os.listdir(work):
                    if f.startswith("copy") or f.endswith(".port") and f != "t.port":
                        path = os.path.join(work, f)
                        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
                # Each run starts on a quiet disk: the last run's copies (libtorrent's are not synced),
                # their deletion and the ceilings' files are flushed before the clock, not during it.
                os.sync()
                if label == "libtorrent":
                    # The same job for libtorrent: a seed (its check done before the clock starts)
                    # and leechers connected to it and to each other, exiting once complete.
                    peers_dir = os.path.join(work, "copy-lt-ports")
                    os.makedirs(peers_dir)
                    seed = Proc(["/usr/bin/python3", lt_peer, "seed", torrent, work, "--port-file",
                                 os.path.join(peers_dir, "seed.port")], os.path.join(work, "lt-seed.log"))
                    procs.append(seed)
                    wait_file(os.path.join(peers_dir, "seed.port"), timeout=120)
                    start = time.time()
                    leechers = []
                    for i in range(n):
                        os.makedirs(os.path.join(work, f"copy-lt{i}"))
                        leechers.append(Proc(["/usr/bin/python3", lt_peer, "leech", torrent, os.path.join(work, f"copy-lt{i}"),
                                              "--port-file", os.path.join(peers_dir, f"leecher{i}.port"), "--peers-dir",
                                              peers_dir, "--timeout", "300"], os.path.join(work, f"lt-leecher{i}.log")))
                    procs.extend(leechers)
                    copies = [os.path.join(work, f"copy-lt{i}", "data.bin") for i in range(n)]
                    finish(f"{name} libtorrent", run, start, seed, leechers, copies, per[label])
                    continue
                seed_stats = os.path.join(work, "seed.json")
                if os.path.exists(seed_stats):
                    os.remove(seed_stats)
                seed = Proc([f"{pb}/cascade-peer", "run", cascades[bs], f"127.0.0.1:{tport}", "127.0.0.1:0", "-o", data,
                             "--port-file", os.path.join(work, "seed.port"), "--stats-json", seed_stats, "-q"],
                            os.path.join(work, "seed.log"))
                procs.append(seed)
                wait_file(os.path.join(work, "seed.port"))
                # Its start-up checks are done (it subscribed before them), so the seed only serves.
                wait_seed_complete(seed_stats)
                start = time.time()
                # With several leechers they serve each other while downloading (and exit when done).
                mode = ["-c"] if n == 1 else ["--exit-when-done", "--list-interval", "1"]
                leechers = [Proc([f"{pb}/cascade-peer", "run", cascades[bs], f"127.0.0.1:{tport}", "127.0.0.1:0", "-q"] + mode + [
                                  "-o", os.path.join(work, f"copy{i}")], os.path.join(work, f"leecher{i}.log"))
                            for i in range(n)]
                procs.extend(leechers)
                finish(name + (" " + label if label else ""), run, start, seed, leechers,
                       [os.path.join(work, f"copy{i}") for i in range(n)], per[label])
          if not args.tmpfs:
              measure_synced(f" (again, after {name})")
          for label, _ in these:
            times, lcpu, scpu, lrss, srss = per[label]
            med = statistics.median(times)
            # A lower bound no peer can beat here: each leecher takes every byte out of a socket,
            # hashes it twice (each block, then the whole file) and puts it into the page cache, all
            # on this box's cores (sending the bytes is not even counted). The page cache costs its
            # fresh-page rate on tmpfs; on a disk the cheaper of that and the rewrite rate.
            fill = fills[n if n in fills else 1] if args.tmpfs else max(fills[n if n in fills else 1], rewrite)
            cpu = (n * 2 * size / (sha_mbps * 1e6) + n * receive_cpu + n * size / (fill * 1e6)) / (os.cpu_count() or 1)
            floor = cpu
            # ... and, on a disk, no sooner than the disk takes every leecher's bytes durably (a
            # leecher syncs its data before it reports the file complete).
            if not args.tmpfs:
                floor = max(floor, n * size / (synced[n if n in synced else 1] * 1e6))
            # The same with every leecher's bytes also sent by someone at the measured sendfile cost.
            with_sends = cpu + n * send_cpu / (os.cpu_count() or 1)
            rows.append((name + ("/" + label if label else ""), bs, n, min(times), med, size / med / 1e6, statistics.median(lcpu), statistics.median(scpu),
                         max(lrss), max(srss), floor, max(times), with_sends))
        print()
        print(f"{'load':9} {'blocks':>6} {'leech':>5} {'min s':>7} {'median s':>8} {'floor s':>7} {'MB/s/leecher':>12} "
              f"{'/sha':>5} {'/tcp':>5} {'leech cpu s':>11} {'seed cpu s':>10} {'leech RSS MiB':>13} {'seed RSS MiB':>12}")
        for name, bs, n, mn, med, mbps, lc, sc, lr, sr, floor, _, _ in rows:
            print(f"{name:9} {bs:>6} {n:>5} {mn:7.3f} {med:8.3f} {floor:7.3f} {mbps:12.0f} {mbps / sha_mbps:5.2f} {mbps / tcp_mbps:5.2f} "
                  f"{lc:11.2f} {sc:10.2f} {lr:13.1f} {sr:12.1f}")
        if args.baseline_bin:
            meds = {r[0]: r[4] for r in rows}
            for name in args.workloads.split(","):
                print(f"A/B {name}: median {meds[name]:.3f} s against the baseline's {meds[name + '/base']:.3f} s: "
                      f"{meds[name] / meds[name + '/base']:.3f} x")
        meds = {r[0]: (r[4], r[10], r[11] / r[3], r[12]) for r in rows}
        for name in args.workloads.split(","):
            med, floor, spread, with_sends = meds[name]
            line = (f"{name}: median {med:.3f} s = {med / floor:.2f} x its floor ({floor:.3f} s), max/min {spread:.2f}; "
                    f"{med / with_sends:.2f} x the CPU with the sends counted ({with_sends:.3f} s)")
            if name + "/libtorrent" in meds:
                line += f"; libtorrent {meds[name + '/libtorrent'][0]:.3f} s: Cascade = {med / meds[name + '/libtorrent'][0]:.2f} x libtorrent"
            print(line)
        pages = "fresh pages" if args.tmpfs else "the cheaper of fresh and cached pages"
        print(f"floor s: each leecher's SHA-256 of every byte twice at the single-core rate, its receiving CPU as in "
              f"the TCP ceiling and its page-cache copy at the measured rate ({pages}), divided over "
              f"{os.cpu_count()} cores; sending not counted" + ("" if args.tmpfs else "; at least every leecher's "
              "bytes written and fdatasync'd at the fastest rate the disk showed in this run (plainly or with writeback "
              "started per MiB), as many files at once as leechers"))
        print("with the sends counted: that CPU plus every leecher's bytes sent at the measured sendfile() cost from "
              "cached pages (a figure, not a bound: on loopback the sender's CPU includes some of the receiver's "
              "kernel work)")
        print(f"files on: {fs_name}")
    finally:
        for p in procs:
            try:
                p.stop()
            except Exception:
                pass
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
