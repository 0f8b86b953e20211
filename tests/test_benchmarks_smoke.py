"""The benchmarks' pandas peer gives exactly the numbers of marts.measure_values.

`make bench` asserts this at scale; this small, hand-made warehouse keeps the peer honest in CI, so
a change to a formula in `metrics.measures` that the peer does not follow fails here first.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from benchmarks import pandas_peer
from metrics.measures import measure_values

JAN, FEB = date(2025, 1, 1), date(2025, 2, 1)

MEASURES = {
    "nps": {"source": "nps", "kind": "nps", "min_n": 3},
    "ces": {"source": "ces", "kind": "mean", "min_n": 2},
    "ces_easy": {"source": "ces", "kind": "share", "band": [5, 7], "min_n": 2},
    "enps": {
        "source": "employee_pulse", "kind": "nps", "field": "enps_score", "min_n": 2,
        "anonymity": True,
    },
    "health": {"source": "employee_pulse", "kind": "employee_health", "min_n": 2, "anonymity": True},
    "upsell_revenue": {"source": "upsell", "kind": "sum", "field": "amount"},
    "revenue": {"source": "revenue", "kind": "sum", "field": "amount"},
    "upsell_rate": {"kind": "ratio", "numerator": "upsell_revenue", "denominator": "revenue"},
    "cost_per_contact": {"source": "cost", "kind": "sum_ratio", "field": "amount", "per": "contacts"},
}  # fmt: skip


def _fill(wh) -> None:
    t = datetime
    nps = [  # Sales January: scores 10, 9, 7, 3 -> NPS (2 - 1) / 4 = 25; Support: 2 responses
        ("r1", t(2025, 1, 3, 9), "Sales", 10),
        ("r2", t(2025, 1, 4, 9), "Sales", 9),
        ("r3", t(2025, 1, 5, 9), "Sales", 7),
        ("r4", t(2025, 1, 31, 23, 59), "Sales", 3),
        ("r5", t(2025, 1, 6, 9), "Support", 0),
        ("r6", t(2025, 2, 1, 0, 0), "Support", 10),
        ("r7", t(2025, 2, 2, 0, 0), "Support", 8),
    ]
    wh.insert(
        "nps",
        [dict(zip(("response_id", "responded_at", "unit", "score"), r, strict=True)) for r in nps],
    )
    ces = [
        ("c1", t(2025, 1, 3), "Sales", 6.0),
        ("c2", t(2025, 1, 4), "Sales", 2.0),
        ("c3", t(2025, 1, 5), "Support", 7.0),
        ("c4", t(2025, 2, 5), "Support", 5.0),
    ]
    wh.insert(
        "ces",
        [dict(zip(("response_id", "responded_at", "unit", "score"), r, strict=True)) for r in ces],
    )
    pulse = [  # January: Sales 3 answers, Support 1 (hidden, so Sales is hidden too), Billing 2
        ("p1", "Sales", 9, 4.0),
        ("p2", "Sales", 10, None),
        ("p3", "Sales", 5, 3.0),
        ("p4", "Support", None, 2.0),
        ("p5", "Billing", 10, 5.0),
        ("p6", "Billing", 8, 4.0),
    ]
    wh.insert(
        "employee_pulse",
        [
            {"response_id": i, "responded_at": t(2025, 1, 10), "unit": u, "enps_score": e,
             "wellbeing": w}
            for i, u, e, w in pulse
        ],
    )  # fmt: skip
    wh.insert(
        "upsell",
        [
            {
                "opportunity_id": "o1",
                "closed_at": date(2025, 1, 9),
                "unit": "Sales",
                "amount": 50.0,
            },
            {
                "opportunity_id": "o2",
                "closed_at": date(2025, 2, 9),
                "unit": "Sales",
                "amount": 30.0,
            },
        ],
    )
    wh.insert(
        "revenue",
        [
            {"period": JAN, "unit": "Sales", "amount": 1000.0},
            {"period": FEB, "unit": "Sales", "amount": 0.0},
            {"period": JAN, "unit": "Support", "amount": 400.0},
        ],
    )
    wh.insert(
        "cost",
        [
            {"period": JAN, "unit": "Support", "amount": 300.0, "contacts": 100.0, "category": "a"},
            {"period": JAN, "unit": "Support", "amount": 100.0, "contacts": None, "category": "b"},
            {"period": FEB, "unit": "Support", "amount": 200.0, "contacts": None, "category": "a"},
        ],
    )


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin"])
def test_pandas_peer_equals_measure_values(ibis_warehouse, ibis_strategy, timezone):
    _fill(ibis_warehouse)
    strategy = ibis_strategy(MEASURES, timezone=timezone)
    expected = ibis_warehouse.rows(measure_values(ibis_warehouse.events(), strategy))
    peer = pandas_peer.measure_values(ibis_warehouse.con, strategy)

    assert pandas_peer.compare(expected, peer) == []
    assert len(peer) == len(expected)


def test_pandas_peer_hand_computed_values(ibis_warehouse, ibis_strategy):
    _fill(ibis_warehouse)
    peer = pandas_peer.measure_values(ibis_warehouse.con, ibis_strategy(MEASURES))
    cell = {
        (r["measure"], r["unit"], pandas_peer._day(r["period_start"])): r
        for r in peer.to_dict("records")
    }

    def get(measure: str, unit: str, period: date) -> dict:
        return cell[(measure, unit, period)]

    assert get("nps", "Sales", JAN)["value"] == pytest.approx(25.0)
    assert get("nps", "all", JAN)["value"] == pytest.approx(0.0)  # 2 promoters, 2 detractors of 5
    assert get("nps", "Support", JAN)["suppressed"]  # one response, min_n 3
    assert get("ces", "Sales", JAN)["value"] == pytest.approx(4.0)
    assert get("ces_easy", "all", JAN)["value"] == pytest.approx(200 / 3)
    # Support's single pulse answer is hidden, so Billing (the smaller shown unit) is hidden too.
    assert ("enps", "Support", JAN) not in cell  # no eNPS answer at all: no row
    assert get("health", "Support", JAN)["suppressed"]
    assert get("health", "Billing", JAN)["suppressed"]
    assert not get("health", "Sales", JAN)["suppressed"]
    # Sales: eNPS (2 - 1) / 3 -> (33.3 + 100) / 2; wellbeing (3.5 - 1) / 4 * 100 = 62.5.
    assert get("health", "Sales", JAN)["value"] == pytest.approx(((100 / 3 + 100) / 2 + 62.5) / 2)
    assert get("upsell_rate", "Sales", JAN)["value"] == pytest.approx(0.05)
    assert get("upsell_rate", "Sales", FEB)["note"] == "revenue is zero in period"
    assert get("cost_per_contact", "Support", JAN)["value"] == pytest.approx(4.0)
    assert get("cost_per_contact", "Support", FEB)["note"] == "no contacts in period"
