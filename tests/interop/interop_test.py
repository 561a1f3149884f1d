#!/usr/bin/env python3
"""Cascade's programs against an independent implementation of the protocol (reference.py),
on 127.0.0.1, both ways round: Cascade's peer fetches from the reference seed and tracker, the
reference fetches from Cascade's seed and asks Cascade's tracker, and `cascade-peer make` writes
the same bytes as the reference. The reference is first checked against ../shared's vectors.
The reference's seeds have the habits real peers show (closing after N answers, status 2 for
blocks they hold, a slow uplink, a wait before each answer), each a test of its own.

With --link RATE the whole suite runs again on a real-sized link: a private network namespace
whose loopback has MTU 1500 and a tbf RATE (tests/netlab/private_link.py; needs root, else it
exits 77, which ctest reports as skipped). There a few pipelined requests span several TCP
segments, which loopback's 64 KiB MTU hides.

  interop_test.py --bin BUILD/bin --vectors tests/vectors [--link 20mbit] [unittest options]
"""

import argparse
import hashlib
import json
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../netlab"))
import reference as ref  # noqa: E402
import netlab  # noqa: E402
from private_link import enter_private_link  # noqa: E402

BIN = VECTORS = None
RUN_TIMEOUT = 90  # seconds for any one program run (the sanitizer build is slow)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def wait_for(what, predicate, seconds=20):
    return netlab.wait_until(what, predicate, seconds, poll=0.02)


def read_port(path):
    """The port a program wrote to `path`, or None if it has not yet."""
    try:
        with open(path) as f:
            text = f.read().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


class Processes:
    """Started programs, stopped (SIGTERM, then SIGKILL) at the end of a test."""

    def __init__(self, test):
        self.procs = []
        test.addCleanup(self.stop_all)

    def start(self, args, log):
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def stop_all(self):
        netlab.stop_processes(self.procs, grace=10)


class Case(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="cascade-interop-")
        self.addCleanup(self.dir.cleanup)
        self.work = self.dir.name
        self.procs = Processes(self)
        self.log = open(os.path.join(self.work, "programs.log"), "wb")
        self.addCleanup(self.log.close)

    def path(self, name):
        return os.path.join(self.work, name)

    def wait_for(self, what, predicate):
        """wait_for(), with the end of the programs' logs in the failure."""
        try:
            return wait_for(what, predicate)
        except AssertionError as e:
            self.log.flush()
            with open(self.path("programs.log"), errors="replace") as f:
                raise AssertionError(f"{e}; the programs' logs end:\n{f.read()[-3000:]}") from None

    def data_file(self, name, size, block_size, seed=1):
        data = random.Random(seed).randbytes(size)
        with open(self.path(name), "wb") as f:
            f.write(data)
        raw = ref.make_cascade(data, block_size)
        with open(self.path(name + ".cascade"), "wb") as f:
            f.write(raw)
        return data, ref.Cascade(raw)

    def download(self, name, tracker_port, data, *extra):
        """Runs Cascade's peer, download only, through the tracker at tracker_port (with `extra`
        options); checks that it exits 0 with `data` in hand. Returns the seconds it took."""
        out = self.path(name + ".downloaded")
        started = time.monotonic()
        r = subprocess.run([f"{BIN}/cascade-peer", "run", self.path(name + ".cascade"), f"127.0.0.1:{tracker_port}",
                            "127.0.0.1:0", "-o", out, "-c", "-q", *extra], capture_output=True, timeout=RUN_TIMEOUT)
        elapsed = time.monotonic() - started
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(read_bytes(out), data)
        return elapsed

    def start_tracker(self):
        with open(self.path("tracker.json"), "w") as f:
            json.dump({"port": 0, "open": True}, f)
        self.procs.start([f"{BIN}/cascade-tracker", "--config", self.path("tracker.json"), "--bind", "127.0.0.1",
                          "--port", "0", "--port-file", self.path("tracker.port"), "--stats-interval", "0"], self.log)
        return ("127.0.0.1", self.wait_for("the tracker's port", lambda: read_port(self.path("tracker.port"))))

    def start_peer(self, name, tracker, output, extra=()):
        port_file = self.path(f"peer-{os.path.basename(output)}.port")
        self.procs.start([f"{BIN}/cascade-peer", "run", self.path(name + ".cascade"), f"{tracker[0]}:{tracker[1]}",
                          "127.0.0.1:0", "-o", output, "--port-file", port_file, "-q", *extra], self.log)
        return ("127.0.0.1", self.wait_for("the peer's port", lambda: read_port(port_file)))


