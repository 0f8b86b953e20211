"""Feedback items and the feedback loop: statuses, the SLA, the readiness gate, the roll-up."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from metrics.feedback import (
    ITEMS_SCHEMA,
    LOOP_SCHEMA,
    feedback_items,
    feedback_loop,
)
from metrics.readiness import readiness_gates
from metrics.sla import within_sla_share, within_sla_shares

JAN, FEB, MAR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)
NOW = datetime(2025, 3, 31, 12, 0)
READINESS = {"dimensions": ["process"], "threshold": 3.5, "floor": 2.5, "min_assessors": 1}
LOOP = {"sla_hours": 48, "nps_detractor_max": 6, "ces_high_effort_max": 3}


@pytest.fixture
def loop_warehouse(ibis_warehouse):
    wh = ibis_warehouse
    # Unit A passes its assessment on 1 February; unit B never does.
    wh.insert(
        "readiness",
        [{"assessed_at": "2025-02-01", "unit": "A", "dimension": "process", "score": 4}],
    )
    nps = [
        # id, responded_at, unit, score
        ("held", "2025-01-15 10:00", "A", 3),  # January: A not ready yet
        ("acted", "2025-02-10 10:00", "A", 6),  # first action after 24h
        ("quick", "2025-02-10 10:00", "A", 5),  # after 10h
        ("edge", "2025-02-10 10:00", "A", 4),  # exactly at the deadline (48h)
        ("late", "2025-02-10 10:00", "A", 0),  # after 72h
        ("over", "2025-02-10 10:00", "A", 2),  # only an action before the response
        ("open", "2025-03-30 10:00", "A", 2),  # due 1 April, now is 31 March
        ("promoter", "2025-03-30 10:00", "A", 9),  # not an item
        ("passive", "2025-03-30 10:00", "A", 7),  # not an item
        ("b1", "2025-03-02 10:00", "B", 1),  # B is never ready
    ]
    wh.insert(
        "nps",
        [
            {"response_id": i, "responded_at": at, "unit": u, "score": s, "comment": f"c-{i}"}
            for i, at, u, s in nps
        ],
    )
    wh.insert(
        "ces",
        [
            {"response_id": "hard", "responded_at": "2025-02-11 00:00", "unit": "A", "score": 3},
            {"response_id": "fine", "responded_at": "2025-02-11 00:00", "unit": "A", "score": 4},
        ],
    )
    actions = [
        ("acted", "2025-02-11 10:00"),
        ("acted", "2025-02-13 10:00"),  # a second action does not change the first
        ("quick", "2025-02-10 20:00"),
        ("edge", "2025-02-12 10:00"),
        ("late", "2025-02-13 10:00"),
        ("over", "2025-02-09 10:00"),  # before the response: does not count
        ("held", "2025-01-15 12:00"),  # acted upon, but held items stay held
        ("ghost", "2025-02-01 00:00"),  # an orphan action
    ]
    wh.insert(
        "feedback_actions",
        [{"feedback_id": i, "action_at": at, "action_type": "call"} for i, at in actions],
    )
    return wh


@pytest.fixture
def strategy(ibis_strategy):
    return ibis_strategy(readiness=READINESS, feedback_loop=LOOP)


@pytest.fixture
def computed(loop_warehouse, strategy):
    events = loop_warehouse.events()
    gates = readiness_gates(events, strategy, NOW)
    items = feedback_items(events, strategy, gates, NOW)
    return loop_warehouse, gates, items


def test_each_status_is_reached(computed):
    wh, _, items = computed
    rows = {r["feedback_id"]: r for r in wh.rows(items)}
    assert {i: r["status"] for i, r in rows.items()} == {
        "held": "held_not_ready",
        "acted": "acted",
        "quick": "acted",
        "edge": "acted",
        "late": "acted_late",
        "over": "overdue",
        "open": "open",
        "b1": "held_not_ready",
        "hard": "overdue",
    }
    acted = rows["acted"]
    assert acted["in_loop"] is True
    assert acted["source"] == "nps" and acted["unit"] == "A" and acted["comment"] == "c-acted"
    assert acted["received_at"] == datetime(2025, 2, 10, 10)
    assert acted["due_at"] == datetime(2025, 2, 12, 10)
    assert acted["first_action_at"] == datetime(2025, 2, 11, 10)
    assert acted["hours_to_action"] == 24.0
    assert rows["late"]["hours_to_action"] == 72.0
    assert rows["hard"]["source"] == "ces" and rows["hard"]["score"] == 3.0
    assert rows["hard"]["due_at"] == datetime(2025, 2, 13, 0)


def test_action_before_the_response_does_not_count(computed):
    wh, _, items = computed
    over = next(r for r in wh.rows(items) if r["feedback_id"] == "over")
    assert over["first_action_at"] is None and over["hours_to_action"] is None


def test_held_even_though_the_unit_is_ready_later(computed):
    wh, gates, items = computed
    ready = {(g["unit"], g["period_start"]): g["ready"] for g in wh.rows(gates)}
    assert (ready[("A", JAN)], ready[("A", FEB)], ready[("A", MAR)]) == (False, True, True)
    held = next(r for r in wh.rows(items) if r["feedback_id"] == "held")
    assert held["in_loop"] is False and held["status"] == "held_not_ready"
    assert (held["due_at"], held["hours_to_action"]) == (None, None)
    # Its action is still its first action (contract v2): only the loop's counts leave it out.
    assert held["first_action_at"] == datetime(2025, 1, 15, 12)


def test_feedback_loop_counts_and_median(computed, strategy):
    wh, gates, items = computed
    expr = feedback_loop(items, gates, strategy)
    assert expr.schema() == LOOP_SCHEMA
    rows = {(r["unit"], r["period_start"]): r for r in wh.rows(expr)}
    # a row for every unit x period of the gates: A and B, January..March
    assert set(rows) == {(u, p) for u in "AB" for p in (JAN, FEB, MAR)}
    feb = rows[("A", FEB)]
    counts = {k: v for k, v in feb.items() if k not in ("unit", "period_start")}
    assert counts == {
        "items": 6,  # acted, quick, edge, late, over, hard
        "in_loop": 6,
        "acted": 4,
        "acted_within_sla": 3,
        "acted_late": 1,
        "overdue": 2,
        "open": 0,
        "held_not_ready": 0,
        # hours to action 10, 24, 48, 72: median (24 + 48) / 2
        "median_hours_to_action": 36.0,
        "closed_with_customer": 0,  # every action is a call
    }
    assert rows[("A", JAN)]["items"] == 1 and rows[("A", JAN)]["held_not_ready"] == 1
    assert rows[("A", JAN)]["median_hours_to_action"] is None
    assert rows[("A", MAR)]["open"] == 1
    assert rows[("B", MAR)]["held_not_ready"] == 1
    quiet = rows[("B", FEB)]
    assert [quiet[k] for k in ("items", "in_loop", "acted", "overdue")] == [0, 0, 0, 0]


def test_arrival_period_is_bucketed_in_the_strategy_zone(ibis_warehouse, ibis_strategy):
    # 31 January 23:30 UTC is 1 February in Berlin, where the unit is ready
    ibis_warehouse.insert(
        "readiness",
        [{"assessed_at": "2025-02-01", "unit": "A", "dimension": "process", "score": 4}],
    )
    ibis_warehouse.insert(
        "nps",
        [{"response_id": "r", "responded_at": "2025-01-31 23:30", "unit": "A", "score": 0}],
    )
    statuses = {}
    for zone in ("Europe/Berlin", "UTC"):
        strategy = ibis_strategy(readiness=READINESS, feedback_loop=LOOP, timezone=zone)
        events = ibis_warehouse.events()
        gates = readiness_gates(events, strategy, NOW)
        rows = ibis_warehouse.rows(feedback_items(events, strategy, gates, NOW))
        statuses[zone] = [r["status"] for r in rows]
    assert statuses == {"Europe/Berlin": ["overdue"], "UTC": ["held_not_ready"]}


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_no_responses_give_typed_empty_tables(ibis_warehouse, ibis_strategy, zone):
    strategy = ibis_strategy(readiness=READINESS, feedback_loop=LOOP, timezone=zone)
    for events in (ibis_warehouse.events(), {}):
        gates = readiness_gates(events, strategy, NOW)
        items = feedback_items(events, strategy, gates, NOW)
        assert items.schema() == ITEMS_SCHEMA
        assert items.to_pyarrow().num_rows == 0
        loop = feedback_loop(items, gates, strategy)
        assert loop.schema() == LOOP_SCHEMA
        assert loop.to_pyarrow().num_rows == 0


# --- the within-SLA share the feedback-loop page shows ---------------------------------------------


@pytest.mark.parametrize(
    ("acted_within_sla", "acted_late", "overdue", "share"),
    [
        (1, 0, 1, 0.5),  # one in time, one overdue
        (3, 1, 0, 0.75),  # three in time of four acted
        (0, 2, 2, 0.0),  # all due, none in time
        (2, 1, 1, 0.5),
        (5, 0, 0, 1.0),
        (0, 0, 0, None),  # nothing due yet: no share, not 0%
    ],
)
def test_within_sla_share(acted_within_sla, acted_late, overdue, share):
    assert within_sla_share(acted_within_sla, acted_late, overdue) == share


def test_within_sla_shares_is_the_share_per_row_and_ignores_open_items():
    import pandas as pd

    counts = pd.DataFrame(
        {
            "acted_within_sla": [1, 0, 3, 0],
            "acted_late": [0, 0, 1, 2],
            "overdue": [1, 0, 0, 2],
            "open": [7, 4, 0, 9],  # not yet due: counts neither way
        }
    )
    shares = within_sla_shares(counts)
    assert shares.dtype == "float64"
    assert shares.iloc[0] == 0.5 and shares.iloc[2] == 0.75 and shares.iloc[3] == 0.0
    assert pd.isna(shares.iloc[1])  # nothing due: a gap in the trend, not 0%
    for (_, row), share in zip(counts.iterrows(), shares, strict=True):
        scalar = within_sla_share(row["acted_within_sla"], row["acted_late"], row["overdue"])
        assert (scalar is None and pd.isna(share)) or scalar == share
