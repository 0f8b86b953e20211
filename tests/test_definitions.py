"""The code location loads, and it declares what the contract promises."""

from __future__ import annotations

import dagster as dg

from pipelines.definitions import defs
from pipelines.marts.registry import MART_NAMES, TIME_DEPENDENT_MARTS


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
    for asset in (*MART_NAMES, "serving", "alerts", "strategy"):
        assert asset in keys
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


# --- the whole graph, snapshotted ----------------------------------------------------------------
# Every asset's key, step, deps, group, kinds, pool, automation, freshness and checks, and every
# job, sensor and schedule. A refactor that changes the graph shows up here as a diff; when the
# change is meant, update the literal below.

#: The marts' condition: eager, except that a source never loaded does not hold them back.
EAGER_UNLESS_MART_MISSING = dg.AutomationCondition.eager().without(
    ~dg.AutomationCondition.any_deps_missing()
) & ~dg.AutomationCondition.any_deps_missing().ignore(dg.AssetSelection.groups("ingest"))
CONDITIONS = {
    "on_missing": dg.AutomationCondition.on_missing(),
    "eager_unless_mart_missing": EAGER_UNLESS_MART_MISSING,
}
MART_FRESHNESS = ("TimeWindowFreshnessPolicy", "3:00:00", "2:00:00")
SOURCES = [
    "ces",
    "cost",
    "employee_pulse",
    "feedback_actions",
    "nps",
    "readiness",
    "revenue",
    "upsell",
]
EVENTS = [f"{s}_events" for s in SOURCES]
#: The registry's marts (tests/test_marts.py pins their names and order).
MARTS = sorted(MART_NAMES)


def _ingest(source: str) -> dict:
    checks = [("keys_unique", True), ("no_future_timestamps", True)]
    if source in ("ces", "employee_pulse", "nps", "readiness"):
        checks.append(("scores_in_range", True))
    return {
        "step": f"{source}_events",
        "deps": [],
        "group": "ingest",
        "kinds": ["duckdb"],
        "pools": ["warehouse"],
        "automation": None,
        "freshness": None,
        "skippable": False,
        "checks": checks,
    }


def _mart(deps: list[str], checks: list[tuple[str, bool]]) -> dict:
    return {
        "step": "marts",
        "deps": deps,
        "group": "marts",
        "kinds": ["duckdb"],
        "pools": ["warehouse"],
        "automation": "eager_unless_mart_missing",
        "freshness": MART_FRESHNESS,
        "skippable": True,
        "checks": checks,
    }


