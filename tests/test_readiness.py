"""The readiness gate per unit and period, and the latest readiness per unit and dimension."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from metrics.gates import gap_to_pass, gate_streak
from metrics.readiness import (
    GATES_SCHEMA,
    READINESS_SCHEMA,
    readiness,
    readiness_gates,
)

DEC, JAN, FEB, MAR, APR = (
    date(2024, 12, 1),
    date(2025, 1, 1),
    date(2025, 2, 1),
    date(2025, 3, 1),
    date(2025, 4, 1),
)
NOW = datetime(2025, 4, 15, 9, 0)
READINESS = {
    "dimensions": ["leadership", "culture", "process"],
    "threshold": 3.5,
    "floor": 2.5,
    "min_assessors": 2,
}

# (assessed_at, unit, dimension, score, assessor_id)
ASSESSMENTS = [
    # Missing: process never scored
    ("2025-01-10", "Missing", "leadership", 4, "x"),
    ("2025-01-10", "Missing", "culture", 4, "y"),
    # Floor: mean 4 passes the threshold, but process 2 is below the floor
    ("2025-01-10", "Floor", "leadership", 5, "x"),
    ("2025-01-10", "Floor", "culture", 5, "x"),
    ("2025-01-10", "Floor", "process", 2, "y"),
    # Low: mean 3.33 misses the threshold; the dimensions below it block
    ("2025-01-10", "Low", "leadership", 4, "x"),
    ("2025-01-10", "Low", "culture", 3, "x"),
    ("2025-01-10", "Low", "process", 3, "y"),
    # Solo: good scores from a single assessor
    ("2025-01-10", "Solo", "leadership", 4, "x"),
    ("2025-01-10", "Solo", "culture", 4, "x"),
    ("2025-01-10", "Solo", "process", 4, "x"),
    # Anon: rows without assessor_id are one (anonymous) assessor, beside x
    ("2025-01-10", "Anon", "leadership", 4, "x"),
    ("2025-01-10", "Anon", "culture", 4, None),
    ("2025-01-10", "Anon", "process", 4, None),
    # Newer: y rescoring process on February's last day replaces the 2
    ("2025-01-10", "Newer", "leadership", 4, "x"),
    ("2025-01-10", "Newer", "culture", 4, "x"),
    ("2025-01-10", "Newer", "process", 2, "y"),
    ("2025-02-28", "Newer", "process", 4, "y"),
    # Streak: ready in January, culture drops in February, recovers in March
    ("2025-01-05", "Streak", "leadership", 4, "x"),
    ("2025-01-05", "Streak", "culture", 4, "x"),
    ("2025-01-05", "Streak", "process", 4, "y"),
    ("2025-02-05", "Streak", "culture", 2, "x"),
    ("2025-03-03", "Streak", "culture", 4, "x"),
    # Avg: leadership (3 + 4) / 2 = 3.5; mean over dimensions (3.5 + 4 + 3) / 3 = 3.5 exactly
    ("2025-01-10", "Avg", "leadership", 3, "x"),
    ("2025-01-10", "Avg", "leadership", 4, "y"),
    ("2025-01-10", "Avg", "culture", 4, "x"),
    ("2025-01-10", "Avg", "process", 3, "y"),
    # a dimension the strategy does not have is ignored
    ("2025-01-10", "Avg", "budget", 1, "x"),
]


@pytest.fixture
def gate_warehouse(ibis_warehouse):
    ibis_warehouse.insert(
        "readiness",
        [
            {"assessed_at": a, "unit": u, "dimension": d, "score": s, "assessor_id": who}
            for a, u, d, s, who in ASSESSMENTS
        ],
    )
    # Quiet only answered a survey, in December: the earliest period of all
    ibis_warehouse.insert(
        "nps",
        [{"response_id": "q", "responded_at": "2024-12-20 10:00", "unit": "Quiet", "score": 3}],
    )
    return ibis_warehouse


@pytest.fixture
def gates(gate_warehouse, ibis_strategy):
    strategy = ibis_strategy(readiness=READINESS)
    rows = gate_warehouse.rows(readiness_gates(gate_warehouse.events(), strategy, NOW))
    return {(r["unit"], r["period_start"]): r for r in rows}


def test_gates_cover_every_unit_and_period_through_now(gates):
    units = {"Missing", "Floor", "Low", "Solo", "Anon", "Newer", "Streak", "Avg", "Quiet"}
    assert set(gates) == {(u, p) for u in units for p in (DEC, JAN, FEB, MAR, APR)}
    quiet = gates[("Quiet", APR)]
    assert quiet["ready"] is False and quiet["score"] is None
    assert quiet["blocking_dimensions"] == ["leadership", "culture", "process"]
    # before its first assessment a unit has nothing scored
    assert gates[("Streak", DEC)]["blocking_dimensions"] == ["leadership", "culture", "process"]


@pytest.mark.parametrize(
    ("unit", "score", "blocking"),
    [
        ("Missing", 4.0, ["process"]),
        ("Floor", 4.0, ["process"]),
        ("Low", 10 / 3, ["culture", "process"]),
        ("Solo", 4.0, []),  # only the assessor count blocks
    ],
)
def test_what_blocks_the_gate(gates, unit, score, blocking):
    row = gates[(unit, MAR)]
    assert row["ready"] is False
    assert row["score"] == pytest.approx(score)
    assert row["blocking_dimensions"] == blocking
    assert row["ready_since"] is None


def test_anonymous_assessor_counts_once_and_threshold_is_inclusive(gates):
    anon = gates[("Anon", JAN)]
    assert (anon["ready"], anon["ready_since"], anon["blocking_dimensions"]) == (True, JAN, [])
    avg = gates[("Avg", JAN)]
    assert avg["score"] == pytest.approx(3.5)
    assert avg["ready"] is True


def test_newer_score_replaces_the_older(gates):
    assert gates[("Newer", JAN)]["blocking_dimensions"] == ["process"]
    assert gates[("Newer", JAN)]["ready"] is False
    feb = gates[("Newer", FEB)]  # the rescore on 28 February counts for February
    assert (feb["ready"], feb["score"], feb["ready_since"]) == (True, 4.0, FEB)
    assert gates[("Newer", APR)]["ready_since"] == FEB


def test_ready_since_resets_after_a_drop(gates):
    streak = [
        (gates[("Streak", p)]["ready"], gates[("Streak", p)]["ready_since"])
        for p in (DEC, JAN, FEB, MAR, APR)
    ]
    assert streak == [(False, None), (True, JAN), (False, None), (True, MAR), (True, MAR)]
    assert gates[("Streak", FEB)]["blocking_dimensions"] == ["culture"]


def test_readiness_latest_per_unit_and_dimension(gate_warehouse, ibis_strategy):
    strategy = ibis_strategy(readiness=READINESS)
    expr = readiness(gate_warehouse.events(), strategy)
    assert expr.schema() == READINESS_SCHEMA
    rows = {(r["unit"], r["dimension"]): r for r in gate_warehouse.rows(expr)}
    assert ("Avg", "budget") not in rows
    newer = rows[("Newer", "process")]
    assert (newer["score"], newer["n_assessors"], newer["as_of"]) == (4.0, 1, date(2025, 2, 28))
    avg = rows[("Avg", "leadership")]
    assert (avg["score"], avg["n_assessors"], avg["as_of"]) == (3.5, 2, date(2025, 1, 10))
    assert rows[("Streak", "culture")]["score"] == 4.0
    assert len(rows) == 3 * 8 - 1  # 8 assessed units x 3 dimensions, Missing lacks process


def test_empty_events_give_typed_empty_tables(ibis_warehouse, ibis_strategy):
    strategy = ibis_strategy(readiness=READINESS)
    for events in (ibis_warehouse.events(), {}):
        gates = readiness_gates(events, strategy, NOW)
        assert gates.schema() == GATES_SCHEMA
        assert gates.to_pyarrow().num_rows == 0
        assert readiness(events, strategy).to_pyarrow().num_rows == 0


# --- how far a unit is from passing, and since when it is (not) ready -------------------------------

DIMS = ["a", "b", "c"]


@pytest.mark.parametrize(
    ("scores", "gap"),
    [
        ({"a": 4.0, "b": 4.0, "c": 4.0}, 0.0),  # passes
        ({"a": 3.0, "b": 3.0, "c": 3.0}, 0.5),  # mean 3.0, 0.5 short of 3.5
        ({"a": 4.0, "b": 2.0, "c": 3.6}, 0.8),  # mean 3.2 (0.3 short) + b 0.5 below the floor
        ({"a": 5.0, "b": 2.0, "c": 5.0}, 0.5),  # mean 4.0 passes, b 0.5 below the floor
        ({"a": 4.0, "b": 2.0}, 4.0),  # c missing: 3.5 + b 0.5 below the floor; mean not counted
        ({"a": 4.0, "b": float("nan"), "c": 4.0}, 3.5),  # NaN is not scored
        ({}, 10.5),  # nothing scored: three thresholds
    ],
)
def test_gap_to_pass(scores, gap):
    assert gap_to_pass(scores, DIMS, threshold=3.5, floor=2.5) == pytest.approx(gap)


def _gates_frame():
    import pandas as pd

    return pd.DataFrame(
        {
            "unit": ["A"] * 4 + ["B"] * 2,
            "period_start": [JAN, FEB, MAR, APR, JAN, FEB],
            "score": [3.0, 3.8, 3.9, 3.1, 3.6, 3.7],
            "ready": [False, True, True, False, True, True],
            "blocking_dimensions": [["data"], [], [], ["people", "data"], [], []],
            "ready_since": [None, FEB, FEB, None, None, None],
        }
    )


@pytest.mark.parametrize(
    ("unit", "period", "ready", "since", "score", "blocking"),
    [
        ("A", None, False, APR, 3.1, ["people", "data"]),  # latest: not ready since April
        ("A", MAR, True, FEB, 3.9, []),  # ready since February (ready_since)
        ("A", FEB, True, FEB, 3.8, []),
        ("A", JAN, False, JAN, 3.0, ["data"]),
        ("B", None, True, JAN, 3.7, []),  # no ready_since stored: the streak's first period
        ("A", DEC, None, None, None, []),  # before the first gate: not assessed
        ("C", None, None, None, None, []),  # unknown unit
    ],
)
def test_gate_streak(unit, period, ready, since, score, blocking):
    state = gate_streak(_gates_frame(), unit, period)
    assert (state.ready, state.since, state.score, state.blocking) == (
        ready,
        since,
        score,
        blocking,
    )
