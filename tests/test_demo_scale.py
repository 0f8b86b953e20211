"""The demo tells the same story at every scale: volumes and volume targets grow together, rates
and scores stay (issue: `--scale 100` once showed "Upsell share of revenue 996.9%")."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from metrics.config import EXAMPLES_DIR
from metrics.strategy import validate_strategy
from pipelines.demo.formats.salesforce import SALESFORCE_COLUMNS
from pipelines.demo.sources.business import cost_rows, revenue_rows, upsell_rows
from pipelines.demo.story import DEFAULT_UNITS, Story
from pipelines.demo.strategy_file import demo_strategy

_COL = {name: i for i, name in enumerate(SALESFORCE_COLUMNS)}
UNTIL = date(2026, 6, 30)
MONTHS = 12


def _business(scale: float) -> dict[str, float]:
    story = Story.build(UNTIL, MONTHS, list(DEFAULT_UNITS), scale)
    revenue = upsell = cost = contacts = 0.0
    for month in range(MONTHS):
        revenue += sum(float(r[2]) for r in revenue_rows(story, 7, month))
        for r in upsell_rows(story, 7, month):
            if r[_COL["IsWon"]] == "1" and r[_COL["Type"]] == "Existing Customer - Upgrade":
                upsell += float(r[_COL["Amount"]])
        for r in cost_rows(story, 7, month):
            cost += float(r[2])
            contacts += float(r[3] or 0)
    return {"revenue": revenue, "upsell": upsell, "cost": cost, "contacts": contacts}


def test_every_volume_grows_with_the_scale_and_the_rates_stay():
    one, three = _business(1), _business(3)
    # revenue, contacts and cost: the same draws times the scale (to the cent and the contact)
    assert three["revenue"] / one["revenue"] == pytest.approx(3, rel=1e-6)
    assert three["contacts"] / one["contacts"] == pytest.approx(3, rel=1e-3)
    assert three["cost"] / three["contacts"] == pytest.approx(
        one["cost"] / one["contacts"], rel=2e-3
    )
    # upsell: three times the opportunities (Poisson), so about three times the amount won
    assert three["upsell"] / one["upsell"] == pytest.approx(3, rel=0.15)
    for scale, totals in ((1, one), (3, three)):
        share = totals["upsell"] / totals["revenue"]
        assert 0.04 < share < 0.12, (scale, share)  # the strategy's 6% -> 10%, at every scale


def test_the_written_strategy_scales_the_volume_targets_only():
    bundled = yaml.safe_load((EXAMPLES_DIR / "strategy.yaml").read_text(encoding="utf-8"))
    assert demo_strategy(1) == (EXAMPLES_DIR / "strategy.yaml").read_bytes()
    scaled_raw = yaml.safe_load(demo_strategy(3))
    scaled, problems = validate_strategy(scaled_raw)
    assert not problems
    original, _ = validate_strategy(bundled)
    nodes = {n.id: n for n, _ in original.nodes()}
    for node, _ in scaled.nodes():
        before = nodes[node.id]
        if node.baseline is None:
            continue
        factor = 3 if node.measure in ("revenue", "upsell_revenue") else 1
        assert node.baseline.value == pytest.approx(before.baseline.value * factor), node.id
        assert node.target.value == pytest.approx(before.target.value * factor), node.id
    assert scaled.themes == original.themes
