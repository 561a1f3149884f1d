"""A private network namespace whose loopback looks like a real link: MTU 1500 (instead of
loopback's 65536, so a few requests span several TCP segments) and a tbf-shaped rate. Nothing
outside the namespace is touched: it is made with `unshare -n` for one process tree and
vanishes with it, so there is nothing to tear down even after a crash.

  from private_link import enter_private_link
  enter_private_link("20mbit")   # re-executes this program inside the namespace, once
"""
import os
import shutil
import subprocess
import sys

from netlab import parse_rate

ENV = "CASCADE_PRIVATE_LINK"
NEEDS_ROOT = 77  # the exit code of a program that cannot make a namespace (ctest: skipped)


def _run(*args):
    subprocess.run(args, check=True, capture_output=True, text=True)


def enter_private_link(rate, mtu=1500):
    """In the calling program: re-executes it under `unshare -n` and returns there, with the
    namespace's loopback up at `mtu` and shaped to `rate` (tc's notation: 20mbit). Where no
    namespace can be made (not root, no unshare), says so and exits NEEDS_ROOT."""
    if os.environ.get(ENV) != rate:
        if (os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("tc")
                or subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0):
            print("a private network namespace needs root, unshare and tc (iproute2)", file=sys.stderr)
            sys.exit(NEEDS_ROOT)
        os.environ[ENV] = rate
        os.execvp("unshare", ["unshare", "-n", sys.executable, *sys.argv])
    _run("ip", "link", "set", "lo", "up", "mtu", str(mtu))
    # A burst of 32 KiB at least (and 10 ms of the rate), a queue of 100 ms.
    bits = parse_rate(rate)
    burst = max(32 * 1024, bits // 8 // 100)
    _run("tc", "qdisc", "replace", "dev", "lo", "root", "tbf", "rate", rate, "burst", str(burst), "latency", "100ms")
