"""How a measure's value is meant to be read: as money, a signed score, a percentage or a number.

strategy.yaml may give each measure a `format`; without one, its kind decides. The publish step
writes the resolved format into `serving.measures.format` and the dashboard formats values with
it, so both must use this one rule.

A `ratio` (one measure over another) defaults to `number`: it can be anything from a share of
revenue to revenue per employee, so only the strategy can say it is a percentage (`format:
percent`, which the bundled example sets for its upsell share).
"""

from __future__ import annotations

NUMBER_FORMATS = ("number", "currency", "percent", "signed")

_KIND_FORMATS = {
    "nps": "signed",
    "sum": "currency",
    "sum_ratio": "currency",
    "share": "percent",
}


def default_format(kind: str | None) -> str:
    """The display format of a measure kind when the strategy names none."""
    return _KIND_FORMATS.get(kind or "", "number")


def resolve_format(fmt: str | None, kind: str | None) -> str:
    """The display format of a measure: its own `format` when it is a known one, else its kind's."""
    return fmt if fmt in NUMBER_FORMATS else default_format(kind)
