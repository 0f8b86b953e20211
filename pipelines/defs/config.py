"""The strategy file as an asset: every mart depends on it, so editing a target recomputes them."""

import dagster as dg

from metrics.store.files import file_sha256
from pipelines.defs.resources import OutcomeLoopResource


@dg.asset(
    group_name="config",
    kinds={"yaml"},
    description=(
        "The strategy file (strategy.yaml): the outcome tree to revenue, its measures and targets, "
        "the readiness gate and the feedback loop. Validated here so an invalid edit fails the run "
        "with the same messages as `outcomeloop check`; a change recomputes every mart."
    ),
    automation_condition=dg.AutomationCondition.on_missing(),
)
def strategy(context: dg.AssetExecutionContext, outcomeloop: OutcomeLoopResource):
    cfg = outcomeloop.settings()
    parsed = outcomeloop.strategy()
    digest = file_sha256(cfg.strategy_path)
    return dg.MaterializeResult(
        metadata={
            "path": str(cfg.strategy_path),
            "sha256": digest,
            "tree_nodes": len(parsed.nodes()),
            "measures": len(parsed.measures),
            "period": parsed.period,
            "timezone": parsed.timezone,
        },
        data_version=dg.DataVersion(digest),
    )