class ReferenceItself(unittest.TestCase):
    """The reference must agree with the vectors, or it proves nothing."""

    def test_cascade_files_match_the_vectors(self):
        v = json.loads(read_bytes(os.path.join(VECTORS, "vectors.json")))
        for name in ("sample.txt", "even.bin", "empty.bin"):
            data = read_bytes(os.path.join(VECTORS, name))
            raw = read_bytes(os.path.join(VECTORS, name + ".cascade"))
            self.assertEqual(ref.make_cascade(data, v[name]["block_size"]), raw, name)
            c = ref.Cascade(raw)
            self.assertEqual(c.cascade_hash.hex(), v[name]["cascade_hash"])
            self.assertEqual(c.count, v[name]["block_count"])

    def test_wire_messages_match_the_vectors(self):
        v = json.loads(read_bytes(os.path.join(VECTORS, "vectors.json")))
        h = bytes.fromhex(v["sample.txt"]["cascade_hash"])
        for key, command in (("tracker_list_request", ref.LIST), ("tracker_subscribe_request", ref.SUBSCRIBE)):
            r = v[key]
            self.assertEqual(ref.tracker_request(command, h, r["ip"], r["port"]).hex(), r["hex"])
        status, peers = ref.parse_tracker_response(bytes.fromhex(v["tracker_ok_response"]["hex"]))
        self.assertEqual(status, 0)
        self.assertEqual(peers, [(p["ip"], p["port"], p["last_seen"], p["good"]) for p in v["tracker_ok_response"]["peers"]])
        err = v["tracker_error_response"]
        self.assertEqual(ref.parse_tracker_response(bytes.fromhex(err["hex"])), (err["status"], err["message"]))
        self.assertEqual(ref.block_request(2, h).hex(), v["peer_request_block_2"]["hex"])
        self.assertEqual(struct.pack(">BQ", 0, 1808).hex(), v["peer_ok_response_header_block_2"]["hex"])

    def test_a_malformed_response_is_refused(self):
        with self.assertRaises(ref.ProtocolError):
            ref.parse_tracker_response(bytes([0]) + struct.pack(">I", 13) + bytes(13))  # not 12 × n


class MakeAgrees(Case):
    def test_cascade_peer_make_writes_the_references_bytes(self):
        # Empty, one byte, a block less one, exactly one block, one more, an uneven many.
        for size, block in ((0, 1024), (1, 1024), (4095, 4096), (4096, 4096), (4097, 4096), (1000003, 65536)):
            with self.subTest(size=size, block=block):
                data, c = self.data_file(f"d{size}", size, block, seed=size)
                out = self.path(f"ours{size}.cascade")
                r = subprocess.run([f"{BIN}/cascade-peer", "make", self.path(f"d{size}"), "-o", out,
                                    "--block-size", str(block)], capture_output=True, timeout=RUN_TIMEOUT)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(read_bytes(out), read_bytes(self.path(f"d{size}.cascade")))
                info = json.loads(subprocess.run([f"{BIN}/cascade-peer", "info", "--json", out], capture_output=True,
                                                 timeout=RUN_TIMEOUT, check=True).stdout)
                self.assertEqual((info["target_size"], info["block_size"], info["block_count"], info["cascade_hash"]),
                                 (size, block, c.count, c.cascade_hash.hex()))


