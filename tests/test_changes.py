"""marts.measure_changes: every kind's z against hand-computed standard errors (DESIGN.md
"Contract v2 / Honest change")."""

from __future__ import annotations

import math
from datetime import date

import pytest

from metrics.changes import MEASURE_CHANGES_SCHEMA, measure_changes

MAR, APR, MAY = date(2025, 3, 1), date(2025, 4, 1), date(2025, 5, 1)


def _responses(unit: str, scores: list[float], at: str, prefix: str = "") -> list[dict]:
    return [
        {"response_id": f"{prefix}{unit}-{at}-{i}", "responded_at": at, "unit": unit, "score": s}
        for i, s in enumerate(scores)
    ]


def _changes(wh, strategy) -> dict[tuple, dict]:
    rows = wh.rows(measure_changes(wh.events(), strategy))
    return {(r["measure"], r["unit"], r["period_start"]): r for r in rows}


def test_columns_and_types_even_without_data(ibis_warehouse, ibis_strategy):
    strategy = ibis_strategy({"nps": {"source": "nps", "kind": "nps"}})
    expr = measure_changes(ibis_warehouse.events(), strategy)
    assert expr.schema() == MEASURE_CHANGES_SCHEMA
    assert expr.to_pyarrow().num_rows == 0


def test_nps_change_and_its_z_per_unit_and_pooled(ibis_warehouse, ibis_strategy):
    # Sales, March: 20 promoters, 40 detractors, 40 passives of 100 -> NPS -20,
    #   se^2 = 100^2 * ((0.2 + 0.4) - (0.2 - 0.4)^2) / 100 = 56.
    # Sales, April: 50 promoters, 10 detractors -> NPS 40, se^2 = 100^2 * (0.6 - 0.16) / 100 = 44.
    # change 60, se = sqrt(56 + 44) = 10, z = 6: significant.
    march = [10] * 20 + [3] * 40 + [8] * 40
    april = [9] * 50 + [6] * 10 + [7] * 40
    # Billing: March [10, 0] -> 0, se^2 = 10^4 * 1 / 2 = 5000; April [10, 10] -> 100, se^2 = 0.
    # change 100, se = sqrt(5000) = 70.7107, z = 1.41421: not significant.
    rows = (
        _responses("Sales", march, "2025-03-10 12:00")
        + _responses("Sales", april, "2025-04-10 12:00")
        + _responses("Billing", [10, 0], "2025-03-11 12:00")
        + _responses("Billing", [10, 10], "2025-04-11 12:00")
    )
    ibis_warehouse.insert("nps", rows)
    strategy = ibis_strategy({"nps": {"source": "nps", "kind": "nps"}})
    got = _changes(ibis_warehouse, strategy)
    assert set(got) == {("nps", u, APR) for u in ("Sales", "Billing", "all")}

    sales = got["nps", "Sales", APR]
    assert sales["previous_period_start"] == MAR
    assert sales["value"] == pytest.approx(40.0)
    assert sales["previous_value"] == pytest.approx(-20.0)
    assert sales["change"] == pytest.approx(60.0)
    assert sales["se"] == pytest.approx(10.0)
    assert sales["z"] == pytest.approx(6.0)
    assert sales["significant"] is True

    billing = got["nps", "Billing", APR]
    assert billing["change"] == pytest.approx(100.0)
    assert billing["se"] == pytest.approx(70.71068, abs=1e-4)
    assert billing["z"] == pytest.approx(1.414214, abs=1e-5)
    assert billing["significant"] is False

    # all, pooled over the 102 responses of each month (never a mean of units):
    # March 21 promoters, 41 detractors -> -19.6078, se^2 = 10^4 * (62/102 - (20/102)^2) / 102
    # April 52 promoters, 10 detractors ->  41.1765, se^2 = 10^4 * (62/102 - (42/102)^2) / 102
    se_mar = 1e4 * (62 / 102 - (20 / 102) ** 2) / 102  # 55.8232
    se_apr = 1e4 * (62 / 102 - (42 / 102) ** 2) / 102  # 42.9699
    pooled = got["nps", "all", APR]
    assert pooled["change"] == pytest.approx(6200 / 102, abs=1e-4)  # 60.7843
    assert pooled["se"] == pytest.approx(math.sqrt(se_mar + se_apr), abs=1e-4)  # 9.93947
    assert pooled["z"] == pytest.approx(6.11545, abs=1e-4)
    assert pooled["significant"] is True


