"""OutcomeLoop's Dagster code location: it assembles, it does not compute."""

import dagster as dg

from pipelines.automation import JOBS, SCHEDULES, automation_sensor
from pipelines.ingest import INGEST_ASSETS
from pipelines.marts import MART_ASSETS, strategy
from pipelines.resources import OutcomeLoopResource
from pipelines.sensors import inbox_sensor, strategy_sensor
from pipelines.serving import serving

ALL_ASSETS = [strategy, *INGEST_ASSETS, *MART_ASSETS, serving]

defs = dg.Definitions(
    assets=ALL_ASSETS,
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=[inbox_sensor, strategy_sensor, automation_sensor],
    resources={"outcomeloop": OutcomeLoopResource()},
    # One process per run, not one per step: the steps share the warehouse pool (limit 1) and
    # run one after another anyway, and a process per step costs seconds of start-up each.
    executor=dg.in_process_executor,
)
