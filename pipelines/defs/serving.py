"""The published snapshot as an asset: what the dashboard (and any BI tool) reads.

The work is `pipelines.publish.publish_snapshot`: a new DuckDB file with the marts, the ledger and
what the dashboard needs, moved over `serving/current.duckdb` whole. docs/snapshot.md lists its
tables.
"""

from datetime import UTC, datetime

import dagster as dg

from metrics.store.files import file_sha256
from pipelines.defs.automation import MART_AUTOMATION
from pipelines.defs.resources import WAREHOUSE_POOL, OutcomeLoopResource
from pipelines.marts.registry import MART_NAMES
from pipelines.marts.runner import run_now
from pipelines.progress import progress
from pipelines.publish import publish_snapshot


@dg.asset(
    name="serving",
    group_name="serving",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=MART_NAMES,
    automation_condition=MART_AUTOMATION,
    description=(
        "The published snapshot the dashboard reads (serving/current.duckdb): the marts, the "
        "ledger and quarantine summaries, the strategy's tree, replaced atomically."
    ),
)
def serving(context: dg.AssetExecutionContext, outcomeloop: OutcomeLoopResource):
    cfg, strat = outcomeloop.settings(), outcomeloop.strategy()
    try:
        sources_cfg = outcomeloop.sources()
    except Exception as exc:  # a broken sources.yaml fails ingestion, not the dashboard
        context.log.warning(f"sources.yaml could not be read: {exc}")
        sources_cfg = None
    now = run_now()
    with outcomeloop.connect(context.log, step="serving") as con:
        info = publish_snapshot(
            con,
            cfg.snapshot,
            strat,
            file_sha256(cfg.strategy_path),
            sources_cfg,
            now,
            cfg.dagster_url,
            inbox=cfg.inbox,
        )
    size = cfg.snapshot.stat().st_size
    progress.info("snapshot published (%.1f MB)", size / 1e6)
    return dg.MaterializeResult(
        metadata={
            "path": str(cfg.snapshot),
            "size_bytes": size,
            "built_at": now.isoformat(),
            "data_through": str(info["data_through"]),
            "published_at": datetime.now(UTC).isoformat(),
        }
    )
