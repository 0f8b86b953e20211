"""marts.measure_values on DuckDB: every measure kind against hand-computed values."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from metrics.measures import MEASURE_VALUES_SCHEMA, measure_values
from metrics.periods import period_end, period_spine

MAR = date(2025, 3, 1)
APR = date(2025, 4, 1)


def _responses(source: str, unit_scores: dict[str, list[float]], at: str = "2025-03-10 12:00"):
    return [
        {"response_id": f"{unit}-{i}", "responded_at": at, "unit": unit, "score": score}
        for unit, scores in unit_scores.items()
        for i, score in enumerate(scores)
    ]


def _cells(wh, strategy, measure: str | None = None) -> dict[tuple, dict]:
    """(measure, unit, period_start) -> row."""
    rows = wh.rows(measure_values(wh.events(), strategy))
    return {
        (r["measure"], r["unit"], r["period_start"]): r
        for r in rows
        if measure is None or r["measure"] == measure
    }


def test_columns_and_types_even_without_data(ibis_warehouse, ibis_strategy):
    strategy = ibis_strategy(
        {
            "nps": {"source": "nps", "kind": "nps"},
            "ces": {"source": "ces", "kind": "mean"},
            "rate": {"kind": "ratio", "numerator": "nps", "denominator": "ces"},
        }
    )
    # empty tables, and no tables at all
    for events in (ibis_warehouse.events(), {}):
        expr = measure_values(events, strategy)
        assert expr.schema() == MEASURE_VALUES_SCHEMA
        table = expr.to_pyarrow()
        assert table.num_rows == 0
        assert table.column_names == list(MEASURE_VALUES_SCHEMA.names)


@pytest.mark.parametrize(
    ("scores", "value", "low", "high"),
    [
        # 4 promoters (10,10,9,10), 4 detractors (6,5,0,3) of 10: 0 +/- 196 * sqrt(0.08)
        ([10, 10, 9, 8, 7, 6, 5, 0, 10, 3], 0.0, -55.4, 55.4),
        # all promoters: 100 with a zero-width interval
        ([9, 10, 10], 100.0, 100.0, 100.0),
        # 1 promoter, 2 detractors, 1 passive: -25, low clipped at -100, high -25 + 81.26
        ([10, 0, 6, 8], -25.0, -100.0, 56.3),
    ],
)
def test_nps(ibis_warehouse, ibis_strategy, scores, value, low, high):
    ibis_warehouse.insert("nps", _responses("nps", {"Sales": scores}))
    strategy = ibis_strategy({"nps": {"source": "nps", "kind": "nps"}})
    cells = _cells(ibis_warehouse, strategy)
    for unit in ("Sales", "all"):
        row = cells[("nps", unit, MAR)]
        assert row["value"] == pytest.approx(value, abs=0.05)
        assert row["ci_low"] == pytest.approx(low, abs=0.05)
        assert row["ci_high"] == pytest.approx(high, abs=0.05)
        assert row["n"] == len(scores)
        assert row["suppressed"] is False and row["note"] is None


def test_nps_counts_only_answered(ibis_warehouse, ibis_strategy):
    # eNPS from the pulse: a response without enps_score is not part of n
    ibis_warehouse.insert(
        "employee_pulse",
        [
            {"response_id": "p1", "responded_at": "2025-03-02", "unit": "Ops", "enps_score": 9},
            {"response_id": "p2", "responded_at": "2025-03-02", "unit": "Ops", "enps_score": 3},
            {"response_id": "p3", "responded_at": "2025-03-02", "unit": "Ops", "wellbeing": 4},
        ],
    )
    strategy = ibis_strategy(
        {"enps": {"source": "employee_pulse", "kind": "nps", "field": "enps_score"}}
    )
    row = _cells(ibis_warehouse, strategy)[("enps", "Ops", MAR)]
    assert (row["value"], row["n"]) == (0.0, 2)


def test_mean_ces_with_interval(ibis_warehouse, ibis_strategy):
    # Support [2,4,4,5,7]: mean 4.4; squares of deviations 5.76+.16+.16+.36+6.76 = 13.2,
    # s = sqrt(13.2/4) = 1.81659, half = 1.96 * 1.81659 / sqrt(5) = 1.59231.
    # Sales [6]: one response, no interval.
    ibis_warehouse.insert("ces", _responses("ces", {"Support": [2, 4, 4, 5, 7], "Sales": [6]}))
    strategy = ibis_strategy({"ces": {"source": "ces", "kind": "mean"}})
    cells = _cells(ibis_warehouse, strategy)
    support = cells[("ces", "Support", MAR)]
    assert support["value"] == pytest.approx(4.4)
    assert (support["ci_low"], support["ci_high"]) == pytest.approx((2.80769, 5.99231), abs=1e-4)
    assert support["n"] == 5
    sales = cells[("ces", "Sales", MAR)]
    assert (sales["value"], sales["n"], sales["ci_low"], sales["ci_high"]) == (6.0, 1, None, None)
    # all: [2,4,4,5,7,6] mean 28/6 = 4.6667, pooled from the units' partials: squares of
    # deviations from 4.6667: 7.1111+.4444+.4444+.1111+5.4444+1.7778 = 15.3333, s = sqrt(15.3333/5)
    # = 1.75119, half = 1.96 * 1.75119 / sqrt(6) = 1.40125 -> 3.26542 .. 6.06792
    whole = cells[("ces", "all", MAR)]
    assert whole["value"] == pytest.approx(28 / 6)
    assert (whole["ci_low"], whole["ci_high"]) == pytest.approx((3.26542, 6.06792), abs=1e-4)


def test_pooled_sd_of_all_is_exact_far_from_zero(ibis_warehouse, ibis_strategy):
    # Values around 1e9 with a spread of a few units: a sum-of-squares shortcut would lose every
    # digit here; the pooled variance (units' means and squared deviations) keeps them.
    # A [1e9+1, 1e9+3], B [1e9+5]: mean 1e9+3, deviations 4+0+4 = 8, s = 2, half = 1.96*2/sqrt(3)
    base = 1_000_000_000
    rows = _responses("ces", {"A": [base + 1, base + 3], "B": [base + 5]})
    ibis_warehouse.insert("ces", rows)
    strategy = ibis_strategy({"ces": {"source": "ces", "kind": "mean"}})
    whole = _cells(ibis_warehouse, strategy)[("ces", "all", MAR)]
    half = 1.96 * 2 / 3**0.5
    assert whole["value"] == pytest.approx(base + 3, abs=1e-6)
    assert whole["ci_low"] == pytest.approx(base + 3 - half, abs=1e-6)
    assert whole["ci_high"] == pytest.approx(base + 3 + half, abs=1e-6)


def test_share_wilson_in_percent(ibis_warehouse, ibis_strategy):
    # 3 of 5 inside [5, 7] (5, 6, 7; the band is inclusive): 60%, Wilson 23.07..88.24
    ibis_warehouse.insert("ces", _responses("ces", {"Support": [2, 5, 6, 7, 3]}))
    strategy = ibis_strategy({"agree": {"source": "ces", "kind": "share", "band": [5, 7]}})
    row = _cells(ibis_warehouse, strategy)[("agree", "Support", MAR)]
    assert row["value"] == pytest.approx(60.0)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((23.072, 88.238), abs=1e-2)
    assert row["n"] == 5


def test_sum_and_sum_ratio_without_contacts(ibis_warehouse, ibis_strategy):
    ibis_warehouse.insert(
        "cost",
        [
            {"period": "2025-03-01", "unit": "A", "amount": 100.0, "contacts": 0.0},
            {"period": "2025-03-01", "unit": "B", "amount": 200.0, "contacts": 40.0},
            {"period": "2025-03-01", "unit": "B", "amount": 100.0, "contacts": 20.0,
             "category": "tools"},
            {"period": "2025-03-01", "unit": "C", "amount": 50.0},
        ],
    )  # fmt: skip
    strategy = ibis_strategy(
        {
            "cost": {"source": "cost", "kind": "sum", "field": "amount"},
            "cost_to_serve": {
                "source": "cost",
                "kind": "sum_ratio",
                "field": "amount",
                "per": "contacts",
            },
        }
    )
    cells = _cells(ibis_warehouse, strategy)
    a = cells[("cost_to_serve", "A", MAR)]
    assert a["value"] is None and a["note"] == "no contacts in period" and a["n"] == 1
    assert cells[("cost_to_serve", "C", MAR)]["value"] is None
    b = cells[("cost_to_serve", "B", MAR)]
    assert (b["value"], b["n"], b["ci_low"]) == (5.0, 2, None)
    # all: 450 / 60 pooled
    assert cells[("cost_to_serve", "all", MAR)]["value"] == pytest.approx(7.5)
    total = cells[("cost", "all", MAR)]
    assert (total["value"], total["n"], total["ci_low"], total["ci_high"]) == (450.0, 4, None, None)


def test_ratio_with_a_missing_side(ibis_warehouse, ibis_strategy):
    ibis_warehouse.insert(
        "upsell",
        [
            {"opportunity_id": "o1", "closed_at": "2025-03-10", "unit": "A", "amount": 100.0},
            {"opportunity_id": "o2", "closed_at": "2025-04-10", "unit": "A", "amount": 50.0},
        ],
    )
    ibis_warehouse.insert(
        "revenue",
        [
            {"period": "2025-03-01", "unit": "A", "amount": 1000.0},
            {"period": "2025-05-01", "unit": "A", "amount": 2000.0},
            {"period": "2025-06-01", "unit": "A", "amount": 0.0},
        ],
    )
    strategy = ibis_strategy(
        {
            "upsell": {"source": "upsell", "kind": "sum", "field": "amount"},
            "revenue": {"source": "revenue", "kind": "sum", "field": "amount"},
            "upsell_rate": {"kind": "ratio", "numerator": "upsell", "denominator": "revenue"},
        }
    )
    cells = _cells(ibis_warehouse, strategy, "upsell_rate")
    march = cells[("upsell_rate", "A", MAR)]
    assert (march["value"], march["n"], march["ci_low"], march["note"]) == (0.1, None, None, None)
    # revenue has data in March and May, so April is a revenue month with 0 (a sum is zero-filled)
    april = cells[("upsell_rate", "A", APR)]
    assert april["value"] is None and april["note"] == "revenue is zero in period"
    may = cells[("upsell_rate", "A", date(2025, 5, 1))]
    assert may["value"] is None and may["note"] == "no upsell in period"
    june = cells[("upsell_rate", "A", date(2025, 6, 1))]
    assert (
        june["value"] is None and june["note"] == "no upsell in period; revenue is zero in period"
    )
    assert cells[("upsell_rate", "all", MAR)]["value"] == pytest.approx(0.1)
    assert len(cells) == 8  # 4 periods x (A, all)


def test_sum_is_zero_filled_from_the_sources_first_to_its_last_period(
    ibis_warehouse, ibis_strategy
):
    # upsell: A wins in January and April, B only in March. The source spans January..April, so
    # A and B (and all) get a row for each of the four months; months without a win are 0, n 0.
    ibis_warehouse.insert(
        "upsell",
        [
            {"opportunity_id": "o1", "closed_at": "2025-01-15", "unit": "A", "amount": 100.0},
            {"opportunity_id": "o2", "closed_at": "2025-04-02", "unit": "A", "amount": 40.0},
            {"opportunity_id": "o3", "closed_at": "2025-04-30", "unit": "A", "amount": 10.0},
            {"opportunity_id": "o4", "closed_at": "2025-03-31", "unit": "B", "amount": 70.0},
        ],
    )
    ibis_warehouse.insert(
        "revenue",
        [
            {"period": "2025-02-01", "unit": "A", "amount": 1000.0},
            {"period": "2025-03-01", "unit": "A", "amount": 500.0},
        ],
    )
    strategy = ibis_strategy(
        {
            "upsell": {"source": "upsell", "kind": "sum", "field": "amount"},
            "revenue": {"source": "revenue", "kind": "sum", "field": "amount"},
            "upsell_rate": {"kind": "ratio", "numerator": "upsell", "denominator": "revenue"},
        }
    )
    cells = _cells(ibis_warehouse, strategy)
    jan, feb = date(2025, 1, 1), date(2025, 2, 1)
    upsell = {
        (unit, period): (
            cells[("upsell", unit, period)]["value"],
            cells[("upsell", unit, period)]["n"],
        )
        for (measure, unit, period) in cells
        if measure == "upsell"
    }
    assert upsell == {
        ("A", jan): (100.0, 1), ("A", feb): (0.0, 0), ("A", MAR): (0.0, 0), ("A", APR): (50.0, 2),
        ("B", jan): (0.0, 0), ("B", feb): (0.0, 0), ("B", MAR): (70.0, 1), ("B", APR): (0.0, 0),
        ("all", jan): (100.0, 1), ("all", feb): (0.0, 0), ("all", MAR): (70.0, 1),
        ("all", APR): (50.0, 2),
    }  # fmt: skip
    zero = cells[("upsell", "B", APR)]
    assert (zero["suppressed"], zero["note"], zero["ci_low"]) == (False, None, None)
    # revenue spans February..March only: no January or April rows
    assert {(u, p) for (m, u, p) in cells if m == "revenue"} == {
        ("A", feb),
        ("A", MAR),
        ("all", feb),
        ("all", MAR),
    }
    # the ratio follows: February 0 / 1000 = 0 (not "no upsell"); March 0 / 500 = 0
    assert cells[("upsell_rate", "A", feb)]["value"] == 0.0
    assert cells[("upsell_rate", "A", MAR)]["value"] == 0.0
    assert cells[("upsell_rate", "all", MAR)]["value"] == pytest.approx(70.0 / 500.0)
    assert cells[("upsell_rate", "A", APR)]["note"] == "no revenue in period"


def test_a_zero_filled_unit_protects_nobody_under_anonymity(ibis_warehouse, ibis_strategy):
    # B closed deals in February only; in March its zero row (n 0) is below min_n 2 and hidden,
    # but it hides no one, so A (3 rows in March) is not suppressed to protect it.
    ibis_warehouse.insert(
        "upsell",
        [
            {"opportunity_id": f"a{i}", "closed_at": "2025-03-05", "unit": "A", "amount": 10.0}
            for i in range(3)
        ]
        + [
            {"opportunity_id": f"b{i}", "closed_at": "2025-02-05", "unit": "B", "amount": 1.0}
            for i in range(2)
        ],
    )
    strategy = ibis_strategy(
        {"upsell": {"source": "upsell", "kind": "sum", "field": "amount", "min_n": 2,
                    "anonymity": True}}
    )  # fmt: skip
    cells = _cells(ibis_warehouse, strategy)
    b = cells[("upsell", "B", MAR)]
    assert (b["value"], b["n"], b["suppressed"]) == (None, 0, True)
    a = cells[("upsell", "A", MAR)]
    assert (a["value"], a["n"], a["suppressed"]) == (30.0, 3, False)
    a_feb = cells[("upsell", "A", date(2025, 2, 1))]
    assert (a_feb["value"], a_feb["n"], a_feb["suppressed"]) == (None, 0, True)


@pytest.mark.parametrize(
    ("period", "days", "expected"),
    [
        # Monday 6 Jan and Monday 20 Jan 2025: the week of 13 January is 0
        ("week", ["2025-01-06", "2025-01-22"], [date(2025, 1, 6), date(2025, 1, 13), date(2025, 1, 20)]),
        # November 2024 and May 2025: quarters Q4 2024, Q1 2025, Q2 2025 across the year's end
        ("quarter", ["2024-11-30", "2025-05-01"], [date(2024, 10, 1), date(2025, 1, 1), date(2025, 4, 1)]),
        ("month", ["2024-12-31", "2025-02-01"], [date(2024, 12, 1), date(2025, 1, 1), date(2025, 2, 1)]),
    ],
)  # fmt: skip
def test_sum_zero_fill_per_period_kind(ibis_warehouse, ibis_strategy, period, days, expected):
    ibis_warehouse.insert(
        "upsell",
        [
            {"opportunity_id": f"o{i}", "closed_at": day, "unit": "A", "amount": 5.0}
            for i, day in enumerate(days)
        ],
    )
    strategy = ibis_strategy(
        {"upsell": {"source": "upsell", "kind": "sum", "field": "amount"}}, period=period
    )
    rows = sorted(
        (p, c["value"]) for (m, u, p), c in _cells(ibis_warehouse, strategy).items() if u == "A"
    )
    assert rows == [(expected[0], 5.0), (expected[1], 0.0), (expected[2], 5.0)]


def test_ratio_is_suppressed_with_its_side(ibis_warehouse, ibis_strategy):
    ibis_warehouse.insert("nps", _responses("nps", {"A": [10, 10]}))
    ibis_warehouse.insert("ces", _responses("ces", {"A": [5, 5, 5]}))
    strategy = ibis_strategy(
        {
            "nps": {"source": "nps", "kind": "nps", "min_n": 3},
            "ces": {"source": "ces", "kind": "mean"},
            "odd": {"kind": "ratio", "numerator": "nps", "denominator": "ces"},
        }
    )
    row = _cells(ibis_warehouse, strategy)[("odd", "A", MAR)]
    assert row["suppressed"] is True and row["note"] == "nps is suppressed"
    assert row["value"] == pytest.approx(20.0)  # not an anonymity measure: the value stays


def test_employee_health_components(ibis_warehouse, ibis_strategy):
    pulse = [
        # A: eNPS [10, 9, 6] -> (2 - 1)/3 = 33.33 -> 66.67; wellbeing [4, 5, 3] mean 4 -> 75
        ("A", 10, 4.0), ("A", 9, 5.0), ("A", 6, 3.0),
        # B: wellbeing only [2, 4] mean 3 -> 50
        ("B", None, 2.0), ("B", None, 4.0),
        # C: eNPS only [10, 10] -> 100 -> 100
        ("C", 10, None), ("C", 10, None),
    ]  # fmt: skip
    ibis_warehouse.insert(
        "employee_pulse",
        [
            {"response_id": f"p{i}", "responded_at": "2025-03-05 08:00", "unit": unit,
             "enps_score": enps, "wellbeing": wellbeing}
            for i, (unit, enps, wellbeing) in enumerate(pulse)
        ],
    )  # fmt: skip
    strategy = ibis_strategy({"health": {"source": "employee_pulse", "kind": "employee_health"}})
    cells = _cells(ibis_warehouse, strategy)
    assert cells[("health", "A", MAR)]["value"] == pytest.approx((200 / 3 + 75) / 2)
    assert cells[("health", "B", MAR)]["value"] == pytest.approx(50.0)
    assert cells[("health", "C", MAR)]["value"] == pytest.approx(100.0)
    # all pools: eNPS [10,9,6,10,10] -> (4-1)/5 = 60 -> 80; wellbeing [4,5,3,2,4] = 3.6 -> 65
    whole = cells[("health", "all", MAR)]
    assert whole["value"] == pytest.approx(72.5)
    assert (whole["n"], whole["ci_low"], whole["ci_high"]) == (7, None, None)
    assert [cells[("health", u, MAR)]["n"] for u in "ABC"] == [3, 2, 2]


def test_all_is_pooled_not_a_mean_of_units(ibis_warehouse, ibis_strategy):
    # A: one promoter (NPS 100). B: [0, 0, 10] (NPS -33.3). The mean of units would be 33.3;
    # pooled [10, 0, 0, 10] is 2 promoters and 2 detractors of 4: 0.
    ibis_warehouse.insert("nps", _responses("nps", {"A": [10], "B": [0, 0, 10]}))
    strategy = ibis_strategy({"nps": {"source": "nps", "kind": "nps"}})
    cells = _cells(ibis_warehouse, strategy)
    assert cells[("nps", "B", MAR)]["value"] == pytest.approx(-100 / 3)
    whole = cells[("nps", "all", MAR)]
    assert (whole["value"], whole["n"]) == (0.0, 4)


def test_min_n_suppression_keeps_the_value(ibis_warehouse, ibis_strategy):
    ibis_warehouse.insert("nps", _responses("nps", {"A": [10], "B": [9, 0, 10]}))
    strategy = ibis_strategy({"nps": {"source": "nps", "kind": "nps", "min_n": 3}})
    cells = _cells(ibis_warehouse, strategy)
    a = cells[("nps", "A", MAR)]
    assert a["suppressed"] is True
    assert a["note"] == "n=1 below min_n 3: too few responses"
    assert (a["value"], a["ci_low"], a["ci_high"]) == (100.0, 100.0, 100.0)
    assert cells[("nps", "B", MAR)]["suppressed"] is False
    assert cells[("nps", "all", MAR)]["suppressed"] is False  # n = 4


def test_anonymity_with_complementary_suppression(ibis_warehouse, ibis_strategy):
    march = {"A": [10], "B": [9, 9], "C": [10, 0, 10], "D": [0, 0]}  # A alone below min_n 2
    april = {"A": [10], "B": [9], "C": [10, 0, 10]}  # two below: nothing more to protect
    ibis_warehouse.insert("employee_pulse", [
        {"response_id": f"m{r['response_id']}", "responded_at": r["responded_at"],
         "unit": r["unit"], "enps_score": r["score"]}
        for r in _responses("employee_pulse", march, at="2025-03-05 09:00")
    ] + [
        {"response_id": f"a{r['response_id']}", "responded_at": r["responded_at"],
         "unit": r["unit"], "enps_score": r["score"]}
        for r in _responses("employee_pulse", april, at="2025-04-05 09:00")
    ])  # fmt: skip
    strategy = ibis_strategy(
        {
            "enps": {
                "source": "employee_pulse",
                "kind": "nps",
                "field": "enps_score",
                "min_n": 2,
                "anonymity": True,
            }
        }
    )
    cells = _cells(ibis_warehouse, strategy)

    def shown(unit, period):
        row = cells[("enps", unit, period)]
        return (row["suppressed"], row["value"] is not None, row["ci_low"] is not None)

    a = cells[("enps", "A", MAR)]
    assert (a["value"], a["ci_low"], a["ci_high"], a["n"]) == (None, None, None, 1)
    assert a["note"] == "n=1 below min_n 2: too few responses"
    # B and D both have n=2: the tie goes to the name, so B is hidden to protect A
    b = cells[("enps", "B", MAR)]
    assert b["suppressed"] is True and b["value"] is None
    assert "protect a smaller unit" in b["note"]
    assert shown("C", MAR) == (False, True, True)
    assert shown("D", MAR) == (False, True, True)
    assert shown("all", MAR) == (False, True, True)
    assert cells[("enps", "all", MAR)]["value"] == pytest.approx(100 * (5 - 3) / 8)
    # April: A and B are both below min_n; C stays shown
    assert shown("A", APR) == (True, False, False)
    assert shown("B", APR) == (True, False, False)
    assert shown("C", APR) == (False, True, True)
    assert shown("all", APR) == (False, True, True)


@pytest.mark.parametrize(
    ("timezone", "period", "expected"),
    [
        # 2025-03-31 23:30 UTC is 2025-04-01 01:30 in Berlin
        ("Europe/Berlin", "month", date(2025, 4, 1)),
        ("UTC", "month", date(2025, 3, 1)),
        ("UTC", "quarter", date(2025, 1, 1)),
        ("Europe/Berlin", "quarter", date(2025, 4, 1)),
        # a Monday in Berlin; in UTC still Monday 2025-03-31
        ("Europe/Berlin", "week", date(2025, 3, 31)),
        ("UTC", "week", date(2025, 3, 31)),
        # in New York it is still Monday evening 19:30
        ("America/New_York", "week", date(2025, 3, 31)),
    ],
)
def test_time_zone_bucketing(ibis_warehouse, ibis_strategy, timezone, period, expected):
    ibis_warehouse.insert("nps", _responses("nps", {"A": [10]}, at="2025-03-31 23:30"))
    strategy = ibis_strategy(
        {"nps": {"source": "nps", "kind": "nps"}}, timezone=timezone, period=period
    )
    rows = ibis_warehouse.rows(measure_values(ibis_warehouse.events(), strategy))
    assert {r["period_start"] for r in rows} == {expected}


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2025-03-05", date(2025, 3, 3)),  # Wednesday -> Monday
        ("2025-03-03", date(2025, 3, 3)),  # Monday stays
        ("2025-03-09", date(2025, 3, 3)),  # Sunday belongs to the week before
    ],
)
def test_weeks_start_monday_and_dates_are_not_shifted(ibis_warehouse, ibis_strategy, day, expected):
    # closed_at is a DATE: never shifted by the zone, even far east of UTC
    ibis_warehouse.insert(
        "upsell", [{"opportunity_id": "o", "closed_at": day, "unit": "A", "amount": 1.0}]
    )
    strategy = ibis_strategy(
        {"upsell": {"source": "upsell", "kind": "sum", "field": "amount"}},
        timezone="Pacific/Auckland",
        period="week",
    )
    rows = ibis_warehouse.rows(measure_values(ibis_warehouse.events(), strategy))
    assert {r["period_start"] for r in rows} == {expected}


def test_unknown_field_is_a_clear_error(ibis_warehouse, ibis_strategy):
    strategy = ibis_strategy({"x": {"source": "nps", "kind": "mean", "field": "effort"}})
    with pytest.raises(KeyError, match=r"measures\.x: events\.nps has no column\(s\) \['effort'\]"):
        measure_values(ibis_warehouse.events(), strategy)


@pytest.mark.parametrize(
    ("period", "first", "now", "expected"),
    [
        ("month", date(2025, 1, 20), datetime(2025, 3, 31, 23, 30), ["2025-01-01", "2025-02-01",
                                                                      "2025-03-01"]),
        ("quarter", date(2024, 11, 5), datetime(2025, 1, 1), ["2024-10-01", "2025-01-01"]),
        ("week", date(2025, 3, 26), datetime(2025, 4, 2), ["2025-03-24", "2025-03-31"]),
    ],
)  # fmt: skip
def test_period_spine(ibis_strategy, period, first, now, expected):
    strategy = ibis_strategy(period=period)
    assert [d.isoformat() for d in period_spine(first, now, strategy)] == expected


def test_period_spine_reads_now_in_the_strategy_zone(ibis_strategy):
    # 23:30 UTC on 31 March is already April in Berlin
    berlin = ibis_strategy(timezone="Europe/Berlin")
    spine = period_spine(date(2025, 3, 2), datetime(2025, 3, 31, 23, 30), berlin)
    assert spine == [date(2025, 3, 1), date(2025, 4, 1)]


@pytest.mark.parametrize(
    ("start", "period", "last"),
    [
        (date(2024, 2, 1), "month", date(2024, 2, 29)),
        (date(2025, 10, 1), "quarter", date(2025, 12, 31)),
        (date(2025, 12, 29), "week", date(2026, 1, 4)),
    ],
)
def test_period_end(start, period, last):
    assert period_end(start, period) == last
