"""The demo's story holds in the marts: `outcomeloop demo` then `outcomeloop run`."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from metrics.config import settings
from pipelines.cli import main

UNTIL = date(2026, 6, 30)


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    home = tmp_path_factory.mktemp("story")
    mp = pytest.MonkeyPatch()
    mp.setenv("OUTCOMELOOP_HOME", str(home))
    mp.setenv("DAGSTER_HOME", str(home / "dagster"))
    try:
        assert main(["demo", "--months", "12", "--until", UNTIL.isoformat(), "--scale", "0.3"]) == 0
        assert main(["run"]) == 0
        con = duckdb.connect(str(settings().warehouse), read_only=True)
        yield home, con
        con.close()
    finally:
        mp.undo()


def _all(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()


def test_units_pass_their_gate_at_different_times_and_one_never(story):
    _, con = story
    latest = _all(
        con,
        "SELECT unit, ready, ready_since FROM marts.readiness_gates "
        "WHERE period_start = DATE '2026-06-01' ORDER BY unit",
    )
    ready = {u for u, r, _ in latest if r}
    assert ready and len(ready) < len(latest)
    since = {u: s for u, r, s in latest if r}
    assert min(since, key=since.get) in {"Sales", "Marketing"}
    assert ("Billing", False) in {(u, r) for u, r, _ in latest}


def test_feedback_is_held_only_in_periods_when_the_unit_was_not_ready(story):
    _, con = story
    wrong = _all(
        con,
        """SELECT count(*) FROM marts.feedback_items i
           JOIN marts.readiness_gates g ON g.unit = i.unit
             AND g.period_start = CAST(date_trunc('month', i.received_at) AS DATE)
           WHERE (i.status = 'held_not_ready') = g.ready""",
    )[0][0]
    held = _all(con, "SELECT count(*) FROM marts.feedback_items WHERE status='held_not_ready'")
    assert wrong == 0
    assert held[0][0] > 0


def test_ready_units_act_within_the_sla_mostly(story):
    _, con = story
    acted, decided = _all(
        con,
        "SELECT count(*) FILTER (status = 'acted'), count(*) FILTER (status <> 'open') "
        "FROM marts.feedback_items WHERE in_loop",
    )[0]
    assert decided > 50
    assert acted / decided > 0.6


def test_nps_improves_in_units_that_passed(story):
    _, con = story
    rows = _all(
        con,
        """WITH ready AS (SELECT unit FROM marts.readiness_gates
                          WHERE period_start = DATE '2026-06-01' AND ready),
                q AS (SELECT unit, avg(value) FILTER (period_start < DATE '2025-10-01') AS first_q,
                             avg(value) FILTER (period_start >= DATE '2026-04-01') AS last_q
                      FROM marts.measure_values WHERE measure = 'nps' GROUP BY unit)
           SELECT q.unit, first_q, last_q FROM q JOIN ready USING (unit)""",
    )
    assert rows
    for unit, first_q, last_q in rows:
        assert last_q > first_q, unit


def test_planted_flaws_are_visible_with_their_reasons(story):
    _, con = story
    statuses = dict(
        _all(con, "SELECT status, count(*) FROM ops.file_ledger WHERE source='nps' GROUP BY 1")
    )
    assert statuses.get("duplicate") == 1
    assert statuses.get("rejected", 0) == 0
    filtered = _all(con, "SELECT sum(rows_filtered) FROM ops.file_ledger WHERE source = 'nps'")
    assert filtered[0][0] >= 2  # the survey preview and the test response
    reasons = [r for (r,) in _all(con, "SELECT reason FROM ops.quarantine WHERE source = 'nps'")]
    assert any("10+" in r for r in reasons)
    assert any("unit" in r.lower() for r in reasons)
