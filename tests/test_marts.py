"""One step's marts (pipelines/marts/runner.py): the clock, blocking checks, errors, and a rerun.

The home is the end-to-end fixture of tests/test_pipeline.py, ingested and computed once through
Dagster; each test then runs the mart step again, as the `marts` asset does.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from metrics.config import settings
from metrics.strategy import load_strategy
from pipelines.cli import materialize_all
from pipelines.defs.resources import OutcomeLoopResource
from pipelines.marts.engines import engine_for
from pipelines.marts.registry import MART_NAMES, MARTS, TIME_DEPENDENT_MARTS, downstream
from pipelines.marts.runner import StepOutcome, run_marts

#: The position of `status` in a marts.feedback_items row.
STATUS = 11


@pytest.fixture
def computed_home(pipeline_home):
    """The whole-graph fixture of tests/test_pipeline.py, ingested and computed once."""
    assert materialize_all(settings()).success
    return pipeline_home


def _compute(home: Path, now: datetime, **kwargs) -> StepOutcome:
    """The mart step as the `marts` asset runs it: one connection, the configured engine."""
    resource = OutcomeLoopResource(home=str(home))
    with resource.connect() as con:
        engine = engine_for(resource.settings(), con)
        return run_marts(engine, load_strategy(home / "strategy.yaml"), now, **kwargs)


def _tables(home: Path) -> dict[str, list]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return {
            name: con.execute(f"SELECT * FROM marts.{name} ORDER BY ALL").fetchall()
            for name in MART_NAMES
        }
    finally:
        con.close()


def _execute(home: Path, sql: str) -> None:
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        con.execute(sql).fetchall()
    finally:
        con.close()


def test_the_registry_derives_order_and_the_time_dependent_marts(clock):
    assert MART_NAMES == (
        "measure_values",
        "measure_changes",
        "comment_themes",
        "readiness",
        "readiness_gates",
        "feedback_items",
        "feedback_loop",
        "loop_outcomes",
        "root_causes",
        "outcome_progress",
    )
    assert TIME_DEPENDENT_MARTS == (
        "readiness_gates",
        "feedback_items",
        "feedback_loop",
        "loop_outcomes",
        "root_causes",
    )
    assert downstream(["readiness_gates"]) == {
        "feedback_items",
        "feedback_loop",
        "loop_outcomes",
        "root_causes",
    }
    assert downstream(["measure_values"]) == {"outcome_progress"}
    with pytest.raises(ValueError, match="feedback_items"):  # read before it is computed
        named = {mart.name: mart for mart in MARTS}
        run_marts(None, None, clock, marts=[named["feedback_items"], named["readiness_gates"]])


def test_recomputing_gives_the_same_tables_and_reports_every_mart(computed_home, clock):
    before = _tables(computed_home)
    step = _compute(computed_home, clock)
    assert step.error is None and step.skipped == {}
    assert [r.name for r in step.results] == list(MART_NAMES)
    assert all(r.materialized and r.passed for r in step.results)
    assert {r.name: r.metadata["dagster/row_count"] for r in step.results} == {
        name: len(rows) for name, rows in before.items()
    }
    assert _tables(computed_home) == before
    assert len(before["feedback_items"]) == 2 and len(before["measure_values"]) > 10


def test_an_item_turns_overdue_by_the_runs_time(computed_home):
    # Without its action, r3 (A, in the loop, 48 h SLA) is open until its deadline and overdue
    # after it: the run's time decides.
    _execute(computed_home, "DELETE FROM events.feedback_actions")
    received = next(row[4] for row in _tables(computed_home)["feedback_items"] if row[0] == "r3")
    assert received.month == 3 and received.day < 25  # both clocks below stay in March

    def status_at(now: datetime) -> str:
        assert _compute(computed_home, now).error is None
        items = {row[0]: row for row in _tables(computed_home)["feedback_items"]}
        return items["r3"][STATUS]

    assert status_at(received + timedelta(hours=47)) == "open"
    assert status_at(received + timedelta(hours=49)) == "overdue"


def test_a_new_period_gets_its_gates(computed_home):
    assert _compute(computed_home, datetime(2025, 4, 2, 9, 0, 0)).error is None
    gates = _tables(computed_home)["readiness_gates"]
    assert sorted({row[1].isoformat() for row in gates}) == [
        "2025-02-01",
        "2025-03-01",
        "2025-04-01",
    ]


def test_a_strategy_edit_recomputes(computed_home, clock):
    strategy = computed_home / "strategy.yaml"
    text = strategy.read_text()
    before = _tables(computed_home)["measure_values"]
    edited = text.replace("sla_hours: 48", "sla_hours: 12")
    assert edited != text, "the fixture's SLA changed; update this test"
    strategy.write_text(edited)
    assert _compute(computed_home, clock).error is None
    items = {row[0]: row for row in _tables(computed_home)["feedback_items"]}
    assert items["r3"][STATUS] == "acted_late"  # 23 h to the first action, now over a 12 h SLA
    assert _tables(computed_home)["measure_values"] == before


@pytest.fixture
def item_without_unit(computed_home):
    """A detractor whose unit is blank: feedback_items' blocking check `items_have_unit` fails."""
    _execute(
        computed_home,
        "INSERT INTO events.nps (response_id, responded_at, unit, score, file_path, row_number) "
        "VALUES ('blank', TIMESTAMP '2025-03-10 10:00:00', ' ', 2, 'manual.csv', 2)",
    )
    return computed_home


