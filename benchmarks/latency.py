"""Event latency: seconds from a file landing in the inbox to the new serving snapshot.

`dagster dev` runs in a subprocess on a copy of the scale's home (its own DAGSTER_HOME, seeded
with `pipelines.cli.prepare_instance`), with the default sensor intervals. A new Qualtrics export
lands in `inbox/nps/` (written under a hidden name, then renamed, as a careful copy would), and the
clock runs until `serving/current.duckdb` holds a snapshot whose NPS event count includes it. One
the first refresh `dagster dev` starts by itself (the strategy sensor's first tick) is waited out,
and between drops the instance must be quiet (no queued or running runs), so each drop starts from
rest. The dagster process group is
always killed at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.ingest import new_qualtrics_export
from metrics.config import REPO_ROOT, WORKSPACE_YAML, settings
from metrics.store.warehouse import query_snapshot

Say = Callable[[str], None]

#: The drops are small, like a day's export from one survey.
DROP_ROWS = 200
POLL_SECONDS = 0.2
#: The instance counts as at rest after this long without a queued or running run.
QUIET_SECONDS = 12.0
#: How long `dagster dev` may take to start its first run (the strategy sensor's first tick).
STARTUP_SECONDS = 90.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _snapshot_state(snapshot: Path) -> tuple[datetime | None, int]:
    """(built_at, NPS events) of the published snapshot; (None, -1) while there is none."""
    if not snapshot.exists():
        return None, -1
    row = query_snapshot(
        snapshot,
        "SELECT (SELECT built_at FROM serving.meta LIMIT 1) AS built_at, "
        "(SELECT events FROM serving.source_health WHERE source = 'nps') AS nps",
    ).to_pylist()[0]
    return row["built_at"], int(row["nps"] or 0)


class _Dagster:
    """`dagster dev` on `home` in its own process group, and a view of its instance's runs."""

    def __init__(self, home: Path, log: Path):
        import dagster as dg

        from pipelines.cli import prepare_instance

        saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "OUTCOMELOOP_HOME")}
        try:
            dagster_home = prepare_instance(settings({**os.environ, "OUTCOMELOOP_HOME": str(home)}))
            self.env = {**os.environ}
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        self.instance = dg.DagsterInstance.from_config(str(dagster_home))
        self.log = log.open("w")
        dagster = Path(sys.executable).with_name("dagster")
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [str(dagster), "dev", "-w", str(WORKSPACE_YAML), "-p", str(self.port)],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def busy_runs(self) -> int:
        import dagster as dg

        statuses = [
            dg.DagsterRunStatus.QUEUED,
            dg.DagsterRunStatus.NOT_STARTED,
            dg.DagsterRunStatus.STARTING,
            dg.DagsterRunStatus.STARTED,
            dg.DagsterRunStatus.CANCELING,
        ]
        return self.instance.get_runs_count(dg.RunsFilter(statuses=statuses))

    def runs_since(self, since: datetime) -> list[dict]:
        """The runs created since `since`: what triggered them, and when they were created,
        started and ended (seconds since `since`)."""
        import dagster as dg

        out = []
        for rec in self.instance.get_run_records(dg.RunsFilter(created_after=since)):
            created = rec.create_timestamp.timestamp() - since.timestamp()
            out.append(
                {
                    "trigger": rec.dagster_run.tags.get("outcomeloop/trigger") or "automation",
                    "tags": sorted(rec.dagster_run.tags),
                    "assets": sorted(
                        k.path[-1] for k in (rec.dagster_run.asset_selection or set())
                    ),
                    "status": rec.dagster_run.status.value,
                    "created": round(created, 2),
                    "started": round(rec.start_time - since.timestamp(), 2)
                    if rec.start_time
                    else None,
                    "ended": round(rec.end_time - since.timestamp(), 2) if rec.end_time else None,
                }
            )
        return sorted(out, key=lambda r: r["created"])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """Kill the whole `dagster dev` process group (webserver, daemon, code server, runs)."""
        try:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=10)
            # Run workers of the group may outlive the parent; make sure none is left.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        finally:
            self.instance.dispose()
            self.log.close()


