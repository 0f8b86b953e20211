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


def _bring_up_to_date(home: Path, log: Path) -> None:
    """One `outcomeloop run` with nothing new: a home built by other code is rebuilt here (any
    change under metrics/ or pipelines/marts makes the next run a full one), not in a landing."""
    from benchmarks.run import outcomeloop_run

    if outcomeloop_run(home, log) != 0:
        raise RuntimeError(f"`outcomeloop run` failed on {home}; see {log}")


def run_scales(homes: dict[float, Path], work: Path, repeats: int, say: Say) -> dict[float, dict]:
    """Landings on every home in turn, `repeats` rounds (so each scale's median is taken over
    the same stretch of time): per scale, the summary and its ratio to the first home's."""
    work.mkdir(parents=True, exist_ok=True)
    for scale, home in homes.items():
        say(f"scale {scale:g}: bringing {home} up to date with the code")
        _bring_up_to_date(home, work / f"up-to-date-{scale:g}.log")
    runs: dict[float, list[dict]] = {scale: [] for scale in homes}
    for i in range(repeats):
        for scale, home in homes.items():
            runs[scale].append(land_and_run(home, work / f"landing-{scale:g}-{i}.log"))
            last = runs[scale][-1]
            say(
                f"scale {scale:g}: landing {last['seconds']:.1f}s, peak {last['peak_rss_mb']:.0f} MiB"
            )
    results = {scale: _summary(r) for scale, r in runs.items()}
    base = results[next(iter(homes))]["seconds"]
    for result in results.values():
        result["ratio_vs_reference"] = round(result["seconds"] / base, 2)
    return results


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.landing --scales 1 10 100 [--record]`: only the landing figures, on
    the homes `make bench` prepared (benchmarks/work/scale-<S>/home), landing on each in turn.
    With --record they replace the landing figures in each scale's recorded results (dated; every
    other figure kept as measured) and BENCHMARKS.md is regenerated for the largest scale."""
    import argparse
    import json
    from datetime import UTC, datetime

    from benchmarks.run import WORK_DIR, prepare, record_figures

    parser = argparse.ArgumentParser(prog="python -m benchmarks.landing", description=__doc__)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0, 100.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    scales = sorted(set(args.scales) | {1.0})
    homes = {scale: prepare(scale, None, reuse=True) for scale in scales}
    work = WORK_DIR / "landing"
    results = run_scales(homes, work, args.repeats, lambda m: print(m, flush=True))
    measured_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    for scale, result in results.items():
        result["measured_at"] = measured_at
        brief = {k: v for k, v in result.items() if k != "runs"}
        print(f"scale {scale:g}:", json.dumps(brief, indent=1))
    if args.record:
        reference = {k: v for k, v in results[1.0].items() if k not in ("runs", "reference")}
        record_figures(
            {
                scale: {
                    "landing_s": result["seconds"],
                    "landing_peak_rss_mb": result["peak_rss_mb"],
                    "landing_ratio_vs_scale1": result["ratio_vs_reference"],
                    "details": {
                        "landing": result if scale == 1.0 else {**result, "reference": reference}
                    },
                }
                for scale, result in results.items()
            }
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
