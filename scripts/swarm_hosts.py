#!/usr/bin/env python3
"""The swarm demo across hosts (scripts/swarm.sh --hosts): a tracker, a seed and N leechers,
each on its own host of the network lab (tests/netlab/netlab.py: network namespaces on a bridge,
each uplink shaped with tbf). Shows the swarm live (one aggregate line and a strip with one
character per leecher), then runs the same leechers client-server (-c: only the seed serves) for
comparison, checks every copy, and ends with the time against the bound T*, the speed-up over
client-server, the copies the seed sent and who served how much. Needs root."""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "bench"))
sys.path.insert(0, os.path.join(here, "lib"))
sys.path.insert(0, os.path.join(here, "../tests/netlab"))
import netlab  # noqa: E402
import netswarm  # noqa: E402
from swarm_view import View, render  # noqa: E402


def main():
    ap = argparse.ArgumentParser(prog="swarm.sh --hosts")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--peers", type=int, default=8)
    ap.add_argument("--rate", default="100mbit", help="every host's uplink (tc notation: 100mbit)")
    ap.add_argument("--file", help="the file to share (default: 16 MiB of random bytes)")
    ap.add_argument("--block-size", default="256KiB")
    ap.add_argument("--no-client-server", action="store_true", help="skip the comparison run")
    args = ap.parse_args()
    why = netlab.can_build()
    if why:
        print(f"swarm --hosts: {why}: run it as root (sudo scripts/swarm.sh --hosts), or run "
              f"scripts/swarm.sh for the demo on 127.0.0.1", file=sys.stderr)
        return 2
    if not 1 <= args.peers <= 200:
        print("swarm --hosts: --peers must be 1..200", file=sys.stderr)
        return 2
    try:
        up = netlab.parse_rate(args.rate)
    except ValueError:
        print(f"swarm --hosts: --rate: not a rate: {args.rate} (e.g. 100mbit, 20mbit, 1gbit)", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="cascade-swarm-hosts-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        data = os.path.join(work, "seed-data")
        if args.file:
            shutil.copyfile(args.file, data)
        else:
            with open(data, "wb") as f:
                f.write(random.Random(1).randbytes(16 << 20))
        size = os.path.getsize(data)
        cascade = data + ".cascade"
        r = subprocess.run([f"{args.bin}/cascade-peer", "make", data, "-o", cascade, "--block-size", args.block_size],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"swarm --hosts: {r.stderr.strip()}", file=sys.stderr)
            return 2
        opts = argparse.Namespace(down=None, exit_when_done=False, peer_args=[], seed_args=[],
                                  block_size_bytes=netswarm.parse_size(args.block_size))
        ups = [up] * args.peers
        t_star = max(size * 8 / up, args.peers * size * 8 / (up + sum(ups)))
        print(f"swarm --hosts: a tracker, a seed and {args.peers} leechers on {args.peers + 2} hosts "
              f"(network namespaces on a bridge), every uplink {up / 1e6:g} Mbit/s; "
              f"{size} bytes in {args.block_size} blocks; the bound T* = {t_star:.2f} s")
        view = View()

        def tick(seconds, leechers, final=False):
            fractions, done, got = [], [], 0
            for f in leechers:
                fractions.append(f["verified_blocks"] / max(f["blocks"], 1) if f else 0)
                done.append(bool(f and f["complete"]))
                got += f["bytes_downloaded"] if f else 0
            view.show(render(fractions, done, got / max(seconds, 1e-3), seconds), seconds, final)
        p2p = netswarm.run_once(opts, args.bin, "p2p", work, data, cascade, size, ups, up, timeout=600, tick=tick)
        tick(p2p["total"], [{"verified_blocks": 1, "blocks": 1, "complete": True, "bytes_downloaded": size}] * args.peers,
             final=True)
        print(f"peer-to-peer: every copy verified after {p2p['total']:.2f} s = {p2p['total'] / t_star:.2f} x T*; "
              f"the seed sent {p2p['copies']:.2f} copies of the file")
        served = [p[3] for p in p2p["per"]]
        from_seed = sum(p[1] for p in p2p["per"])
        print(f"who served: the seed {p2p['copies'] * size / 2**20:.1f} MiB ({from_seed / 2**20:.1f} MiB of it kept); "
              + ", ".join(f"l{i + 1} {s / 2**20:.1f}" for i, s in enumerate(served)) + " MiB")
        if not args.no_client_server:
            print("client-server (leechers with -c, only the seed serves), for comparison ...", flush=True)
            cs = netswarm.run_once(opts, args.bin, "cs", work, data, cascade, size, ups, up, timeout=1800)
            print(f"client-server: {cs['total']:.2f} s = {cs['total'] / t_star:.2f} x T*; "
                  f"peer-to-peer was {cs['total'] / p2p['total']:.2f} x faster")
        print(f"swarm --hosts: OK: all {args.peers} copies match the seed's file")
        return 0
    except (RuntimeError, AssertionError) as e:
        print(f"swarm --hosts: FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
