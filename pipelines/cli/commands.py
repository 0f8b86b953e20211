"""The bodies of `outcomeloop check`, `run`, `reload` and `demo`."""

from __future__ import annotations

import argparse
import logging
import os
import time
from datetime import UTC, date, datetime
from pathlib import Path

from metrics.config import Settings, settings
from pipelines.cli.instance import open_instance, process_tags
from pipelines.cli.report import print_notices, summarize
from pipelines.cli.terminal import run_output

log = logging.getLogger(__name__)

#: How long `outcomeloop run` waits for another process to let go of the warehouse.
WAREHOUSE_WAIT_SECONDS = 600


class CliError(Exception):
    """An error to print as one clear message, without a traceback."""


#: `outcomeloop run` exit codes (docs/cli.md).
EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_REJECTED = 0, 1, 2, 3


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the configuration files (strategy, sources, and alerts.yaml and access.yaml when
    there are ones), listing every problem with its YAML path; then preview the landed files not
    judged yet and list what in the inbox no source reads (writes nothing)."""
    from metrics.access import AccessError, load_access
    from metrics.sources import SourcesError, load_sources
    from metrics.strategy import StrategyError, load_strategy

    cfg = settings()
    if args.strategy is None or args.sources is None:
        print_notices(cfg)
    strategy_path = Path(args.strategy) if args.strategy else cfg.strategy_path
    sources_path = Path(args.sources) if args.sources else cfg.sources_path
    files = [
        (strategy_path, load_strategy, StrategyError),
        (sources_path, load_sources, SourcesError),
    ]
    if cfg.access_path is not None:
        files.append((cfg.access_path, load_access, AccessError))
    failed = False
    loaded = {}
    for path, load, error in files:
        try:
            loaded[load] = load(path)
            print(f"ok   {path}")
        except error as exc:
            failed = True
            _print_problems(path, exc)
    if cfg.alerts_path is not None:
        from pipelines.alerts import AlertsError, load_alerts

        strategy = loaded.get(load_strategy)
        nodes = [node.id for node, _ in strategy.nodes()] if strategy is not None else None
        try:
            load_alerts(cfg.alerts_path, nodes)
            print(f"ok   {cfg.alerts_path}")
        except AlertsError as exc:
            failed = True
            _print_problems(cfg.alerts_path, exc)
    if not failed:
        inbox_report(cfg, loaded[load_sources], strategy=loaded[load_strategy])
    return 1 if failed else 0


def _print_problems(path: Path, exc) -> None:
    print(f"FAIL {path}: {len(exc.problems)} problem(s)")
    for problem in exc.problems:
        print(f"  - {problem}")


def inbox_report(cfg: Settings, sources_cfg, *, strategy=None) -> None:
    """What the inbox holds that a run has not judged (previewed, given the `strategy` whose
    readiness dimensions the rules need), what no source reads, and which files were judged
    under a mapping sources.yaml no longer has."""
    from metrics.schemas import SOURCE_NAMES
    from pipelines.ingestion import landed_files
    from pipelines.ingestion.preview import changed_mappings, preview_file, unjudged

    ledger = judged_ledger(cfg)
    if strategy is not None:
        judged = {row["file_path"] for row in ledger}
        pending = [
            (source, path)
            for source in SOURCE_NAMES
            for path in unjudged(landed_files(cfg.inbox_for(source)), judged)
        ]
        print(f"inbox: {len(pending)} landed file(s) not judged yet" + (":" if pending else ""))
        for source, path in pending:
            result = preview_file(
                source,
                path,
                sources_cfg,
                dimensions=list(strategy.readiness.dimensions),
                now=datetime.now(UTC).replace(tzinfo=None),
            )
            for line in result.lines():
                print(f"  {line}")
    print_unread(cfg)
    for source, files in sorted(changed_mappings(ledger, sources_cfg).items()):
        names = ", ".join(Path(f).name for f in files[:5])
        more = f" and {len(files) - 5} more" if len(files) > 5 else ""
        print(
            f"mapping changed: {len(files)} {source} file(s) were judged under an older "
            f"sources.yaml ({names}{more}); run `outcomeloop reload {source}` to judge them again"
        )


def print_unread(cfg: Settings, limit: int = 10) -> None:
    """One line per folder or file in the inbox that no source reads (never silently ignored)."""
    from metrics.schemas import SOURCE_NAMES
    from pipelines.ingestion import unread_entries

    entries = unread_entries(cfg.inbox, SOURCE_NAMES)
    for entry in entries[:limit]:
        print(f"{entry.reason}: {entry.path}" + (f" ({entry.hint})" if entry.hint else ""))
    if len(entries) > limit:
        print(f"not read: {len(entries) - limit} more (see the data-health page)")


def judged_ledger(cfg: Settings) -> list[dict]:
    """The file ledger as the last published snapshot has it (no snapshot: nothing judged).

    The snapshot, not the warehouse: reading it never waits for, or blocks, a running pipeline."""
    from metrics.store.warehouse import query_snapshot

    if not cfg.snapshot.exists():
        return []
    return query_snapshot(cfg.snapshot, "SELECT * FROM ops.file_ledger").to_pylist()


def materialize_all(cfg: Settings, selection=None, tags: dict | None = None, log_file=None):
    """One materialization of the graph on the persistent instance (so the warehouse pool applies
    when `dagster dev` runs beside us). With `log_file`, Dagster's own log goes there and the
    terminal shows one line per step; without, Dagster's log is the terminal's."""
    import dagster as dg

    from pipelines.definitions import defs

    with open_instance(cfg) as instance, run_output(log_file):
        return dg.materialize(
            defs.get_repository_def().asset_graph.assets_defs,
            instance=instance,
            selection=selection,
            raise_on_error=False,
            tags={"outcomeloop/trigger": "cli", **process_tags(), **(tags or {})},
        )


def run_log_path(cfg: Settings) -> Path:
    """Where one run's full log goes: $OUTCOMELOOP_HOME/logs/run-<UTC time>.log."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return cfg.home / "logs" / f"run-{stamp}.log"


