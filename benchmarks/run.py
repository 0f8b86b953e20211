"""`python -m benchmarks.run --scale 1` (`make bench`, `make bench SCALE=100`): one run, every figure.

1. Demo data at the scale (`pipelines.demo.generate`: scale 1 is about 100k events, 100 about 10M)
   is loaded by `outcomeloop run` into a fresh home under benchmarks/work/.
2. Ingestion vs DuckDB's raw load of the same NPS file (benchmarks.ingest).
3. The marts step, and the pandas peer, whose numbers must equal the mart's (benchmarks.scan,
   benchmarks.pandas_peer: a correctness and scale reference, no longer a target).
4. One 500-row NPS landing with `outcomeloop run`, median of 3, with its peak RSS; above scale 1
   alternating with the same landing on the scale-1 home, for the ratio (benchmarks.landing).
5. Server-side render time of each dashboard page (benchmarks.pages).
6. File landing to new snapshot with `dagster dev` running (benchmarks.latency).

Writes benchmarks/results.json (and results-scale-<S>.json) and BENCHMARKS.md: the machine, the
command, the table, and below a marker the hand-written analysis, which a new run keeps.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path

import duckdb

from benchmarks import ingest, landing, latency, pages, scan
from metrics.config import REPO_ROOT

BENCH_DIR = REPO_ROOT / "benchmarks"
WORK_DIR = BENCH_DIR / "work"
RESULTS = BENCH_DIR / "results.json"
REPORT = REPO_ROOT / "BENCHMARKS.md"
NOTES_MARKER = "<!-- Hand-written analysis below: kept when `make bench` regenerates this file. -->"

#: The performance targets ("to reach, then to beat"); met or missed is reported beside each.
TARGETS = {
    "ingest_ratio_vs_duckdb_raw": 1.5,  # at most
    "ingest_peak_rss_mb": 1024.0,  # under, at scale 100
    "landing_ratio_vs_scale1": 1.5,  # at most, at scale 100
    "landing_peak_rss_mb": 1024.0,  # under, at scale 100
    "event_to_snapshot_s": 30.0,  # under (10 s at scale 100)
    "page_render_s": 1.0,  # every page under, at scale 10
}

_started = time.monotonic()


def say(message: str) -> None:
    print(f"[bench {time.monotonic() - _started:6.1f}s] {message}", flush=True)


def _fmt_scale(scale: float) -> str:
    return f"{scale:g}"


# --- data ----------------------------------------------------------------------------------------


def prepare(scale: float, until: date | None, reuse: bool) -> Path:
    """A home with the scale's demo data loaded and published by `outcomeloop run`."""
    from pipelines.demo import generate

    work = WORK_DIR / f"scale-{_fmt_scale(scale)}"
    home = work / "home"
    if reuse and (home / "serving" / "current.duckdb").exists():
        say(f"data: reusing {home}")
        return home
    shutil.rmtree(work, ignore_errors=True)
    home.mkdir(parents=True)
    say(f"data: demo at scale {_fmt_scale(scale)} into {home}")
    summary = generate(home, scale=scale, until=until)
    say(f"data: `outcomeloop run` loads {summary.total_events:,} events (log: {work / 'run.log'})")
    started = time.monotonic()
    returncode = outcomeloop_run(home, work / "run.log")
    if returncode != 0:
        tail = (work / "run.log").read_text()[-3000:]
        raise SystemExit(f"`outcomeloop run` failed (exit {returncode}):\n{tail}")
    say(f"data: loaded and published in {time.monotonic() - started:.1f}s")
    return home


