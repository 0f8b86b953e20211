"""Declarative automation: marts and the snapshot follow ingestion and the strategy by themselves.

One automation condition and one freshness policy, defined here and applied to every mart (and
the condition to the snapshot), so the whole graph keeps one rhythm.
"""

from datetime import timedelta

import dagster as dg

#: Update after any parent updates (eager). Unlike plain eager(), a source that never had a file
#: (its ingestion asset never materialized) does not hold the marts back — its measures are just
#: empty — but a missing upstream MART still does (feedback_loop waits for feedback_items).
MART_AUTOMATION = dg.AutomationCondition.eager().without(
    ~dg.AutomationCondition.any_deps_missing()
) & ~dg.AutomationCondition.any_deps_missing().ignore(dg.AssetSelection.groups("ingest"))

#: A mart older than this is flagged in the Dagster UI (warn after 2 h, fail after 3 h).
MART_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=3), warn_window=timedelta(hours=2)
)

automation_sensor = dg.AutomationConditionSensorDefinition(
    "outcomeloop_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
    description="Declarative automation: marts and the snapshot update after ingestion (eager).",
)