def test_a_failed_blocking_check_stops_the_marts_that_read_it(item_without_unit, clock):
    home = item_without_unit
    loop_before = _tables(home)["feedback_loop"]
    step = _compute(home, clock)
    done = {r.name: r for r in step.results}
    assert [(c.name, c.passed) for c in done["feedback_items"].checks] == [
        ("items_have_unit", False)
    ]
    # The marts that read feedback_items keep their previous tables.
    readers = {"feedback_loop", "loop_outcomes", "root_causes"}
    assert readers.isdisjoint(done)
    assert step.skipped == dict.fromkeys(readers, "a blocking check of ['feedback_items'] failed")
    assert set(done) == set(MART_NAMES) - readers
    assert step.error is None
    assert _tables(home)["feedback_loop"] == loop_before

    result = materialize_all(settings())  # the run fails, and nothing is published after it
    assert not result.success
    materialized = {
        e.asset_key.path[-1] for e in result.get_asset_materialization_events() if e.asset_key
    }
    assert "feedback_items" in materialized
    assert "feedback_loop" not in materialized and "serving" not in materialized


def test_an_unselected_check_does_not_block(item_without_unit, clock):
    step = _compute(item_without_unit, clock, checks=set())
    done = {r.name: r for r in step.results}
    assert "feedback_loop" in done and done["feedback_items"].checks == []


def test_only_the_selected_checks_run(computed_home, clock):
    step = _compute(computed_home, clock, checks={("outcome_progress", "progress_in_range")})
    checks = {r.name: [c.name for c in r.checks] for r in step.results}
    assert checks["outcome_progress"] == ["progress_in_range"]
    assert checks["measure_values"] == [] and checks["feedback_items"] == []


def test_a_check_selected_without_its_mart_runs_on_the_current_table(computed_home, clock):
    checks = {("outcome_progress", "every_node_every_period")}
    step = _compute(computed_home, clock, names=[], checks=checks)
    assert [(r.name, r.materialized) for r in step.results] == [("outcome_progress", False)]
    assert [(c.name, c.passed) for c in step.results[0].checks] == [
        ("every_node_every_period", True)
    ]


@pytest.mark.parametrize(
    ("broken", "not_reported"),
    [
        ("feedback_loop", {"feedback_loop"}),
        (
            "readiness_gates",
            {"readiness_gates", "feedback_items", "feedback_loop", "loop_outcomes", "root_causes"},
        ),
    ],
)
def test_an_error_still_reports_the_marts_that_do_not_read_the_broken_one(
    computed_home, clock, broken, not_reported
):
    def fail(inputs):
        raise RuntimeError(f"{broken} broke")

    marts = [dataclasses.replace(m, compute=fail) if m.name == broken else m for m in MARTS]
    step = _compute(computed_home, clock, marts=marts)
    assert isinstance(step.error, RuntimeError) and str(step.error) == f"{broken} broke"
    assert [r.name for r in step.results] == [n for n in MART_NAMES if n not in not_reported]
    assert set(step.skipped) == not_reported - {broken}
