"""`outcomeloop`: the command line for data engineers (demo, run, dev, check, status, reload)."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from metrics.config import (
    DAGSTER_YAML_TEMPLATE,
    DASHBOARD_APP,
    REPO_ROOT,
    WORKSPACE_YAML,
    ConfigError,
    Settings,
    settings,
)
from metrics.sources import SourcesError
from metrics.strategy import StrategyError


class CliError(Exception):
    """An error to print as one clear message, without a traceback."""


#: The instance's storage on PostgreSQL (dagster-postgres): runs, event log (with the concurrency
#: pools' slots) and schedules/sensors (their cursors) in one database. The URL stays in the
#: environment, never in the file.
POSTGRES_STORAGE = """
# PostgreSQL for runs, events, pools and sensor cursors (OUTCOMELOOP_PG_URL was set when this
# instance was prepared; remove this block to go back to SQLite).
storage:
  postgres:
    postgres_url:
      env: OUTCOMELOOP_PG_URL
"""


def _check_pg_driver(url: str) -> None:
    """Fail early, with the fix, when SQLAlchemy would pick a PostgreSQL driver that is missing.

    SQLAlchemy 2.1 maps a plain `postgresql://` URL to psycopg 3, while dagster-postgres installs
    psycopg2; `postgresql+psycopg2://...` names the installed driver.
    """
    import importlib.util

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
        driver = parsed.get_dialect().driver
    except ArgumentError as exc:  # also an unknown dialect or driver name
        raise ConfigError(
            "OUTCOMELOOP_PG_URL is not a database URL; expected "
            "postgresql+psycopg2://user:password@host:5432/dagster"
        ) from exc
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(
            f"OUTCOMELOOP_PG_URL names a {parsed.get_backend_name()!r} database; the Dagster "
            "instance needs PostgreSQL: postgresql+psycopg2://user:password@host:5432/dagster"
        )
    if importlib.util.find_spec(driver) is None:
        raise ConfigError(
            f"OUTCOMELOOP_PG_URL ({parsed.render_as_string(hide_password=True)}) needs the "
            f"{driver!r} module, which is not installed; write the URL as "
            "postgresql+psycopg2://... (dagster-postgres installs psycopg2: "
            "pip install 'outcomeloop[postgres]')"
        )


@contextlib.contextmanager
def _instance_init_lock(home: Path) -> Iterator[None]:
    """Serialize opening the Dagster instance across processes on this host: on a fresh
    DAGSTER_HOME, two `outcomeloop run`s starting together would both create the SQLite tables
    and one would fail ("UNIQUE constraint failed: alembic_version")."""
    home.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (the race needs two first runs at once)
        yield
        return
    with open(home / ".instance-init.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:  # a file system without flock: carry on without it
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_instance(cfg: Settings) -> Path:
    """Seed $OUTCOMELOOP_HOME/dagster from the repo's dagster.yaml and point DAGSTER_HOME at it.

    With OUTCOMELOOP_PG_URL set, the instance stores everything in PostgreSQL (also when the
    copy already exists without a `storage:` section, so switching on PostgreSQL later works);
    run retries and the warehouse pool come from the template either way.
    """
    home = cfg.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    text = target.read_text() if target.exists() else DAGSTER_YAML_TEMPLATE.read_text()
    original = text if target.exists() else None
    # --- PostgreSQL instance (issue 10) ---
    if cfg.pg_url:
        _check_pg_driver(cfg.pg_url)
    if cfg.pg_url and not any(line.startswith("storage:") for line in text.splitlines()):
        text = text.rstrip("\n") + "\n" + POSTGRES_STORAGE
    # --- end PostgreSQL instance ---
    if text != original:  # whole or not at all: another process may be reading it
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        partial.write_text(text)
        os.replace(partial, target)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["OUTCOMELOOP_HOME"] = str(cfg.home)
    return home


# --- check ---------------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    from metrics.sources import SourcesError, load_sources
    from metrics.strategy import load_strategy

    cfg = None
    if args.strategy is None or args.sources is None:
        cfg = settings()
    strategy_path = Path(args.strategy) if args.strategy else cfg.strategy_path
    sources_path = Path(args.sources) if args.sources else cfg.sources_path
    failed = False
    try:
        load_strategy(strategy_path)
        print(f"ok   {strategy_path}")
    except StrategyError as exc:
        failed = True
        print(f"FAIL {strategy_path}: {len(exc.problems)} problem(s)")
        for problem in exc.problems:
            print(f"  - {problem}")
    try:
        load_sources(sources_path)
        print(f"ok   {sources_path}")
    except SourcesError as exc:
        failed = True
        print(f"FAIL {sources_path}: {len(exc.problems)} problem(s)")
        for problem in exc.problems:
            print(f"  - {problem}")
    return 1 if failed else 0


# --- run -------------------------------------------------------------------------------------------


def materialize_all(cfg: Settings, selection=None, tags: dict | None = None):
    """One materialization of the graph on the persistent instance (so the warehouse pool applies
    when `dagster dev` runs beside us)."""
    import dagster as dg

    from pipelines.definitions import defs

    with _instance_init_lock(cfg.dagster_home):  # two first runs would both create its tables
        prepare_instance(cfg)
        instance = dg.DagsterInstance.get()
    try:
        release_dead_runs(instance)
        return dg.materialize(
            defs.get_repository_def().asset_graph.assets_defs,
            instance=instance,
            selection=selection,
            raise_on_error=False,
            tags={"outcomeloop/trigger": "cli", **_process_tags(), **(tags or {})},
        )
    finally:
        instance.dispose()


# --- runs killed mid-way (issue 9) ----------------------------------------------------------------
#: Tags naming the process that runs an in-process materialization, so a later run can tell that
#: it died (SIGKILL, OOM killer, power loss) while holding the warehouse pool's slot.
PID_TAG = "outcomeloop/pid"
HOST_TAG = "outcomeloop/host"


def _process_tags() -> dict[str, str]:
    import socket

    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def release_dead_runs(instance) -> list[str]:
    """Fail the runs of `outcomeloop run` processes on this machine that died mid-run, and free
    the warehouse pool slots they held.

    A killed in-process run never reaches a terminal state by itself, so its slot in the
    `warehouse` pool stays claimed and every later run (also `dagster dev`'s) would wait for it
    forever. Nothing is lost by failing it: each file loads in one transaction with its ledger
    row, so the dead run's half-loaded file was rolled back and the next run loads it again.
    Returns the ids of the runs released.
    """
    import socket

    import dagster as dg

    host = socket.gethostname()
    unfinished = [
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
    ]
    released = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=unfinished)):
        pid, run_host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
        if run_host != host or not pid or not pid.isdigit() or _alive(int(pid)):
            continue
        instance.report_run_failed(
            run, message=f"the process running it (pid {pid}) died; released by a later run"
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
        print(f"released run {run.run_id[:8]}: its process (pid {pid}) had died mid-run")
    return released


# --- end runs killed mid-way ------------------------------------------------------------------------


def summarize(result) -> tuple[list[str], bool]:
    """A few lines on what a run did, from the assets' materialization metadata."""
    totals = dict.fromkeys(
        (
            "files_loaded",
            "files_duplicate",
            "files_rejected",
            "rows_loaded",
            "rows_filtered",
            "rows_quarantined",
        ),
        0,
    )
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if not mat.asset_key.path[-1].endswith("_events"):
            continue
        for key in totals:
            value = mat.metadata.get(key)
            if value is not None:
                totals[key] += int(value.value)
    failures = [
        f"{e.step_key}: {e.event_specific_data.error.message.strip().splitlines()[0]}"
        if e.event_specific_data and e.event_specific_data.error
        else str(e.step_key)
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]
    lines = [
        f"files: {totals['files_loaded']} loaded, {totals['files_duplicate']} duplicate, "
        f"{totals['files_rejected']} rejected",
        f"rows:  {totals['rows_loaded']} loaded, {totals['rows_filtered']} filtered, "
        f"{totals['rows_quarantined']} quarantined",
    ]
    lines += [f"FAILED {f}" for f in failures]
    return lines, bool(failures) or not result.success


def cmd_run(args: argparse.Namespace) -> int:
    cfg = settings()
    from metrics.sources import load_sources
    from metrics.strategy import load_strategy

    load_strategy(cfg.strategy_path)  # fail fast with the check's messages
    load_sources(cfg.sources_path)
    print(f"outcomeloop run: {cfg.home} (waits for the warehouse if `dagster dev` is using it)")
    started = time.monotonic()
    _wait_for_warehouse(cfg)
    result = materialize_all(cfg)
    lines, failed = summarize(result)
    for line in lines:
        print(line)
    print(f"snapshot: {cfg.snapshot if cfg.snapshot.exists() else 'not published'}")
    print(f"took {time.monotonic() - started:.1f}s")
    if failed:
        print("outcomeloop run FAILED: see the lines above, or the run in the Dagster UI")
        return 1
    return 0


def _wait_for_warehouse(cfg: Settings, wait_seconds: float = 600) -> None:
    """Say on the terminal when another process (`dagster dev`, a second `outcomeloop run`)
    holds the warehouse, and wait for it; the assets wait again should it be taken in between."""
    from metrics.store.warehouse import WarehouseBusy, warehouse

    def say(message: str) -> None:
        print(f"waiting: {message} (up to {wait_seconds:.0f}s)", flush=True)

    try:
        with warehouse(cfg.warehouse, wait_seconds=wait_seconds, on_wait=say):
            pass
    except WarehouseBusy as exc:
        raise CliError(str(exc)) from exc


def cmd_reload(args: argparse.Namespace) -> int:
    from metrics.schemas import SOURCES
    from metrics.sources import load_sources
    from metrics.store.warehouse import ensure_schema, warehouse
    from metrics.strategy import load_strategy
    from pipelines.ingestion import landed_files
    from pipelines.ingestion.loader import reload_source

    if args.source not in SOURCES:
        raise CliError(f"unknown source {args.source!r}; one of: {', '.join(SOURCES)}")
    cfg = settings()
    strat = load_strategy(cfg.strategy_path)
    sources_cfg = load_sources(cfg.sources_path)
    files = landed_files(cfg.inbox_for(args.source))
    print(f"reloading {args.source} from {len(files)} landed file(s)")
    with warehouse(cfg.warehouse, memory_limit="4GB", wait_seconds=300, on_wait=print) as con:
        ensure_schema(con)
        outcomes = reload_source(
            con,
            args.source,
            files,
            sources_cfg,
            dimensions=list(strat.readiness.dimensions),
            now=datetime.now(UTC).replace(tzinfo=None),
            log=print,
        )
    for o in outcomes:
        print(
            f"  {o.status:9} {Path(o.file_path).name}: {o.rows_loaded} loaded, "
            f"{o.rows_filtered} filtered, {o.rows_quarantined} quarantined"
            + (f" ({o.error})" if o.error else "")
        )
    print("recomputing the marts and the snapshot")
    import dagster as dg

    result = materialize_all(
        cfg,
        selection=dg.AssetSelection.groups("marts", "serving"),
        tags={"outcomeloop/reload": args.source},
    )
    return 0 if result.success else 1


# --- status ---------------------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    from metrics.store.warehouse import query_snapshot

    cfg = settings()
    print(f"OUTCOMELOOP_HOME  {cfg.home}")
    print(f"strategy          {cfg.strategy_path}")
    print(f"sources           {cfg.sources_path}")
    if not cfg.snapshot.exists():
        print("snapshot          none yet: run `outcomeloop run` (or `make run`)")
        return 0
    meta = query_snapshot(cfg.snapshot, "SELECT * FROM serving.meta").to_pylist()[0]
    age = datetime.now(UTC).replace(tzinfo=None) - meta["built_at"]
    print(
        f"snapshot          built {meta['built_at']:%Y-%m-%d %H:%M:%S} UTC "
        f"({_age(age.total_seconds())} ago), data through {meta['data_through']}"
    )
    rows = query_snapshot(cfg.snapshot, "SELECT * FROM serving.source_health ORDER BY source")
    header = f"{'source':17} {'files':>5} {'rejected':>8} {'events':>9} {'quarantined':>11}  last file loaded"
    print()
    print(header)
    print("-" * len(header))
    for r in rows.to_pylist():
        last = r["last_loaded_at"]
        when = f"{_age((meta['built_at'] - last).total_seconds())} ago" if last else "never"
        flag = "  STALE" if r["stale"] else ""
        print(
            f"{r['source']:17} {r['files']:>5} {r['files_rejected']:>8} {r['events']:>9} "
            f"{r['rows_quarantined']:>11}  {when}{flag}"
        )
    return 0


def _age(seconds: float) -> str:
    seconds = max(0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


# --- demo -----------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines import demo

    cfg = settings()
    until = date.fromisoformat(args.until) if args.until else None
    summary = demo.generate(
        cfg.home,
        months=args.months,
        until=until,
        units=args.units,
        scale=args.scale,
        seed=args.seed,
    )
    print(f"demo data written to {cfg.inbox} ({len(summary.files)} files)")
    if args.live:
        print(
            f"live: catching up to today, then dropping what happens as it happens every {args.every}s (Ctrl-C stops)"
        )
        demo.live(cfg.home, every=args.every, seed=args.seed)
    return 0


# --- dev ------------------------------------------------------------------------------------------


def cmd_dev(args: argparse.Namespace) -> int:
    cfg = settings()
    prepare_instance(cfg)
    env = dict(os.environ)
    bin_dir = Path(sys.executable).parent
    dagster = shutil.which("dagster", path=str(bin_dir)) or "dagster"
    # `kill` stops both children as Ctrl-C does, also when started from a script in the
    # background (where SIGINT arrives ignored and the children would inherit that)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    procs = [
        subprocess.Popen(
            [
                dagster,
                "dev",
                "-w",
                str(WORKSPACE_YAML),
                "-p",
                str(args.dagster_port),
                "-h",
                args.host,
            ],
            cwd=REPO_ROOT,
            env=env,
            start_new_session=True,
            preexec_fn=_default_sigint,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(DASHBOARD_APP),
                "--server.port",
                str(args.dashboard_port),
                "--server.address",
                args.host,
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=REPO_ROOT,
            env=env,
            start_new_session=True,
            preexec_fn=_default_sigint,
        ),
    ]
    shown = "localhost" if args.host in ("0.0.0.0", "127.0.0.1") else args.host
    print(f"Dagster UI:  http://{shown}:{args.dagster_port}")
    print(f"Dashboard:   http://{shown}:{args.dashboard_port}")
    print(f"DAGSTER_HOME={cfg.dagster_home}  (Ctrl-C stops both)")
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        return next(p.returncode for p in procs if p.poll() is not None) or 1
    except KeyboardInterrupt:
        print("\nstopping Dagster and the dashboard")
        return 0
    finally:
        _stop(procs)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _stop(procs: list[subprocess.Popen]) -> None:
    """Ctrl-C semantics for both children (dagster dev shuts its daemon and webserver down on
    SIGINT), then SIGTERM and SIGKILL for whatever is still there."""
    for sig, wait in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        alive = [p for p in procs if p.poll() is None]
        if not alive:
            return
        for p in alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, sig)
        deadline = time.monotonic() + wait
        for p in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=max(0.1, deadline - time.monotonic()))