EXPECTED_GRAPH = {
    "assets": {
        **{f"{s}_events": _ingest(s) for s in SOURCES},
        "feedback_items": _mart(
            ["ces_events", "feedback_actions_events", "nps_events", "readiness_gates", "strategy"],
            [("items_have_unit", True)],
        ),
        "feedback_loop": _mart(
            ["feedback_items", "readiness_gates", "strategy"], [("closed_within_in_loop", True)]
        ),
        "loop_outcomes": _mart(
            ["feedback_items", "strategy"], [("recovered_within_followed_up", True)]
        ),
        "root_causes": _mart(
            ["feedback_items", "strategy"], [("root_cause_shares_sum_to_one", True)]
        ),
        "measure_values": _mart(
            [
                "ces_events",
                "cost_events",
                "employee_pulse_events",
                "nps_events",
                "revenue_events",
                "strategy",
                "upsell_events",
            ],
            [("nps_in_range", True)],
        ),
        "measure_changes": _mart(
            [
                "ces_events",
                "cost_events",
                "employee_pulse_events",
                "nps_events",
                "revenue_events",
                "strategy",
                "upsell_events",
            ],
            [("changes_add_up", True)],
        ),
        "comment_themes": _mart(
            ["ces_events", "nps_events", "strategy"], [("theme_counts_in_order", True)]
        ),
        "outcome_progress": _mart(
            ["measure_values", "strategy"],
            [("every_node_every_period", True), ("progress_in_range", True)],
        ),
        "readiness": _mart(["readiness_events", "strategy"], []),
        "readiness_gates": _mart(sorted([*EVENTS, "strategy"]), []),
        "alerts": {
            "step": "alerts",
            "deps": ["serving"],
            "group": "serving",
            "kinds": ["duckdb"],
            "pools": ["warehouse"],
            "automation": "eager_unless_mart_missing",
            "freshness": None,
            "skippable": False,
            "checks": [],
        },
        "serving": {
            "step": "serving",
            "deps": MARTS,
            "group": "serving",
            "kinds": ["duckdb"],
            "pools": ["warehouse"],
            "automation": "eager_unless_mart_missing",
            "freshness": None,
            "skippable": False,
            "checks": [],
        },
        "strategy": {
            "step": "strategy",
            "deps": [],
            "group": "config",
            "kinds": ["yaml"],
            "pools": [],
            "automation": "on_missing",
            "freshness": None,
            "skippable": False,
            "checks": [],
        },
    },
    "jobs": {
        "alerts_only": ["alerts"],
        "clock_refresh": sorted([*TIME_DEPENDENT_MARTS, "alerts", "serving"]),
        "full_refresh": sorted([*MARTS, "alerts", "serving", "strategy"]),
        "ingest_all": EVENTS,
        "refresh_marts": sorted([*MARTS, "alerts", "serving"]),
    },
    "sensors": {
        "inbox_sensor": {
            "status": "RUNNING",
            "interval": 2,
            "targets": sorted([*EVENTS, *MARTS, "alerts", "serving"]),
        },
        "outcomeloop_automation": {
            "status": "RUNNING",
            "interval": 5,
            "targets": sorted([*EVENTS, *MARTS, "alerts", "serving", "strategy"]),
        },
        # stopped unless alerts.yaml has a run_failed rule (there is none where the tests run)
        "run_failed_alerts": {"status": "STOPPED", "interval": 30, "targets": []},
        "strategy_sensor": {"status": "RUNNING", "interval": 5, "targets": ["strategy"]},
    },
    "schedules": {
        "clock_refresh_schedule": {
            "job": "clock_refresh",
            "cron": "0 * * * *",
            "status": "RUNNING",
        },
        "full_refresh_daily": {"job": "full_refresh", "cron": "0 3 * * *", "status": "STOPPED"},
    },
}


def _condition(condition) -> str | None:
    if condition is None:
        return None
    return next((name for name, c in CONDITIONS.items() if c == condition), repr(condition))


def _freshness(policy) -> tuple | None:
    if policy is None:
        return None
    windows = (policy.fail_window.to_timedelta(), policy.warn_window.to_timedelta())
    return (type(policy).__name__, *map(str, windows))


def _graph() -> dict:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assets = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        spec = next(s for s in node.assets_def.specs if s.key == key)
        assets[key.to_user_string()] = {
            "step": node.assets_def.node_def.name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "pools": sorted(node.pools or ()),
            "automation": _condition(node.automation_condition),
            "freshness": _freshness(node.freshness_policy),
            "skippable": spec.skippable,
            "checks": sorted((c.name, graph.get(c).blocking) for c in node.check_keys),
        }
    jobs = {
        job.name: sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys)
        for job in repo.get_all_jobs()
        if not job.name.startswith("__")
    }
    sensors = {
        s.name: {
            "status": s.default_status.value,
            "interval": s.minimum_interval_seconds,
            "targets": sorted(
                k.to_user_string()
                for k in (s.asset_selection.resolve(graph) if s.asset_selection else ())
            ),
        }
        for s in repo.sensor_defs
    }
    schedules = {
        s.name: {"job": s.job_name, "cron": s.cron_schedule, "status": s.default_status.value}
        for s in repo.schedule_defs
    }
    return {"assets": assets, "jobs": jobs, "sensors": sensors, "schedules": schedules}


def test_the_graph_is_unchanged():
    graph = _graph()
    for part, expected in EXPECTED_GRAPH.items():
        assert graph[part] == expected, part


def test_a_landed_file_refreshes_every_mart_and_the_snapshot():
    from pipelines.defs.sensors import DOWNSTREAM

    assert sorted(k.to_user_string() for k in DOWNSTREAM) == sorted([*MARTS, "alerts", "serving"])
