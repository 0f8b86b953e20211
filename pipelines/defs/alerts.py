"""Alerts: after each publish, tell people what changed (pipelines.alerts does the work).

The `alerts` asset sits downstream of the snapshot, so every path that publishes (the sensor
loop, declarative automation, every job, `outcomeloop run`) also alerts. The run-failure sensor
covers what an asset cannot see, a run that failed before reaching it: it starts a run of the
`alerts` asset alone, which evaluates `run_failed` rules against the instance's failed runs.
"""

import os
from datetime import UTC, datetime, timedelta

import dagster as dg

from metrics.config import ConfigError, settings
from pipelines.alerts import AlertsError, load_alerts
from pipelines.alerts.events import FailedRun
from pipelines.alerts.log import refresh_snapshot
from pipelines.defs.automation import MART_AUTOMATION
from pipelines.defs.resources import WAREHOUSE_POOL, OutcomeLoopResource
from pipelines.marts.runner import run_now

#: Failed runs this recent are alerted on (older ones predate the alerting, or were told).
FAILED_RUN_WINDOW = timedelta(hours=24)
ALERTS_JOB = "alerts_only"


def _failed_runs(instance: dg.DagsterInstance, now: datetime, dagster_url: str) -> list[FailedRun]:
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.FAILURE],
            updated_after=(now - FAILED_RUN_WINDOW).replace(tzinfo=UTC),
        ),
        limit=200,
    )
    return [
        FailedRun(
            run_id=r.dagster_run.run_id,
            job=r.dagster_run.job_name,
            failed_at=(
                datetime.fromtimestamp(r.end_time, UTC).replace(tzinfo=None) if r.end_time else None
            ),
            url=f"{dagster_url.rstrip('/')}/runs/{r.dagster_run.run_id}",
        )
        for r in records
    ]


@dg.asset(
    name="alerts",
    group_name="serving",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    deps=["serving"],
    automation_condition=MART_AUTOMATION,
    description=(
        "Alerts from alerts.yaml (none without the file): items due soon or overdue, outcome "
        "status changes, stale sources, failed runs; each (rule, subject) sent once through its "
        "webhook or e-mail channel and recorded in ops.alert_log, failed sends retried."
    ),
)
def alerts(context: dg.AssetExecutionContext, outcomeloop: OutcomeLoopResource):
    cfg = outcomeloop.settings()
    if cfg.alerts_path is None:
        return dg.MaterializeResult(metadata={"alerts_file": "none (no alerts)"})
    strategy = outcomeloop.strategy()
    try:
        config = load_alerts(cfg.alerts_path, [node.id for node, _ in strategy.nodes()])
    except AlertsError as exc:
        raise dg.Failure(description=str(exc)) from exc
    sources_cfg = outcomeloop.sources()
    now = run_now()
    failed = []
    if config.rules_for("run_failed"):
        failed = _failed_runs(context.instance, now, cfg.dagster_url)
    from pipelines.alerts import evaluate_alerts

    with outcomeloop.connect(context.log) as con:
        result = evaluate_alerts(
            con,
            config,
            now,
            env=os.environ,
            freshness_hours=sources_cfg.freshness_hours,
            configured_sources=sources_cfg.sources,
            failed_runs=failed,
        )
        refreshed = result.changed_log and refresh_snapshot(con, cfg.snapshot)
        logged, pending, failed_total = con.execute(
            "SELECT count(*), count(*) FILTER (status = 'pending'), "
            "count(*) FILTER (status = 'failed') FROM ops.alert_log"
        ).fetchone()
    for rule, reason in result.off.items():
        context.log.info(f"rule {rule} not evaluated: {reason}")
    for rule, error in result.errors.items():
        context.log.warning(f"rule {rule}: send failed, will retry: {error}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": logged,
            "alerts_file": str(cfg.alerts_path),
            "rules": len(config.rules),
            "rules_off": len(result.off),
            "new_alerts": result.recorded,
            "sent": result.sent,
            "messages": result.messages,
            "send_failures": len(result.errors),
            "pending_total": pending,
            "failed_total": failed_total,
            "snapshot_log_refreshed": bool(refreshed),
        }
    )


alerts_only = dg.define_asset_job(
    ALERTS_JOB,
    selection=dg.AssetSelection.assets("alerts"),
    description="Evaluate alerts.yaml now (the run-failure sensor starts it after a failed run).",
)


def _has_run_failed_rule() -> bool:
    """Whether alerts.yaml (as the code location loads) asks for run_failed alerts."""
    try:
        path = settings().alerts_path
        return path is not None and bool(load_alerts(path).rules_for("run_failed"))
    except (ConfigError, AlertsError):
        return False


@dg.run_failure_sensor(
    name="run_failed_alerts",
    request_job=alerts_only,
    minimum_interval_seconds=30,
    default_status=(
        dg.DefaultSensorStatus.RUNNING if _has_run_failed_rule() else dg.DefaultSensorStatus.STOPPED
    ),
    description=(
        "A run failed: evaluate the alerts (run_failed rules). Running by default when "
        "alerts.yaml has a run_failed rule."
    ),
)
def run_failed_alerts(context: dg.RunFailureSensorContext):
    if context.dagster_run.job_name == ALERTS_JOB:
        return dg.SkipReason("a failed alerts run does not start another one")
    return dg.RunRequest(
        run_key=f"run-failed-{context.dagster_run.run_id}",
        tags={"outcomeloop/trigger": "run_failed"},
    )