def _wait_quiet(dagster: _Dagster, deadline: float) -> None:
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        if not dagster.alive():
            raise RuntimeError("`dagster dev` exited; see its log")
        if dagster.busy_runs():
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_SECONDS:
            return
        time.sleep(0.5)
    raise TimeoutError("the Dagster instance did not come to rest")


def _drop(home: Path, dagster: _Dagster, k: int, timeout: float) -> tuple[float, list[dict]]:
    """Land one new NPS export; seconds until the snapshot includes it, and the runs it caused."""
    inbox = home / "inbox" / "nps"
    exports = sorted(p for p in inbox.glob("nps_export_*.csv") if " (" not in p.name)
    target = inbox / f"bench_drop_{k:02d}.csv"
    hidden, _rows = new_qualtrics_export(exports[-1], target, f"bench{k:02d}", DROP_ROWS)
    snapshot = settings({"OUTCOMELOOP_HOME": str(home)}).snapshot
    built_before, nps_before = _snapshot_state(snapshot)
    since = datetime.now(UTC)
    started = time.monotonic()
    os.replace(hidden, target)
    while time.monotonic() - started < timeout:
        if not dagster.alive():
            raise RuntimeError("`dagster dev` exited; see its log")
        built, nps = _snapshot_state(snapshot)
        if built != built_before and nps > nps_before:
            return time.monotonic() - started, dagster.runs_since(since)
        time.sleep(POLL_SECONDS)
    raise TimeoutError(
        f"no snapshot with {target.name} within {timeout:.0f}s; runs: {dagster.runs_since(since)}"
    )


def run(source_home: Path, work: Path, drops: int, say: Say, timeout: float = 300) -> dict:
    """Median seconds from a landed NPS file to the snapshot that includes it, over `drops`."""
    home = work / "latency-home"
    shutil.rmtree(home, ignore_errors=True)
    # A new Dagster instance from the repo's template (the home's own may predate it).
    shutil.copytree(source_home, home, ignore=shutil.ignore_patterns(".next-*", "dagster"))
    log = work / "dagster-dev.log"
    say(f"latency: starting `dagster dev` on {home} (log: {log})")
    dagster = _Dagster(home, log)
    times: list[float] = []
    breakdowns: list[list[dict]] = []
    try:
        # At start the strategy sensor sees strategy.yaml for the first time and refreshes every
        # mart; let that settle first (it also proves the daemon and the code server are up).
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline and not dagster.busy_runs():
            if not dagster.alive():
                raise RuntimeError(f"`dagster dev` exited at start; see {log}")
            time.sleep(0.5)
        _wait_quiet(dagster, time.monotonic() + timeout)
        say("  the instance is at rest; landing files")
        for k in range(1, drops + 1):
            seconds, runs = _drop(home, dagster, k, timeout)
            times.append(seconds)
            breakdowns.append(runs)
            steps = ", ".join(
                f"{r['trigger']} run created {r['created']}s, ended {r['ended']}s" for r in runs
            )
            say(f"  drop {k}: {seconds:.1f}s ({steps})")
            if k < drops:
                _wait_quiet(dagster, time.monotonic() + timeout)
    finally:
        dagster.stop()
    return {"seconds": statistics.median(times), "runs": times, "breakdown": breakdowns}


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.latency --scales 1 100 [--record]`: only the landing-to-snapshot
    figure, on the homes `make bench` prepared, one scale after the other. With --record it
    replaces that figure in each scale's recorded results (dated; every other figure kept) and
    BENCHMARKS.md is regenerated for the largest scale."""
    import argparse

    from benchmarks.run import WORK_DIR, _fmt_scale, prepare, record_figures

    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 100.0])
    parser.add_argument("--drops", type=int, default=3)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    results = {}
    for scale in sorted(args.scales):
        home = prepare(scale, None, reuse=True)
        work = WORK_DIR / f"scale-{_fmt_scale(scale)}"
        result = run(home, work, args.drops, lambda m: print(m, flush=True))
        result["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(f"scale {scale:g}: median {result['seconds']:.1f}s ({result['runs']})", flush=True)
        results[scale] = result
    if args.record:
        record_figures(
            {
                scale: {"event_to_snapshot_s": r["seconds"], "details": {"latency": r}}
                for scale, r in results.items()
            }
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
