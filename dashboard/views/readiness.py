"""Readiness: which units may run the customer feedback loop, and what blocks the others?

"Get the house in order first": a unit's NPS feedback loop counts only once the unit passes an
internal readiness assessment (its mean over the dimensions reaches the threshold, no dimension is
below the floor, enough assessors scored it). This page shows the scores as a heatmap, each unit's
gate and since when, what blocks it, and which units are closest to passing.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import queries
from dashboard.components.formatting import format_period
from dashboard.components.frame import render_page
from dashboard.components.status import gate_state
from dashboard.components.tables import labelled_table
from dashboard.components.text import escape_markdown
from metrics.gates import gap_to_pass

QUESTION = "Which units are ready to run the feedback loop, and what blocks the others?"

RED, AMBER, GREEN = "#e57373", "#ffcc80", "#81c784"


def colorscale(floor: float, threshold: float, low: float = 1.0, high: float = 5.0) -> list:
    """A stepped scale over the 1..5 scores: red below the floor, amber below the threshold,
    green from the threshold up."""
    span = high - low
    f = min(max((floor - low) / span, 0.0), 1.0)
    t = min(max((threshold - low) / span, f), 1.0)
    return [[0.0, RED], [f, RED], [f, AMBER], [t, AMBER], [t, GREEN], [1.0, GREEN]]


def blocking_text(
    gate: dict[str, Any], scores: dict[str, float], dims: list[str], cfg: dict[str, Any],
    assessors: int | None,
) -> str:  # fmt: skip
    """What keeps a unit's gate closed, in words a unit lead can act on."""
    if gate["ready"]:
        return "Nothing: the unit passes"
    if gate["ready"] is None:
        return "Not assessed yet"
    if not gate["blocking"]:
        have = f"{assessors} assessor{'s' if assessors != 1 else ''}" if assessors else "too few"
        return f"Only the assessor count: {have} scored it, {int(cfg['min_assessors'])} needed"
    parts = []
    for d in gate["blocking"]:
        s = scores.get(d)
        if s is None or pd.isna(s):
            parts.append(f"{d} (not scored)")
        elif s < cfg["floor"]:
            parts.append(f"{d} ({s:.1f}, below the floor {cfg['floor']:g})")
        else:
            parts.append(f"{d} ({s:.1f}, below the threshold {cfg['threshold']:g})")
    return ", ".join(parts)


def _config(strategy: dict[str, Any], readiness: pd.DataFrame) -> dict[str, Any]:
    cfg = {"dimensions": [], "threshold": 3.5, "floor": 2.5, "min_assessors": 2}
    cfg.update({k: v for k, v in (strategy.get("readiness") or {}).items() if v is not None})
    dims = list(cfg["dimensions"])
    dims += sorted(set(readiness["dimension"]) - set(dims)) if not readiness.empty else []
    cfg["dimensions"] = dims
    return cfg


def _heatmap(readiness: pd.DataFrame, units: list[str], cfg: dict[str, Any]) -> None:
    dims = cfg["dimensions"]
    scores = readiness.pivot_table(
        index="unit", columns="dimension", values="score", aggfunc="mean"
    )
    assessors = readiness.pivot_table(
        index="unit", columns="dimension", values="n_assessors", aggfunc="max"
    )
    scores = scores.reindex(index=units, columns=dims)
    assessors = assessors.reindex(index=units, columns=dims)
    text = [
        [
            "not scored" if pd.isna(scores.loc[u, d])
            else f"{scores.loc[u, d]:.1f} ({int(assessors.loc[u, d])})"
            if pd.notna(assessors.loc[u, d]) else f"{scores.loc[u, d]:.1f}"
            for d in dims
        ]
        for u in units
    ]  # fmt: skip
    fig = go.Figure(
        go.Heatmap(
            z=scores.to_numpy(), x=dims, y=units, text=text, texttemplate="%{text}",
            textfont={"size": 14}, zmin=1, zmax=5, xgap=3, ygap=3,
            colorscale=colorscale(cfg["floor"], cfg["threshold"]),
            colorbar={"title": "score", "tickvals": [1, cfg["floor"], cfg["threshold"], 5]},
            hovertemplate="%{y} · %{x}: %{text}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_layout(
        height=max(220, 70 * len(units) + 90), margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"autorange": "reversed"}, xaxis={"side": "top"},
    )  # fmt: skip
    st.plotly_chart(fig, width="stretch", key="readiness_heatmap")
    st.caption(
        f"Each cell: the latest score averaged over assessors (assessors in brackets). Red is "
        f"below the floor ({cfg['floor']:g}), amber below the threshold ({cfg['threshold']:g}), "
        f"green at or above it. A unit passes when its mean over all {len(dims)} dimensions "
        f"reaches {cfg['threshold']:g}, none is below {cfg['floor']:g}, and at least "
        f"{int(cfg['min_assessors'])} assessors scored it."
    )


