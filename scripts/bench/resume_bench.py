#!/usr/bin/env python3
"""Start-up benchmark: how long a peer takes to know which blocks it holds.
  complete    a complete file, no journal: every block hashed (both cores), then the whole file
  half        the first half present, no journal: the present half hashed
  journal     the same half, recorded by a journal: replayed, nothing hashed
Times are from process start to the "blocks present" log line (and, for `complete`, to the exit
of a client-only run, which includes the whole-file check). `complete` runs warm (the file in the
page cache) and cold (its pages dropped first), beside the disk's cold sequential read ceiling
measured in the same run. Files on the disk (--dir, default /var/tmp) or in /dev/shm (--tmpfs).
Bounded waits throughout."""
import argparse, os, re, shutil, signal, subprocess, sys, tempfile, time

def started(args, pattern, timeout=120):
    t0 = time.time()
    p = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = t0 + timeout
    for line in p.stderr:
        if re.search(pattern, line):
            return p, time.time() - t0, line.strip()
        if time.time() > deadline:
            break
    p.kill(); p.wait()
    sys.exit(f"no line matching {pattern!r}")

def evict(path):
    """Drops `path`'s pages from the page cache: the whole cache where root may, else the file's
    own pages (posix_fadvise). Returns how."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1")
        return "drop_caches"
    except OSError:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        return "fadvise"

def stop(p):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill(); p.wait()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--size", type=int, default=1 << 30)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default="/var/tmp", help="where the files go (default: /var/tmp, on the disk)")
    ap.add_argument("--tmpfs", action="store_true", help="put the files in /dev/shm instead")
    a = ap.parse_args()
    base = "/dev/shm" if a.tmpfs else a.dir
    if shutil.disk_usage(base).free < 3 * a.size:
        sys.exit(f"{base}: not enough free space for {3 * a.size} bytes")
    work = tempfile.mkdtemp(prefix="cascade-resume.", dir=base)
    fs = (subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE,TARGET", "-T", work], capture_output=True,
                         text=True).stdout.splitlines() or [""])[0].split()  # the first of its mounts
    fs_name = f"{fs[0]} ({fs[1]} on {fs[2]})" if len(fs) == 3 else "unknown file system"
    try:
        data = os.path.join(work, "data.bin")
        subprocess.run(["openssl", "rand", "-out", data, str(a.size)], check=True)
        cascade = os.path.join(work, "data.cascade")
        subprocess.run([f"{a.bin}/cascade-peer", "make", data, "-o", cascade], check=True, capture_output=True)
        peer = lambda out, *extra: [f"{a.bin}/cascade-peer", "run", cascade, "127.0.0.1:9", "127.0.0.1:0", "-o", out,
                                    "-c", "--tracker-timeout-ms", "200", *extra]
        half = os.path.join(work, "half.bin")
        cold_read = subprocess.run([f"{a.bin}/ceilings", "read", "--file", data], capture_output=True,
                                   text=True).stdout.split()
        cold_mbps = float(cold_read[0].split("=")[1])
        rows = {"complete, cold cache (scan)": [], "complete (scan)": [],
                "complete (scan + whole-file check, exit)": [], "half, no journal": [],
                "half, journal": [], "half, journal: first block requested": []}
        # A tracker and a seed, for the time from start to the first request of a resumed download.
        with open(os.path.join(work, "t.json"), "w") as f:
            f.write('{"port": 0}\n')
        tracker = subprocess.Popen([f"{a.bin}/cascade-tracker", "--config", os.path.join(work, "t.json"), "--bind",
                                    "127.0.0.1", "--port", "0", "--port-file", os.path.join(work, "t.port"),
                                    "--log-level", "warn"])
        for _ in range(500):
            if os.path.exists(os.path.join(work, "t.port")): break
            time.sleep(0.01)
        tracker_at = "127.0.0.1:" + open(os.path.join(work, "t.port")).read().strip()
        seed = subprocess.Popen([f"{a.bin}/cascade-peer", "run", cascade, tracker_at, "127.0.0.1:0", "-o", data, "-q"])
        time.sleep(1.5)
        for _ in range(a.runs):
            how = evict(data)
            p, t, line = started(peer(data), r"blocks present")
            rows["complete, cold cache (scan)"].append(t)
            p.wait(60)
            t0 = time.time()
            p, t, line = started(peer(data), r"blocks present")
            rows["complete (scan)"].append(t)
            p.wait(60)
            rows["complete (scan + whole-file check, exit)"].append(time.time() - t0)
            for f in (half, half + ".cascade-journal"):
                if os.path.exists(f): os.remove(f)
            with open(data, "rb") as src, open(half, "wb") as dst:
                dst.write(src.read(a.size // 2))
            p, t, line = started(peer(half), r"blocks present")
            rows["half, no journal"].append(t)
            time.sleep(0.3)
            stop(p)  # leaves a journal whose snapshot names the present half
            p, t, line = started(peer(half), r"blocks present")
            rows["half, journal"].append(t)
            if not re.search(r"\((\d+) from the journal", line) or " 0 from the journal" in line:
                sys.exit("the journal was not used: " + line)
            stop(p)
            p, t, line = started([f"{a.bin}/cascade-peer", "run", cascade, tracker_at, "127.0.0.1:0", "-o", half, "-c",
                                  "--log-level", "debug"], r"connecting to")
            rows["half, journal: first block requested"].append(t)
            stop(p)
            os.truncate(half, a.size // 2)
        seed.terminate(); tracker.terminate(); seed.wait(); tracker.wait()
        print(f"start-up of a peer on {a.size} bytes (median of {a.runs}; files on {fs_name}):")
        for k, v in rows.items():
            v.sort()
            print(f"  {k:42} {v[len(v) // 2] * 1000:8.0f} ms")
        cold = sorted(rows["complete, cold cache (scan)"])[a.runs // 2]
        print(f"  the disk's cold sequential read: {cold_mbps:.0f} MB/s ({a.size / cold_mbps / 1e6 * 1000:.0f} ms for "
              f"the file; cache dropped by {how}); the cold scan read at {a.size / cold / 1e6:.0f} MB/s = "
              f"{a.size / cold / 1e6 / cold_mbps:.2f} x that")
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
