"""Closing the loop on the feedback-loop page: did acting work, and what keeps going wrong?

The loop's measured effect is the difference between the recovery rate of items acted upon before
the customer's follow-up and of the others; the page always shows both, each with its Wilson 95%
interval and its n, never one alone (DESIGN.md "Closing the loop"). Over several periods the
counts are pooled (summed) and the interval recomputed, as the mart pools `all` over units.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.components.formatting import format_period, percent_trend_layout
from dashboard.components.tables import labelled_table
from metrics.schemas import ALL_UNITS
from metrics.stats import Z_SIGNIFICANT, wilson_interval

ACTED_COLOR, NOT_ACTED_COLOR = "#1565c0", "#9e9e9e"
SIDES = ((True, "Acted upon", ACTED_COLOR), (False, "Not acted upon", NOT_ACTED_COLOR))


def recovery(followed_up: Any, recovered: Any) -> tuple[float, float, float] | None:
    """(rate, low, high) as fractions with the Wilson 95% interval; None without follow-ups."""
    n = int(followed_up or 0)
    if n <= 0:
        return None
    return wilson_interval(int(recovered or 0), n, z=Z_SIGNIFICANT)


def recovery_text(followed_up: Any, recovered: Any) -> str:
    """'50% (38–62%), n = 64', or 'no follow-ups' (a rate always travels with its interval)."""
    r = recovery(followed_up, recovered)
    if r is None:
        return "no follow-ups"
    rate, low, high = r
    return f"{100 * rate:.0f}% ({100 * low:.0f}–{100 * high:.0f}%), n = {int(followed_up)}"


def _pooled(outcomes: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """followed_up and recovered summed per `by` + acted."""
    return outcomes.groupby([*by, "acted"], as_index=False)[["followed_up", "recovered"]].sum()


def effect(outcomes: pd.DataFrame, period: date | None, kind: str) -> None:
    """Recovery when acted vs not acted: for the whole organisation, per unit, and over time."""
    st.subheader("Did acting work?", anchor=False)
    st.caption(
        "Of the in-loop items whose customer answered the same survey again (the follow-up), the "
        "share that came back no longer a detractor or high-effort answer (recovered), when the "
        "item was acted upon before the follow-up and when it was not. The difference is the "
        "loop's measured effect; the ranges are 95% intervals."
    )
    chosen = outcomes if period is None else outcomes[outcomes["period_start"] == period]
    if chosen.empty:
        st.info(
            "No follow-ups yet for items of this period: no customer with an item has answered "
            "the same survey again.",
            icon=":material/hourglass_empty:",
        )
    else:
        org = _pooled(chosen[chosen["unit"] == ALL_UNITS], [])
        cols = st.columns(2)
        for col, (acted, label, _) in zip(cols, SIDES, strict=True):
            row = org[org["acted"] == acted]
            f, r = (row["followed_up"].sum(), row["recovered"].sum()) if len(row) else (0, 0)
            rec = recovery(f, r)
            col.metric(
                f"Recovered when {label.lower()}",
                "–" if rec is None else f"{100 * rec[0]:.0f}%",
                border=True,
                help=recovery_text(f, r),
            )
            col.caption(recovery_text(f, r))
        _by_unit(chosen)
    _over_time(outcomes, kind)


def _by_unit(outcomes: pd.DataFrame) -> None:
    units = _pooled(outcomes[outcomes["unit"] != ALL_UNITS], ["unit"])
    records = []
    for unit in sorted(units["unit"].unique()):
        mine = units[units["unit"] == unit]
        record: dict[str, Any] = {"Unit": unit}
        for acted, label, _ in SIDES:
            row = mine[mine["acted"] == acted]
            f = int(row["followed_up"].sum())
            r = int(row["recovered"].sum())
            rec = recovery(f, r)
            record[f"{label}: recovered"] = None if rec is None else 100 * rec[0]
            record[f"{label}: 95% range, n"] = (
                f"n = {f}" if rec is None else f"{100 * rec[1]:.0f}–{100 * rec[2]:.0f}%, n = {f}"
            )
        records.append(record)
    if not records:
        return
    config = {
        f"{label}: recovered": st.column_config.NumberColumn(format="%.0f%%")
        for _, label, _ in SIDES
    }
    labelled_table(pd.DataFrame(records), [], config)


def _over_time(outcomes: pd.DataFrame, kind: str) -> None:
    org = outcomes[outcomes["unit"] == ALL_UNITS]
    if org.empty:
        return
    fig = go.Figure()
    for acted, label, color in SIDES:
        rows = org[org["acted"] == acted].sort_values("period_start")
        recs = [recovery(f, r) for f, r in zip(rows["followed_up"], rows["recovered"], strict=True)]
        rate = [100 * x[0] for x in recs]
        fig.add_trace(go.Scatter(
            x=rows["period_start"], y=rate, mode="lines+markers", name=label,
            line={"color": color, "width": 3 if acted else 2},
            error_y={
                "type": "data", "symmetric": False,
                "array": [100 * x[2] - v for x, v in zip(recs, rate, strict=True)],
                "arrayminus": [v - 100 * x[1] for x, v in zip(recs, rate, strict=True)],
                "color": color, "thickness": 1,
            },
            customdata=rows["followed_up"],
            hovertemplate="%{y:.0f}% of %{customdata} followed up<extra>" + label + "</extra>",
        ))  # fmt: skip
    percent_trend_layout(fig, "% recovered", kind, org["period_start"].nunique())
    st.plotly_chart(fig, width="stretch", key="recovery_trend")
    st.caption(
        "Recovery rate by period of arrival, all units pooled, with 95% intervals. Acted upon = "
        "the first action came at or before the follow-up, whatever the SLA."
    )


def root_cause_chart(causes: pd.DataFrame, period: date | None, kind: str) -> None:
    """Root causes per unit (the outer loop): which causes explain the unit's items."""
    st.subheader("Root causes per unit", anchor=False)
    chosen = causes if period is None else causes[causes["period_start"] == period]
    chosen = chosen[chosen["unit"] != ALL_UNITS]
    if chosen.empty:
        st.info(
            "No root causes recorded for in-loop items of this period yet.",
            icon=":material/hourglass_empty:",
        )
        return
    cells = chosen.groupby(["unit", "root_cause"], as_index=False)["items"].sum()
    cells["share"] = cells["items"] / cells.groupby("unit")["items"].transform("sum")
    order = cells.groupby("root_cause")["items"].sum().sort_values(ascending=False).index
    fig = go.Figure()
    for cause in order:
        rows = cells[cells["root_cause"] == cause]
        fig.add_trace(go.Bar(
            y=rows["unit"], x=100 * rows["share"], name=str(cause), orientation="h",
            customdata=rows["items"],
            hovertemplate="%{y}: %{x:.0f}% (%{customdata} items)<extra>" + str(cause) + "</extra>",
        ))  # fmt: skip
    units = cells["unit"].nunique()
    fig.update_layout(
        barmode="stack", height=120 + 40 * units, margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title="% of the unit's items with a root cause", xaxis_range=[0, 100],
        legend={"orientation": "h", "y": -0.25},
    )  # fmt: skip
    st.plotly_chart(fig, width="stretch", key="root_causes")
    where = "all periods" if period is None else format_period(period, kind)
    st.caption(
        f"In-loop items of {where} by the root cause of their last action that named one. "
        "Causes that differ between units point at what each unit should fix for everyone."
    )