class OurPeerWithTheReference(Case):
    """Cascade's peer, downloading through the reference tracker from reference seeds."""

    def test_downloads_from_two_reference_seeds_that_each_hold_half(self):
        data, c = self.data_file("file", 300 * 1024 + 123, 16 * 1024)
        tracker = ref.Tracker()
        self.addCleanup(tracker.stop)
        # Each seed holds every other block and answers status 2 (not held) for the rest.
        evens = ref.Seed(c, data, held=range(0, c.count, 2))
        odds = ref.Seed(c, data, held=range(1, c.count, 2))
        for s in (evens, odds):
            self.addCleanup(s.stop)
            ref.ask_tracker(("127.0.0.1", tracker.port), ref.SUBSCRIBE, c.cascade_hash, "127.0.0.1", s.port)
        self.download("file", tracker.port, data)
        self.assertEqual(sorted(evens.served + odds.served), list(range(c.count)))  # each once
        self.assertTrue(set(evens.served) <= set(range(0, c.count, 2)))
        # Its tracker requests were well-formed (the reference records only those) and for this file.
        ours = [q for q in tracker.requests if q[2:4] != ("127.0.0.1", evens.port) and q[2:4] != ("127.0.0.1", odds.port)]
        self.assertTrue(ours, "the peer never asked the tracker")
        self.assertTrue(all(q[1] == c.cascade_hash for q in ours))

    def test_asks_a_lone_seed_for_each_block_once(self):
        # 30 blocks fit in one connection's pipeline, so the download is in endgame from its
        # first request; endgame may ask a second peer, never the same connection again.
        data, c = self.data_file("file", 30 * 4096 - 7, 4096)
        tracker = ref.Tracker()
        self.addCleanup(tracker.stop)
        seed = ref.Seed(c, data)
        self.addCleanup(seed.stop)
        ref.ask_tracker(("127.0.0.1", tracker.port), ref.SUBSCRIBE, c.cascade_hash, "127.0.0.1", seed.port)
        self.download("file", tracker.port, data)
        self.assertEqual(sorted(seed.served), list(range(c.count)))

    def test_a_seed_that_serves_one_block_per_connection_is_asked_again_at_once(self):
        # Such a seed closes with our next pipelined requests unread (a reset). It did deliver,
        # so it is no fault: with a back-off per connection, 40 blocks would take 20 s.
        data, c = self.data_file("file", 40 * 4096, 4096)
        tracker = ref.Tracker()
        self.addCleanup(tracker.stop)
        seed = ref.Seed(c, data, blocks_per_connection=1)
        self.addCleanup(seed.stop)
        ref.ask_tracker(("127.0.0.1", tracker.port), ref.SUBSCRIBE, c.cascade_hash, "127.0.0.1", seed.port)
        elapsed = self.download("file", tracker.port, data)
        self.assertLess(elapsed, 10.0)  # start-up included; with the bug, 20 s

    def seed_and_download(self, size, block, **habits):
        """A reference seed with `habits` (reference.Seed's arguments), listed by a reference
        tracker; our peer downloads the file through them. Returns (seed, cascade, seconds)."""
        data, c = self.data_file("file", size, block)
        tracker = ref.Tracker()
        self.addCleanup(tracker.stop)
        seed = ref.Seed(c, data, **habits)
        self.addCleanup(seed.stop)
        ref.ask_tracker(("127.0.0.1", tracker.port), ref.SUBSCRIBE, c.cascade_hash, "127.0.0.1", seed.port)
        elapsed = self.download("file", tracker.port, data)
        return seed, c, elapsed

    def test_a_seed_that_closes_after_each_answer_loses_at_most_one_block_to_our_pipeline(self):
        # Once the first answers show a fast link our first connection asks for several blocks;
        # the seed closes after one with the rest unread, and that reset may take the block in
        # flight with it. From then on our peer asks it for one block per connection (as the
        # simple leecher does), so nothing more is lost and nothing backs off. (On loopback a
        # reset loses nothing; interop_link runs this on a 1500-byte link, where it does.)
        seed, c, _ = self.seed_and_download(24 * 16384, 16384, blocks_per_connection=1)
        self.assertEqual(sorted(set(seed.served)), list(range(c.count)))
        self.assertLessEqual(len(seed.served), c.count + 1, "blocks the seed sent more than once")

    def test_a_seed_that_closes_after_five_answers_is_asked_for_five_at_a_time(self):
        seed, c, _ = self.seed_and_download(60 * 16384, 16384, blocks_per_connection=5)
        self.assertEqual(sorted(set(seed.served)), list(range(c.count)))
        # Learning the limit may lose one connection's worth; no more after that.
        self.assertLessEqual(len(seed.served), c.count + 5, "blocks the seed sent more than once")

    def test_a_seed_that_says_it_lacks_blocks_it_holds_is_asked_again(self):
        # Every 4th block is answered "don't have" the first time: the download still completes
        # from this one seed, each block sent once.
        seed, c, _ = self.seed_and_download(40 * 8192, 8192, busy=range(0, 40, 4))
        self.assertEqual(sorted(seed.refused), list(range(0, c.count, 4)))
        self.assertEqual(sorted(seed.served), list(range(c.count)))

    def test_a_seed_with_a_slow_uplink_is_waited_for_not_dropped(self):
        # 1 Mbit/s: a 16 KiB block takes 0.13 s, a pipeline of them seconds; no request times out
        # and no block is asked twice.
        seed, c, _ = self.seed_and_download(12 * 16384, 16384, rate=125000)
        self.assertEqual(sorted(seed.served), list(range(c.count)))

    def test_a_seed_that_waits_before_each_answer_is_waited_for(self):
        seed, c, _ = self.seed_and_download(20 * 8192, 8192, delay=0.05)
        self.assertEqual(sorted(seed.served), list(range(c.count)))

    def test_a_tracker_that_leaves_the_connection_open_does_not_stall_it(self):
        data, c = self.data_file("file", 50000, 8192)
        tracker = ref.Tracker(close_after_reply=False)
        self.addCleanup(tracker.stop)
        seed = ref.Seed(c, data)
        self.addCleanup(seed.stop)
        with tracker.lock:  # the reference client reads to the end, so it cannot SUBSCRIBE here
            tracker.swarms[c.cascade_hash] = {("127.0.0.1", seed.port): int(time.time())}
        # With a 20 s tracker timeout, a client that waited for the close would time out, back off
        # and not be done in this time; one that reads the declared length is done in well under
        # a second, so a loaded machine's start-up cannot reach the bound.
        elapsed = self.download("file", tracker.port, data, "--tracker-timeout-ms", "20000")
        self.assertLess(elapsed, 10.0)

    def test_a_serving_peer_subscribes_with_the_address_it_serves_on(self):
        data, c = self.data_file("file", 40000, 4096)
        tracker = ref.Tracker()
        self.addCleanup(tracker.stop)
        me = self.start_peer("file", ("127.0.0.1", tracker.port), self.path("file"))
        self.wait_for("a SUBSCRIBE", lambda: any(q[0] == ref.SUBSCRIBE and q[1] == c.cascade_hash and q[2:4] == me
                                            for q in tracker.requests))
        # And the reference can fetch from the address it announced.
        self.assertEqual(ref.fetch(c, me), data)


