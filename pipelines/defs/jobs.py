"""Jobs data engineers launch by name, and the schedules that run them."""

import dagster as dg

from metrics.config import ConfigError, settings
from pipelines.marts.registry import TIME_DEPENDENT_MARTS

ingest_all = dg.define_asset_job(
    "ingest_all",
    selection=dg.AssetSelection.groups("ingest"),
    description="Load every new file of every source from the inbox.",
)

refresh_marts = dg.define_asset_job(
    "refresh_marts",
    selection=dg.AssetSelection.groups("marts", "serving"),
    description="Recompute the marts from events.* and publish a new snapshot.",
)

full_refresh = dg.define_asset_job(
    "full_refresh",
    selection=dg.AssetSelection.assets("strategy") | dg.AssetSelection.groups("marts", "serving"),
    description=(
        "Re-validate the strategy, rebuild every mart from events.* and publish the snapshot."
    ),
)

clock_refresh = dg.define_asset_job(
    "clock_refresh",
    selection=dg.AssetSelection.assets(*TIME_DEPENDENT_MARTS, "serving", "alerts"),
    description=(
        "Time alone moves some numbers: a new period begins, a feedback item turns overdue, a "
        "source goes stale. Re-evaluates those marts, the snapshot and the alerts."
    ),
)


def _refresh_cron() -> str:
    try:
        minutes = settings().automation_interval_minutes
    except ConfigError:
        minutes = 60
    if minutes < 60:
        return f"*/{minutes} * * * *"
    hours = max(1, minutes // 60)
    return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"


clock_refresh_schedule = dg.ScheduleDefinition(
    name="clock_refresh_schedule",
    job=clock_refresh,
    cron_schedule=_refresh_cron(),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly by default (OUTCOMELOOP_REFRESH_MINUTES): overdue items, stale sources.",
)

full_refresh_daily = dg.ScheduleDefinition(
    name="full_refresh_daily",
    job=full_refresh,
    cron_schedule="0 3 * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Daily full rebuild at 03:00; off by default, switch it on in the UI if you want it.",
)
