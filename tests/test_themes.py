"""marts.comment_themes: the whole-word rule, counts and NPS impact against hand-computed values
(DESIGN.md "Comment themes")."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.themes import COMMENT_THEMES_SCHEMA, comment_themes

MAR = date(2025, 3, 1)


def _rows(wh, strategy) -> dict[tuple, dict]:
    got = wh.rows(comment_themes(wh.events(), strategy))
    return {(r["source"], r["unit"], r["theme"]): r for r in got}


def _response(i: int, unit: str, score: int, comment: str | None) -> dict:
    return {
        "response_id": f"{unit}-{i}",
        "responded_at": "2025-03-10 12:00",
        "unit": unit,
        "score": score,
        "comment": comment,
    }


@pytest.mark.parametrize(
    ("comment", "phrase", "matches"),
    [
        ("Support is slow.", "slow", True),
        ("It moved slowly", "slow", False),
        ("Onboarding-docs are missing", "onboarding", True),
        ("ONBOARDING was hard", "Onboarding", True),
        ("slow2 replies", "slow", False),
        ("slow", "slow", True),
        ("Überweisung dauert", "überweisung", True),
        ("Die Überweisung dauert", "Überweisung", True),
        ("cafés", "caf", False),
        ("Waited on hold, again", "on hold", True),
        ("the price (per seat) is high", "(per seat)", True),
        ("a.b", "a.b", True),
        ("axb", "a.b", False),
        (None, "slow", False),
    ],
)
def test_a_phrase_matches_whole_words_in_any_case(
    ibis_warehouse, ibis_strategy, comment, phrase, matches
):
    ibis_warehouse.insert("nps", [_response(0, "Sales", 3, comment)])
    strategy = ibis_strategy(themes={"t": [phrase]})
    got = _rows(ibis_warehouse, strategy)
    assert (("nps", "Sales", "t") in got) is matches


def test_counts_share_detractors_and_nps_impact(ibis_warehouse, ibis_strategy):
    sales = [
        (2, "Support is slow"),  # detractor, mentions slow
        (5, "Slow and rude."),  # detractor, mentions slow
        (10, "great team"),
        (9, None),  # counts in NPS, not as a comment
        (8, "   "),  # empty after trimming: not a comment
        (3, "Billing wrong; waited on hold"),  # detractor, mentions billing and waiting
    ]
    rows = [_response(i, "Sales", s, c) for i, (s, c) in enumerate(sales)]
    rows.append(_response(0, "Billing", 10, "slow but fine"))  # every response mentions slow
    ibis_warehouse.insert("nps", rows)
    ibis_warehouse.insert(
        "ces",
        [
            _response(0, "Sales", 2, "so slow"),  # high effort (<= 3)
            _response(1, "Sales", 6, "slow-ish but ok"),
            _response(2, "Sales", 7, "quick"),
        ],
    )
    strategy = ibis_strategy(
        themes={
            "waiting": ["slow", "on hold"],
            "billing": ["billing", "invoice"],
            "pricing": ["price"],  # never mentioned: no row
        }
    )
    got = _rows(ibis_warehouse, strategy)
    assert {k for k in got if k[0] == "nps"} == {
        ("nps", "Sales", "waiting"),
        ("nps", "Sales", "billing"),
        ("nps", "Billing", "waiting"),
        ("nps", "all", "waiting"),
        ("nps", "all", "billing"),
    }
    # Sales: 6 responses, 2 promoters, 3 detractors -> NPS -16.667. Not mentioning waiting:
    # (10, 9, 8) -> 2 promoters of 3 -> 66.667; impact -16.667 - 66.667 = -83.333.
    waiting = got["nps", "Sales", "waiting"]
    assert (waiting["mentions"], waiting["comments"], waiting["detractors"]) == (3, 4, 3)
    assert waiting["share"] == pytest.approx(0.75)
    assert waiting["nps_impact"] == pytest.approx(-100 / 6 - 200 / 3)
    assert waiting["period_start"] == MAR
    # billing: not mentioning it are the other 5: 2 promoters, 2 detractors -> 0; impact -16.667
    billing = got["nps", "Sales", "billing"]
    assert (billing["mentions"], billing["detractors"]) == (1, 1)
    assert billing["share"] == pytest.approx(0.25)
    assert billing["nps_impact"] == pytest.approx(-100 / 6)
    # Billing's only response mentions waiting: no response left, impact NULL
    assert got["nps", "Billing", "waiting"]["nps_impact"] is None
    # all, pooled: 7 responses, 3 promoters, 3 detractors -> 0; without waiting (10, 9, 8) 66.667
    pooled = got["nps", "all", "waiting"]
    assert (pooled["mentions"], pooled["comments"], pooled["detractors"]) == (4, 5, 3)
    assert pooled["share"] == pytest.approx(0.8)
    assert pooled["nps_impact"] == pytest.approx(-200 / 3)

    # ces: detractors are the high-effort mentions; no NPS impact
    ces = got["ces", "Sales", "waiting"]
    assert (ces["mentions"], ces["comments"], ces["detractors"]) == (2, 3, 1)
    assert ces["share"] == pytest.approx(2 / 3)
    assert ces["nps_impact"] is None


def test_no_themes_no_rows_and_the_columns_stay(ibis_warehouse, ibis_strategy):
    ibis_warehouse.insert("nps", [_response(0, "Sales", 3, "slow")])
    expr = comment_themes(ibis_warehouse.events(), ibis_strategy())
    assert expr.schema() == COMMENT_THEMES_SCHEMA
    assert expr.to_pyarrow().num_rows == 0
