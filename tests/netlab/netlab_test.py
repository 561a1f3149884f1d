#!/usr/bin/env python3
"""Cascade across hosts: the tracker, seeds and leechers each on a host of the network lab
(netlab.py: namespaces on a bridge, tbf-shaped links), with real addresses. Each test builds its
own lab and tears it down. Needs root: without it every test exits 77 (ctest: skipped).

  netlab_test.py --bin BUILD/bin [unittest options, e.g. NetlabTest.test_hosts_report_their_own_addresses]
"""
import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import netlab  # noqa: E402

REFERENCE = os.path.join(HERE, "../interop/reference.py")
BIN = None
PORT = 7000
KiB, MiB = 1024, 1024 * 1024


class NetlabTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="cascade-netlab-")
        self.addCleanup(self.dir.cleanup)
        self.work = self.dir.name
        self.lab = netlab.Lab()
        self.addCleanup(self.lab.close)
        self.log = open(self.path("programs.log"), "wb")
        self.addCleanup(self.log.close)

    def path(self, name):
        return os.path.join(self.work, name)

    def wait_for(self, what, predicate, seconds=60):
        try:
            return netlab.wait_until(what, predicate, seconds)
        except AssertionError as e:
            self.log.flush()
            with open(self.path("programs.log"), errors="replace") as f:
                raise AssertionError(f"{e}; the programs' logs end:\n{f.read()[-4000:]}") from None

    def make_file(self, size, block=256 * KiB):
        data = random.Random(size).randbytes(size)
        with open(self.path("seed-data"), "wb") as f:
            f.write(data)
        r = subprocess.run([f"{BIN}/cascade-peer", "make", self.path("seed-data"), "-o", self.path("file.cascade"),
                            "--block-size", str(block)], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.path("file.cascade"), "rb") as f:
            self.hash = hashlib.sha256(f.read()).hexdigest()
        self.data = data
        return data

    def start_tracker(self, host, **config):
        with open(self.path("tracker.json"), "w") as f:
            json.dump({"port": PORT, "open": True, **config}, f)
        host.start([f"{BIN}/cascade-tracker", "--config", self.path("tracker.json"), "--bind", host.ip,
                    "--stats-interval", "0"], self.log)
        self.tracker = f"{host.ip}:{PORT}"
        self.wait_for("the tracker to answer", lambda: self.ask(host, "list") is not None, 20)
        return self.tracker

    def ask(self, host, command, *args, source=None):
        """The reference client's LIST or SUBSCRIBE to our tracker, run on `host`: its answer,
        or None when it could not connect."""
        cmd = [sys.executable, REFERENCE, command, self.tracker, self.hash, *args]
        if source:
            cmd += ["--from", source]
        r = host.run(cmd, timeout=30)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def start_peer(self, host, name, output, extra=()):
        """cascade-peer run on `host`, serving on its address; returns its statistics path."""
        stats = self.path(f"{name}.json")
        host.start([f"{BIN}/cascade-peer", "run", self.path("file.cascade"), self.tracker, f"{host.ip}:{PORT}",
                    "-o", output, "--stats-json", stats, "-q", *extra], self.log)
        return stats

    def start_seed(self, host, extra=()):
        stats = self.start_peer(host, "seed", self.path("seed-data"), extra)
        self.wait_for("the seed to be listed", lambda: any(
            p[0] == host.ip for p in (self.ask(host, "list") or {}).get("peers", [])))
        return stats

    @staticmethod
    def file_stats(stats):
        j = netlab.read_json(stats)
        return j["files"][0] if j else None

    def completed(self, stats):
        s = self.file_stats(stats)
        return s is not None and s["complete_seconds"] >= 0

    def wait_complete(self, stats_paths, seconds=90):
        self.wait_for("every leecher to complete", lambda: all(self.completed(s) for s in stats_paths), seconds)
        return [self.file_stats(s)["complete_seconds"] for s in stats_paths]

    def assert_copy(self, path):
        with open(path, "rb") as f:
            self.assertTrue(f.read() == self.data, f"{path} differs from the seed's file")

    def test_hosts_report_their_own_addresses(self):
        # Tracker, seed and two leechers each on a host. l2 binds 0.0.0.0 but reports its own
        # address: it downloads from the seed, the seed leaves, and l1 then gets every block from
        # l2 at the address l2 reported. Every one was listed at its host's address.
        tracker_host = self.lab.add_host("tracker")
        seed = self.lab.add_host("seed", up="100mbit")
        l1 = self.lab.add_host("l1", up="100mbit")
        l2 = self.lab.add_host("l2", up="100mbit")
        self.make_file(8 * MiB)
        self.start_tracker(tracker_host)
        self.start_seed(seed)
        s2 = self.start_peer(l2, "l2", self.path("l2"), ["--listen", "0.0.0.0"])
        self.wait_complete([s2])
        seed_proc = next(p for p in self.lab.procs if seed.ns in p.args)
        seed_proc.send_signal(signal.SIGTERM)
        self.assertEqual(seed_proc.wait(20), 0)
        s1 = self.start_peer(l1, "l1", self.path("l1"))
        self.wait_complete([s1])
        self.assertEqual(self.file_stats(s1)["blocks_from"], {f"{l2.ip}:{PORT}": len(self.data) // (256 * KiB)})
        self.assertEqual(set(self.file_stats(s2)["blocks_from"]), {f"{seed.ip}:{PORT}"})
        listed = {(p[0], p[1]) for p in self.ask(tracker_host, "list")["peers"]}
        self.assertEqual(listed, {(h.ip, PORT) for h in (seed, l1, l2)})
        self.assert_copy(self.path("l1"))
        self.assert_copy(self.path("l2"))

    def test_the_tracker_judges_real_source_addresses(self):
        tracker_host = self.lab.add_host("tracker")
        seed = self.lab.add_host("seed")
        a = self.lab.add_host("a")
        private = self.lab.add_host("private")
        private.add_address("10.9.8.7")
        tracker_host.add_route("10.9.8.7/32")  # the tracker can answer that address
        self.make_file(1 * MiB)
        self.start_tracker(tracker_host, **{"good-ips": [seed.ip], "require-source-ip": True, "ban-private": True})
        self.assertEqual(self.ask(seed, "subscribe", f"{seed.ip}:{PORT}")["status"], 0)
        self.assertEqual(self.ask(a, "subscribe", f"{a.ip}:{PORT}")["status"], 0)
        # Reporting another host's address: refused (require-source-ip), the good one's too.
        for claimed in (private.ip, seed.ip):
            with self.subTest(claimed=claimed):
                answer = self.ask(a, "subscribe", f"{claimed}:{PORT}")
                self.assertNotEqual(answer["status"], 0)
                self.assertTrue(answer["message"])
        # From an RFC 1918 address, reporting it truthfully: refused (ban-private).
        answer = self.ask(private, "subscribe", f"10.9.8.7:{PORT}", source="10.9.8.7")
        self.assertNotEqual(answer["status"], 0)
        self.assertIn("private", answer["message"].lower())
        listed = {(p[0], p[1]): p[3] for p in self.ask(tracker_host, "list")["peers"]}
        self.assertEqual(listed, {(seed.ip, PORT): True, (a.ip, PORT): False})

    def test_dead_and_gone_peers_do_not_slow_the_download(self):
        # One listed peer at an address where no host answers (its connect hangs until ARP gives
        # up) and twenty entries of peers that left: the download takes about as long as with a
        # clean list, measured in the same test.
        tracker_host = self.lab.add_host("tracker")
        seed = self.lab.add_host("seed", up="100mbit")
        leecher = self.lab.add_host("leecher", up="100mbit")
        self.make_file(16 * MiB)
        self.start_tracker(tracker_host, **{"max-peers-reported": 50})
        self.start_seed(seed)

        def download(name):
            started = time.monotonic()
            r = leecher.run([f"{BIN}/cascade-peer", "run", self.path("file.cascade"), self.tracker,
                             f"{leecher.ip}:0", "-o", self.path(name), "-c", "-q"], timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assert_copy(self.path(name))
            return time.monotonic() - started
        clean = download("clean")
        for i in range(21):  # 198.18.0.200 and up: no host there
            self.assertEqual(self.ask(tracker_host, "subscribe", f"{netlab.SUBNET}.{200 + i}:{PORT}")["status"], 0)
        self.assertEqual(len(self.ask(tracker_host, "list")["peers"]), 22)
        crowded = download("crowded")
        self.assertLess(crowded, 1.5 * clean + 1.0, f"clean list {clean:.2f} s, with dead peers {crowded:.2f} s")

    def test_the_seed_leaves_once_every_block_is_in_the_swarm(self):
        tracker_host = self.lab.add_host("tracker")
        # Slow links all round, so the leechers are still trading when the last block is out (the
        # statistics this test reads are up to 200 ms old).
        seed = self.lab.add_host("seed", up="20mbit")
        leechers = [self.lab.add_host(f"l{i}", up="10mbit") for i in range(4)]
        self.make_file(6 * MiB)
        self.start_tracker(tracker_host)
        seed_stats = self.start_seed(seed)
        stats = [self.start_peer(h, h.name, self.path(h.name)) for h in leechers]
        blocks = -(-len(self.data) // (256 * KiB))

        def in_the_swarm():  # every block verified by some leecher (their maps, ORed)
            held = 0
            for s in stats:
                f = self.file_stats(s)
                held |= int(f["verified_map"], 16) if f and f["verified_map"] else 0
            return held == ((1 << blocks) - 1) << (-blocks % 8)  # the first block is the high bit
        self.wait_for("every block to be in the swarm", in_the_swarm)
        # The seed counts a first copy when it picks it; its statistics file catches up within 250 ms.
        self.wait_for("the seed to count every block sent once before any twice",
                      lambda: self.file_stats(seed_stats)["first_copy_unsent"] == 0, 2)
        waiting = [s for s in stats if not self.completed(s)]
        seed_proc = next(p for p in self.lab.procs if seed.ns in p.args)
        seed_proc.send_signal(signal.SIGTERM)
        self.assertTrue(waiting, "every leecher was done before the seed left: the test shows nothing")
        self.assertEqual(seed_proc.wait(20), 0)
        self.wait_complete(stats)
        for h in leechers:
            self.assert_copy(self.path(h.name))

    def test_a_slow_leecher_does_not_hold_back_the_fast_ones(self):
        tracker_host = self.lab.add_host("tracker")
        seed = self.lab.add_host("seed", up="100mbit")
        fast = [self.lab.add_host(f"fast{i}", up="100mbit", down="100mbit") for i in range(3)]
        slow = self.lab.add_host("slow", up="10mbit", down="10mbit")
        self.make_file(8 * MiB)
        self.start_tracker(tracker_host)
        self.start_seed(seed)
        stats = [self.start_peer(h, h.name, self.path(h.name)) for h in fast + [slow]]
        times = self.wait_complete(stats)
        # The slow one needs 8 MiB / 10 Mbit/s = 6.7 s at least; the fast ones, about 1 s.
        self.assertLess(max(times[:3]), 0.5 * times[3], f"fast {times[:3]}, slow {times[3]:.2f} s")
        for h in fast + [slow]:
            self.assert_copy(self.path(h.name))

    # Shared by the scripts below, run on a client's host: a request, and reading one answer.
    WIRE = """
import hashlib, json, socket, struct, sys, time
seed, port, cascade_hash = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
def request(block):
    return b"CASCADE1" + bytes(16) + struct.pack(">Q", block) + cascade_hash
def read_exact(c, n):
    got = b""
    while len(got) < n:
        chunk = c.recv(min(n - len(got), 1 << 20))
        assert chunk, f"the stream ended after {len(got)} of {n} bytes"
        got += chunk
    return got
def answer(c):
    # The response header: a status byte and a big-endian 8-byte length (PROTOCOL.md).
    status, length = struct.unpack(">BQ", read_exact(c, 9))
    return status, read_exact(c, length)
"""

    # Eight connections that ask for 16 MiB each and never read, then two valid clients one after
    # the other; prints the seconds each valid client took. A valid client told "busy" (every
    # upload slot taken) asks again on the same connection, as the answer says.
    HOGS = WIRE + """
hogs = []
for _ in range(8):
    s = socket.create_connection((seed, port), timeout=10)
    s.sendall(b"".join(request(k) for k in range(16)))
    hogs.append(s)
time.sleep(0.2)
took = []
for block in (3, 4):
    start = time.monotonic()
    c = socket.create_connection((seed, port), timeout=20)
    for asks in range(1, 4):
        c.sendall(request(block))
        status, body = answer(c)
        if status == 0:
            break
        assert status == 2 and b"busy" in body, (status, body)
    assert status == 0 and len(body) == 1 << 20, (status, len(body))
    took.append(time.monotonic() - start)
print(json.dumps(took))
"""

    def test_clients_that_never_read_give_their_upload_slots_up(self):
        # Large blocks take turns for the seed's upload slots (4 by default). A client that asks
        # and never reads holds one only until its send stalls (1 s), and never again: a valid
        # client waits about a second per four such clients at most, not the 5 s a wait for a
        # slot may last, nor the write timeout.
        tracker_host = self.lab.add_host("tracker")
        seed = self.lab.add_host("seed", up="100mbit")
        client = self.lab.add_host("client", up="100mbit")
        self.make_file(16 * MiB, block=1 * MiB)
        self.start_tracker(tracker_host)
        self.start_seed(seed)
        r = client.run([sys.executable, "-c", self.HOGS, seed.ip, str(PORT), self.hash], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        first, second = json.loads(r.stdout)
        self.assertLess(first, 4.0, "behind two rounds of stalled sends at most")
        self.assertLess(second, 1.0, "the stalled sends hold no slot any more")

    # One connection that asks for block 0 and never reads (it holds the only upload slot until
    # its send stalls); sleeps until the lab stops it.
    HOG = WIRE + """
s = socket.create_connection((seed, port), timeout=10)
s.sendall(request(0))
print("asked", flush=True)
time.sleep(30)
"""
    # Asks for block 5 twice on one connection; prints each answer's status, seconds, message
    # and the SHA-256 of a block.
    ASK_TWICE = WIRE + """
c = socket.create_connection((seed, port), timeout=20)
out = []
for _ in range(2):
    start = time.monotonic()
    c.sendall(request(5))
    status, body = answer(c)
    out.append({"status": status, "seconds": time.monotonic() - start,
                "message": body.decode(errors="replace") if status else "",
                "sha256": hashlib.sha256(body).hexdigest() if status == 0 else ""})
print(json.dumps(out))
"""

    def hog_and_ask_twice(self, server, hog_host, asker):
        """One client on `hog_host` takes `server`'s only upload slot and never reads; then
        `asker` asks for block 5 twice on one connection. Returns its two answers."""
        hog = hog_host.start([sys.executable, "-c", self.HOG, server.ip, str(PORT), self.hash],
                             stdout=subprocess.PIPE)
        self.assertEqual(hog.stdout.readline().strip(), b"asked")
        time.sleep(0.3)  # the hog's block fills its socket buffers; its send stalls at 1 s
        r = asker.run([sys.executable, "-c", self.ASK_TWICE, server.ip, str(PORT), self.hash], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_a_busy_peer_tells_a_first_ask_to_look_elsewhere_and_serves_the_second(self):
        # Every upload slot taken (one, held by a client that does not read): a request for a
        # large block is answered at once "not held" (status 2) with a busy message, so the asker
        # can get it from a peer with a free uplink instead of waiting here; asked again, it is
        # queued and sent once the slot frees (the stalled send gives it up after 1 s). A seed's
        # first copy, which no other peer has, is never turned away as busy.
        tracker_host = self.lab.add_host("tracker")
        holder = self.lab.add_host("holder", up="100mbit")
        seed = self.lab.add_host("seed", up="100mbit")
        hog_host = self.lab.add_host("hog", up="100mbit")
        asker = self.lab.add_host("asker", up="100mbit")
        data = self.make_file(16 * MiB, block=1 * MiB)
        block5 = hashlib.sha256(data[5 * MiB:6 * MiB]).hexdigest()
        self.start_tracker(tracker_host)
        # A peer that holds the file and does not spread it (as a leecher that completed).
        self.start_peer(holder, "holder", self.path("seed-data"), ["--upload-slots", "1", "--no-spread"])
        self.wait_for("the holder to be listed", lambda: any(
            p[0] == holder.ip for p in (self.ask(holder, "list") or {}).get("peers", [])))
        first, second = self.hog_and_ask_twice(holder, hog_host, asker)
        self.assertEqual(first["status"], 2, first)
        self.assertIn("busy", first["message"])
        self.assertLess(first["seconds"], 0.5, "told at once, not after a wait for the slot")
        self.assertEqual(second["status"], 0, second)
        self.assertEqual(second["sha256"], block5)
        self.assertLess(second["seconds"], 4.0, "queued for the slot, which the stalled send gave up")
        # A seed spreading its first copies: block 5 has gone nowhere yet, so it is queued.
        self.start_seed(seed, extra=["--upload-slots", "1"])
        first, _ = self.hog_and_ask_twice(seed, hog_host, asker)
        self.assertEqual(first["status"], 0, first)
        self.assertEqual(first["sha256"], block5)


    # Asks for the blocks in argv[4] (a JSON list) one after the other on one connection; prints
    # each answer's status, message and the SHA-256 of a block.
    ASK_BLOCKS = WIRE + """
c = socket.create_connection((seed, port), timeout=20)
out = []
for block in json.loads(sys.argv[4]):
    c.sendall(request(block))
    status, body = answer(c)
    out.append({"status": status, "message": body.decode(errors="replace") if status else "",
                "sha256": hashlib.sha256(body).hexdigest() if status == 0 else ""})
print(json.dumps(out))
"""

    def test_a_seed_sends_its_first_copies_about_in_file_order(self):
        # Over a shared uplink a seed sends its first copies from its front, the 32 blocks from
        # its lowest unsent one: a first ask beyond it is told to ask other peers first and named
        # the front's blocks, which our leechers read; asked again, it is sent. A block sent once
        # is in the swarm: another host is told to ask elsewhere. None of it depends on upload
        # slots (here none: --upload-slots 0).
        tracker_host = self.lab.add_host("tracker")
        seed = self.lab.add_host("seed", up="100mbit")
        one = self.lab.add_host("one", up="100mbit")
        other = self.lab.add_host("other", up="100mbit")
        data = self.make_file(4 * MiB, block=32 * KiB)  # 128 blocks
        sha = [hashlib.sha256(data[b * 32 * KiB:(b + 1) * 32 * KiB]).hexdigest() for b in range(128)]
        self.start_tracker(tracker_host)
        stats = self.start_seed(seed, extra=["--upload-slots", "0"])

        def ask(host, blocks):
            r = host.run([sys.executable, "-c", self.ASK_BLOCKS, seed.ip, str(PORT), self.hash,
                          json.dumps(blocks)], timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            return json.loads(r.stdout)

        beyond, again, first, front_end, next_beyond = ask(one, [100, 100, 0, 32, 40])
        self.assertEqual(beyond["status"], 2, beyond)
        self.assertIn("file order", beyond["message"])
        self.assertIn("ask other peers", beyond["message"])
        self.assertIn("; it holds all 128 blocks, and no other peer has these blocks: 0-31", beyond["message"])
        self.assertEqual((again["status"], again["sha256"]), (0, sha[100]), "asked again: sent")
        self.assertEqual((first["status"], first["sha256"]), (0, sha[0]))
        self.assertEqual((front_end["status"], front_end["sha256"]), (0, sha[32]), "0 sent: the front is 1-32")
        self.assertEqual(next_beyond["status"], 2, next_beyond)
        self.assertIn("no other peer has these blocks: 1-31", next_beyond["message"])
        told, sent = ask(other, [0, 1])
        self.assertEqual(told["status"], 2, told)
        self.assertIn("in the swarm already", told["message"])
        self.assertEqual((sent["status"], sent["sha256"]), (0, sha[1]), "in the front, unsent: sent")
        self.wait_for("the seed's statistics", lambda: (self.file_stats(stats) or {}).get("asked_elsewhere", 0) >= 3)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    args, rest = parser.parse_known_args()
    BIN = os.path.abspath(args.bin)
    netlab.require_lab_or_exit()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
