"""The whole graph, end to end: files in the inbox -> events -> marts -> published snapshot.

The dataset in tests/fixtures/pipeline/ is small enough that every expected number below is
computed by hand (the arithmetic is in the comments).
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from metrics.config import settings
from metrics.store.warehouse import query_snapshot
from pipelines.cli import materialize_all
from pipelines.marts.registry import MART_NAMES


def _run(home: Path):
    result = materialize_all(settings())
    assert result.success
    return result


def _rows(home: Path, sql: str, params=None) -> list[dict]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return [
            dict(zip([d[0] for d in cur.description], r, strict=True))
            for cur in [con.execute(sql, params or [])]
            for r in cur.fetchall()
        ]
    finally:
        con.close()


def _value(home, measure, unit, period=date(2025, 3, 1)):
    rows = _rows(
        home,
        "SELECT * FROM marts.measure_values WHERE measure = ? AND unit = ? AND period_start = ?",
        [measure, unit, period],
    )
    assert len(rows) == 1, (measure, unit, rows)
    return rows[0]


def test_whole_graph_hand_computed(pipeline_home, clock):
    home = pipeline_home
    _run(home)

    # --- ingestion: 6 NPS rows, one (score 11) quarantined; every file in the ledger
    ledger = {r["source"]: r for r in _rows(home, "SELECT * FROM ops.file_ledger")}
    assert ledger["nps"]["status"] == "loaded"
    assert (ledger["nps"]["rows_loaded"], ledger["nps"]["rows_quarantined"]) == (5, 1)
    reasons = _rows(home, "SELECT reason, row_number FROM ops.quarantine")
    assert len(reasons) == 1 and reasons[0]["row_number"] == 7 and "11" in reasons[0]["reason"]

    # --- measure values
    # A: 10, 9, 6 -> promoters 2/3, detractors 1/3 -> NPS 33.33
    assert _value(home, "nps", "A")["value"] == pytest.approx(100 / 3)
    # B: 10, 0 -> 50% - 50% = 0
    assert _value(home, "nps", "B")["value"] == pytest.approx(0.0)
    # all, pooled: 10, 9, 6, 10, 0 -> 3/5 - 2/5 = 20; var = 1.0 - 0.2^2 = 0.96;
    # MoE = 1.96 * sqrt(0.96 / 5) * 100 = 85.88 -> 20 - 85.88 = -65.88, 105.88 clipped to 100
    nps_all = _value(home, "nps", "all")
    assert nps_all["value"] == pytest.approx(20.0)
    assert nps_all["n"] == 5
    assert nps_all["ci_low"] == pytest.approx(-65.88, abs=0.01)
    assert nps_all["ci_high"] == pytest.approx(100.0)
    assert _value(home, "revenue", "all")["value"] == pytest.approx(1500.0)
    # upsell rate: A 100 / 1000; all 100 / 1500; B has revenue but no upsell -> NULL with a reason
    assert _value(home, "upsell_rate", "A")["value"] == pytest.approx(0.1)
    assert _value(home, "upsell_rate", "all")["value"] == pytest.approx(100 / 1500)
    b_rate = _value(home, "upsell_rate", "B")
    assert b_rate["value"] is None and b_rate["note"]

    # --- readiness: A = mean(leadership (4+4)/2, culture (4+3)/2) = 3.75 by 2 assessors -> ready
    # from February; B scores 4.0 but has a single assessor -> not ready, no blocking dimension
    gates = {
        (r["unit"], r["period_start"]): r
        for r in _rows(home, "SELECT * FROM marts.readiness_gates")
    }
    # one row per unit per period from February (first assessment) through March ("now")
    assert sorted(gates) == [
        ("A", date(2025, 2, 1)),
        ("A", date(2025, 3, 1)),
        ("B", date(2025, 2, 1)),
        ("B", date(2025, 3, 1)),
    ]
    a_march = gates[("A", date(2025, 3, 1))]
    assert a_march["ready"] is True and a_march["score"] == pytest.approx(3.75)
    assert a_march["ready_since"] == date(2025, 2, 1)
    b_march = gates[("B", date(2025, 3, 1))]
    assert b_march["ready"] is False and b_march["blocking_dimensions"] == []

    # --- feedback: r3 (A, 6) acted after 23 h (within 48 h); r5 (B, 0) held, B not ready
    items = {r["feedback_id"]: r for r in _rows(home, "SELECT * FROM marts.feedback_items")}
    assert set(items) == {"r3", "r5"}
    assert items["r3"]["status"] == "acted" and items["r3"]["hours_to_action"] == pytest.approx(23)
    assert items["r5"]["status"] == "held_not_ready" and items["r5"]["in_loop"] is False
    loop = {
        r["unit"]: r
        for r in _rows(
            home, "SELECT * FROM marts.feedback_loop WHERE period_start = DATE '2025-03-01'"
        )
    }
    assert (loop["A"]["items"], loop["A"]["acted_within_sla"], loop["A"]["held_not_ready"]) == (
        1,
        1,
        0,
    )
    assert loop["A"]["median_hours_to_action"] == pytest.approx(23)
    assert (loop["B"]["items"], loop["B"]["in_loop"], loop["B"]["held_not_ready"]) == (1, 0, 1)

    # --- outcome tree in March: expected progress = (Mar 31 - Jan 1) / (Dec 31 - Jan 1)
    # = 89 / 364 = 0.2445; revenue (1500 - 1000) / 1000 = 0.5; nps 20 / 50 = 0.4
    tree = {
        r["node"]: r
        for r in _rows(
            home,
            "SELECT * FROM marts.outcome_progress WHERE unit = 'all' "
            "AND period_start = DATE '2025-03-01'",
        )
    }
    assert set(tree) == {"revenue", "customer_delight", "nps"}
    assert tree["revenue"]["progress"] == pytest.approx(0.5)
    assert tree["revenue"]["expected_progress"] == pytest.approx(89 / 364)
    assert tree["revenue"]["children_progress"] == pytest.approx(0.4)
    assert tree["nps"]["progress"] == pytest.approx(0.4)
    assert tree["customer_delight"]["progress"] == pytest.approx(0.4)
    assert {r["status"] for r in tree.values()} == {"on_track"}

    # --- the snapshot: same marts, plus meta, orphans and the drill-down responses
    snap = home / "serving" / "current.duckdb"
    meta = query_snapshot(snap, "SELECT * FROM serving.meta").to_pylist()[0]
    assert meta["built_at"] == clock  # the run's time, not the wall clock
    # the newest event: the upsell closed on 2025-03-10 (the last response is 2025-03-07 10:00)
    assert meta["data_through"] == datetime(2025, 3, 10, 0, 0)
    assert meta["contract_version"] == "1"
    assert len(meta["strategy_sha256"]) == 64
    orphans = query_snapshot(snap, "SELECT feedback_id FROM serving.orphan_actions").to_pylist()
    assert orphans == [{"feedback_id": "zz"}]
    n_snap = query_snapshot(snap, "SELECT count(*) AS n FROM marts.measure_values").to_pylist()
    n_wh = _rows(home, "SELECT count(*) AS n FROM marts.measure_values")
    assert n_snap[0]["n"] == n_wh[0]["n"]
    responses = query_snapshot(snap, "SELECT count(*) AS n FROM serving.responses").to_pylist()
    assert responses[0]["n"] == 5


def _marts(home):
    return {m: _rows(home, f"SELECT * FROM marts.{m} ORDER BY ALL") for m in MART_NAMES}


def test_running_twice_on_an_unchanged_inbox_gives_identical_marts(pipeline_home):
    home = pipeline_home
    _run(home)
    first = _marts(home)
    ledger_before = _rows(home, "SELECT count(*) AS n FROM ops.file_ledger")
    _run(home)
    assert _marts(home) == first
    assert _rows(home, "SELECT count(*) AS n FROM ops.file_ledger") == ledger_before


def test_dashboard_read_path_never_fails_while_runs_write(pipeline_home):
    home = pipeline_home
    _run(home)
    snap = home / "serving" / "current.duckdb"
    errors: list[Exception] = []
    reads = 0
    stop = threading.Event()

    def reader():
        nonlocal reads
        while not stop.is_set():
            try:
                query_snapshot(snap, "SELECT count(*) FROM marts.measure_values")
                query_snapshot(snap, "SELECT built_at FROM serving.meta")
                reads += 1
            except Exception as exc:  # noqa: BLE001 - the test counts every failure
                errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for day in range(3):
            path = home / "inbox" / "nps" / f"more_{day}.csv"
            path.write_text(
                "response_id,responded_at,unit,score,account_id,comment\n"
                f"x{day},2025-03-1{day} 10:00:00,A,9,acc9,more\n"
            )
            _run(home)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert reads > 10
    final = query_snapshot(
        snap, "SELECT n FROM marts.measure_values WHERE measure = 'nps' AND unit = 'all'"
    ).to_pylist()
    assert final == [{"n": 8}]


def test_editing_the_strategy_recomputes_the_marts(pipeline_home):
    home = pipeline_home
    _run(home)
    strategy = home / "strategy.yaml"
    # a new target for nps (50 -> 40): March progress becomes 20 / 40 = 0.5
    strategy.write_text(strategy.read_text().replace("target: {value: 50,", "target: {value: 40,"))
    _run(home)
    [nps] = _rows(
        home,
        "SELECT progress, target FROM marts.outcome_progress WHERE node = 'nps' AND unit = 'all' "
        "AND period_start = DATE '2025-03-01'",
    )
    assert (nps["target"], nps["progress"]) == (40.0, pytest.approx(0.5))


def test_an_invalid_strategy_fails_the_run_with_the_checks_messages(pipeline_home):
    home = pipeline_home
    _run(home)
    strategy = home / "strategy.yaml"
    strategy.write_text(strategy.read_text().replace("threshold: 3.5", "threshold: 7"))
    result = materialize_all(settings())
    assert not result.success
    failures = [
        e.event_specific_data.error.message
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]
    assert any("readiness.threshold" in message for message in failures)


@pytest.mark.parametrize("home", ["O'Brien's home"], indirect=True)
def test_a_home_path_with_an_apostrophe_works_end_to_end(pipeline_home, clock):
    # Paths written into SQL (ATTACH of the snapshot, SET, the readers' attach) are quoted.
    home = pipeline_home
    assert "'" in str(home)
    _run(home)
    snap = home / "serving" / "current.duckdb"
    meta = query_snapshot(snap, "SELECT built_at FROM serving.meta").to_pylist()
    assert meta == [{"built_at": clock}]
    items = query_snapshot(snap, "SELECT count(*) AS n FROM marts.feedback_items").to_pylist()
    assert items == [{"n": 2}]
    assert sorted(p.name for p in snap.parent.iterdir()) == ["current.duckdb", "parts"]
    leftovers = [p for p in (snap.parent / "parts").rglob("*") if p.name.startswith(".")]
    assert leftovers == []  # no temporary part or staging folder left behind
