"""The report of a local swarm (scripts/swarm.sh --report FILE.html): one self-contained HTML
file, no scripts and nothing fetched: each leecher's progress over time (SVG lines), how many
blocks each peer served to each other peer (a matrix), and the summary figures.

  swarm_report.py WORK PEERS SECONDS TOTAL_BYTES SEED_PORT VERIFIED OUT.html
reads WORK/timeline.ndjson (swarm_view.py's samples), WORK/leecherI.json and WORK/*.port."""
import html
import json
import sys

COLORS = ["#2f7de1", "#e1622f", "#2da44e", "#a742c9", "#c9a227", "#17a2b8", "#d6336c", "#6c757d"]


def load(work, n, seed_port):
    names = {f"127.0.0.1:{seed_port}": "seed"}
    for i in range(1, n + 1):
        with open(f"{work}/leecher{i}.port") as f:
            names[f"127.0.0.1:{f.read().strip()}"] = f"leecher{i}"
    matrix, complete = {}, {}
    for i in range(1, n + 1):
        with open(f"{work}/leecher{i}.json") as f:
            s = json.load(f)
        to = f"leecher{i}"
        for file in s["files"]:
            for src, blocks in file["blocks_from"].items():
                frm = names.get(src, src)
                matrix.setdefault(frm, {}).setdefault(to, 0)
                matrix[frm][to] += blocks
        times = [file["complete_seconds"] for file in s["files"]]
        complete[to] = max(times) if times and min(times) >= 0 else None
    timeline = []
    try:
        with open(f"{work}/timeline.ndjson") as f:
            timeline = [json.loads(line) for line in f if line.strip()]
    except OSError:
        pass
    return names, matrix, complete, timeline


def series(timeline, complete, n):
    """Each leecher's (seconds, fraction) points: nothing at the start, the view's samples, and
    all at the moment its own statistics say it completed."""
    out = []
    for i in range(n):
        pts = [(0.0, 0.0)] + [(p["t"], p["fractions"][i]) for p in timeline if i < len(p["fractions"])]
        done = complete.get(f"leecher{i + 1}")
        if done is not None:
            pts = [(t, f) for t, f in pts if t < done] + [(done, 1.0)]
        out.append(sorted(pts))
    return out


def svg_progress(points, width=760, height=300):
    left, bottom, top, right = 48, 32, 12, 12
    end = max([t for pts in points for t, _ in pts] + [0.001])
    x = lambda t: left + (width - left - right) * t / end
    y = lambda f: top + (height - top - bottom) * (1 - f)
    out = [f'<svg id="progress" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="each leecher\'s progress over time">']
    for pct in (0, 25, 50, 75, 100):
        yy = y(pct / 100)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e3e6ec"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11">{pct}%</text>')
    for k in range(5):
        t = end * k / 4
        label = f"{t:.2f}" if end < 10 else f"{t:.1f}"
        out.append(f'<text x="{x(t):.1f}" y="{height - 10}" text-anchor="middle" font-size="11">{label} s</text>')
    for i, series_i in enumerate(points):
        pts = " ".join(f"{x(t):.1f},{y(f):.1f}" for t, f in series_i)
        color = COLORS[i % len(COLORS)]
        out.append(f'<polyline class="leecher" data-leecher="leecher{i + 1}" fill="none" stroke="{color}" '
                   f'stroke-width="2" points="{pts}"><title>leecher{i + 1}</title></polyline>')
    out.append("</svg>")
    return "\n".join(out)


def main(argv):
    work, n, seconds, total, seed_port, verified, out_path = (argv[1], int(argv[2]), float(argv[3]), int(argv[4]),
                                                               argv[5], argv[6] == "1", argv[7])
    names, matrix, complete, timeline = load(work, n, seed_port)
    peers = ["seed"] + [f"leecher{i}" for i in range(1, n + 1)]
    leechers = peers[1:]
    got = sum(sum(row.values()) for row in matrix.values())
    from_seed = sum(matrix.get("seed", {}).values())
    blocks_per_copy = got / max(n, 1)
    rows = []
    for frm in peers:
        cells = "".join(f'<td class="num">{matrix.get(frm, {}).get(to, 0) if frm != to else "-"}</td>' for to in leechers)
        rows.append(f'<tr><th scope="row">{frm}</th>{cells}<td class="num">{sum(matrix.get(frm, {}).values())}</td></tr>')
    legend = ""
    for i in range(n):
        done = complete.get(f"leecher{i + 1}")
        legend += (f'<li><span class="swatch" style="background:{COLORS[i % len(COLORS)]}"></span>leecher{i + 1}'
                   + ("" if done is None else f" ({done:.2f} s)") + "</li>")
    summary = [
        ("leechers", str(n)),
        ("bytes per copy", f"{total:,}"),
        ("time, all copies", f"{seconds:.2f} s"),
        ("throughput in all", f"{n * total / max(seconds, 1e-6) / 1e6:.1f} MB/s"),
        ("copies the seed sent", f"{from_seed / max(blocks_per_copy, 1):.2f}"),
        ("blocks from other leechers", f"{got - from_seed} of {got}"),
        ("every copy verified", "yes" if verified else "NO"),
    ]
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Cascade swarm report</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2330; background: #fafbfc; }}
h1 {{ font-size: 1.3em; }} h2 {{ font-size: 1.1em; margin-top: 1.4em; }}
table {{ border-collapse: collapse; background: #fff; }}
th, td {{ padding: .3em .8em; border-bottom: 1px solid #e3e6ec; text-align: left; }}
th {{ background: #f0f2f6; }} td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
ul.legend {{ list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 1em; }}
.swatch {{ display: inline-block; width: 1em; height: .6em; margin-right: .3em; }}
</style></head>
<body>
<h1>Cascade swarm report</h1>
<table id="summary">{"".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in summary)}</table>
<h2>Progress</h2>
{svg_progress(series(timeline, complete, n))}
<ul class="legend">{legend}</ul>
<h2>Blocks served (rows: from, columns: to)</h2>
<table id="matrix"><tr><th>from \\ to</th>{"".join(f"<th>{t}</th>" for t in leechers)}<th>total</th></tr>
{"".join(rows)}
</table>
</body></html>
"""
    with open(out_path, "w") as f:
        f.write(page)


if __name__ == "__main__":
    main(sys.argv)
