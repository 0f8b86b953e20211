"""Progress up the outcome tree (metrics/progress.py), against hand-computed expectations."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from metrics.progress import (
    OUTCOME_PROGRESS_SCHEMA,
    expected_progress,
    expected_value,
    outcome_progress,
    period_end,
    progress,
    status,
)
from metrics.strategy import Point, Status, UnitTargets, validate_strategy

JAN, FEB = date(2025, 1, 1), date(2025, 2, 1)


def _point(value: float, day: str) -> dict:
    return {"value": value, "date": day}


def _strategy(period: str = "month"):
    """A small tree. Plans run 2025-01-01 -> 2025-05-01 (120 days), except a2's (-> 2025-03-02,
    60 days), so at the end of January (day 30) the expected progress is 30/120 = 0.25 and
    30/60 = 0.5 for a2.

        root (rev)
        |- A (weight 3): a1 (m1, weight 1), a2 (m2, weight 1, by_unit Sales)
        '- B (weight 1): b1 (m3, direction down)
    """
    raw = {
        "name": "test",
        "period": period,
        "measures": {
            "rev": {"source": "revenue", "kind": "sum", "field": "amount"},
            "m1": {"source": "nps", "kind": "nps"},
            "m2": {"source": "ces", "kind": "mean"},
            "m3": {"source": "cost", "kind": "sum_ratio", "field": "amount", "per": "contacts"},
        },
        "tree": {
            "id": "root",
            "measure": "rev",
            "baseline": _point(100, "2025-01-01"),
            "target": _point(200, "2025-05-01"),
            "children": [
                {
                    "id": "A",
                    "weight": 3,
                    "children": [
                        {
                            "id": "a1",
                            "measure": "m1",
                            "baseline": _point(0, "2025-01-01"),
                            "target": _point(40, "2025-05-01"),
                        },
                        {
                            "id": "a2",
                            "measure": "m2",
                            "baseline": _point(4, "2025-01-01"),
                            "target": _point(6, "2025-03-02"),
                            "by_unit": {
                                "Sales": {
                                    "baseline": _point(3, "2025-01-01"),
                                    "target": _point(5, "2025-05-01"),
                                }
                            },
                        },
                    ],
                },
                {
                    "id": "B",
                    "weight": 1,
                    "children": [
                        {
                            "id": "b1",
                            "measure": "m3",
                            "direction": "down",
                            "baseline": _point(14, "2025-01-01"),
                            "target": _point(10, "2025-05-01"),
                        }
                    ],
                },
            ],
        },
        "status": {"tolerance": 0.05, "at_risk_band": 0.15},
    }
    strategy, problems = validate_strategy(raw)
    assert problems == []
    return strategy


def _values(*rows: tuple) -> pa.Table:
    """measure_values rows: (measure, unit, period_start, value, n, ci_low, ci_high, suppressed)."""
    names = ["measure", "unit", "period_start", "value", "n", "ci_low", "ci_high", "suppressed"]
    columns = {name: [r[i] for r in rows] for i, name in enumerate(names)}
    columns["note"] = [None] * len(rows)
    schema = pa.schema(
        [
            ("measure", pa.string()),
            ("unit", pa.string()),
            ("period_start", pa.date32()),
            ("value", pa.float64()),
            ("n", pa.int64()),
            ("ci_low", pa.float64()),
            ("ci_high", pa.float64()),
            ("suppressed", pa.bool_()),
            ("note", pa.string()),
        ]
    )
    return pa.table(columns, schema=schema)


def _v(measure, value, unit="all", period=JAN, n=100, ci=(None, None), suppressed=False):
    return (measure, unit, period, value, n, ci[0], ci[1], suppressed)


def _by_node(table: pa.Table, unit: str = "all", period: date = JAN) -> dict[str, dict]:
    return {
        r["node"]: r for r in table.to_pylist() if r["unit"] == unit and r["period_start"] == period
    }


# --- the formulas ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "baseline", "target", "expected"),
    [
        (25, 10, 40, 0.5),  # (25 - 10) / (40 - 10) = 15 / 30
        (12, 14, 10, 0.5),  # direction down: (12 - 14) / (10 - 14) = -2 / -4
        (9, 14, 10, 1.0),  # down, better than target: (9 - 14) / -4 = 1.25 -> clipped to 1
        (45, 10, 40, 1.0),  # overshoot: 35 / 30 = 1.1667 -> clipped to 1
        (5, 10, 40, 0.0),  # regression below the baseline: -5 / 30 -> clipped to 0
        (15, 14, 10, 0.0),  # down, got worse: (15 - 14) / -4 = -0.25 -> clipped to 0
        (None, 10, 40, None),  # no value, no progress
        (float("nan"), 10, 40, None),
    ],
)
def test_progress(value, baseline, target, expected):
    assert progress(value, baseline, target) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("start", "period", "end"),
    [
        (date(2025, 1, 1), "month", date(2025, 1, 31)),
        (date(2025, 2, 1), "month", date(2025, 2, 28)),
        (date(2024, 2, 1), "month", date(2024, 2, 29)),  # leap year
        (date(2025, 12, 1), "month", date(2025, 12, 31)),
        (date(2025, 4, 1), "quarter", date(2025, 6, 30)),
        (date(2025, 10, 1), "quarter", date(2025, 12, 31)),
        (date(2025, 6, 2), "week", date(2025, 6, 8)),  # Monday 2 June -> Sunday 8 June
        (date(2024, 12, 30), "week", date(2025, 1, 5)),  # a week across the new year
        (date(2025, 6, 4), "week", date(2025, 6, 8)),  # a Wednesday: its week still ends Sunday
        (date(2025, 5, 1), "quarter", date(2025, 6, 30)),  # mid-quarter: the quarter's end
    ],
)
def test_period_end(start, period, end):
    assert period_end(start, period) == end


def test_period_end_rejects_an_unknown_period():
    with pytest.raises(ValueError, match="unknown period 'year'"):
        period_end(JAN, "year")


NPS_PLAN = UnitTargets(
    baseline=Point(value=12, date=date(2025, 1, 1)),
    milestones=[Point(value=25, date=date(2025, 12, 31))],
    target=Point(value=40, date=date(2026, 12, 31)),
)


@pytest.mark.parametrize(
    ("on", "value", "fraction"),
    [
        (date(2024, 12, 1), 12.0, 0.0),  # before the baseline date: the baseline, progress 0
        (date(2025, 1, 1), 12.0, 0.0),
        # first segment, 364 days: 2025-07-02 is day 182 -> 12 + 13 * 182/364 = 18.5;
        # progress (18.5 - 12) / (40 - 12) = 6.5 / 28
        (date(2025, 7, 2), 18.5, 0.23214285714285715),
        (date(2025, 12, 31), 25.0, 0.4642857142857143),  # the milestone: 13 / 28
        # second segment, 365 days: 2026-07-01 is day 182 -> 25 + 15 * 182/365 = 32.4794520548;
        # progress 20.4794520548 / 28
        (date(2026, 7, 1), 32.47945205479452, 0.7314090019569471),
        (date(2026, 12, 31), 40.0, 1.0),
        (date(2027, 3, 31), 40.0, 1.0),  # after the target date: the target
    ],
)
def test_expected_value_and_progress_through_a_milestone(on, value, fraction):
    assert expected_value(NPS_PLAN, on) == pytest.approx(value)
    assert expected_progress(NPS_PLAN, on) == pytest.approx(fraction)


def test_expected_progress_of_a_falling_measure():
    plan = UnitTargets(
        baseline=Point(value=14, date=date(2025, 1, 1)),
        target=Point(value=10, date=date(2025, 5, 1)),
    )
    # day 30 of 120: 14 - 4 * 0.25 = 13, progress (13 - 14) / (10 - 14) = 0.25
    assert expected_value(plan, date(2025, 1, 31)) == pytest.approx(13.0)
    assert expected_progress(plan, date(2025, 1, 31)) == pytest.approx(0.25)


BANDS = Status(tolerance=0.05, at_risk_band=0.15)


@pytest.mark.parametrize(
    ("prog", "exp", "exp_value", "ci", "expected"),
    [
        (None, 0.5, 25.0, (20.0, 30.0), "insufficient_data"),
        (0.8, 0.5, None, (None, None), "on_track"),  # ahead of plan
        (0.47, 0.5, None, (None, None), "on_track"),  # behind 0.03 <= 0.05
        (0.45, 0.5, None, (None, None), "on_track"),  # behind exactly 0.05: inside the tolerance
        (0.40, 0.5, None, (None, None), "at_risk"),  # behind 0.10 <= 0.15
        (0.35, 0.5, None, (None, None), "at_risk"),  # behind exactly 0.15
        (0.30, 0.5, None, (None, None), "off_track"),  # behind 0.20 > 0.15
        (0.30, 0.5, 25.0, (20.0, 30.0), "on_track"),  # behind 0.20, but 20 <= 25 <= 30
        (0.30, 0.5, 25.0, (26.0, 34.0), "off_track"),  # the interval misses the expected 25
        (0.40, 0.5, 25.0, (10.0, 24.9), "at_risk"),  # misses it: the bands decide
        (0.30, 0.5, 25.0, (20.0, None), "off_track"),  # half an interval is no interval
    ],
)
def test_status(prog, exp, exp_value, ci, expected):
    assert status(prog, exp, exp_value, ci[0], ci[1], BANDS) == expected


# --- the roll-up -----------------------------------------------------------------------------


def test_output_columns_and_types_are_the_contract():
    table = outcome_progress(_strategy(), _values(_v("rev", 130)))
    assert table.schema == OUTCOME_PROGRESS_SCHEMA
    assert table.column_names == [
        "node",
        "parent",
        "unit",
        "period_start",
        "measure",
        "value",
        "ci_low",
        "ci_high",
        "n",
        "baseline",
        "target",
        "expected_progress",
        "progress",
        "children_progress",
        "status",
        "weight",
    ]
    assert [str(t) for t in table.schema.types] == [
        "string",  # node VARCHAR
        "string",  # parent
        "string",  # unit
        "date32[day]",  # period_start DATE
        "string",  # measure
        *["double"] * 3,  # value, ci_low, ci_high
        "int64",  # n BIGINT
        *["double"] * 5,  # baseline, target, expected_progress, progress, children_progress
        "string",  # status
        "double",  # weight
    ]


def test_no_data_gives_an_empty_typed_table():
    table = outcome_progress(_strategy(), _values())
    assert table.num_rows == 0
    assert table.schema == OUTCOME_PROGRESS_SCHEMA


def test_full_tree_rolls_up_to_the_root():
    table = outcome_progress(
        _strategy(),
        _values(
            _v("rev", 130, n=None),  # (130 - 100) / 100 = 0.3
            _v("m1", 20),  # 20 / 40 = 0.5
            _v("m2", 4.4, ci=(4.2, 4.6)),  # (4.4 - 4) / 2 = 0.2; expected 4 + 0.5 * 2 = 5
            _v("m3", 13, n=None),  # (13 - 14) / (10 - 14) = 0.25
        ),
    )
    rows = _by_node(table)
    assert list(rows) == ["root", "A", "a1", "a2", "B", "b1"]  # depth-first, root first
    got = {k: (r["progress"], r["expected_progress"], r["status"]) for k, r in rows.items()}
    assert got["a1"] == (pytest.approx(0.5), pytest.approx(0.25), "on_track")
    # behind 0.5 - 0.2 = 0.3, and the interval 4.2..4.6 misses the expected value 5
    assert got["a2"] == (pytest.approx(0.2), pytest.approx(0.5), "off_track")
    assert got["b1"] == (pytest.approx(0.25), pytest.approx(0.25), "on_track")
    # A = (1 * 0.5 + 1 * 0.2) / 2 = 0.35; expected (0.25 + 0.5) / 2 = 0.375, behind 0.025
    assert got["A"] == (pytest.approx(0.35), pytest.approx(0.375), "on_track")
    assert rows["A"]["children_progress"] == pytest.approx(0.35)
    assert got["B"] == (pytest.approx(0.25), pytest.approx(0.25), "on_track")
    # the root keeps its own measure: 0.3 against 30/120 = 0.25 expected
    assert got["root"] == (pytest.approx(0.3), pytest.approx(0.25), "on_track")
    # its children: (3 * 0.35 + 1 * 0.25) / 4 = 1.3 / 4
    assert rows["root"]["children_progress"] == pytest.approx(0.325)
    assert rows["root"]["parent"] is None
    assert rows["root"]["value"] == 130.0
    assert (rows["a2"]["parent"], rows["a2"]["weight"], rows["A"]["weight"]) == ("A", 1.0, 3.0)
    assert (rows["a2"]["ci_low"], rows["a2"]["ci_high"], rows["a2"]["n"]) == (4.2, 4.6, 100)
    assert (rows["b1"]["baseline"], rows["b1"]["target"]) == (14.0, 10.0)
    # an outcome node has no value of its own
    assert [rows["A"][c] for c in ("measure", "value", "ci_low", "n", "baseline", "target")] == [
        None
    ] * 6


@pytest.mark.parametrize(
    "a2_row",
    [
        pytest.param(None, id="child without data"),
        pytest.param(_v("m2", 5.9, n=12, suppressed=True), id="suppressed child"),
    ],
)
def test_weights_renormalise_over_children_with_data(a2_row):
    rows = [_v("rev", 130), _v("m1", 20), _v("m3", 13)]
    if a2_row is not None:
        rows.append(a2_row)
    by_node = _by_node(outcome_progress(_strategy(), _values(*rows)))
    # A has only a1 (0.5): 1 * 0.5 / 1; its expectation follows the same child: 0.25
    assert by_node["A"]["children_progress"] == pytest.approx(0.5)
    assert by_node["A"]["progress"] == pytest.approx(0.5)
    assert by_node["A"]["expected_progress"] == pytest.approx(0.25)
    # root: (3 * 0.5 + 1 * 0.25) / 4 = 1.75 / 4
    assert by_node["root"]["children_progress"] == pytest.approx(0.4375)
    a2 = by_node["a2"]
    assert (a2["progress"], a2["value"], a2["status"]) == (None, None, "insufficient_data")
    assert a2["expected_progress"] == pytest.approx(0.5)
    assert a2["n"] == (12 if a2_row is not None else None)  # n says why the value is missing


def test_outcome_without_any_data_expects_what_all_its_children_expect():
    by_node = _by_node(outcome_progress(_strategy(), _values(_v("rev", 130), _v("m3", 13))))
    # A: no child has data -> no progress; expected (1 * 0.25 + 1 * 0.5) / 2 = 0.375
    assert by_node["A"]["progress"] is None
    assert by_node["A"]["children_progress"] is None
    assert by_node["A"]["expected_progress"] == pytest.approx(0.375)
    assert by_node["A"]["status"] == "insufficient_data"
    # the root rolls up B alone: 1 * 0.25 / 1, and keeps its own 0.3
    assert by_node["root"]["children_progress"] == pytest.approx(0.25)
    assert by_node["root"]["progress"] == pytest.approx(0.3)


def test_every_node_is_present_for_every_period_with_data():
    table = outcome_progress(
        _strategy(),
        _values(_v("m1", 20, period=JAN), _v("rev", 150, period=FEB), _v("other", 1, period=FEB)),
    )
    assert table.num_rows == 12  # 6 nodes x 2 periods
    jan, feb = _by_node(table, period=JAN), _by_node(table, period=FEB)
    assert list(jan) == list(feb) == ["root", "A", "a1", "a2", "B", "b1"]
    # January: only a1 has data, so the root has no progress of its own but children do (A only)
    assert jan["root"]["progress"] is None
    assert jan["root"]["status"] == "insufficient_data"
    assert jan["root"]["children_progress"] == pytest.approx(0.5)
    # February: only the root has data: (150 - 100) / 100 = 0.5 against 58/120 = 0.48333
    assert feb["root"]["progress"] == pytest.approx(0.5)
    assert feb["root"]["expected_progress"] == pytest.approx(0.48333333)
    assert feb["root"]["children_progress"] is None
    assert [feb[n]["status"] for n in ("A", "a1", "a2", "B", "b1")] == ["insufficient_data"] * 5


def test_by_unit_rows_use_the_units_own_plan():
    table = outcome_progress(
        _strategy(),
        _values(
            _v("m2", 4.4),
            _v("m2", 4.0, unit="Sales", n=40, ci=(3.7, 4.3)),  # (4 - 3) / (5 - 3) = 0.5
            _v("m2", 5.0, unit="Support"),  # Support has no plan for a2: no row
            _v("m1", 30, unit="Sales"),  # a1 has no by_unit: no row
        ),
    )
    sales = [r for r in table.to_pylist() if r["unit"] != "all"]
    assert len(sales) == 1
    row = sales[0]
    assert (row["node"], row["parent"], row["unit"], row["measure"]) == ("a2", "A", "Sales", "m2")
    assert (row["baseline"], row["target"], row["value"], row["n"]) == (3.0, 5.0, 4.0, 40)
    assert row["progress"] == pytest.approx(0.5)
    assert row["expected_progress"] == pytest.approx(0.25)  # Sales' plan: day 30 of 120
    assert row["status"] == "on_track"
    # unit rows come after the organisation's rows of the same period
    assert table.column("unit").to_pylist()[-1] == "Sales"


def test_expected_value_inside_the_interval_means_on_track():
    by_node = _by_node(
        outcome_progress(
            _strategy(),
            # progress 5 / 40 = 0.125 against 0.25: behind 0.125 would be at risk, but the
            # expected value 0 + 0.25 * 40 = 10 lies inside 0..12
            _values(_v("m1", 5, ci=(0.0, 12.0)), _v("m2", 5.0)),
        )
    )
    assert by_node["a1"]["status"] == "on_track"


@pytest.mark.parametrize(
    ("period", "start", "expected"),
    [
        ("month", date(2025, 1, 1), 0.25),  # ends 2025-01-31, day 30 of 120
        ("quarter", date(2025, 1, 1), 0.7416666666666667),  # ends 2025-03-31, day 89 of 120
        ("week", date(2024, 12, 30), 0.03333333333333333),  # ends Sunday 2025-01-05: 4 / 120
        ("month", date(2024, 12, 1), 0.0),  # ends before the baseline date
    ],
)
def test_expected_progress_is_taken_at_the_periods_last_day(period, start, expected):
    by_node = _by_node(
        outcome_progress(_strategy(period), _values(_v("rev", 90, period=start))), period=start
    )
    assert by_node["root"]["expected_progress"] == pytest.approx(expected)
    assert by_node["root"]["progress"] == 0.0  # 90 is below the baseline 100: clipped to 0


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="lacks column\\(s\\) ci_low, ci_high, suppressed"):
        outcome_progress(
            _strategy(),
            pa.table(
                {
                    "measure": ["m1"],
                    "unit": ["all"],
                    "period_start": [JAN],
                    "value": [1.0],
                    "n": [1],
                }
            ),
        )


def test_a_zero_filled_sum_has_progress_not_insufficient_data(ibis_warehouse, ibis_strategy):
    """A month without a won upsell between months with some is 0, so its node is measured (and
    behind), not "insufficient data". Plan: 0 on 2025-01-01 -> 100 on 2025-05-01 (120 days)."""
    from metrics.measures import measure_values

    ibis_warehouse.insert(
        "upsell",
        [
            {"opportunity_id": "o1", "closed_at": "2025-01-20", "unit": "A", "amount": 20.0},
            {"opportunity_id": "o2", "closed_at": "2025-03-03", "unit": "A", "amount": 60.0},
        ],
    )
    strategy = ibis_strategy(
        {"upsell": {"source": "upsell", "kind": "sum", "field": "amount"}},
        tree={
            "id": "upsell",
            "measure": "upsell",
            "baseline": _point(0, "2025-01-01"),
            "target": _point(100, "2025-05-01"),
        },
    )
    values = measure_values(ibis_warehouse.events(), strategy).to_pyarrow()
    rows = {
        r["period_start"]: r
        for r in outcome_progress(strategy, values).to_pylist()
        if r["unit"] == "all"
    }
    summary = {p: (r["value"], r["progress"], r["status"]) for p, r in rows.items()}
    # expected progress at each month's end: 30/120, 58/120, 89/120; behind 0.05, 0.48, 0.14
    assert summary == {
        JAN: (20.0, pytest.approx(0.2), "on_track"),
        FEB: (0.0, 0.0, "off_track"),
        date(2025, 3, 1): (60.0, pytest.approx(0.6), "at_risk"),
    }
    assert rows[FEB]["n"] == 0 and rows[FEB]["expected_progress"] == pytest.approx(58 / 120)