def cmd_run(args: argparse.Namespace) -> int:
    """Ingest what landed, recompute the marts, publish the snapshot; one summary at the end.

    Exit 0 finished, 1 a step failed, 2 invalid configuration (raised, see main), 3 finished but
    a file was rejected."""
    cfg = settings()
    from metrics.sources import load_sources
    from metrics.strategy import load_strategy

    print_notices(cfg)
    strategy = load_strategy(cfg.strategy_path)  # fail fast with the check's messages
    load_sources(cfg.sources_path)
    if cfg.alerts_path is not None:
        from pipelines.alerts import load_alerts

        load_alerts(cfg.alerts_path, [node.id for node, _ in strategy.nodes()])
    print(f"outcomeloop run: {cfg.home} (waits for the warehouse if `dagster dev` is using it)")
    log_file = None if args.verbose else run_log_path(cfg)
    if log_file is not None:
        print(f"full log: {log_file}")
    started = time.monotonic()
    wait_for_warehouse(cfg)
    result = materialize_all(cfg, log_file=log_file)
    summary = summarize(result)
    for line in summary.lines:
        print(line)
    print_unread(cfg)
    print(f"snapshot: {cfg.snapshot if cfg.snapshot.exists() else 'not published'}")
    print(f"took {time.monotonic() - started:.1f}s")
    if summary.failed:
        where = f"the log {log_file}" if log_file else "the lines above"
        print(f"outcomeloop run FAILED: see {where}, or the run in the Dagster UI")
        return EXIT_FAILED
    if summary.rejected:
        print(
            f"outcomeloop run finished, but {summary.rejected} file(s) were rejected (exit code "
            f"{EXIT_REJECTED}): fix the file or sources.yaml, then `outcomeloop reload SOURCE`"
        )
        return EXIT_REJECTED
    return EXIT_OK


def wait_for_warehouse(cfg: Settings, wait_seconds: float = WAREHOUSE_WAIT_SECONDS) -> None:
    """Say on the terminal when another process (`dagster dev`, a second `outcomeloop run`)
    holds the warehouse, and wait for it; the assets wait again should it be taken in between."""
    from metrics.store.warehouse import WarehouseBusy, warehouse

    def say(message: str) -> None:
        log.info("waiting: %s (up to %.0fs)", message, wait_seconds)

    try:
        with warehouse(cfg.warehouse, wait_seconds=wait_seconds, on_wait=say):
            pass
    except WarehouseBusy as exc:
        raise CliError(str(exc)) from exc


def cmd_reload(args: argparse.Namespace) -> int:
    """Rebuild one source from all its landed files (after a mapping fix), then the marts."""
    from metrics.schemas import SOURCES
    from metrics.sources import load_sources
    from metrics.store.warehouse import ensure_schema, warehouse
    from metrics.strategy import load_strategy
    from pipelines.ingestion import landed_files
    from pipelines.ingestion.loader import reload_source

    if args.source not in SOURCES:
        raise CliError(f"unknown source {args.source!r}; one of: {', '.join(SOURCES)}")
    cfg = settings()
    print_notices(cfg)
    strat = load_strategy(cfg.strategy_path)
    sources_cfg = load_sources(cfg.sources_path)
    files = landed_files(cfg.inbox_for(args.source))
    print(f"reloading {args.source} from {len(files)} landed file(s)")
    with warehouse(cfg.warehouse, memory_limit="4GB", wait_seconds=300, on_wait=log.info) as con:
        ensure_schema(con)
        outcomes = reload_source(
            con,
            args.source,
            files,
            sources_cfg,
            dimensions=list(strat.readiness.dimensions),
            now=datetime.now(UTC).replace(tzinfo=None),
        )
    for o in outcomes:
        print(
            f"  {o.status:9} {Path(o.file_path).name}: {o.rows_loaded} loaded, "
            f"{o.rows_filtered} filtered, {o.rows_quarantined} quarantined"
            + (f" ({o.error})" if o.error else "")
        )
    print("recomputing the marts and the snapshot")
    import dagster as dg

    log_file = None if args.verbose else run_log_path(cfg)
    if log_file is not None:
        print(f"full log: {log_file}")
    result = materialize_all(
        cfg,
        selection=dg.AssetSelection.groups("marts", "serving"),
        tags={"outcomeloop/reload": args.source},
        log_file=log_file,
    )
    return EXIT_OK if result.success else EXIT_FAILED


def cmd_demo(args: argparse.Namespace) -> int:
    """Write the demo dataset into the inbox, then (with --live) keep dropping new days."""
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
    alerts_file = cfg.home / "alerts.yaml"
    if alerts_file.is_file() and not os.environ.get("CX_WEBHOOK_URL"):
        print(
            f"alerts: {alerts_file} is off until CX_WEBHOOK_URL is set; "
            "`python examples/alert_receiver.py` prints them as they arrive"
        )
    if args.live:
        print(
            f"live: catching up to today, then dropping what happens as it happens every {args.every}s (Ctrl-C stops)"
        )
        demo.live(cfg.home, every=args.every, seed=args.seed)
    return 0
