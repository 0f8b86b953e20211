"""Reading a unit's readiness gate in plain Python: how far it is from passing, and since when it
has been ready (or not).

The gate itself is computed in Ibis (metrics/readiness.py, marts.readiness_gates); these
functions read its rows and the latest scores for the dashboard's "next to pass" ranking and the
gate badges. They import no Ibis, so the dashboard stays light.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def gap_to_pass(
    scores: Mapping[str, float | None], dims: Sequence[str], threshold: float, floor: float
) -> float:
    """Score points a unit still needs to pass: the mean's shortfall to the threshold plus every
    dimension's shortfall to the floor; a dimension not scored counts a full threshold's worth.

    Ranks the units that are not ready by how close they are ("next to pass"). While a dimension
    is missing the mean is not known, so only the missing and below-floor parts count.
    """
    known = [s for d in dims if (s := scores.get(d)) is not None and not _is_nan(s)]
    missing = len(dims) - len(known)
    mean = sum(known) / len(dims) if dims else 0.0
    short = max(0.0, threshold - mean) if not missing else 0.0
    return short + sum(max(0.0, floor - s) for s in known) + missing * threshold


@dataclass(frozen=True)
class GateStreak:
    """A unit's readiness gate at one period and the first period of its current streak.

    `ready` is None when the unit has no gate row up to that period (never assessed). `since` is
    the gate's `ready_since` when ready, else the first period of the unbroken run of not-ready
    periods up to this one.
    """

    ready: bool | None
    since: date | None
    score: float | None
    blocking: list[str]


def gate_streak(gates: pd.DataFrame, unit: str, period: date | None = None) -> GateStreak:
    """The gate of `unit` at `period` (default: its latest) from marts.readiness_gates rows
    (unit, period_start, score, ready, blocking_dimensions, ready_since)."""
    rows = gates[gates["unit"] == unit].sort_values("period_start")
    if period is not None:
        rows = rows[rows["period_start"] <= period]
    if rows.empty:
        return GateStreak(ready=None, since=None, score=None, blocking=[])
    last = rows.iloc[-1]
    ready = bool(last["ready"])
    ready_since = last.get("ready_since")
    if ready and ready_since is not None and ready_since == ready_since:  # not NaT
        since = ready_since
    else:
        since = last["period_start"]
        for was_ready, start in zip(
            rows["ready"].iloc[::-1], rows["period_start"].iloc[::-1], strict=True
        ):
            if bool(was_ready) != ready:
                break
            since = start
    blocking = last.get("blocking_dimensions")
    if blocking is None or isinstance(blocking, str) or not hasattr(blocking, "__iter__"):
        blocking = []
    return GateStreak(
        ready=ready, since=since, score=last.get("score"), blocking=[str(b) for b in blocking]
    )


def _is_nan(value: float) -> bool:
    try:
        return math.isnan(value)
    except TypeError:
        return False
