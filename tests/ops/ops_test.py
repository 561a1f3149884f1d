#!/usr/bin/env python3
"""Operating Cascade, against the real programs on 127.0.0.1: the HTTP pages (--http) read by
Debian's prometheus-client parser and rendered by headless Chromium, hostile HTTP clients, and the
tracker's configuration reload on SIGHUP. Screenshots of the pages go to --artifacts.

  ops_test.py --bin BUILD/bin --artifacts DIR [unittest options, e.g. TrackerHttpTest]
"""
import argparse
import hashlib
import html.parser
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../interop"))
import reference  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

BIN = None
ARTIFACTS = None
NO_CHROMIUM = False
KiB = 1024


def wait_until(what, predicate, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def read_port(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return int(text) if text else None
    except FileNotFoundError:
        return None


def http_get(port, path, method="GET"):
    """(status, content type, body text) of one request to 127.0.0.1:port."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read().decode("utf-8", "replace")
    finally:
        c.close()


class Metrics:
    """One /metrics page, parsed by prometheus_client's own parser."""

    def __init__(self, text):
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = {}
        for f in self.families.values():
            for s in f.samples:
                self.samples[(s.name, frozenset(s.labels.items()))] = s.value

    def value(self, name, **labels):
        key = (name, frozenset(labels.items()))
        if key not in self.samples:
            raise AssertionError(f"no sample {name}{labels}")
        return self.samples[key]


def metrics(port):
    status, ctype, body = http_get(port, "/metrics")
    assert status == 200, (status, body)
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    return Metrics(body)


class Dom(html.parser.HTMLParser):
    """Rows of every table (by id) and the text of elements with an id, from a rendered DOM."""

    def __init__(self, text):
        super().__init__()
        self.tables, self.ids, self.meta_refresh, self.bars, self.lines = {}, {}, None, [], []
        self._table, self._row, self._cell, self._id_stack = None, None, None, []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
        elif tag == "meta" and a.get("http-equiv") == "refresh":
            self.meta_refresh = a.get("content")
        if tag == "polyline" and "leecher" in a.get("class", ""):
            self.lines.append((a.get("data-leecher"), a.get("points", "")))
        if a.get("role") == "progressbar":
            self.bars.append(float(a["aria-valuenow"]))
        if "id" in a and tag != "table":
            self._id_stack.append((tag, a["id"]))
            self.ids[a["id"]] = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        if self._id_stack and self._id_stack[-1][0] == tag:
            self._id_stack.pop()

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        for _, i in self._id_stack:
            self.ids[i] += data


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("headless Chromium is needed (Debian package chromium; scripts/setup.sh installs it)")


def open_hogs(port, hogs, request, most=100):
    """Opens up to `most` connections to `port`, each sending `request` (half an HTTP request),
    into `hogs`; stops once connects time out three times in a row (the HTTP side stopped
    accepting: its backlog is full)."""
    misses = 0
    while len(hogs) < most and misses < 3:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=0.05)
            s.sendall(request)
            hogs.append(s)
            misses = 0
        except OSError:
            misses += 1


def render(url, screenshot):
    """The DOM Chromium builds for `url`, and a screenshot of it saved to `screenshot`. With
    --no-chromium (the sanitizer build: the pages' code is the same, Chromium's time is not), the
    page as served, parsed the same way, and no screenshot."""
    if NO_CHROMIUM:
        if url.startswith("file://"):
            with open(url[len("file://"):]) as f:
                return Dom(f.read())
        port_path = url[len("http://127.0.0.1:"):]
        port, path = port_path.split("/", 1)
        status, _, body = http_get(int(port), "/" + path)
        assert status == 200, (url, status)
        return Dom(body)
    common = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--hide-scrollbars", "--user-data-dir=" + tempfile.mkdtemp(prefix="cascade-chromium-")]
    dom = subprocess.run(common + ["--dump-dom", url], capture_output=True, timeout=120, text=True)
    assert dom.returncode == 0 and "<html" in dom.stdout, dom.stderr[-2000:]
    os.makedirs(os.path.dirname(screenshot), exist_ok=True)
    shot = subprocess.run(common + ["--window-size=1100,700", "--screenshot=" + screenshot, url],
                          capture_output=True, timeout=120, text=True)
    assert shot.returncode == 0 and os.path.getsize(screenshot) > 1000, shot.stderr[-2000:]
    return Dom(dom.stdout)


class Programs(unittest.TestCase):
    """Starts programs in a scratch directory and stops them at the end of the test."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="cascade-ops-")
        self.addCleanup(self.dir.cleanup)
        self.work = self.dir.name
        self.procs = []
        self.addCleanup(self.stop_all)

    def path(self, name):
        return os.path.join(self.work, name)

    def start(self, name, args):
        log = open(self.path(name + ".log"), "wb")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.work)
        log.close()
        self.procs.append(p)
        return p

    def log_of(self, name):
        with open(self.path(name + ".log"), errors="replace") as f:
            return f.read()

    def wait_listed(self, port, cascade_hash):
        """Until the tracker (self.tracker) lists the peer serving on `port`: one started later
        finds it in its first LIST, however long the start-up took."""
        def listed():
            status, peers = reference.ask_tracker(self.tracker, reference.LIST, cascade_hash, "0.0.0.0", 0)
            return status == 0 and any(p[1] == port for p in peers)
        wait_until(f"the peer at port {port} listed", listed, 10)

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def start_tracker(self, config, name="tracker"):
        with open(self.path(name + ".json"), "w") as f:
            json.dump({"port": 0, "bind": "127.0.0.1", **config}, f)
        p = self.start(name, [f"{BIN}/cascade-tracker", "-c", self.path(name + ".json"), "--stats-interval", "0",
                              "--port-file", self.path(name + ".port"),
                              "--http", "127.0.0.1:0", "--http-port-file", self.path(name + ".http")])
        self.tracker = ("127.0.0.1", wait_until("the tracker's port", lambda: read_port(self.path(name + ".port"))))
        self.tracker_http = wait_until("the tracker's HTTP port", lambda: read_port(self.path(name + ".http")))
        return p


H = {k: hashlib.sha256(k.encode()).digest() for k in ("a", "b", "c")}


class TrackerHttpTest(Programs):
    def known_traffic(self):
        """A closed tracker (hashes a and b) and 9 requests whose outcomes are known."""
        self.start_tracker({"allowedhashes": [H["a"].hex(), H["b"].hex()], "good-ips": ["127.0.0.1"]})
        ask = reference.ask_tracker
        self.assertEqual(ask(self.tracker, reference.SUBSCRIBE, H["a"], "127.0.0.1", 7001)[0], 0)
        for port in (7002, 7003):
            self.assertEqual(ask(self.tracker, reference.SUBSCRIBE, H["a"], "198.51.100.7", port)[0], 0)
        self.assertEqual(ask(self.tracker, reference.SUBSCRIBE, H["b"], "198.51.100.8", 7004)[0], 0)
        for _ in range(2):
            status, peers = ask(self.tracker, reference.LIST, H["a"], "0.0.0.0", 0)
            self.assertEqual((status, len(peers)), (0, 3))
        self.assertNotEqual(ask(self.tracker, reference.LIST, H["c"], "0.0.0.0", 0)[0], 0)  # not tracked
        self.assertNotEqual(ask(self.tracker, reference.SUBSCRIBE, H["a"], "0.0.0.0", 0)[0], 0)  # refused
        bad = b"NOPE" + bytes(12)
        self.assertNotEqual(ask(self.tracker, 0, b"", "0.0.0.0", 0, raw_request=bad)[0], 0)

    def test_metrics_count_known_traffic(self):
        self.known_traffic()
        # Pages may show a snapshot up to 250 ms old.
        m = wait_until("the metrics to show 9 requests", lambda: (lambda m: m if m.value(
            "cascade_tracker_request_duration_seconds_count") == 9 else None)(metrics(self.tracker_http)), 5)
        expect = {("subscribe", "ok"): 4, ("subscribe", "error"): 1, ("list", "ok"): 2, ("list", "error"): 1,
                  ("invalid", "error"): 1, ("invalid", "ok"): 0}
        for (command, status), n in expect.items():
            self.assertEqual(m.value("cascade_tracker_requests_total", command=command, status=status), n,
                             (command, status))
        self.assertEqual(m.value("cascade_tracker_errors_total", kind="not_tracked"), 1)
        self.assertEqual(m.value("cascade_tracker_errors_total", kind="refused"), 1)
        self.assertEqual(m.value("cascade_tracker_errors_total", kind="bad_header"), 1)
        self.assertEqual(m.value("cascade_tracker_errors_total", kind="timeout"), 0)
        self.assertEqual(m.value("cascade_tracker_swarms"), 2)
        self.assertEqual(m.value("cascade_tracker_peers"), 4)
        self.assertEqual(m.value("cascade_tracker_allowed_hashes"), 2)
        self.assertEqual(m.value("cascade_tracker_request_duration_seconds_bucket", le="+Inf"), 9)
        self.assertGreater(m.value("cascade_tracker_request_duration_seconds_sum"), 0)
        self.assertEqual(m.families["cascade_tracker_requests"].type, "counter")
        self.assertEqual(m.families["cascade_tracker_request_duration_seconds"].type, "histogram")
        self.assertEqual(m.value("cascade_tracker_build_info", version=self.version()), 1)

        status, ctype, body = http_get(self.tracker_http, "/status.json")
        self.assertEqual((status, ctype), (200, "application/json"))
        j = json.loads(body)
        self.assertEqual(j["requests"]["subscribe"], {"ok": 4, "error": 1})
        self.assertEqual(j["errors"]["not_tracked"], 1)
        self.assertEqual((j["swarm_count"], j["peer_count"], j["mode"]), (2, 4, "closed"))
        self.assertEqual(j["swarms"][0], {"hash": H["a"].hex(), "peers": 3, "good_peers": 1})
        self.assertEqual(j["swarms"][1], {"hash": H["b"].hex(), "peers": 1, "good_peers": 0})

    def version(self):
        out = subprocess.run([f"{BIN}/cascade-tracker", "--version"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        name, version = out.stdout.split()
        self.assertEqual(name, "cascade-tracker")
        return version

    def test_status_page_renders_without_javascript(self):
        self.known_traffic()
        time.sleep(0.3)  # past the pages' snapshot age
        dom = render(f"http://127.0.0.1:{self.tracker_http}/?refresh=5",
                     os.path.join(ARTIFACTS, "tracker-status.png"))
        self.assertEqual(dom.meta_refresh, "5")
        summary = dict(zip(*dom.tables["summary"]))
        self.assertEqual((summary["swarms"], summary["peers"], summary["requests"]), ("2", "4", "9"))
        rows = dom.tables["swarms"]
        self.assertEqual(rows[0], ["cascade hash", "peers", "good peers"])
        self.assertEqual(rows[1:], [[H["a"].hex(), "3", "1"], [H["b"].hex(), "1", "0"]])

    def test_bad_http_requests_get_clear_errors(self):
        self.start_tracker({"open": True})
        port = self.tracker_http
        status, _, body = http_get(port, "/nothing-here")
        self.assertEqual(status, 404)
        self.assertIn("/metrics", body)
        self.assertEqual(http_get(port, "/metrics", method="POST")[0], 405)
        self.assertEqual(http_get(port, "/metrics", method="DELETE")[0], 405)
        for query in ("/?refresh=-1", "/?refresh=abc", "/?refresh=99999", "/metrics?x=1", "/?refresh=1&bogus=2",
                      "/?refresh=5&refresh=abc"):
            status, _, body = http_get(port, query)
            self.assertEqual(status, 400, query)
            self.assertTrue(body.strip(), query)
        status, _, body = http_get(port, "/?" + "a" * 20000)
        self.assertEqual(status, 414)
        self.assertIn("too long", body)
        # Malformed request lines: a 400 that says so (not an empty body).
        for junk in (b"\x00\x01\x02 garbage\r\n\r\n", b"GET\r\n\r\n", b"GET /\r\n\r\n", b"get / HTTP/1.1\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                answer = reference.recv_to_eof(s, 1 << 20)
                self.assertTrue(answer.startswith(b"HTTP/1.1 400"), answer[:100])
                self.assertIn(b"\r\n\r\n400: malformed request\n", answer, junk)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/9.9\r\nHost: x\r\n" + b"X: y\r\n" * 200)
            s.shutdown(socket.SHUT_WR)
            answer = reference.recv_to_eof(s, 1 << 20)
            self.assertTrue(answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:100])
        # Everything still works.
        self.assertEqual(http_get(port, "/")[0], 200)
        self.assertEqual(reference.ask_tracker(self.tracker, reference.LIST, H["a"], "0.0.0.0", 0)[0], 0)

    def test_http_requests_are_bounded_in_size_and_time(self):
        p = self.start_tracker({"open": True})
        port = self.tracker_http

        def rss_kib():
            with open(f"/proc/{p.pid}/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))

        before = rss_kib()
        # Header lines without end, each shorter than httplib's limit for one line: the request is
        # cut off at 64 KiB, not kept in memory for as long as the client sends.
        lines = (b"X-A: " + b"b" * 8000 + b"\r\n") * 64
        sent, answer = 0, b""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            try:
                while sent < 64 << 20:
                    s.sendall(lines)
                    sent += len(lines)
            except OSError:
                pass  # cut off: what it sent last fills the kernel's buffers, unread
            try:
                answer = reference.recv_to_eof(s, 1 << 20)
            except OSError:
                pass  # its unread bytes make the close a reset, which may come before the answer
        self.assertLess(sent, 32 << 20, "the tracker's HTTP side kept reading endless headers")
        self.assertTrue(answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:100])
        self.assertLess(rss_kib() - before, 8 << 10, "memory grew with the headers")
        # A request dripped one header line every 0.7 s: ended when its time (5 s) is up, not when
        # the client stops, and told so (every byte it sent was read: the close is a plain FIN).
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\n")
            s.settimeout(0.7)
            started, answer = time.monotonic(), None
            while answer is None and time.monotonic() - started < 12:
                try:
                    s.sendall(b"X: y\r\n")
                    answer = s.recv(4096)  # b"" once closed
                except socket.timeout:
                    continue
                except OSError:
                    answer = b""
            took = time.monotonic() - started
        self.assertIsNotNone(answer, "still open after 12 s of dripped headers")
        self.assertLess(took, 8.0)
        self.assertTrue(answer.startswith(b"HTTP/1.1 408"), answer[:100])
        self.assertIn(b"did not arrive in time", answer)
        self.assertEqual(http_get(port, "/metrics")[0], 200)

    def test_slow_http_clients_do_not_disturb_the_protocol(self):
        self.start_tracker({"open": True})
        hogs = []
        try:
            # More slow clients than the HTTP side has threads and queue: each sends half a request.
            # Past a bound, the HTTP side stops accepting (its backlog fills): connects time out.
            open_hogs(self.tracker_http, hogs, b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            self.assertGreater(len(hogs), 30)
            started = time.monotonic()
            for i in range(50):
                status, _ = reference.ask_tracker(self.tracker, reference.SUBSCRIBE, H["a"], "198.51.100.9", 8000 + i)
                self.assertEqual(status, 0)
            took = time.monotonic() - started
            # (Held up behind the hogs, they would wait out the HTTP side's read timeouts, 5 s each.)
            self.assertLess(took, 5.0, "50 tracker requests beside 100 slow HTTP clients")
        finally:
            for s in hogs:
                s.close()
        status, _, _ = wait_until("the HTTP side to answer again", lambda: (lambda r: r if r[0] == 200 else None)(
            http_get(self.tracker_http, "/metrics")), 15)
        self.assertEqual(metrics(self.tracker_http).value("cascade_tracker_peers"), 50)


class PeerHttpTest(Programs):
    SIZE, BLOCK = 12 * 1024 * KiB, 256 * KiB

    def swarm(self, leecher_args=(), before_leecher=None):
        """Our tracker, a seed and a leecher, both with their pages on; `before_leecher(ports)` runs
        once the seed is up, before the leecher starts."""
        self.start_tracker({"open": True})
        data = random.Random(7).randbytes(self.SIZE)
        os.makedirs(self.path("seed"))
        os.makedirs(self.path("leech"))
        with open(self.path("seed/file.bin"), "wb") as f:
            f.write(data)
        r = subprocess.run([f"{BIN}/cascade-peer", "make", self.path("seed/file.bin"), "-o",
                            self.path("seed/file.bin.cascade"), "--block-size", str(self.BLOCK)],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        shutil.copy(self.path("seed/file.bin.cascade"), self.path("leech/file.bin.cascade"))
        with open(self.path("seed/file.bin.cascade"), "rb") as f:
            self.cascade = reference.Cascade(f.read())
        tracker = f"127.0.0.1:{self.tracker[1]}"
        ports = {}
        for name, extra in (("seed", ()), ("leech", tuple(leecher_args))):
            self.start(name, [f"{BIN}/cascade-peer", "run", self.path(f"{name}/file.bin.cascade"), tracker,
                              "127.0.0.1:0", "--port-file", self.path(name + ".port"), "--http", "127.0.0.1:0",
                              "--http-port-file", self.path(name + ".http"), "--list-interval", "1", *extra])
            ports[name] = (wait_until(f"{name}'s port", lambda: read_port(self.path(name + ".port"))),
                           wait_until(f"{name}'s HTTP port", lambda: read_port(self.path(name + ".http"))))
            if name == "seed":
                self.wait_listed(ports["seed"][0], self.cascade.cascade_hash)
                if before_leecher:
                    before_leecher(ports)
                self.leecher_started = time.monotonic()
        return ports

    def status(self, http_port):
        status, ctype, body = http_get(http_port, "/status.json")
        self.assertEqual((status, ctype), (200, "application/json"))
        return json.loads(body)

    def test_metrics_after_a_download(self):
        ports = self.swarm(["--max-download-rate", "8MiB/s"])  # a second: group commits happen
        leech_http, seed_http = ports["leech"][1], ports["seed"][1]
        wait_until("the leecher's file complete", lambda: self.status(leech_http)["files"][0]["complete"], 60)
        # Requests the seed must refuse: a block past the end, a file it does not serve.
        for request in (reference.block_request(self.cascade.count, self.cascade.cascade_hash),
                        reference.block_request(0, H["a"])):
            with socket.create_connection(("127.0.0.1", ports["seed"][0]), timeout=10) as s:
                s.sendall(request)
                self.assertNotEqual(reference.read_block_response(s, 1 << 20)[0], 0)
        time.sleep(0.3)
        label = {"file": "file.bin", "cascade_hash": self.cascade.cascade_hash.hex()}
        m = metrics(leech_http)
        self.assertEqual(m.value("cascade_peer_downloaded_bytes_total", **label), self.SIZE)
        self.assertEqual(m.value("cascade_peer_blocks_verified_total", **label), self.cascade.count)
        self.assertEqual(m.value("cascade_peer_file_verified_blocks", **label), self.cascade.count)
        self.assertEqual(m.value("cascade_peer_file_completion_ratio", **label), 1)
        self.assertEqual(m.value("cascade_peer_file_complete", **label), 1)
        self.assertEqual(m.value("cascade_peer_file_size_bytes", **label), self.SIZE)
        self.assertEqual(m.value("cascade_peer_blocks_refused_total", reason="bad_hash"), 0)
        self.assertGreaterEqual(m.value("cascade_peer_peers_known", **label), 1)
        self.assertEqual(m.value("cascade_peer_peers_banned", **label), 0)
        commits = m.value("cascade_peer_journal_commits_total")
        self.assertGreaterEqual(commits, 1)
        self.assertEqual(m.value("cascade_peer_journal_commit_duration_seconds_count"), commits)
        self.assertEqual(m.families["cascade_peer_downloaded_bytes"].type, "counter")

        m = metrics(seed_http)
        self.assertEqual(m.value("cascade_peer_uploaded_bytes_total", **label), self.SIZE)  # one copy
        self.assertEqual(m.value("cascade_peer_blocks_served_total", **label), self.cascade.count)
        self.assertEqual(m.value("cascade_peer_downloaded_bytes_total", **label), 0)
        self.assertEqual(m.value("cascade_peer_blocks_refused_total", reason="out_of_range"), 1)
        self.assertEqual(m.value("cascade_peer_blocks_refused_total", reason="unknown_file"), 1)
        self.assertEqual(m.value("cascade_peer_journal_commits_total"), 0)
        j = self.status(seed_http)
        self.assertEqual(j["files"][0]["served_to"], [{"address": "127.0.0.1", "blocks": self.cascade.count,
                                                       "bytes": self.SIZE, "rate": j["files"][0]["served_to"][0]["rate"]}])
        self.assertEqual(j["requests_refused"]["out_of_range"], 1)

    def test_status_page_shows_progress(self):
        # 1.5 MiB/s: the page is rendered early in an 8 s download (Chromium takes a few seconds).
        ports = self.swarm(["--max-download-rate", "1536KiB/s"])
        leech_http = ports["leech"][1]
        wait_until("a sixth of the file", lambda: self.status(leech_http)["files"][0]["verified_blocks"] >= 8, 30)
        dom = render(f"http://127.0.0.1:{leech_http}/", os.path.join(ARTIFACTS, "peer-status.png"))
        self.assertEqual(dom.meta_refresh, "2")
        header, row = dom.tables["files"]
        self.assertEqual(header[:3], ["file", "progress", "size"])
        self.assertEqual(row[0], "file.bin")
        self.assertEqual(len(dom.bars), 1)
        self.assertTrue(0 < dom.bars[0] < 100, dom.bars)
        self.assertRegex(row[header.index("ETA")], r"^\d+s$")  # moving: a time left
        self.assertRegex(row[header.index("down")], r"(KiB|MiB)/s$")
        peers = dom.tables["peers-0"]
        self.assertEqual(peers[1][:2], [f"127.0.0.1:{ports['seed'][0]}", "received from"])
        wait_until("the download to finish", lambda: self.status(leech_http)["files"][0]["complete"], 30)
        time.sleep(0.3)
        dom = render(f"http://127.0.0.1:{leech_http}/?refresh=0", os.path.join(ARTIFACTS, "peer-status-done.png"))
        self.assertIsNone(dom.meta_refresh)
        self.assertEqual(dom.bars, [100.0])
        self.assertIn("verified", dom.tables["files"][1][1])

    def test_hostile_http_clients_do_not_disturb_the_download(self):
        hogs = []

        def hog_the_seed(ports):
            # More slow clients than the HTTP side has threads and queue, each half a request,
            # on both peers' pages; past a bound the HTTP side stops accepting (connects time out).
            open_hogs(ports["seed"][1], hogs, b"GET / HTTP/1.1\r\nHost: x\r\n")
            self.assertGreater(len(hogs), 30)

        try:
            ports = self.swarm(["--max-download-rate", "8MiB/s"], before_leecher=hog_the_seed)
            wait_until("the download to finish", lambda: os.path.exists(self.path("leech/file.bin")) and
                       self.leecher_complete(ports), 30)
            took = time.monotonic() - self.leecher_started
            # 12 MiB at 8 MiB/s is 1.5 s; the hogs must not stretch it (start-up included, which a
            # sanitizer build on a loaded machine makes slow).
            self.assertLess(took, 6.0, "12 MiB at 8 MiB/s beside 100 slow clients of the seed's pages")
        finally:
            for s in hogs:
                s.close()
        self.assertEqual(wait_until("the seed's pages again", lambda: http_get(ports["seed"][1], "/")[0] == 200, 15),
                         True)
        self.assertEqual(http_get(ports["seed"][1], "/?refresh=x")[0], 400)

    def leecher_complete(self, ports):
        try:
            return self.status(ports["leech"][1])["files"][0]["complete"]
        except OSError:
            return False

    def test_a_dripping_http_client_does_not_hold_up_the_exit(self):
        ports = self.swarm()
        with socket.create_connection(("127.0.0.1", ports["seed"][1]), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\n")
            seed = self.procs[1]
            stop = time.monotonic() + 20
            seed.send_signal(signal.SIGTERM)
            while seed.poll() is None and time.monotonic() < stop:
                try:
                    s.sendall(b"X-Drip: 1\r\n")  # a header line now and then: never a whole request
                except OSError:
                    pass  # the process closed it on its way out; its exit is what counts
                time.sleep(0.5)
            self.assertEqual(seed.poll(), 0, "the seed still runs 20 s after SIGTERM")
            self.assertLess(20 - (stop - time.monotonic()), 5)


class SwarmReportTest(unittest.TestCase):
    def test_the_swarm_report_renders(self):
        out = os.path.join(ARTIFACTS, "swarm-report.html")
        os.makedirs(ARTIFACTS, exist_ok=True)
        if os.path.exists(out):
            os.unlink(out)
        r = subprocess.run([os.path.join(HERE, "../../scripts/swarm.sh"), "--peers", "3", "--timeout", "120",
                            "--report", out, "--bin", BIN], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
        self.assertIn("report written to", r.stdout)
        with open(out) as f:
            page = f.read()
        self.assertNotIn("<script", page)
        self.assertNotRegex(page, r'(src|href)="(http|//)')  # self-contained
        dom = render("file://" + out, os.path.join(ARTIFACTS, "swarm-report.png"))
        summary = {row[0]: row[1] for row in dom.tables["summary"]}
        self.assertEqual(summary["leechers"], "3")
        self.assertEqual(summary["every copy verified"], "yes")
        self.assertEqual([name for name, _ in dom.lines], ["leecher1", "leecher2", "leecher3"])
        for _, points in dom.lines:
            ys = [float(p.split(",")[1]) for p in points.split()]
            self.assertGreaterEqual(len(ys), 2)
            self.assertLess(ys[-1], ys[0])  # ends higher up: complete
        # The matrix: each leecher's column adds up to one copy of every sample file.
        blocks = 0
        sample = os.path.join(HERE, "../../sample_data")
        for name in os.listdir(sample):
            if name.endswith(".cascade"):
                with open(os.path.join(sample, name), "rb") as f:
                    blocks += reference.Cascade(f.read()).count
        rows = dom.tables["matrix"]
        self.assertEqual(rows[0], ["from \\ to", "leecher1", "leecher2", "leecher3", "total"])
        self.assertEqual([r[0] for r in rows[1:]], ["seed", "leecher1", "leecher2", "leecher3"])
        for col in range(1, 4):
            self.assertEqual(sum(int(r[col]) for r in rows[1:] if r[col] != "-"), blocks, col)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cached_bytes(path):
    """How many of a file's bytes are in the page cache (util-linux's fincore)."""
    r = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", path],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError(f"fincore {path}: {r.stderr.strip()}")
    return int(r.stdout.split()[0])


def evicts_pages(directory):
    """Whether the file system under `directory` keeps written pages cached and evicts them when
    told (tmpfs keeps them: they are all it has)."""
    probe = os.path.join(directory, "evict-probe")
    with open(probe, "wb") as f:
        f.write(b"x" * 4096)
        f.flush()
        os.fdatasync(f.fileno())
        cached_at_first = cached_bytes(probe) > 0
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    evicted = cached_bytes(probe) == 0
    os.unlink(probe)
    return cached_at_first and evicted


class PeerLifeTest(Programs):
    """Peers that stay up: events, several trackers, seeding limits."""

    SIZE, BLOCK = 4 * 1024 * KiB, 256 * KiB

    def make_file(self, where="seed"):
        os.makedirs(self.path(where), exist_ok=True)
        data = random.Random(11).randbytes(self.SIZE)
        with open(self.path(f"{where}/file.bin"), "wb") as f:
            f.write(data)
        r = subprocess.run([f"{BIN}/cascade-peer", "make", self.path(f"{where}/file.bin"), "-o",
                            self.path(f"{where}/file.bin.cascade"), "--block-size", str(self.BLOCK)],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.path(f"{where}/file.bin.cascade"), "rb") as f:
            self.cascade = reference.Cascade(f.read())
        return data

    def leecher_dir(self, name):
        os.makedirs(self.path(name), exist_ok=True)
        shutil.copy(self.path("seed/file.bin.cascade"), self.path(f"{name}/file.bin.cascade"))
        return self.path(f"{name}/file.bin.cascade")

    def peer(self, name, cascade, trackers, *extra):
        return self.start(name, [f"{BIN}/cascade-peer", "run", cascade, trackers, "127.0.0.1:0",
                                 "--port-file", self.path(name + ".port"), "--list-interval", "1", *extra])

    def events(self, name):
        with open(self.path(name + ".ndjson")) as f:
            return [json.loads(line) for line in f]

    def test_events_tell_a_download_from_start_to_exit(self):
        data = self.make_file()
        self.start_tracker({"open": True})
        live = f"127.0.0.1:{self.tracker[1]}"
        # Slow enough (4 s for the file) that the leecher meets the liar below up to three times, as
        # a ban takes: the first wrong block ends a connection (those already read count too), and
        # the next connection waits 0.5 s, then 1 s (the backoff), so the ban comes within ~2 s.
        self.peer("seed", self.path("seed/file.bin.cascade"), live, "--events", self.path("seed.ndjson"),
                  "--max-upload-rate", "1MiB/s")
        wait_until("the seed's port", lambda: read_port(self.path("seed.port")))
        # A seed that sends wrong bytes for every block: the leecher bans it.
        liar = reference.Seed(self.cascade, random.Random(5).randbytes(self.SIZE))
        self.addCleanup(liar.stop)
        self.assertEqual(reference.ask_tracker(self.tracker, reference.SUBSCRIBE, self.cascade.cascade_hash,
                                               "127.0.0.1", liar.port)[0], 0)
        self.wait_listed(read_port(self.path("seed.port")), self.cascade.cascade_hash)
        dead = free_port()  # nothing listens there
        p = self.peer("leech", self.leecher_dir("leech"), f"127.0.0.1:{dead},{live}", "-c",
                      "--events", self.path("leech.ndjson"))
        self.assertEqual(p.wait(timeout=60), 0, self.log_of("leech")[-3000:])
        with open(self.path("leech/file.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        ev = self.events("leech")
        names = [e["event"] for e in ev]
        self.assertEqual(names[0], "file_started")
        self.assertEqual(names[-1], "exit")
        self.assertEqual(ev[-1]["code"], 0)
        started = ev[0]
        self.assertEqual((started["blocks"], started["blocks_present"], started["complete"]),
                         (self.cascade.count, 0, False))
        self.assertEqual(started["cascade_hash"], self.cascade.cascade_hash.hex())
        errors = [e for e in ev if e["event"] == "tracker_error"]
        self.assertEqual([e["tracker"] for e in errors], [f"127.0.0.1:{dead}"])
        self.assertTrue(errors[0]["message"])
        sources = {e["peer"] for e in ev if e["event"] == "peer_connected"}
        self.assertIn(f"127.0.0.1:{read_port(self.path('seed.port'))}", sources)
        banned = [e for e in ev if e["event"] == "peer_banned"]
        self.assertEqual([(e["peer"], e["reason"]) for e in banned], [(f"127.0.0.1:{liar.port}", "bad_blocks")])
        done = [e for e in ev if e["event"] == "file_complete"]
        self.assertEqual(len(done), 1)
        self.assertEqual((done[0]["check"], done[0]["file"]), ("ok", self.path("leech/file.bin")))
        self.assertTrue(all(isinstance(e["time"], float) for e in ev))
        times = [e["time"] for e in ev]
        self.assertEqual(times, sorted(times))
        # The seed: its file complete at start-up (checked whole), a client connected.
        seed = self.events("seed")
        self.assertEqual(seed[0]["event"], "file_started")
        self.assertEqual((seed[0]["blocks_present"], seed[0]["complete"]), (self.cascade.count, True))
        self.assertIn("peer_connected", [e["event"] for e in seed])
        self.assertIn({"in"}, [{e["direction"]} for e in seed if e["event"] == "peer_connected"])

    def test_a_dead_first_tracker_does_not_slow_the_download(self):
        self.make_file()
        self.start_tracker({"open": True})
        live = f"127.0.0.1:{self.tracker[1]}"
        self.peer("seed", self.path("seed/file.bin.cascade"), live, "--max-upload-rate", "8MiB/s")
        self.wait_listed(wait_until("the seed's port", lambda: read_port(self.path("seed.port"))),
                         self.cascade.cascade_hash)
        # A tracker that accepts connections and never answers: each request waits its timeout.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        self.addCleanup(silent.close)
        times = {}
        for name, trackers in (("alone", live), ("dead-first", f"127.0.0.1:{silent.getsockname()[1]},{live}")):
            started = time.monotonic()
            p = self.peer(name, self.leecher_dir(name), trackers, "-c", "--tracker-timeout-ms", "20000")
            self.assertEqual(p.wait(timeout=60), 0, self.log_of(name)[-3000:])
            times[name] = time.monotonic() - started
        # 4 MiB at 8 MiB/s: half a second; the silent tracker's 20 s timeout must not show (the
        # margin is for a loaded machine's start-up).
        self.assertLess(times["dead-first"], times["alone"] + 5.0, times)

    def test_a_download_leaves_its_pages_evicted_unless_keep_cache(self):
        if not evicts_pages(self.work):
            self.skipTest(f"{self.work}: its file system does not evict pages on request (tmpfs?)")
        data = self.make_file()
        self.start_tracker({"open": True})
        live = f"127.0.0.1:{self.tracker[1]}"
        # 2 s for each copy: about forty group commits, each evicting what it made durable.
        self.peer("seed", self.path("seed/file.bin.cascade"), live, "--max-upload-rate", "4MiB/s")
        self.wait_listed(wait_until("the seed's port", lambda: read_port(self.path("seed.port"))),
                         self.cascade.cascade_hash)
        leechers = {name: self.peer(name, self.leecher_dir(name), live, "-c", *extra)
                    for name, extra in (("evicts", ()), ("keeps", ("--keep-cache",)))}
        for name, p in leechers.items():
            self.assertEqual(p.wait(timeout=60), 0, self.log_of(name)[-3000:])
        cached = {name: cached_bytes(self.path(f"{name}/file.bin")) for name in leechers}
        self.assertLessEqual(cached["evicts"], self.SIZE // 10, cached)
        self.assertGreaterEqual(cached["keeps"], self.SIZE * 9 // 10, cached)
        for name in leechers:  # evicted, not lost
            with open(self.path(f"{name}/file.bin"), "rb") as f:
                self.assertEqual(f.read(), data)

    def test_a_tracker_restarted_empty_is_refilled_by_announces(self):
        self.make_file()
        port = free_port()
        config = {"port": port, "bind": "127.0.0.1", "open": True}
        self.start_tracker(config)
        tracker = f"127.0.0.1:{port}"
        peers = []
        for name in ("seed", "leech"):
            cascade = self.path("seed/file.bin.cascade") if name == "seed" else self.leecher_dir(name)
            peers.append(self.peer(name, cascade, tracker, "--announce-interval", "2"))
        listed = lambda: len(reference.ask_tracker(self.tracker, reference.LIST, self.cascade.cascade_hash,
                                                   "0.0.0.0", 0)[1])
        wait_until("both peers listed", lambda: listed() == 2, 10)
        # The peers held still while the tracker restarts, so none announces before it is seen empty
        # (however long the start-up takes).
        try:
            for p in peers:
                p.send_signal(signal.SIGSTOP)
            old = self.procs[0]
            old.send_signal(signal.SIGTERM)
            self.assertEqual(old.wait(timeout=10), 0)
            self.start_tracker(config, name="tracker2")
            self.assertEqual(listed(), 0)
        finally:
            for p in peers:
                p.send_signal(signal.SIGCONT)
        wait_until("both peers listed again", lambda: listed() == 2, 10)

    def test_seeding_ends_after_its_time_or_ratio(self):
        self.make_file()
        self.start_tracker({"open": True})
        live = f"127.0.0.1:{self.tracker[1]}"
        started = time.monotonic()
        p = self.peer("timed", self.path("seed/file.bin.cascade"), live, "--seed-time", "1.5s",
                      "--events", self.path("timed.ndjson"))
        self.assertEqual(p.wait(timeout=30), 0)
        took = time.monotonic() - started
        self.assertGreaterEqual(took, 1.5)
        self.assertLess(took, 6)
        self.assertEqual(self.events("timed")[-1], {**self.events("timed")[-1], "event": "exit", "code": 0})
        self.assertIn("seeded for 1.5 s", self.log_of("timed"))

        # Ratio 2: two leechers take a copy each, then the seed leaves (its time limit is far).
        seed = self.peer("seed", self.path("seed/file.bin.cascade"), live, "--seed-ratio", "2",
                         "--seed-time", "1h", "--no-spread")
        self.wait_listed(wait_until("the seed's port", lambda: read_port(self.path("seed.port"))),
                         self.cascade.cascade_hash)
        self.assertIsNone(seed.poll())
        leechers = []
        for name in ("l1", "l2"):
            leechers.append(self.peer(name, self.leecher_dir(name), live, "-c"))
            self.assertEqual(leechers[-1].wait(timeout=60), 0)
            if name == "l1":
                time.sleep(0.5)
                self.assertIsNone(seed.poll(), "one copy out of two: still seeding")
        self.assertEqual(seed.wait(timeout=10), 0)
        self.assertIn("every file served its size x 2", self.log_of("seed"))

    def test_a_shared_directory_follows_its_files(self):
        shared = self.path("shared")
        os.makedirs(shared)
        datas = {}

        def put(name, seed):
            datas[name] = random.Random(seed).randbytes(1024 * KiB + seed)
            with open(f"{shared}/{name}", "wb") as f:
                f.write(datas[name])
            tmp = self.path(name + ".cascade.tmp")
            r = subprocess.run([f"{BIN}/cascade-peer", "make", f"{shared}/{name}", "-o", tmp, "--block-size",
                                str(64 * KiB)], capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(tmp, "rb") as f:
                raw = f.read()
            os.rename(tmp, f"{shared}/{name}.cascade")  # appears whole, as a copy tool's rename does
            return reference.Cascade(raw)

        a = put("a.bin", 1)
        with open(f"{shared}/junk.cascade", "wb") as f:
            f.write(b"not a cascade file")
        self.start_tracker({"open": True})
        live = f"127.0.0.1:{self.tracker[1]}"
        seed = self.peer("seed", shared, live, "--events", self.path("seed.ndjson"), "--http", "127.0.0.1:0",
                         "--http-port-file", self.path("seed.http"))
        seed_port = wait_until("the seed's port", lambda: read_port(self.path("seed.port")))
        seed_http = wait_until("the seed's HTTP port", lambda: read_port(self.path("seed.http")))
        self.assertIn("junk.cascade", self.log_of("seed"))  # a warning; the rest is shared

        def shared_files():
            return sorted(f["name"] for f in json.loads(http_get(seed_http, "/status.json")[2])["files"])

        self.assertEqual(shared_files(), ["a.bin"])

        def fetch(name, cascade):
            os.makedirs(self.path("get-" + name), exist_ok=True)
            shutil.copy(f"{shared}/{name}.cascade", self.path(f"get-{name}/{name}.cascade"))
            p = self.peer("get-" + name, self.path(f"get-{name}/{name}.cascade"), live, "-c")
            self.assertEqual(p.wait(timeout=60), 0, self.log_of("get-" + name)[-2000:])
            with open(self.path(f"get-{name}/{name}"), "rb") as f:
                self.assertEqual(f.read(), datas[name])

        fetch("a.bin", a)
        # A file added while the seed runs is shared within a second.
        b = put("b.bin", 2)
        added = time.monotonic()
        wait_until("b.bin shared", lambda: shared_files() == ["a.bin", "b.bin"], 5)
        # (The bound gives a loaded machine twice that. The 5 s rescan alone meets it only when
        # the file lands just before one, so inotify must also be on.)
        self.assertNotIn("cannot watch with inotify", self.log_of("seed"))
        self.assertLess(time.monotonic() - added, 2.0)
        fetch("b.bin", b)
        # A cascade file named after one (b.bin.cascade.cascade): its data file would be
        # b.bin.cascade, which must never be written to. A warning, and nothing else changes.
        with open(f"{shared}/b.bin.cascade", "rb") as f:
            b_raw = f.read()
        with open(f"{shared}/b.bin.cascade.cascade", "wb") as f:
            f.write(b_raw)
        wait_until("the warning", lambda: "b.bin.cascade would be a cascade file" in self.log_of("seed"), 10)
        with open(f"{shared}/b.bin.cascade", "rb") as f:
            self.assertEqual(f.read(), b_raw)
        os.unlink(f"{shared}/b.bin.cascade.cascade")
        # The junk file made valid: picked up too.
        c = put("c.bin", 3)
        os.replace(f"{shared}/c.bin.cascade", f"{shared}/junk.cascade")
        os.rename(f"{shared}/c.bin", f"{shared}/junk")
        wait_until("junk shared", lambda: shared_files() == ["a.bin", "b.bin", "junk"], 5)
        # A removed file stops being served.
        os.unlink(f"{shared}/a.bin.cascade")
        removed = time.monotonic()
        wait_until("a.bin no longer shared", lambda: shared_files() == ["b.bin", "junk"], 5)
        self.assertLess(time.monotonic() - removed, 2.0)
        with socket.create_connection(("127.0.0.1", seed_port), timeout=10) as s:
            s.sendall(reference.block_request(0, a.cascade_hash))
            status, message = reference.read_block_response(s, 1 << 20)
        self.assertNotEqual(status, 0)
        self.assertIn(b"does not serve", message)
        self.assertIsNone(seed.poll())
        ev = self.events("seed")
        self.assertEqual([e["file"] for e in ev if e["event"] == "file_started"],
                         [f"{shared}/a.bin", f"{shared}/b.bin", f"{shared}/junk"])
        self.assertEqual([e["file"] for e in ev if e["event"] == "file_removed"], [f"{shared}/a.bin"])
        self.assertEqual(c.count, 17)  # 1 MiB + 3 bytes in 64 KiB blocks
        # A name that is not UTF-8: shared, and every page and event still well-formed.
        odd = os.fsencode(shared) + b"/\xff\xfeodd.bin"
        with open(odd, "wb") as f:
            f.write(random.Random(4).randbytes(100 * KiB))
        r = subprocess.run([os.fsencode(f"{BIN}/cascade-peer"), b"make", odd, b"-o", odd + b".cascade.tmp"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.rename(odd + b".cascade.tmp", odd + b".cascade")
        wait_until("the odd name shared", lambda: len(shared_files()) == 3, 5)
        # Listed once its blocks are found; complete once its whole-file check is done, soon after.
        wait_until("the odd name checked whole",
                   lambda: all(f["complete"] for f in json.loads(http_get(seed_http, "/status.json")[2])["files"]
                               if f["name"].endswith("odd.bin")), 10)
        self.assertIn("\ufffd\ufffdodd.bin", shared_files())
        m = metrics(seed_http)  # parses: labels are UTF-8
        self.assertEqual(m.value("cascade_peer_file_complete", file="\ufffd\ufffdodd.bin",
                                 cascade_hash=json.loads(http_get(seed_http, "/status.json")[2])["files"][-1]["cascade_hash"]), 1)
        self.assertEqual(http_get(seed_http, "/")[0], 200)
        self.assertIsNone(seed.poll())
        self.assertIn("\ufffd\ufffdodd.bin", [e["file"][-9:] for e in self.events("seed") if e["event"] == "file_started"])

    def test_bad_options_get_one_line_errors(self):
        self.make_file()
        cascade = self.path("seed/file.bin.cascade")
        cases = [
            (["--seed-time", "soon"], 2, "--seed-time"),
            (["--seed-ratio", "-1"], 2, "--seed-ratio"),
            (["--seed-ratio", "x"], 2, "--seed-ratio"),
            (["-c", "--seed-time", "1m"], 2, "need serving"),
            (["--http", "localhost"], 2, "--http"),
            (["--events", "/nonexistent-dir/events.ndjson"], 1, "--events"),
        ]
        for extra, code, words in cases:
            r = subprocess.run([f"{BIN}/cascade-peer", "run", cascade, "127.0.0.1:9", "127.0.0.1:0", *extra],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, code, (extra, r.stderr))
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, (extra, r.stderr))
            self.assertIn(words, lines[0])
        r = subprocess.run([f"{BIN}/cascade-peer", "run", self.path("seed"), "127.0.0.1:9", "127.0.0.1:0", "-o",
                            self.path("x")], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("directory", r.stderr)
        for trackers in ("127.0.0.1:9,", "a:1,,b:2", "127.0.0.1:9,127.0.0.1:9", ":5"):
            r = subprocess.run([f"{BIN}/cascade-peer", "run", cascade, trackers, "127.0.0.1:0"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (trackers, r.stderr))
            self.assertIn("TRACKER", r.stderr)
        # The HTTP port taken: exit 1 with a clear line.
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            r = subprocess.run([f"{BIN}/cascade-peer", "run", cascade, "127.0.0.1:9", "127.0.0.1:0", "--http",
                                f"127.0.0.1:{taken.getsockname()[1]}"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("--http", r.stderr)


class TrackerReloadTest(Programs):
    def reload(self, p, config):
        if not isinstance(config, str):
            config = json.dumps({"port": 0, "bind": "127.0.0.1", **config})
        with open(self.path("tracker.json"), "w") as f:
            f.write(config)
        before = self.log_of("tracker").count("SIGHUP")
        p.send_signal(signal.SIGHUP)
        wait_until("the reload's log line", lambda: self.log_of("tracker").count("SIGHUP") > before, 10)
        return self.log_of("tracker").splitlines()[-1]

    def test_sighup_reloads_the_configuration(self):
        p = self.start_tracker({"allowedhashes": [H["a"].hex(), H["b"].hex()]})
        ask = reference.ask_tracker
        for h, port in (("a", 7001), ("a", 7002), ("b", 7003)):
            self.assertEqual(ask(self.tracker, reference.SUBSCRIBE, H[h], "10.1.2.3", port)[0], 0)

        # b is no longer tracked, c is; private addresses are refused from now on.
        line = self.reload(p, {"allowedhashes": [H["a"].hex(), H["c"].hex()], "ban-private": True,
                               "max-peers-reported": 1})
        self.assertIn("configuration reloaded", line)
        status, peers = ask(self.tracker, reference.LIST, H["a"], "0.0.0.0", 0)
        self.assertEqual((status, len(peers)), (0, 1))  # a kept its peers; one reported now
        self.assertNotEqual(ask(self.tracker, reference.LIST, H["b"], "0.0.0.0", 0)[0], 0)
        self.assertEqual(ask(self.tracker, reference.LIST, H["c"], "0.0.0.0", 0), (0, []))
        status, message = ask(self.tracker, reference.SUBSCRIBE, H["c"], "10.9.9.9", 7005)
        self.assertNotEqual(status, 0)
        self.assertIn("private", message)
        time.sleep(0.3)
        m = metrics(self.tracker_http)
        self.assertEqual((m.value("cascade_tracker_swarms"), m.value("cascade_tracker_peers")), (1, 2))
        self.assertEqual(m.value("cascade_tracker_config_reloads_total", result="ok"), 1)

        # An invalid file: one line naming the key; the configuration in force stays.
        line = self.reload(p, {"allowedhashes": [H["a"].hex()], "good-ips": ["not-an-address"]})
        self.assertIn("not reloaded", line)
        self.assertIn('"good-ips"', line)
        self.assertEqual(ask(self.tracker, reference.LIST, H["c"], "0.0.0.0", 0), (0, []))  # c still tracked
        line = self.reload(p, "{ not json")
        self.assertIn("not reloaded", line)
        time.sleep(0.3)
        self.assertEqual(metrics(self.tracker_http).value("cascade_tracker_config_reloads_total", result="error"), 2)

        # A new port is reported as needing a restart; the rest is applied.
        line = self.reload(p, {"port": 1, "open": True})
        self.assertIn("configuration reloaded", line)
        self.assertIn("restart", self.log_of("tracker"))
        self.assertEqual(ask(self.tracker, reference.LIST, H["b"], "0.0.0.0", 0), (0, []))  # open now
        self.assertIsNone(p.poll())


def main():
    global BIN, ARTIFACTS, NO_CHROMIUM
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--artifacts", default=os.path.join(tempfile.gettempdir(), "cascade-ops-artifacts"))
    parser.add_argument("--no-chromium", action="store_true")
    args, rest = parser.parse_known_args()
    BIN, ARTIFACTS = os.path.abspath(args.bin), os.path.abspath(args.artifacts)
    NO_CHROMIUM = args.no_chromium
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
