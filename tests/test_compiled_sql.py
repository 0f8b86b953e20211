"""The marts' stored SQL (pipelines/compiled.py): a hit must give exactly what a fresh compile gives.

A cache key that missed an input would publish stale formulas quietly, so each input is changed
here on its own, and every mart table after a hit is compared with a fresh compile's.
"""

from __future__ import annotations

import shutil
import threading
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from metrics.config import settings
from pipelines import compiled
from pipelines.cli import materialize_all
from pipelines.defs import marts as marts_module
from pipelines.defs.resources import OutcomeLoopResource

FIXTURE = Path(__file__).parent / "fixtures" / "pipeline"
NOW = datetime(2025, 3, 20, 12, 0, 0)  # as in tests/test_pipeline.py


@pytest.fixture
def home(tmp_path, monkeypatch):
    """The whole-graph fixture of tests/test_pipeline.py, ingested and computed once."""
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    monkeypatch.setenv("OUTCOMELOOP_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setattr(marts_module, "run_now", lambda: NOW)
    assert materialize_all(settings()).success
    return tmp_path


def _compute(home: Path, monkeypatch, now: datetime = NOW, fresh: bool = False) -> dict:
    """Every mart once; returns mart -> "stored" / "compiled"."""
    monkeypatch.setattr(marts_module, "run_now", lambda: now)
    if fresh:
        con = duckdb.connect(str(home / "warehouse.duckdb"))
        try:
            con.execute("DELETE FROM ops.compiled_sql").fetchall()
        finally:
            con.close()
    resource = OutcomeLoopResource(home=str(home))
    return {r.name: r.metadata.get("sql") for r in marts_module.compute_marts(resource)}


def _tables(home: Path) -> dict[str, list]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return {
            name: con.execute(f"SELECT * FROM marts.{name} ORDER BY ALL").fetchall()
            for name in marts_module.MART_NAMES
        }
    finally:
        con.close()


def test_a_second_refresh_uses_the_stored_sql_and_gives_the_same_tables(home, monkeypatch):
    # materialize_all compiled (and stored) every mart's SQL; this refresh finds all of it
    sql = _compute(home, monkeypatch)
    expected = {name: "stored" for name in marts_module.MART_NAMES}
    expected["outcome_progress"] = None  # computed in Python from measure_values, no SQL
    assert sql == expected
    stored = _tables(home)
    assert _compute(home, monkeypatch, fresh=True)["measure_values"] == "compiled"
    assert _tables(home) == stored
    assert len(stored["feedback_items"]) == 2 and len(stored["measure_values"]) > 10


def test_the_run_clock_is_read_when_the_sql_runs_not_compiled_in(home, monkeypatch):
    # Without its action, r3 (A, in the loop, 48 h SLA) is open until its deadline and overdue
    # after it. Both refreshes run the SAME stored SQL; only the clock differs.
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        con.execute("DELETE FROM events.feedback_actions").fetchall()
        received = con.execute(
            "SELECT received_at FROM marts.feedback_items WHERE feedback_id = 'r3'"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert received.month == 3 and received.day < 25  # both clocks below stay in March

    def status_at(now: datetime) -> str:
        sql = _compute(home, monkeypatch, now=now)
        assert sql["feedback_items"] == "stored" and sql["readiness_gates"] == "stored"
        items = {row[0]: row for row in _tables(home)["feedback_items"]}
        return items["r3"][-1]

    assert status_at(received + timedelta(hours=47)) == "open"
    assert status_at(received + timedelta(hours=49)) == "overdue"
    stored = _tables(home)
    _compute(home, monkeypatch, now=received + timedelta(hours=49), fresh=True)
    assert _tables(home) == stored


def test_a_new_period_gets_new_gates_sql(home, monkeypatch):
    april = datetime(2025, 4, 2, 9, 0, 0)
    sql = _compute(home, monkeypatch, now=april)
    assert sql["readiness_gates"] == "compiled"  # the spine now runs through April
    gates = _tables(home)["readiness_gates"]
    assert sorted({row[1].isoformat() for row in gates}) == [
        "2025-02-01",
        "2025-03-01",
        "2025-04-01",
    ]
    _compute(home, monkeypatch, now=april, fresh=True)
    assert _tables(home)["readiness_gates"] == gates


def test_a_strategy_edit_compiles_again(home, monkeypatch):
    strategy = home / "strategy.yaml"
    text = strategy.read_text()
    assert "min_n" in text
    before = _tables(home)["measure_values"]
    edited = text.replace("sla_hours: 48", "sla_hours: 12")
    assert edited != text, "the fixture's SLA changed; update this test"
    strategy.write_text(edited)
    sql = _compute(home, monkeypatch)
    assert sql["feedback_items"] == "compiled" and sql["measure_values"] == "compiled"
    items = {row[0]: row for row in _tables(home)["feedback_items"]}
    assert items["r3"][-1] == "acted_late"  # 23 h to the first action, now over a 12 h SLA
    assert _tables(home)["measure_values"] == before


@pytest.mark.parametrize(
    "change",
    ["mart", "strategy", "schema", "extra", "code"],
)
def test_every_input_changes_the_key(change, monkeypatch):
    base = {
        "mart": "measure_values",
        "strategy_json": '{"period": "month"}',
        "schema": [("nps", "score", "INTEGER", "YES")],
        "extra": ("2025-01-01",),
    }
    key = compiled.cache_key(**base)
    assert compiled.cache_key(**base) == key
    changed = dict(base)
    if change == "mart":
        changed["mart"] = "readiness"
    elif change == "strategy":
        changed["strategy_json"] = '{"period": "quarter"}'
    elif change == "schema":
        changed["schema"] = [("nps", "score", "DOUBLE", "YES")]
    elif change == "extra":
        changed["extra"] = ("2025-02-01",)
    else:
        monkeypatch.setattr(compiled, "code_fingerprint", lambda: "another version")
    assert compiled.cache_key(**changed) != key


def test_the_fingerprint_covers_the_formulas():
    names = {path.name for path in compiled._CODE}
    assert {"measures.py", "readiness.py", "feedback.py", "periods.py", "marts.py"} <= names
    assert {"compiled.py", "engine.py", "stats.py"} <= names


def test_old_keys_are_pruned(home, monkeypatch):
    for day in (3, 4, 5, 6, 7, 8):  # a new period each run is a new gates key
        _compute(home, monkeypatch, now=datetime(2025, day, 2, 9))
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        kept = con.execute(
            "SELECT count(*) FROM ops.compiled_sql WHERE mart = 'readiness_gates'"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert kept == compiled.KEEP_PER_MART


@pytest.fixture
def failing_nps_check(monkeypatch):
    """measure_values' blocking check `nps_in_range` fails, whatever the table holds."""

    def failing(con, strat):
        return dg.AssetCheckResult(
            check_name="nps_in_range", asset_key=dg.AssetKey("measure_values"), passed=False
        )

    monkeypatch.setitem(marts_module._CHECK_FUNCTIONS, ("measure_values", "nps_in_range"), failing)


def test_a_failed_blocking_check_stops_the_marts_that_read_it(home, failing_nps_check):
    resource = OutcomeLoopResource(home=str(home))
    done = [r.name for r in marts_module.compute_marts(resource)]
    assert "outcome_progress" not in done
    assert {"measure_values", "readiness_gates", "feedback_items", "feedback_loop"} <= set(done)

    result = materialize_all(settings())  # the run fails, and nothing is published after it
    assert not result.success
    materialized = {
        e.asset_key.path[-1] for e in result.get_asset_materialization_events() if e.asset_key
    }
    assert "outcome_progress" not in materialized and "serving" not in materialized


def test_an_unselected_check_does_not_block(home, failing_nps_check):
    resource = OutcomeLoopResource(home=str(home))
    done = {r.name: r for r in marts_module.compute_marts(resource, checks=set())}
    assert "outcome_progress" in done and done["measure_values"].checks == []


def test_a_check_selected_without_its_mart_runs_on_the_current_table(home):
    resource = OutcomeLoopResource(home=str(home))
    results = list(
        marts_module.compute_marts(
            resource, names=[], checks={("outcome_progress", "every_node_every_period")}
        )
    )
    assert [(r.name, r.materialized) for r in results] == [("outcome_progress", False)]
    assert [(c.check_name, c.passed) for c in results[0].checks] == [
        ("every_node_every_period", True)
    ]


def test_an_error_in_one_chain_still_reports_the_marts_written_before_it(home, monkeypatch):
    def broken(self):
        raise RuntimeError("feedback_loop broke")

    monkeypatch.setattr(marts_module._MartRun, "feedback_loop", broken)
    resource = OutcomeLoopResource(home=str(home))
    seen = []
    with pytest.raises(RuntimeError, match="feedback_loop broke"):
        for result in marts_module.compute_marts(resource):
            seen.append(result.name)
    # the other chain finished, and the same chain's marts before the error are reported
    chain_before = {"readiness_gates", "feedback_items"}
    other_chain = {"measure_values", "outcome_progress", "readiness"}
    assert set(seen) == chain_before | other_chain


def test_formula_files_changed_after_start_bypass_the_store(home, monkeypatch):
    monkeypatch.setattr(compiled, "code_changed_since_import", lambda: ["measures.py"])
    resource = OutcomeLoopResource(home=str(home))
    sql = {r.name: r.metadata.get("sql") for r in marts_module.compute_marts(resource)}
    assert sql["measure_values"] == "compiled, not stored (measures.py changed)"
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        created = con.execute("SELECT max(created_at) FROM ops.compiled_sql").fetchall()[0][0]
    finally:
        con.close()
    monkeypatch.setattr(compiled, "code_changed_since_import", lambda: [])
    assert _compute(home, monkeypatch)["measure_values"] == "stored"  # nothing new was stored
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        assert (
            con.execute("SELECT max(created_at) FROM ops.compiled_sql").fetchall()[0][0] == created
        )
    finally:
        con.close()


def test_a_formula_file_replaced_while_the_process_started_is_detected(monkeypatch):
    import metrics

    assert compiled._changed_before_fingerprint() == []
    measures = next(str(p) for p in compiled._CODE if p.name == "measures.py")
    mtime_ns, size, inode = metrics.SOURCE_STATS[measures]
    replaced = {**metrics.SOURCE_STATS, measures: (mtime_ns - 10**9, size, inode)}
    monkeypatch.setattr(metrics, "SOURCE_STATS", replaced)  # e.g. `cp -p` of an older copy
    assert compiled._changed_before_fingerprint() == ["measures.py"]


def test_a_chain_that_fails_to_start_still_lets_the_other_report(home, monkeypatch):
    original = marts_module._MartRun.__init__
    calls, lock = [], threading.Lock()

    def init(self, *args, **kwargs):
        with lock:
            calls.append(1)
            first = len(calls) == 1
        if first:  # whichever chain starts first fails before computing anything
            raise RuntimeError("setup failed")
        original(self, *args, **kwargs)

    monkeypatch.setattr(marts_module._MartRun, "__init__", init)
    seen = []
    with pytest.raises(RuntimeError, match="setup failed"):
        for result in marts_module.compute_marts(OutcomeLoopResource(home=str(home))):
            seen.append(result.name)
    chains = [sorted(chain) for chain in marts_module._CHAINS]
    assert sorted(seen) in chains  # the other chain's marts, all reported
