"""The code location loads, and it declares what the contract promises."""

from __future__ import annotations

import dagster as dg

from pipelines.definitions import defs


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_contracted_assets_jobs_and_automation():
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    for source in (
        "nps",
        "ces",
        "employee_pulse",
        "upsell",
        "revenue",
        "cost",
        "readiness",
        "feedback_actions",
    ):
        assert f"{source}_events" in keys
    for mart in (
        "measure_values",
        "readiness",
        "readiness_gates",
        "feedback_items",
        "feedback_loop",
        "outcome_progress",
        "serving",
        "strategy",
    ):
        assert mart in keys
    assert {"ingest_all", "refresh_marts", "full_refresh"} <= {j.name for j in repo.get_all_jobs()}
    sensors = {s.name: s for s in repo.sensor_defs}
    for name in ("inbox_sensor", "strategy_sensor", "outcomeloop_automation"):
        assert sensors[name].default_status == dg.DefaultSensorStatus.RUNNING
    schedules = {s.name: s for s in repo.schedule_defs}
    assert schedules["clock_refresh_schedule"].default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedules["full_refresh_daily"].default_status == dg.DefaultScheduleStatus.STOPPED


def test_every_warehouse_asset_is_in_the_pool():
    repo = defs.get_repository_def()
    for key in repo.asset_graph.get_all_asset_keys():
        node = repo.asset_graph.get(key)
        if key.to_user_string() == "strategy":
            continue
        assert node.pools == {"warehouse"}, key
