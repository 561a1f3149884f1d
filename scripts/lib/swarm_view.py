"""The live view of a swarm demo, readable with 64 leechers or more: one aggregate line, then a
compact strip with one character per leecher (its progress in eighths, # once its file is
verified), wrapped to the terminal's width. On a terminal it redraws in place; otherwise it
prints a line now and then."""
import shutil
import sys

LEVELS = " .:-=+*%"  # 0/8 .. 7/8; "#" is done


def strip(fractions, done):
    return "".join("#" if d else LEVELS[min(7, int(f * 8))] for f, d in zip(fractions, done))


def render(fractions, done, bytes_per_second, seconds, width=None):
    """The lines to show: [aggregate, strip rows...]."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    n = len(fractions)
    total = 100.0 * sum(fractions) / max(n, 1)
    head = (f"{seconds:6.1f} s  {total:5.1f}% of {n} copies  {sum(done)}/{n} verified  "
            f"{bytes_per_second / 1e6:8.1f} MB/s in all")
    s = strip(fractions, done)
    row = max(10, min(width - 4, 100))
    rows = [f"  [{s[i:i + row]}]" for i in range(0, len(s), row)] or ["  []"]
    return [head[:width - 1]] + rows


class View:
    def __init__(self, out=sys.stdout):
        self.out = out
        self.tty = out.isatty()
        self.shown = 0  # lines drawn last time (tty)
        self.last_print = -1e9

    def show(self, lines, seconds, final=False):
        if self.tty:
            if self.shown:
                self.out.write(f"\x1b[{self.shown}F")  # back to the first line drawn
            for line in lines:
                self.out.write("\x1b[2K" + line + "\n")
            self.shown = len(lines)
        elif final or seconds - self.last_print >= 2.0:
            self.out.write("\n".join(lines) + "\n")
            self.last_print = seconds
        self.out.flush()


if __name__ == "__main__":
    # One frame for the loopback demo (scripts/swarm.sh): swarm_view.py WORK N START (Unix time)
    # reads WORK/leecherI.json; prints the frame; exits 0 when every leecher is complete.
    import json
    import time
    work, n, seconds = sys.argv[1], int(sys.argv[2]), time.time() - float(sys.argv[3])
    fractions, done, got = [], [], 0
    for i in range(1, n + 1):
        try:
            with open(f"{work}/leecher{i}.json") as f:
                s = json.load(f)
            have = sum(x["verified_blocks"] for x in s["files"])
            total = sum(x["blocks"] for x in s["files"])
            ok = all(x["complete"] for x in s["files"])
            got += sum(x["bytes_downloaded"] for x in s["files"])
        except (OSError, ValueError, KeyError):
            have, total, ok = 0, 1, False
        fractions.append(have / max(total, 1))
        done.append(ok)
    print("\n".join(render(fractions, done, got / max(seconds, 1e-3), seconds)))
    if len(sys.argv) > 4:  # a timeline file for the report (scripts/lib/swarm_report.py)
        with open(sys.argv[4], "a") as f:
            f.write(json.dumps({"t": round(seconds, 3), "fractions": fractions, "done": done}) + "\n")
    sys.exit(0 if all(done) else 1)
