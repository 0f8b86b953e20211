"""Suppression of small cells: a cell with fewer than `min_n` events is hidden, and with
`anonymity` the smallest shown units too, so that `all` minus the shown units never reveals a
hidden group smaller than min_n."""

from __future__ import annotations

import ibis

from metrics.schemas import ALL_UNITS
from metrics.strategy import Measure

_NULL_FLOAT = ibis.null("float64")
_NULL_STR = ibis.null("string")

# What `n` counts, for the suppression note.
COUNTED = {
    "nps": "responses",
    "mean": "responses",
    "share": "responses",
    "employee_health": "responses",
    "sum": "rows",
    "sum_ratio": "rows",
}


def _is_null(expr: ibis.Value) -> bool:
    """True for a NULL note literal (known while building, so the SQL can leave it out)."""
    return expr.equals(_NULL_STR)


def join_notes(first: ibis.StringValue, second: ibis.StringValue) -> ibis.StringValue:
    """The two notes joined with '; ', either alone when the other is NULL."""
    if _is_null(first):
        return second
    if _is_null(second):
        return first
    return ibis.cases(
        (first.isnull(), second),
        (second.isnull(), first),
        else_=first + "; " + second,
    )


def suppress(cells: ibis.Table, m: Measure) -> ibis.Table:
    """Mark cells with n below min_n; for anonymity measures also protect the next smallest unit
    and remove suppressed values and intervals."""
    if m.min_n <= 0 and not m.anonymity:  # nothing to suppress
        return cells.mutate(suppressed=ibis.literal(False))
    too_few = (cells.n < m.min_n) if m.min_n > 0 else ibis.literal(False)
    counted = COUNTED.get(m.kind, "events")
    few_note = (
        ibis.literal("n=") + cells.n.cast("string") + f" below min_n {m.min_n}: too few {counted}"
    )
    cells = cells.mutate(
        suppressed=too_few,
        note=join_notes(ibis.cases((too_few, few_note), else_=_NULL_STR), cells.note),
    )
    if not m.anonymity:
        return cells

    # Complementary suppression: `all` minus the shown units reveals the hidden units pooled. With
    # exactly one unit hidden that is the unit itself; with several whose responses add up to
    # fewer than min_n it is still a group too small to show (two one-person teams each learn the
    # other's answer). So the smallest shown units (ties by name) are hidden too, one after the
    # other, until the hidden responses reach min_n.
    # A unit hidden with no events at all (a zero-filled sum) reveals nobody, so it protects nothing.
    is_unit = cells.unit != ALL_UNITS
    hides_someone = is_unit & cells.suppressed & (cells.n > 0)
    cells = cells.mutate(
        candidate=is_unit & ~cells.suppressed,
        hidden_flag=ibis.cases((hides_someone, 1), else_=0),
        hidden_n=ibis.cases((hides_someone, cells.n), else_=0),
    )
    hidden_units = cells.hidden_flag.sum().over(group_by=cells.period_start)
    hidden_n = cells.hidden_n.sum().over(group_by=cells.period_start)
    shown_before = cells.n.sum().over(
        ibis.window(
            group_by=[cells.period_start, cells.candidate],
            order_by=[cells.n, cells.unit],
            rows=(None, -1),
        )
    )
    protect = (
        cells.candidate & (hidden_units >= 1) & (hidden_n + shown_before.fill_null(0) < m.min_n)
    )
    cells = cells.mutate(
        suppressed=cells.suppressed | protect,
        note=ibis.cases(
            (
                protect,
                join_notes(
                    ibis.literal(
                        f"suppressed to protect a smaller unit below min_n {m.min_n} (anonymity)"
                    ),
                    cells.note,
                ),
            ),
            else_=cells.note,
        ),
    )
    return cells.mutate(
        value=ibis.cases((cells.suppressed, _NULL_FLOAT), else_=cells.value),
        ci_low=ibis.cases((cells.suppressed, _NULL_FLOAT), else_=cells.ci_low),
        ci_high=ibis.cases((cells.suppressed, _NULL_FLOAT), else_=cells.ci_high),
        se=ibis.cases((cells.suppressed, _NULL_FLOAT), else_=cells.se),
    ).drop("candidate", "hidden_flag", "hidden_n")
