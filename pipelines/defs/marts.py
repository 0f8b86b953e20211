"""Mart assets: every measure per unit and period, readiness gates, the feedback loop and the
outcome tree, recomputed from `events.*` with the formulas in `metrics/`.

Each mart is one asset of a single step (one warehouse connection, one parse of the strategy), and
each is rebuilt whole (idempotent: the same events and strategy give the same table). The specs
and checks below are derived from the mart registry (pipelines/marts/registry.py); declarative
automation keeps the marts current after ingestion, and the strategy is an input of every mart,
so editing a target recomputes them.
"""

import dagster as dg

from pipelines.defs.automation import MART_AUTOMATION, MART_FRESHNESS
from pipelines.defs.ingest import asset_key
from pipelines.defs.resources import WAREHOUSE_POOL, OutcomeLoopResource
from pipelines.marts.engines import engine_for
from pipelines.marts.registry import MARTS, Mart
from pipelines.marts.runner import run_marts, run_now
from pipelines.progress import progress

#: A run with this tag rebuilds every mart whole (set by `outcomeloop reload`).
FULL_REFRESH_TAG = "outcomeloop/reload"


def _asset_spec(mart: Mart) -> dg.AssetSpec:
    return dg.AssetSpec(
        mart.name,
        group_name="marts",
        kinds={"duckdb"},
        deps=[
            dg.AssetKey("strategy"),
            *(asset_key(source) for source in mart.sources),
            *(dg.AssetKey(name) for name in mart.reads),
        ],
        description=mart.description,
        automation_condition=MART_AUTOMATION,
        freshness_policy=MART_FRESHNESS,
        skippable=True,  # not written when a blocking check upstream in the same step failed
    )


def _check_specs(mart: Mart) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(c.name, asset=mart.name, blocking=True, description=c.description)
        for c in mart.checks
    ]


@dg.multi_asset(
    name="marts",
    specs=[_asset_spec(mart) for mart in MARTS],
    check_specs=[spec for mart in MARTS for spec in _check_specs(mart)],
    can_subset=True,
    pool=WAREHOUSE_POOL,
    description=(
        "Every mart, recomputed from events.* in one step on one warehouse connection (each "
        "mart is its own asset; a run may select any of them)."
    ),
)
def marts(context: dg.AssetExecutionContext, outcomeloop: OutcomeLoopResource):
    strategy = outcomeloop.strategy()
    selected = {key.path[-1] for key in context.selected_asset_keys}
    checks = {(c.asset_key.path[-1], c.name) for c in context.selected_asset_check_keys}
    # A full refresh (the job, `outcomeloop reload`) rebuilds every mart whole; otherwise a
    # mart that declares a partition recomputes only the periods changed since its last build.
    full = context.run.job_name == "full_refresh" or FULL_REFRESH_TAG in context.run.tags
    with outcomeloop.connect(context.log) as con:
        engine = engine_for(outcomeloop.settings(), con)
        step = run_marts(engine, strategy, run_now(), names=selected, checks=checks, full=full)
    for name, reason in step.skipped.items():
        context.log.warning(f"{name} not recomputed: {reason}")
    done = sum(result.materialized for result in step.results)
    skipped = f", {len(step.skipped)} not recomputed" if step.skipped else ""
    progress.info("marts  %d of %d recomputed%s", done, len(selected), skipped)
    for result in step.results:
        if result.materialized:
            yield dg.MaterializeResult(asset_key=result.name, metadata=result.metadata)
        for check in result.checks:
            yield dg.AssetCheckResult(
                check_name=check.name,
                asset_key=dg.AssetKey(check.mart),
                passed=check.passed,
                metadata=check.metadata,
            )
    if step.error is not None:
        raise step.error
