"""The strategy.yaml the demo writes: the bundled one, with its volume targets at the demo's scale.

`--scale 10` makes ten times the customers: ten times the responses, opportunities, revenue,
contacts and cost. Rates and scores (NPS, CES, upsell's share of revenue, cost per contact) do
not change with it, but totals do, so every baseline, milestone and target of a node whose measure
is a `sum` (revenue, upsell revenue) is multiplied by the scale too. The tree then tells the same
story at every scale. At scale 1 the bundled file is copied byte for byte.
"""

from __future__ import annotations

import yaml

from metrics.config import EXAMPLES_DIR

#: The measure kinds whose values grow with the number of customers.
VOLUME_KINDS = ("sum",)


def demo_strategy(scale: float) -> bytes:
    """The bytes of the strategy.yaml for a demo at `scale`."""
    bundled = (EXAMPLES_DIR / "strategy.yaml").read_bytes()
    if scale == 1:
        return bundled
    raw = yaml.safe_load(bundled)
    volume = {
        mid
        for mid, m in raw.get("measures", {}).items()
        if isinstance(m, dict) and m.get("kind") in VOLUME_KINDS
    }
    _scale_nodes(raw["tree"], volume, scale)
    header = (
        f"# Written by `outcomeloop demo --scale {scale:g}`: examples/strategy.yaml with the\n"
        f"# baselines, milestones and targets of its volume measures ({', '.join(sorted(volume))})\n"
        f"# multiplied by {scale:g}, as the demo's customers, revenue and cost are.\n\n"
    )
    body = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=100)
    return (header + body).encode("utf-8")


def _scale_nodes(node: dict, volume: set[str], scale: float) -> None:
    if node.get("measure") in volume:
        for point in _points(node):
            point["value"] = round(point["value"] * scale, 6)
    for child in node.get("children", []):
        _scale_nodes(child, volume, scale)


def _points(node: dict) -> list[dict]:
    """Every {value, date} of a node: baseline, target, milestones, and each unit's own."""
    points = [node[k] for k in ("baseline", "target") if isinstance(node.get(k), dict)]
    points += node.get("milestones", [])
    for own in (node.get("by_unit") or {}).values():
        points += [own[k] for k in ("baseline", "target") if isinstance(own.get(k), dict)]
        points += own.get("milestones", [])
    return points
