"""One landing's cost: a 500-row NPS export lands on a loaded home, then `outcomeloop run`.

This is what a user waits for after each export, and it must not grow with the history: the
ingestion recognises every earlier file without reading it, the marts recompute the periods the
landing touches, and the publish writes the changed periods' parts and one small snapshot file.
Each landing is a new Qualtrics export (the newest responses of the home's latest NPS export
under fresh ids) renamed into `inbox/nps/`; `outcomeloop run` runs as a child process, timed
from start to exit, with its peak RSS (`wait4`) and each step's duration from its log. With a
reference home (scale 1), the two homes' landings alternate, so their ratio is measured in one
run on one machine, whatever else the machine is doing.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from benchmarks.ingest import new_qualtrics_export
from metrics.config import REPO_ROOT

Say = Callable[[str], None]

LANDING_ROWS = 500
_STEP = re.compile(r'Finished execution of step "([^"]+)" in ([0-9.]+)(ms|s)\.')


def land_and_run(home: Path, log: Path) -> dict:
    """Land one new export in `home` and run `outcomeloop run`: seconds, peak RSS and steps."""
    exports = sorted((home / "inbox" / "nps").glob("*.csv"), key=lambda p: p.stat().st_mtime)
    tag = uuid.uuid4().hex[:8]
    target = home / "inbox" / "nps" / f"landing-{tag}.csv"
    hidden, rows = new_qualtrics_export(exports[-1], target, tag, LANDING_ROWS)
    os.replace(hidden, target)
    env = {**os.environ, "OUTCOMELOOP_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    started = time.monotonic()
    with log.open("w") as out:
        child = subprocess.Popen(
            [str(Path(sys.executable).with_name("outcomeloop")), "run", "--verbose"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"`outcomeloop run` failed after a landing; see {log}")
    steps: dict[str, float] = {}
    for name, value, unit in _STEP.findall(log.read_text()):
        steps[name] = float(value) / (1000 if unit == "ms" else 1)
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # kilobytes on Linux
        "rows": rows,
        "steps_s": steps,
    }


def _summary(runs: list[dict]) -> dict:
    steps = sorted({name for run in runs for name in run["steps_s"]})
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "steps_s": {
            name: round(statistics.median(r["steps_s"].get(name, 0.0) for r in runs), 3)
            for name in steps
        },
        "runs": runs,
    }


def run(home: Path, work: Path, repeats: int, say: Say, reference: Path | None = None) -> dict:
    """`repeats` landings on `home` (alternating with landings on `reference` when given):
    the median seconds, the highest peak RSS and each step's median, per home."""
    work.mkdir(parents=True, exist_ok=True)
    here: list[dict] = []
    there: list[dict] = []
    for i in range(repeats):
        if reference is not None:
            there.append(land_and_run(reference, work / f"landing-reference-{i}.log"))
            say(f"landing on the reference home: {there[-1]['seconds']:.1f}s")
        here.append(land_and_run(home, work / f"landing-{i}.log"))
        say(
            f"landing: {here[-1]['seconds']:.1f}s, peak RSS {here[-1]['peak_rss_mb']:.0f} MiB "
            f"(steps: {here[-1]['steps_s']})"
        )
    result = _summary(here)
    if reference is not None:
        result["reference"] = _summary(there)
        result["ratio_vs_reference"] = round(result["seconds"] / result["reference"]["seconds"], 2)
    return result


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.landing --scale 100 [--record]`: only the landing figures, on the
    homes `make bench` prepared (benchmarks/work/scale-<S>/home and scale-1). With --record they
    replace the landing figures in the scale's recorded results (dated; every other figure kept
    as measured) and BENCHMARKS.md is regenerated."""
    import argparse
    import json
    from datetime import UTC, datetime

    from benchmarks.run import BENCH_DIR, WORK_DIR, _fmt_scale, prepare, write_report

    parser = argparse.ArgumentParser(prog="python -m benchmarks.landing", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    home = prepare(args.scale, None, reuse=True)
    reference = None if args.scale == 1 else prepare(1.0, None, reuse=True)
    work = WORK_DIR / f"scale-{_fmt_scale(args.scale)}" / "landing"
    result = run(home, work, args.repeats, lambda m: print(m, flush=True), reference)
    result["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
    if args.record:
        path = BENCH_DIR / f"results-scale-{_fmt_scale(args.scale)}.json"
        recorded = json.loads(path.read_text())
        recorded["landing_s"] = result["seconds"]
        recorded["landing_peak_rss_mb"] = result["peak_rss_mb"]
        recorded["landing_ratio_vs_scale1"] = result.get("ratio_vs_reference")
        recorded.setdefault("details", {})["landing"] = result
        path.write_text(json.dumps(recorded, indent=2, default=str) + "\n")
        write_report(recorded)
    return 0


if __name__ == "__main__":
    sys.exit(main())