# --- entry point ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outcomeloop",
        description="Track a customer-experience strategy's outcomes against its measures.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="write a realistic demo dataset into the inbox")
    p.add_argument("--months", type=int, default=18, help="months of history (default 18)")
    p.add_argument("--until", help="last day of the history, YYYY-MM-DD (default yesterday, UTC)")
    p.add_argument("--units", nargs="+", help="organisation units (default: five demo units)")
    p.add_argument("--scale", type=float, default=1.0, help="volume multiplier (1 = ~100k events)")
    p.add_argument("--seed", type=int, default=7, help="random seed (same seed, same bytes)")
    p.add_argument("--live", action="store_true", help="then keep dropping new days' files")
    p.add_argument("--every", type=float, default=10, help="seconds between live drops")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("run", help="ingest new files, recompute the marts, publish the snapshot")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("dev", help="start Dagster (event-driven loop) and the dashboard together")
    p.add_argument("--dagster-port", type=int, default=3000)
    p.add_argument("--dashboard-port", type=int, default=8501)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser(
        "check", help="validate strategy.yaml and sources.yaml, listing every problem"
    )
    p.add_argument("strategy", nargs="?", help="strategy file (default: the configured one)")
    p.add_argument("--sources", help="sources file (default: the configured one)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "status", help="freshness per source, ledger and quarantine counts, snapshot age"
    )
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("reload", help="rebuild one source's events from all its landed files")
    p.add_argument("source", help="source name, e.g. nps")
    p.set_defaults(func=cmd_reload)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, CliError) as exc:
        print(f"outcomeloop: {exc}", file=sys.stderr)
        return 2
    except (StrategyError, SourcesError) as exc:
        print(f"outcomeloop: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `outcomeloop status | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE  # what the shell reports for a process ended by SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
