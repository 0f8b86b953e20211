"""The declarative-automation sensor: marts and the snapshot follow ingestion by themselves."""

import dagster as dg

automation_sensor = dg.AutomationConditionSensorDefinition(
    "outcomeloop_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
    description="Declarative automation: marts and the snapshot update after ingestion (eager).",
)