def outcomeloop_run(home: Path, log: Path) -> int:
    """`outcomeloop run` on `home` in a child process (its own instance), output to `log`."""
    env = {**os.environ, "OUTCOMELOOP_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    with log.open("w") as out:
        return subprocess.run(
            [str(Path(sys.executable).with_name("outcomeloop")), "run"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        ).returncode


def record_figures(figures: dict[float, dict]) -> None:
    """Replace some figures in each scale's recorded results (`figures[scale]`: top-level keys,
    and `details` merged into the recorded details; every other figure kept as measured), then
    regenerate BENCHMARKS.md with the largest scale on top (its table lists every scale)."""
    for scale, update in sorted(figures.items()):
        path = BENCH_DIR / f"results-scale-{_fmt_scale(scale)}.json"
        recorded = json.loads(path.read_text())
        details = update.pop("details", {})
        recorded.update(update)
        recorded.setdefault("details", {}).update(details)
        path.write_text(json.dumps(recorded, indent=2, default=str) + "\n")
    write_report(recorded)


def count_events(home: Path) -> dict[str, int]:
    from metrics.schemas import SOURCES

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return {s: con.execute(f'SELECT count(*) FROM events."{s}"').fetchone()[0] for s in SOURCES}
    finally:
        con.close()


def previous_latency(scale: float) -> dict | None:
    """The latency details of the scale's last recorded run, marked as carried over."""
    path = BENCH_DIR / f"results-scale-{_fmt_scale(scale)}.json"
    try:
        previous = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    lat = (previous.get("details") or {}).get("latency")
    if not lat or lat.get("seconds") is None:
        return None
    return {**lat, "carried_from": lat.get("carried_from") or previous.get("measured_at")}


# --- the machine ---------------------------------------------------------------------------------


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions = {}
    for package in ("duckdb", "ibis-framework", "pandas", "pyarrow", "dagster", "streamlit"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "os": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
        "python": platform.python_version(),
        "versions": versions,
    }


# --- the report ----------------------------------------------------------------------------------


def _met(key: str, value, scale: float) -> str:
    if value is None:
        return "not measured"
    if key == "page_render_s":
        worst = max(value.values()) if value else None
        if worst is None:
            return "not measured"
        ok = worst < TARGETS[key]
        return ("met" if ok else "MISSED") + ("" if scale >= 10 else " (target is at scale 10)")
    if key in ("ingest_peak_rss_mb", "landing_peak_rss_mb"):
        ok = value < TARGETS[key]
        return ("met" if ok else "MISSED") + ("" if scale >= 100 else " (target is at scale 100)")
    if key == "event_to_snapshot_s":
        return "met" if value < (10.0 if scale >= 100 else TARGETS[key]) else "MISSED"
    return "met" if value <= TARGETS[key] else "MISSED"


def _x(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}x"


def _s(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f} s"


def table(r: dict) -> list[str]:
    d = r["details"]
    ing, marts = d["ingest"], d["marts"]
    scale = r["scale"]
    rows = [
        ("Ingestion vs DuckDB raw `read_csv` (same canonical NPS CSV)",
         f"{_x(r['ingest_ratio_vs_duckdb_raw'])} ({ing['project_s']:.3f} s vs {ing['raw_s']:.3f} s)",
         "at most 1.5x", _met("ingest_ratio_vs_duckdb_raw", r["ingest_ratio_vs_duckdb_raw"], scale)),
        ("Ingestion throughput", f"{r['ingest_rows_per_s']:,.0f} rows/s ({ing['rows']:,} rows, "
         f"{ing['file_mb']} MB)", "", ""),
        ("Ingestion peak RSS (child process)",
         f"{r['ingest_peak_rss_mb']:.0f} MiB (interpreter and imports alone: "
         f"{ing['baseline_rss_mb']:.0f} MiB)", "under 1 GiB at scale 100",
         _met("ingest_peak_rss_mb", r["ingest_peak_rss_mb"], scale)),
        ("Qualtrics adapter vs DuckDB raw `read_csv` (same export)",
         f"{_x(r.get('ingest_qualtrics_ratio_vs_duckdb_raw'))}"
         + (f" ({ing['qualtrics_s']:.3f} s vs {ing['qualtrics_raw_s']:.3f} s)"
            if ing.get("qualtrics_s") else f" ({ing.get('qualtrics_error')})"),
         "", ""),
        ("measure_values alone vs the pandas peer (equal to 1e-9; a reference, no target)",
         f"{_x(r['marts_speedup_vs_pandas'])} ({marts['measure_values_s']:.3f} s vs "
         f"{marts['pandas_s']:.3f} s)", "", ""),
        *_landing_rows(r),
        ("File landing to new snapshot (`dagster dev`, median of 3)",
         _s(r["event_to_snapshot_s"], 1)
         + (f" ({d['latency']['error']})" if (d.get("latency") or {}).get("error") else "")
         + (f" (measured {d['latency']['carried_from']}, kept by `--keep-latency`)"
            if (d.get("latency") or {}).get("carried_from") else ""),
         "under 10 s at scale 100" if scale >= 100 else "under 30 s",
         _met("event_to_snapshot_s", r["event_to_snapshot_s"], scale)),
    ]  # fmt: skip
    for page, seconds in (r["page_render_s"] or {}).items():
        rows.append(
            (
                f"Page `{page}` server-side render (cold cache)",
                _s(seconds, 3),
                "under 1 s at scale 10",
                _met("page_render_s", {page: seconds}, scale),
            )
        )
    lines = ["| measure | result | target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {e} |" for a, b, c, e in rows]
    return lines


def _landing_rows(r: dict) -> list[tuple[str, str, str, str]]:
    lan = r["details"].get("landing")
    if not lan:
        return []
    steps = ", ".join(f"{k} {v:.2f}" for k, v in lan["steps_s"].items() if v >= 0.05)
    when = f", measured {lan['measured_at']}" if lan.get("measured_at") else ""
    rows = [
        ("One 500-row NPS landing, `outcomeloop run` (median of 3)",
         f"{_s(r['landing_s'], 1)} (steps, s: {steps}{when})", "", ""),
        ("Its peak RSS", f"{r['landing_peak_rss_mb']:.0f} MiB", "under 1 GiB at scale 100",
         _met("landing_peak_rss_mb", r["landing_peak_rss_mb"], r["scale"])),
    ]  # fmt: skip
    if lan.get("reference"):
        rows.append(
            (
                "The same landing vs on the scale-1 home (alternating, same run)",
                f"{_x(r['landing_ratio_vs_scale1'])} ({lan['seconds']:.1f} s vs "
                f"{lan['reference']['seconds']:.1f} s)",
                "at most 1.5x at scale 100",
                _met("landing_ratio_vs_scale1", r["landing_ratio_vs_scale1"], r["scale"]),
            )
        )
    return rows


def _scales_table() -> list[str]:
    recorded = []
    for path in sorted(BENCH_DIR.glob("results-scale-*.json")):
        try:
            recorded.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    if len(recorded) < 2:
        return []
    recorded.sort(key=lambda r: r["scale"])
    lines = [
        "",
        "## Every recorded scale",
        "",
        "| scale | events | ingest vs raw | rows/s | ingest peak RSS | landing "
        "| landing peak RSS | landing vs scale 1 (same run) | landing to snapshot | slowest page "
        "| measure_values vs pandas |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in recorded:
        worst = max((r.get("page_render_s") or {}).values(), default=None)
        rss = r.get("landing_peak_rss_mb")
        lines.append(
            f"| {r['scale']:g} | {r['events']:,} | {_x(r['ingest_ratio_vs_duckdb_raw'])} "
            f"| {r['ingest_rows_per_s']:,.0f} | {r['ingest_peak_rss_mb']:.0f} MiB "
            f"| {_s(r.get('landing_s'), 1)} | {'n/a' if rss is None else f'{rss:.0f} MiB'} "
            f"| {_x(r.get('landing_ratio_vs_scale1'))} "
            f"| {_s(r['event_to_snapshot_s'], 1)} | {_s(worst, 3)} "
            f"| {_x(r['marts_speedup_vs_pandas'])} |"
        )
    return lines


def write_report(r: dict) -> None:
    m = r["machine"]
    notes = ""
    if REPORT.exists():
        text = REPORT.read_text()
        if NOTES_MARKER in text:
            notes = text.split(NOTES_MARKER, 1)[1].strip("\n")
    if not notes:
        notes = "## Analysis\n\n(Not written yet.)"
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    lines = [
        "# Benchmarks",
        "",
        "Every figure is a ratio measured in one run on one machine (medians; the two sides of a "
        "ratio alternate in the same process), so it holds on a noisy machine. "
        "`make bench` writes this file and `benchmarks/results.json`; everything above the "
        "analysis is generated.",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM; {m['os']}; "
        f"load average at start {m.get('load_average_at_start')}",
        f"- Software: Python {m['python']}; {versions}",
        f"- Data: the demo generator at scale {r['scale']:g}: {r['events']:,} events "
        f"(measured {r['measured_at']}, the whole run took {r['duration_s']:.0f} s)",
        f"- Reproduce: `{r['command']}`",
        "",
        f"## Scale {r['scale']:g}",
        "",
        *table(r),
        *_scales_table(),
        "",
        "How each figure is measured: `benchmarks/ingest.py` (ingestion into a fresh warehouse with "
        "validation, quarantine, ledger and dedup vs `CREATE TABLE AS SELECT * FROM read_csv(...)`, "
        "median of 5, peak RSS of a child process), `benchmarks/scan.py` (the `marts` step; the "
        "pandas peer in `benchmarks/pandas_peer.py` is asserted equal to marts.measure_values to "
        "1e-9), `benchmarks/landing.py` (a new 500-row Qualtrics export renamed into "
        "`inbox/nps/`, then `outcomeloop run` in a child process: wall time, peak RSS by `wait4`, "
        "each step's time from its log), `benchmarks/latency.py` (`dagster "
        "dev` on a copy of the home, a new Qualtrics export renamed into `inbox/nps/`, seconds until "
        "the snapshot counts it) and `benchmarks/pages.py` (Streamlit `AppTest`, caches cleared).",
        "",
        NOTES_MARKER,
        "",
        notes,
        "",
    ]
    REPORT.write_text("\n".join(lines))


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="demo volume (1 = ~100k events)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per ratio side (median)")
    parser.add_argument("--drops", type=int, default=3, help="files landed for the latency")
    parser.add_argument("--skip-latency", action="store_true", help="no `dagster dev` latency")
    parser.add_argument(
        "--keep-latency",
        action="store_true",
        help="with --skip-latency: carry the latency over from the scale's last recorded results "
        "(marked with the date it was measured)",
    )
    parser.add_argument("--skip-pages", action="store_true", help="no dashboard render times")
    parser.add_argument("--reuse", action="store_true", help="reuse the scale's loaded home")
    parser.add_argument("--until", type=date.fromisoformat, help="demo end day (default today)")
    parser.add_argument("--no-write", action="store_true", help="print, write no results")
    parser.add_argument(
        "--report-from",
        type=Path,
        help="measure nothing: make this recorded results-scale-<S>.json the current results and "
        "regenerate BENCHMARKS.md from it",
    )
    args = parser.parse_args(argv)
    if args.report_from:
        result = json.loads(args.report_from.read_text())
        RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n")
        write_report(result)
        say(f"wrote {RESULTS.relative_to(REPO_ROOT)} and {REPORT.relative_to(REPO_ROOT)}")
        return 0

    measured_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    host = machine()  # before the run: the load average says how busy the machine already was
    home = prepare(args.scale, args.until, args.reuse)
    work = home.parent
    events = count_events(home)
    say(f"data: {sum(events.values()):,} events in the warehouse ({events})")

    say("ingestion")
    ing = ingest.run(
        home / "inbox" / "nps", home / "sources.yaml", work / "ingest", args.repeats, say
    )
    say(
        f"ingestion: {ing['ratio']:.2f}x DuckDB raw, {ing['rows_per_s']:,.0f} rows/s, "
        f"peak RSS {ing['peak_rss_mb']:.0f} MiB"
    )

    say("marts")
    marts = scan.run(home, work, args.repeats, say)
    say(
        f"marts: {marts['ratio_vs_scan']:.1f}x the single scan, "
        f"{marts['speedup_vs_pandas']:.2f}x the pandas peer's speed"
    )

    say("landing: one 500-row NPS export, `outcomeloop run`, median of 3")
    reference = None if args.scale == 1 else prepare(1.0, args.until, reuse=True)
    lan = landing.run(home, work / "landing", 3, say, reference=reference)
    say(f"landing: median {lan['seconds']:.1f}s, peak RSS {lan['peak_rss_mb']:.0f} MiB")

    page_times = None
    if not args.skip_pages:
        say("pages: server-side render, cold cache, median of 3")
        page_times = pages.run(home, 3, say)

    lat = None
    if args.skip_latency and args.keep_latency:
        lat = previous_latency(args.scale)
        if lat is None:
            say("latency: no recorded latency at this scale to keep")
        else:
            say(f"latency: kept {lat['seconds']:.1f}s measured {lat['carried_from']}")
    if not args.skip_latency:
        try:
            lat = latency.run(home, work, args.drops, say)
            say(f"latency: median {lat['seconds']:.1f}s from landing to snapshot")
        except (RuntimeError, TimeoutError) as exc:  # keep every other figure of the run
            lat = {"seconds": None, "error": str(exc)[:500]}
            say(f"latency: NOT MEASURED: {exc}")

    command = "make bench" if args.scale == 1 else f"make bench SCALE={_fmt_scale(args.scale)}"
    result = {
        "scale": args.scale,
        "events": sum(events.values()),
        "ingest_ratio_vs_duckdb_raw": ing["ratio"],
        "ingest_rows_per_s": ing["rows_per_s"],
        "ingest_peak_rss_mb": ing["peak_rss_mb"],
        "marts_ratio_vs_scan": marts["ratio_vs_scan"],
        "marts_speedup_vs_pandas": marts["speedup_vs_pandas"],
        "landing_s": lan["seconds"],
        "landing_peak_rss_mb": lan["peak_rss_mb"],
        "landing_ratio_vs_scale1": lan.get("ratio_vs_reference"),
        "event_to_snapshot_s": lat["seconds"] if lat else None,
        "page_render_s": page_times,
        "ingest_qualtrics_ratio_vs_duckdb_raw": ing["qualtrics_ratio"],
        "events_by_source": events,
        "measured_at": measured_at,
        "duration_s": time.monotonic() - _started,
        "command": command,
        "machine": host,
        "details": {
            "ingest": ing,
            "marts": marts,
            "landing": lan,
            "latency": lat,
        },
    }
    if args.no_write:
        print(json.dumps({k: v for k, v in result.items() if k != "details"}, indent=2))
        return 0
    text = json.dumps(result, indent=2, default=str) + "\n"
    RESULTS.write_text(text)
    (BENCH_DIR / f"results-scale-{_fmt_scale(args.scale)}.json").write_text(text)
    write_report(result)
    say(f"wrote {RESULTS.relative_to(REPO_ROOT)} and {REPORT.relative_to(REPO_ROOT)}")
    for line in table(result):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
