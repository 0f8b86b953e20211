"""Closing the loop (DESIGN.md "Contract v2 / Closing the loop"), every definition by hand.

The story: unit A is ready from February, C from January, B never. Account X answers the NPS
survey several times: on 3 February (a0, a promoter, and a1, a detractor, at the same instant), on
20 February (a2 in unit B and a3 in A, at the same instant), and on 5 March (a9 and a10 at the
same instant, where "a10" < "a9" as text). X also answers the CES survey (c1, c2), which never
follows up an NPS item. Y's January detractor is held (A not ready yet) and answers again in
February; W and V are C's customers; V's follow-up arrives in unit A.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from metrics.feedback import ITEMS_SCHEMA, LOOP_SCHEMA, feedback_items, feedback_loop
from metrics.loop import OUTCOMES_SCHEMA, ROOT_CAUSES_SCHEMA, loop_outcomes, root_causes
from metrics.readiness import readiness_gates

JAN, FEB, MAR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)
NOW = datetime(2025, 3, 31, 12, 0)
READINESS = {"dimensions": ["process"], "threshold": 3.5, "floor": 2.5, "min_assessors": 1}
LOOP = {"sla_hours": 48, "nps_detractor_max": 6, "ces_high_effort_max": 3}

NPS = [
    # id, responded_at, unit, score, account_id
    ("a0", "2025-02-03 10:00", "A", 10, "X"),  # same instant as a1: not its follow-up
    ("a1", "2025-02-03 10:00", "A", 3, "X"),
    ("a3", "2025-02-20 09:00", "A", 2, "X"),  # ties with a2 ("a2" < "a3")
    ("a2", "2025-02-20 09:00", "B", 9, "X"),  # a1's follow-up, in a held unit
    ("a9", "2025-03-05 12:00", "A", 10, "X"),
    ("a10", "2025-03-05 12:00", "A", 6, "X"),  # a3's follow-up: "a10" < "a9" as text
    ("b1", "2025-02-05 10:00", "A", 1, None),  # no account: no follow-up
    ("b2", "2025-02-06 10:00", "A", 4, "  "),  # a blank account is no account
    ("b3", "2025-02-07 10:00", "A", 9, "  "),
    ("h1", "2025-01-10 10:00", "A", 0, "Y"),  # held: A is not ready in January
    ("h2", "2025-02-10 10:00", "A", 8, "Y"),
    ("k1", "2025-02-15 10:00", "B", 2, "Z"),  # held: B is never ready
    ("k2", "2025-02-28 10:00", "B", 3, "Z"),  # k1's follow-up, itself an item
    ("d1", "2025-02-14 10:00", "C", 5, "W"),
    ("d2", "2025-02-27 10:00", "C", 9, "W"),
    ("d3", "2025-02-16 10:00", "C", 6, "V"),
    ("d4", "2025-03-02 10:00", "A", 7, "V"),  # d3's follow-up, in another unit
]
CES = [
    ("c1", "2025-02-11 10:00", "A", 2, "X"),
    ("c2", "2025-02-15 10:00", "A", 4, "X"),  # before a2, but another survey than a1's
]
ACTIONS = [
    # feedback_id, action_at, action_type, owner, root_cause
    ("a1", "2025-02-01 00:00", "call", "zed", "price"),  # before the item: not its action
    ("a1", "2025-02-04 09:00", "call", " ", "billing"),
    ("a1", "2025-02-04 09:00", "apology", "ana", "price"),  # same instant: apology < call
    ("a1", "2025-02-05 08:00", "fix", "ana", "delivery"),  # the last with a root cause
    ("a1", "2025-02-06 10:00", "customer_informed", "bo", "  "),  # a blank cause is none
    ("a3", "2025-03-06 08:00", "call", None, None),  # after a3's follow-up: not acted
    ("b1", "2025-02-05 12:00", "apology", "", "tone"),
    ("b1", "2025-02-05 12:00", "call", "eve", "staff"),  # same instant: call is the last
    ("h1", "2025-01-11 00:00", "customer_informed", "cy", "price"),
    ("k1", "2025-02-16 10:00", "call", "fay", "price"),
    ("d3", "2025-02-20 12:00", "call", "gus", "price"),  # late for the SLA, before the follow-up
    ("c1", "2025-02-12 10:00", "customer_informed", "di", "delivery"),
]


@pytest.fixture
def computed(ibis_warehouse, ibis_strategy):
    wh = ibis_warehouse
    wh.insert(
        "readiness",
        [
            {"assessed_at": "2025-02-01", "unit": "A", "dimension": "process", "score": 4},
            {"assessed_at": "2025-02-01", "unit": "B", "dimension": "process", "score": 2},
            {"assessed_at": "2025-01-01", "unit": "C", "dimension": "process", "score": 4},
        ],
    )
    for source, rows in (("nps", NPS), ("ces", CES)):
        wh.insert(
            source,
            [
                {"response_id": i, "responded_at": at, "unit": u, "score": s, "account_id": acc}
                for i, at, u, s, acc in rows
            ],
        )
    wh.insert(
        "feedback_actions",
        [
            {"feedback_id": i, "action_at": at, "action_type": t, "owner": o, "root_cause": rc}
            for i, at, t, o, rc in ACTIONS
        ],
    )
    strategy = ibis_strategy(readiness=READINESS, feedback_loop=LOOP)
    events = wh.events()
    gates = readiness_gates(events, strategy, NOW)
    items = feedback_items(events, strategy, gates, NOW)
    return wh, strategy, gates, items


def _ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


LOOP_COLUMNS = (
    "first_action_at",
    "owner",
    "root_cause",
    "closed_with_customer_at",
    "followup_response_id",
    "followup_at",
    "followup_score",
    "recovered",
)

EXPECTED_ITEMS = {
    # first action, owner, root cause, closed with the customer, follow-up id / at / score, recovered
    "a1": ("2025-02-04 09:00", "ana", "delivery", "2025-02-06 10:00", "a2", "2025-02-20 09:00", 9, True),
    "a3": ("2025-03-06 08:00", None, None, None, "a10", "2025-03-05 12:00", 6, False),
    "a10": (None, None, None, None, None, None, None, None),
    "b1": ("2025-02-05 12:00", None, "staff", None, None, None, None, None),
    "b2": (None, None, None, None, None, None, None, None),
    "h1": ("2025-01-11 00:00", "cy", "price", "2025-01-11 00:00", "h2", "2025-02-10 10:00", 8, True),
    "k1": ("2025-02-16 10:00", "fay", "price", None, "k2", "2025-02-28 10:00", 3, False),
    "k2": (None, None, None, None, None, None, None, None),  # a detractor too, held
    "d1": (None, None, None, None, "d2", "2025-02-27 10:00", 9, True),
    "d3": ("2025-02-20 12:00", "gus", "price", None, "d4", "2025-03-02 10:00", 7, True),
    "c1": ("2025-02-12 10:00", "di", "delivery", "2025-02-12 10:00", "c2", "2025-02-15 10:00", 4, True),
}  # fmt: skip


def test_every_item_gets_its_owner_root_cause_closing_and_follow_up(computed):
    wh, _, _, items = computed
    assert items.schema() == ITEMS_SCHEMA
    rows = {r["feedback_id"]: r for r in wh.rows(items)}
    assert set(rows) == set(EXPECTED_ITEMS)
    for item, expected in EXPECTED_ITEMS.items():
        first, owner, cause, closed, fid, fat, fscore, recovered = expected
        want = (_ts(first), owner, cause, _ts(closed), fid, _ts(fat), fscore, recovered)
        got = tuple(rows[item][c] for c in LOOP_COLUMNS)
        assert got == want, item


def test_held_items_keep_their_status_but_have_every_loop_column(computed):
    wh, _, _, items = computed
    rows = {r["feedback_id"]: r for r in wh.rows(items)}
    for held in ("h1", "k1"):
        assert rows[held]["status"] == "held_not_ready" and rows[held]["in_loop"] is False
        assert rows[held]["due_at"] is None and rows[held]["hours_to_action"] is None
    assert rows["d3"]["status"] == "acted_late"  # acted after the SLA, still before the follow-up


def test_loop_outcomes_compare_acted_with_not_acted_items(computed):
    wh, strategy, _, items = computed
    expr = loop_outcomes(items, strategy)
    assert expr.schema() == OUTCOMES_SCHEMA
    rows = {(r["unit"], r["period_start"], r["acted"]): r for r in wh.rows(expr)}
    counts = {k: (r["followed_up"], r["recovered"]) for k, r in rows.items()}
    # A, February: a1 and c1 acted before their follow-up and recovered; a3's action came after
    # its follow-up. C: d3 acted (late, but before the follow-up), d1 never. A's March item has
    # no follow-up; held items (h1, k1) never count. `all` pools A and C.
    assert counts == {
        ("A", FEB, True): (2, 2),
        ("A", FEB, False): (1, 0),
        ("C", FEB, True): (1, 1),
        ("C", FEB, False): (1, 1),
        ("all", FEB, True): (3, 3),
        ("all", FEB, False): (2, 1),
    }
    # Wilson 95% with z = 1.959964, as fractions clipped to 0..1. For 0 of 1 the upper bound is
    # z^2 / (1 + z^2) = 3.841459 / 4.841459.
    bounds = {k: (r["recovery_rate"], r["ci_low"], r["ci_high"]) for k, r in rows.items()}
    assert bounds[("A", FEB, False)] == pytest.approx((0.0, 0.0, 0.7934507), abs=1e-7)
    assert bounds[("A", FEB, True)] == pytest.approx((1.0, 0.3423802, 1.0), abs=1e-7)
    assert bounds[("C", FEB, True)] == pytest.approx((1.0, 0.2065493, 1.0), abs=1e-7)
    assert bounds[("all", FEB, True)] == pytest.approx((1.0, 0.4385030, 1.0), abs=1e-7)
    assert bounds[("all", FEB, False)] == pytest.approx((0.5, 0.0945312, 0.9054688), abs=1e-7)


def test_root_causes_count_in_loop_items_and_share_per_cell(computed):
    wh, strategy, _, items = computed
    expr = root_causes(items, strategy)
    assert expr.schema() == ROOT_CAUSES_SCHEMA
    rows = {(r["unit"], r["period_start"], r["root_cause"]): r for r in wh.rows(expr)}
    # A, February: a1 and c1 delivery, b1 staff (a3 has none). C: d3 price. Held h1 and k1
    # (price) are left out.
    assert {k: r["items"] for k, r in rows.items()} == {
        ("A", FEB, "delivery"): 2,
        ("A", FEB, "staff"): 1,
        ("C", FEB, "price"): 1,
        ("all", FEB, "delivery"): 2,
        ("all", FEB, "staff"): 1,
        ("all", FEB, "price"): 1,
    }
    assert {k: r["share"] for k, r in rows.items()} == pytest.approx({
        ("A", FEB, "delivery"): 2 / 3,
        ("A", FEB, "staff"): 1 / 3,
        ("C", FEB, "price"): 1.0,
        ("all", FEB, "delivery"): 0.5,
        ("all", FEB, "staff"): 0.25,
        ("all", FEB, "price"): 0.25,
    })  # fmt: skip


def test_feedback_loop_counts_items_closed_with_the_customer(computed):
    wh, strategy, gates, items = computed
    expr = feedback_loop(items, gates, strategy)
    assert expr.schema() == LOOP_SCHEMA
    closed = {(r["unit"], r["period_start"]): r["closed_with_customer"] for r in wh.rows(expr)}
    # a1 and c1 in A's February; h1 was told too, but it is held. 0, never NULL, elsewhere.
    assert closed == {
        ("A", JAN): 0,
        ("A", FEB): 2,
        ("A", MAR): 0,
        ("B", JAN): 0,
        ("B", FEB): 0,
        ("B", MAR): 0,
        ("C", JAN): 0,
        ("C", FEB): 0,
        ("C", MAR): 0,
    }


def test_closing_action_types_come_from_the_strategy(ibis_warehouse, ibis_strategy):
    wh = ibis_warehouse
    wh.insert(
        "readiness",
        [{"assessed_at": "2025-01-01", "unit": "A", "dimension": "process", "score": 4}],
    )
    wh.insert(
        "nps", [{"response_id": "r", "responded_at": "2025-02-01 10:00", "unit": "A", "score": 0}]
    )
    wh.insert(
        "feedback_actions",
        [
            {"feedback_id": "r", "action_at": "2025-02-02 10:00", "action_type": "customer_informed"},
            {"feedback_id": "r", "action_at": "2025-02-03 10:00", "action_type": "letter"},
        ],
    )  # fmt: skip
    closed = {}
    for types in (["customer_informed"], ["letter", "email"]):
        strategy = ibis_strategy(
            readiness=READINESS, feedback_loop={**LOOP, "closing_action_types": types}
        )
        events = wh.events()
        items = feedback_items(events, strategy, readiness_gates(events, strategy, NOW), NOW)
        closed[types[0]] = wh.rows(items)[0]["closed_with_customer_at"]
    assert closed == {
        "customer_informed": datetime(2025, 2, 2, 10),
        "letter": datetime(2025, 2, 3, 10),
    }


@pytest.mark.parametrize("with_actions", [True, False])
def test_no_follow_ups_or_actions_give_empty_loop_tables(
    ibis_warehouse, ibis_strategy, with_actions
):
    wh = ibis_warehouse
    wh.insert(
        "readiness",
        [{"assessed_at": "2025-01-01", "unit": "A", "dimension": "process", "score": 4}],
    )
    wh.insert(
        "nps", [{"response_id": "r", "responded_at": "2025-02-01 10:00", "unit": "A", "score": 0}]
    )
    events = wh.events()
    if not with_actions:
        events = {k: v for k, v in events.items() if k != "feedback_actions"}
    strategy = ibis_strategy(readiness=READINESS, feedback_loop=LOOP)
    items = feedback_items(events, strategy, readiness_gates(events, strategy, NOW), NOW)
    (row,) = wh.rows(items)
    assert all(row[c] is None for c in LOOP_COLUMNS)
    assert wh.rows(loop_outcomes(items, strategy)) == []
    assert wh.rows(root_causes(items, strategy)) == []


def test_no_responses_give_typed_empty_loop_tables(ibis_warehouse, ibis_strategy):
    strategy = ibis_strategy(readiness=READINESS, feedback_loop=LOOP)
    for events in (ibis_warehouse.events(), {}):
        items = feedback_items(events, strategy, readiness_gates(events, strategy, NOW), NOW)
        assert loop_outcomes(items, strategy).schema() == OUTCOMES_SCHEMA
        assert root_causes(items, strategy).schema() == ROOT_CAUSES_SCHEMA
        assert loop_outcomes(items, strategy).to_pyarrow().num_rows == 0
