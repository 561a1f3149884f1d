"""The network lab: hosts made of network namespaces, joined by a bridge in a namespace of its
own, each host's links shaped with tbf. For tests and benchmarks that need several machines with
real, bandwidth-limited links on one box.

    with Lab() as lab:
        seed = lab.add_host("seed", up="100mbit")
        leecher = lab.add_host("l1", up="100mbit", down="100mbit")
        p = leecher.start(["cascade-peer", ...], log)    # runs inside the host
        leecher.ip                                        # 198.18.0.3

What it touches: only namespaces it creates, named casc-<pid>-<name>; the root namespace's
interfaces and routes are never changed and no namespace gets a default route. Host addresses
come from 198.18.0.0/24 (RFC 2544's benchmarking range: private to the lab, and not RFC 1918, so
that ban-private can be tested with extra 10/8 addresses). Everything is torn down on exit, on an
exception and on SIGINT/SIGTERM/SIGHUP; a lab left behind by a process that was SIGKILLed is
removed by the next Lab() (its pid is gone).

Facts of our machines the lab keeps to: only tbf, htb and pfifo qdiscs (no netem: no emulated
delay or loss), only reno and bbr congestion control inside a namespace, no ping, root needed.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

SUBNET = "198.18.0"
NEEDS_ROOT = 77  # exit code of a test or benchmark that cannot build a lab (ctest: skipped)


def can_build():
    """None if this process can build a lab, else why not."""
    if os.geteuid() != 0:
        return "the network lab needs root (network namespaces)"
    for tool in ("ip", "tc"):
        if not shutil.which(tool):
            return f"the network lab needs `{tool}` (iproute2)"
    return None


def require_lab_or_exit():
    why = can_build()
    if why:
        print(f"{why}; skipped", file=sys.stderr)
        sys.exit(NEEDS_ROOT)


def wait_until(what, predicate, seconds, poll=0.05):
    """predicate()'s first true value, polled for at most `seconds`; else AssertionError."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def read_json(path):
    """The JSON in `path`, or None while it is missing or half-written."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def stop_processes(procs, grace=5):
    """SIGTERM to every process still running, then SIGKILL to those still there after `grace`."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _run(*args, check=True):
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r


def parse_rate(rate):
    """Bits per second of tc's notation (20mbit, 500kbit, 1gbit) or a number."""
    if isinstance(rate, (int, float)):
        return int(rate)
    r = rate.lower()
    for suffix, scale in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3), ("bit", 1)):
        if r.endswith(suffix):
            return int(float(r[:-len(suffix)]) * scale)
    raise ValueError(f"not a rate: {rate}")


def shape(ns, dev, rate):
    """tbf on `dev`'s egress in namespace `ns`: `rate`, a burst of 4 ms of it but at least 128 KiB,
    a queue of at most 50 ms. The burst must hold a whole GSO packet (up to 64 KiB): tbf splits
    bigger ones into frames in software, which costs so much CPU that a lab of 17 hosts at
    100 Mbit/s saturates two cores and measures itself instead of the programs."""
    bits = parse_rate(rate)
    burst = max(128 * 1024, bits // 8 // 250)
    _run("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev, "root", "tbf",
         "rate", str(bits), "burst", str(burst), "latency", "50ms")


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _delete_namespace(ns):
    pids = _run("ip", "netns", "pids", ns, check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    _run("ip", "netns", "delete", ns, check=False)


def remove_stale_labs():
    """Deletes the namespaces of labs whose process is gone (SIGKILLed before its teardown)."""
    listed = _run("ip", "netns", "list", check=False).stdout
    for line in listed.splitlines():
        m = re.match(r"(casc-(\d+)-\S+)", line)
        if m and not _alive(int(m.group(2))):
            _delete_namespace(m.group(1))


class Host:
    def __init__(self, lab, name, ns, ip, index):
        self.lab, self.name, self.ns, self.ip, self.index = lab, name, ns, ip, index

    def command(self, args):
        return ["ip", "netns", "exec", self.ns, *args]

    def start(self, args, log=subprocess.DEVNULL, **kw):
        """Starts a program inside this host, its output to `log` (unless `kw` says otherwise);
        the lab stops it at teardown."""
        kw.setdefault("stdout", log)
        kw.setdefault("stderr", subprocess.STDOUT)
        p = subprocess.Popen(self.command(args), **kw)
        self.lab.procs.append(p)
        return p

    def run(self, args, timeout=60, **kw):
        return subprocess.run(self.command(args), timeout=timeout, capture_output=True, **kw)

    def add_address(self, ip):
        """A second address on this host's interface (e.g. an RFC 1918 one)."""
        _run("ip", "-n", self.ns, "addr", "add", f"{ip}/32", "dev", "eth0")

    def add_route(self, prefix):
        """A route on this host's link (no gateway), e.g. to another host's extra address."""
        _run("ip", "-n", self.ns, "route", "add", prefix, "dev", "eth0")

    def counters(self):
        """(bytes sent, bytes received) on the host's interface, headers included."""
        out = _run("ip", "-n", self.ns, "-s", "-j", "link", "show", "eth0").stdout
        s = json.loads(out)[0]["stats64"]
        return s["tx"]["bytes"], s["rx"]["bytes"]


class Lab:
    def __init__(self):
        why = can_build()
        if why:
            raise RuntimeError(why)
        remove_stale_labs()
        self.prefix = f"casc-{os.getpid()}"
        self.bridge_ns = f"{self.prefix}-br"
        self.hosts = []
        self.procs = []
        self.namespaces = []
        self._old_handlers = {}
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        try:
            self._add_namespace(self.bridge_ns)
            _run("ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
            _run("ip", "-n", self.bridge_ns, "link", "set", "br0", "up")
        except BaseException:
            self.close()
            raise

    def _on_signal(self, signum, frame):
        self.close()
        raise SystemExit(128 + signum)

    def _add_namespace(self, ns):
        _run("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        _run("ip", "-n", ns, "link", "set", "lo", "up")

    def add_host(self, name, up=None, down=None, cc=None):
        """A host on the bridge: uplink (its egress) shaped to `up`, downlink (the bridge's
        egress towards it) to `down`; None leaves a link unshaped. `cc`: reno or bbr."""
        index = len(self.hosts) + 1
        if index > 250:
            raise ValueError("the lab has room for 250 hosts")
        ns = f"{self.prefix}-{name}"
        ip = f"{SUBNET}.{index + 1}"
        self._add_namespace(ns)
        port = f"v{index}"
        _run("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", self.bridge_ns)
        _run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        _run("ip", "-n", ns, "link", "set", "eth0", "up")
        _run("ip", "-n", self.bridge_ns, "link", "set", port, "master", "br0")
        _run("ip", "-n", self.bridge_ns, "link", "set", port, "up")
        if up:
            shape(ns, "eth0", up)
        if down:
            shape(self.bridge_ns, port, down)
        if cc:
            _run("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv4.tcp_congestion_control={cc}")
        host = Host(self, name, ns, ip, index)
        self.hosts.append(host)
        return host

    def close(self):
        stop_processes(self.procs)
        self.procs = []
        for ns in reversed(self.namespaces):
            try:
                _delete_namespace(ns)
            except (OSError, subprocess.SubprocessError) as e:  # go on with the others
                print(f"netlab: could not delete namespace {ns}: {e}", file=sys.stderr)
        self.namespaces = []
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)
        self._old_handlers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
