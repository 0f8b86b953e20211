"""The bodies of `outcomeloop check`, `run`, `reload` and `demo`."""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, date, datetime
from pathlib import Path

from metrics.config import Settings, settings
from pipelines.cli.instance import open_instance, process_tags
from pipelines.cli.report import summarize
from pipelines.cli.terminal import dagster_log_only

log = logging.getLogger(__name__)

#: How long `outcomeloop run` waits for another process to let go of the warehouse.
WAREHOUSE_WAIT_SECONDS = 600


class CliError(Exception):
    """An error to print as one clear message, without a traceback."""


def cmd_check(args: argparse.Namespace) -> int:
    """Validate both configuration files, listing every problem with its YAML path."""
    from metrics.sources import SourcesError, load_sources
    from metrics.strategy import StrategyError, load_strategy

    cfg = None
    if args.strategy is None or args.sources is None:
        cfg = settings()
    strategy_path = Path(args.strategy) if args.strategy else cfg.strategy_path
    sources_path = Path(args.sources) if args.sources else cfg.sources_path
    failed = False
    for path, load, error in (
        (strategy_path, load_strategy, StrategyError),
        (sources_path, load_sources, SourcesError),
    ):
        try:
            load(path)
            print(f"ok   {path}")
        except error as exc:
            failed = True
            print(f"FAIL {path}: {len(exc.problems)} problem(s)")
            for problem in exc.problems:
                print(f"  - {problem}")
    return 1 if failed else 0


def materialize_all(cfg: Settings, selection=None, tags: dict | None = None):
    """One materialization of the graph on the persistent instance (so the warehouse pool applies
    when `dagster dev` runs beside us)."""
    import dagster as dg

    from pipelines.definitions import defs

    with open_instance(cfg) as instance, dagster_log_only():
        return dg.materialize(
            defs.get_repository_def().asset_graph.assets_defs,
            instance=instance,
            selection=selection,
            raise_on_error=False,
            tags={"outcomeloop/trigger": "cli", **process_tags(), **(tags or {})},
        )


def cmd_run(args: argparse.Namespace) -> int:
    """Ingest what landed, recompute the marts, publish the snapshot; one summary at the end."""
    cfg = settings()
    from metrics.sources import load_sources
    from metrics.strategy import load_strategy

    load_strategy(cfg.strategy_path)  # fail fast with the check's messages
    load_sources(cfg.sources_path)
    print(f"outcomeloop run: {cfg.home} (waits for the warehouse if `dagster dev` is using it)")
    started = time.monotonic()
    wait_for_warehouse(cfg)
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

    result = materialize_all(
        cfg,
        selection=dg.AssetSelection.groups("marts", "serving"),
        tags={"outcomeloop/reload": args.source},
    )
    return 0 if result.success else 1


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
    if args.live:
        print(
            f"live: catching up to today, then dropping what happens as it happens every {args.every}s (Ctrl-C stops)"
        )
        demo.live(cfg.home, every=args.every, seed=args.seed)
    return 0