class ReferenceWithOurPrograms(Case):
    """The reference, as a client of Cascade's tracker and Cascade's seed."""

    def test_the_reference_finds_our_seed_through_our_tracker_and_fetches_the_file(self):
        data, c = self.data_file("file", 1 << 20, 32 * 1024)
        tracker = self.start_tracker()
        self.start_peer("file", tracker, self.path("file"))

        def listed():
            status, peers = ref.ask_tracker(tracker, ref.LIST, c.cascade_hash, "127.0.0.2", 7000)
            self.assertEqual(status, 0)
            return peers
        peers = self.wait_for("our seed in the tracker's list", listed)
        self.assertEqual(len(peers), 1)
        ip, port, seen, good = peers[0]
        self.assertEqual(ip, "127.0.0.1")
        self.assertLess(abs(seen - time.time()), 60)
        self.assertFalse(good)
        self.assertEqual(ref.fetch(c, (ip, port), pipeline=16), data)

    def test_the_simple_leecher_fetches_from_our_seed_one_connection_per_block(self):
        data, c = self.data_file("file", 100 * 4096 + 7, 4096)
        tracker = self.start_tracker()
        seed = self.start_peer("file", tracker, self.path("file"))
        self.assertEqual(ref.fetch_per_block(c, seed), data)

    def test_our_seed_serves_a_cascade_file_with_trailing_bytes_under_its_whole_hash(self):
        # Readers ignore bytes after the last block hash, but the cascade hash covers them all.
        data, _ = self.data_file("file", 20000, 4096)
        raw = read_bytes(self.path("file.cascade")) + b"trailing bytes another writer left"
        with open(self.path("file.cascade"), "wb") as f:
            f.write(raw)
        c = ref.Cascade(raw)
        self.assertEqual(c.cascade_hash, hashlib.sha256(raw).digest())
        tracker = self.start_tracker()
        seed = self.start_peer("file", tracker, self.path("file"))
        self.assertEqual(ref.fetch(c, seed), data)

    def test_our_tracker_lists_subscribers_never_the_asker_and_refuses_bad_headers(self):
        tracker = self.start_tracker()
        h = hashlib.sha256(b"interop").digest()
        for i in range(3):
            status, peers = ref.ask_tracker(tracker, ref.SUBSCRIBE, h, f"10.0.0.{i + 1}", 6000 + i)
            self.assertEqual(status, 0)
            self.assertEqual(len(peers), i)  # the others so far, never itself
            self.assertNotIn((f"10.0.0.{i + 1}", 6000 + i), [p[:2] for p in peers])
        status, peers = ref.ask_tracker(tracker, ref.LIST, h, "10.0.0.9", 6009)
        self.assertEqual(sorted(p[:2] for p in peers), [("10.0.0.1", 6000), ("10.0.0.2", 6001), ("10.0.0.3", 6002)])
        good = ref.tracker_request(ref.LIST, h, "10.0.0.9", 6009)
        for name, raw in (("magic", b"CASX" + good[4:]), ("version", good[:4] + struct.pack(">I", 2) + good[8:]),
                          ("command", good[:8] + struct.pack(">I", 3) + good[12:]),
                          ("length", good[:12] + struct.pack(">I", 37) + good[16:])):
            with self.subTest(bad=name):
                status, message = ref.ask_tracker(tracker, 0, h, "", 0, raw_request=raw)
                self.assertNotEqual(status, 0)
                self.assertTrue(message)

    def test_our_seed_answers_each_status_as_the_protocol_says(self):
        data, c = self.data_file("file", 5 * 4096 + 100, 4096)
        # Only blocks 0 and 2 present and correct: our peer holds those two and no more (the
        # tracker knows no one else, so it cannot fetch the rest).
        partial = bytearray(len(data))
        for i in (0, 2):
            partial[i * 4096:(i + 1) * 4096] = data[i * 4096:(i + 1) * 4096]
        with open(self.path("partial"), "wb") as f:
            f.write(partial)
        tracker = self.start_tracker()
        peer = self.start_peer("file", tracker, self.path("partial"))

        def closed_after(sock):
            try:
                return sock.recv(1) == b""
            except ConnectionResetError:
                return True

        with socket.create_connection(peer, timeout=ref.TIMEOUT) as s:
            # 2: not held, and the connection stays open for the next request.
            s.sendall(ref.block_request(1, c.cascade_hash))
            status, message = ref.read_block_response(s, 1 << 16)
            self.assertEqual(status, 2)
            message.decode("utf-8")
            # 0: held blocks, pipelined, in order.
            s.sendall(ref.block_request(2, c.cascade_hash) + ref.block_request(0, c.cascade_hash))
            self.assertEqual(ref.read_block_response(s, 4096), (0, data[2 * 4096:3 * 4096]))
            self.assertEqual(ref.read_block_response(s, 4096), (0, data[:4096]))
        for name, raw, want in (("unknown hash", ref.block_request(0, hashlib.sha256(b"other").digest()), 1),
                                ("out of range", ref.block_request(c.count, c.cascade_hash), 3),
                                ("bad magic", b"CASCADE2" + ref.block_request(0, c.cascade_hash)[8:], 4)):
            with self.subTest(request=name), socket.create_connection(peer, timeout=ref.TIMEOUT) as s:
                s.sendall(raw)
                status, message = ref.read_block_response(s, 1 << 16)
                self.assertEqual(status, want)
                self.assertTrue(message.decode("utf-8"))
                self.assertTrue(closed_after(s), "the connection should be closed after this status")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--vectors", required=True)
    parser.add_argument("--link", help="run on a private MTU-1500 link shaped to this tc rate")
    args, rest = parser.parse_known_args()
    BIN, VECTORS = os.path.abspath(args.bin), os.path.abspath(args.vectors)
    if args.link:
        enter_private_link(args.link)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