def unit_rows(
    readiness: pd.DataFrame, gates: pd.DataFrame, units: list[str], cfg: dict[str, Any], kind: str
) -> list[dict[str, Any]]:
    """Per unit: gate, since when, score, what blocks it and how far it is from passing."""
    rows = []
    for unit in units:
        mine = readiness[readiness["unit"] == unit]
        scores = dict(zip(mine["dimension"], mine["score"], strict=True))
        assessors = int(mine["n_assessors"].max()) if mine["n_assessors"].notna().any() else None
        gate = gate_state(gates, unit)
        since = format_period(gate["since"], kind) if gate["since"] is not None else "–"
        rows.append({
            "unit": unit,
            "gate": gate,
            "since": since,
            "score": gate["score"],
            "blocking": blocking_text(gate, scores, cfg["dimensions"], cfg, assessors),
            "gap": gap_to_pass(scores, cfg["dimensions"], cfg["threshold"], cfg["floor"]),
            "assessors": assessors,
            "as_of": mine["as_of"].max() if not mine.empty else None,
        })  # fmt: skip
    return rows


def render() -> None:
    render_page("Readiness", QUESTION, _render)


def _render(meta: queries.Meta) -> None:
    readiness = queries.readiness(meta)
    gates = queries.gates(meta)
    cfg = _config(queries.strategy(meta), readiness)
    units = sorted(set(readiness["unit"]) | set(gates["unit"]))
    if readiness.empty:
        st.info(
            "No readiness assessments yet: drop the assessment export into "
            "`inbox/readiness/`. Until a unit passes, its feedback is held, not counted as acted."
        )
        if not units:
            return
    rows = unit_rows(readiness, gates, units, cfg, meta.period)
    ready = [r for r in rows if r["gate"]["ready"]]
    c1, c2, c3 = st.columns(3)
    c1.metric("Units ready", f"{len(ready)} of {len(rows)}", border=True)
    c2.metric("Threshold (mean score)", f"{cfg['threshold']:g}", border=True)
    c3.metric("Floor (every dimension)", f"{cfg['floor']:g}", border=True)

    if not readiness.empty:
        st.subheader("Scores by unit and dimension", anchor=False)
        _heatmap(readiness, units, cfg)

    st.subheader("Gate per unit", anchor=False)
    table = pd.DataFrame([
        {
            "Unit": r["unit"],
            "Gate": r["gate"]["label"],
            "Since": r["since"],
            "Score": r["score"],
            "Blocked by": r["blocking"],
            "Assessors": r["assessors"],
            "Assessed": r["as_of"],
        }
        for r in rows
    ])  # fmt: skip
    labelled_table(
        table, ["Gate"],
        {
            "Score": st.column_config.NumberColumn(format="%.2f"),
            "Assessors": st.column_config.NumberColumn(
                help="Most assessors on one dimension", format="%d"
            ),
            "Blocked by": st.column_config.TextColumn(width="large"),
        },
    )  # fmt: skip

    st.subheader("Closest to passing", anchor=False)
    waiting = sorted((r for r in rows if not r["gate"]["ready"]), key=lambda r: r["gap"])
    if not waiting:
        st.success("Every unit passes its readiness gate.", icon=":material/verified:")
        return
    for r in waiting[:5]:
        with st.container(border=True):
            score = "–" if r["score"] is None or pd.isna(r["score"]) else f"{r['score']:.2f}"
            st.markdown(
                f"**{escape_markdown(r['unit'])}** · mean score {score} "
                f"(threshold {cfg['threshold']:g}) · {escape_markdown(r['blocking'])}"
            )


if __name__ == "__main__":
    render()
