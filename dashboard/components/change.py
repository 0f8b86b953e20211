"""Honest change as shown: an up or down marker only where the change is significant.

marts.measure_changes says, per measure, unit and period, how far a value moved since the period
right before and whether that move is larger than chance (|z| >= 1.96). Leaders read a marker as
news, so a marker appears only for a significant move; any other sampled move reads "no clear
change", with the change and its 95% interval on hover. Counted measures (sums, ratios, employee
health) have no sampling error: their change is shown as it is, without a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard.components.formatting import format_value, is_missing
from metrics.stats import Z95

UP, DOWN = "▲", "▼"
NO_CLEAR_CHANGE = "no clear change"


@dataclass(frozen=True)
class ChangeView:
    """One change as shown: `marker` (▲, ▼ or ''), `words` for the node or cell, `detail` for
    the hover, and `direction` ('up', 'down', 'no clear change', 'counted' or 'none')."""

    marker: str
    words: str
    detail: str
    direction: str


NO_CHANGE = ChangeView("", "", "No value in the period before to compare with", "none")


def format_change(change: Any, fmt: str | None, kind: str | None) -> str:
    """A change in the measure's own units, always signed ('+3', '-0.12', '+4.5 pts')."""
    if is_missing(change):
        return "–"
    text = format_value(abs(float(change)), fmt, kind).lstrip("+")
    if text.endswith("%") and kind != "ratio":
        text = text[:-1] + " pts"  # a share's change is in percentage points
    elif text.endswith("%"):
        text = f"{abs(float(change)) * 100:.1f} pts"
    sign = "-" if float(change) < 0 else "+"
    return text if text in ("0", "0.00") else sign + text


def change_view(row: Any, fmt: str | None, kind: str | None) -> ChangeView:
    """How one measure_changes row (a mapping, or None) reads."""
    if row is None:
        return NO_CHANGE
    change = row.get("change")
    moved = format_change(change, fmt, kind)
    se, significant = row.get("se"), row.get("significant")
    if is_missing(se):
        if kind in ("sum", "sum_ratio", "ratio", "employee_health"):
            return ChangeView("", f"{moved} (counted)", f"Change {moved}: counted, not sampled, "
                              "so it carries no sampling error", "counted")  # fmt: skip
        return ChangeView("", NO_CLEAR_CHANGE, f"Change {moved}: too few responses to tell",
                          NO_CLEAR_CHANGE)  # fmt: skip
    low, high = float(change) - Z95 * float(se), float(change) + Z95 * float(se)
    interval = f"{format_change(low, fmt, kind)} to {format_change(high, fmt, kind)}"
    detail = f"Change {moved} (95% interval {interval})"
    if is_missing(significant) or not bool(significant):
        return ChangeView("", NO_CLEAR_CHANGE, detail + ": within chance", NO_CLEAR_CHANGE)
    if float(change) > 0:
        return ChangeView(UP, f"{UP} {moved}", detail + ": a significant rise", "up")
    return ChangeView(DOWN, f"{DOWN} {moved}", detail + ": a significant fall", "down")