def test_mean_share_and_the_kinds_without_sampling_error(ibis_warehouse, ibis_strategy):
    ibis_warehouse.insert(
        "ces",
        _responses("Support", [1, 2, 3], "2025-03-10 12:00")
        + _responses("Support", [4, 5, 6], "2025-04-10 12:00")
        + _responses("Support", [7], "2025-05-10 12:00"),
    )
    ibis_warehouse.insert(
        "revenue",
        [
            {"period": MAR, "unit": "Support", "amount": 100.0},
            {"period": APR, "unit": "Support", "amount": 150.0},
        ],
    )
    strategy = ibis_strategy(
        {
            "ces": {"source": "ces", "kind": "mean"},
            "easy": {"source": "ces", "kind": "share", "band": [5, 7]},
            "revenue": {"source": "revenue", "kind": "sum", "field": "amount"},
            "per_revenue": {"kind": "ratio", "numerator": "ces", "denominator": "revenue"},
        }
    )
    got = _changes(ibis_warehouse, strategy)

    # mean: 2 -> 5, s = 1 both months: se = sqrt(1/3 + 1/3) = 0.81650, z = 3 / 0.8165 = 3.67423
    ces = got["ces", "Support", APR]
    assert ces["change"] == pytest.approx(3.0)
    assert ces["se"] == pytest.approx(math.sqrt(2 / 3))
    assert ces["z"] == pytest.approx(3.674235, abs=1e-5)
    assert ces["significant"] is True
    # May has one response: no s, so se, z and significant are NULL; the change is still there.
    may = got["ces", "Support", MAY]
    assert may["change"] == pytest.approx(2.0)
    assert may["se"] is None and may["z"] is None and may["significant"] is None

    # share in percent: 0% (0 of 3 in 5..7) -> 66.67% (2 of 3): se_mar = 0,
    # se_apr = 100 * sqrt(2/3 * 1/3 / 3) = 27.2166, z = 66.667 / 27.2166 = 2.44949
    easy = got["easy", "Support", APR]
    assert easy["change"] == pytest.approx(200 / 3)
    assert easy["se"] == pytest.approx(27.21655, abs=1e-4)
    assert easy["z"] == pytest.approx(2.449490, abs=1e-5)
    assert easy["significant"] is True
    # May: 66.67% -> 100%: se = sqrt(27.2166^2 + 0) -> z = 33.333 / 27.2166 = 1.224745
    assert got["easy", "Support", MAY]["z"] == pytest.approx(1.224745, abs=1e-5)
    assert got["easy", "Support", MAY]["significant"] is False

    # sum and ratio: the change, but no se, z or significance
    revenue = got["revenue", "Support", APR]
    assert revenue["change"] == pytest.approx(50.0)
    assert (revenue["se"], revenue["z"], revenue["significant"]) == (None, None, None)
    ratio = got["per_revenue", "Support", APR]
    assert ratio["change"] == pytest.approx(5 / 150 - 2 / 100)
    assert (ratio["se"], ratio["z"], ratio["significant"]) == (None, None, None)


def test_zero_se_leaves_z_and_significance_null(ibis_warehouse, ibis_strategy):
    # Every response 10 in both months: NPS 100 -> 100, se 0: z NULL, not "no change".
    ibis_warehouse.insert(
        "nps",
        _responses("Sales", [10, 10], "2025-03-10 12:00")
        + _responses("Sales", [10, 10, 10], "2025-04-10 12:00"),
    )
    strategy = ibis_strategy({"nps": {"source": "nps", "kind": "nps"}})
    row = _changes(ibis_warehouse, strategy)["nps", "Sales", APR]
    assert (row["change"], row["se"], row["z"], row["significant"]) == (0.0, 0.0, None, None)


def test_no_row_without_the_calendar_period_right_before_or_when_it_is_suppressed(
    ibis_warehouse, ibis_strategy
):
    ibis_warehouse.insert(
        "nps",
        # Sales: March and May, no April -> May is not compared with March.
        _responses("Sales", [10, 0, 8], "2025-03-10 12:00")
        + _responses("Sales", [10, 9, 8], "2025-05-10 12:00")
        # Billing: March below min_n 3 (suppressed), April shown -> no April row.
        + _responses("Billing", [10, 0], "2025-03-10 12:00")
        + _responses("Billing", [10, 0, 9], "2025-04-10 12:00"),
    )
    strategy = ibis_strategy({"nps": {"source": "nps", "kind": "nps", "min_n": 3}})
    got = _changes(ibis_warehouse, strategy)
    # all: March 5 responses, April 3, May 3: both steps are consecutive months.
    assert set(got) == {("nps", "all", APR), ("nps", "all", MAY)}
    assert got["nps", "all", MAY]["previous_period_start"] == APR


@pytest.mark.parametrize(
    ("period", "first", "second", "expected"),
    [
        ("quarter", "2025-02-10 12:00", "2025-05-10 12:00", (date(2025, 4, 1), date(2025, 1, 1))),
        ("week", "2025-03-05 12:00", "2025-03-12 12:00", (date(2025, 3, 10), date(2025, 3, 3))),
        ("month", "2025-01-15 12:00", "2025-02-15 12:00", (date(2025, 2, 1), date(2025, 1, 1))),
    ],
)
def test_previous_period_follows_the_strategys_calendar(
    ibis_warehouse, ibis_strategy, period, first, second, expected
):
    ibis_warehouse.insert(
        "nps", _responses("Sales", [10, 0], first) + _responses("Sales", [10, 9], second)
    )
    strategy = ibis_strategy({"nps": {"source": "nps", "kind": "nps"}}, period=period)
    rows = ibis_warehouse.rows(measure_changes(ibis_warehouse.events(), strategy))
    assert {(r["period_start"], r["previous_period_start"]) for r in rows} == {expected}
