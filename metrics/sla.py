"""The feedback loop's within-SLA share, in plain Python for the dashboard's tiles, tables and
trend (marts.feedback_loop holds the counts it is computed from)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def within_sla_share(acted_within_sla: float, acted_late: float, overdue: float) -> float | None:
    """Of the items whose deadline has passed or that were acted upon, the share acted upon
    within the SLA (0..1). Open items, not yet due, count neither way: judging them now would
    punish a unit for feedback that arrived an hour ago. None when nothing is due yet."""
    decided = acted_within_sla + acted_late + overdue
    return None if decided == 0 else acted_within_sla / decided


def within_sla_shares(counts: pd.DataFrame) -> pd.Series:
    """`within_sla_share` for every row of a frame with marts.feedback_loop's count columns
    (acted_within_sla, acted_late, overdue); NaN where nothing is due yet."""
    decided = counts["acted_within_sla"] + counts["acted_late"] + counts["overdue"]
    return (counts["acted_within_sla"] / decided.where(decided > 0)).astype("float64")
