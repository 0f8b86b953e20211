"""Outcome tree (leadership): is the strategy on track to revenue, and why?

Revenue sits at the root, the customer- and people-centred outcomes below it, the measures at the
leaves. Each node shows its value, target, progress against the time-phased expectation and a
status in colour and words. Beside the outcomes stand the promises they make to customers ("our
letter to customers"), and below, each measure's trend and the responses behind any number.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import queries
from dashboard.components.change import NO_CHANGE, change_view
from dashboard.components.drilldown import responses_behind
from dashboard.components.formatting import (
    format_interval,
    format_period,
    format_progress,
    format_value,
    measure_info,
    period_axis,
    suppressed_text,
    unit_name,
)
from dashboard.components.frame import render_page
from dashboard.components.status import (
    GREY,
    PROGRESS_COLOR,
    STATUS_ORDER,
    status_badge,
    status_label,
    status_style,
)
from dashboard.components.tables import labelled_table
from dashboard.components.text import escape_markdown
from dashboard.components.tree import tree_dot
from metrics.schemas import ALL_UNITS

QUESTION = "Is the strategy on track to revenue? Every node: value, target, progress, status."
NO_DATA = "No data for this period"


def _present(value: Any) -> bool:
    return value is not None and not pd.isna(value)


def node_view(tree_row: pd.Series, prog: pd.Series | None, info: dict[str, Any]) -> dict[str, Any]:
    """One tree node as shown: texts for value, target, expectation; progress; status; why hidden."""
    label = tree_row.get("label")
    if not _present(label):
        label = info["label"] if _present(info["label"]) else tree_row["node"]
    fmt, kind = info["format"], info["kind"]
    view: dict[str, Any] = {
        "node": tree_row["node"],
        "parent": tree_row["parent"] if _present(tree_row["parent"]) else None,
        "depth": int(tree_row["depth"]),
        "label": str(label),
        "measure": tree_row["measure"] if _present(tree_row["measure"]) else None,
        "promise": tree_row.get("promise") if _present(tree_row.get("promise")) else None,
        "status": "insufficient_data",
        "value": "–",
        "target": "–",
        "expected_value": "–",
        "interval": "",
        "n": None,
        "progress": None,
        "expected_progress": None,
        "hidden": None,
        "change": NO_CHANGE,
    }
    if prog is None:
        view["hidden"] = NO_DATA
        return view
    view["status"] = prog["status"] if _present(prog["status"]) else "insufficient_data"
    has_measure = view["measure"] is not None
    if _present(prog.get("progress")):
        view["progress"] = float(prog["progress"])
    if _present(prog.get("expected_progress")):
        view["expected_progress"] = float(prog["expected_progress"])
    if has_measure:
        base, target = prog.get("baseline"), prog.get("target")
        view["target"] = format_value(target, fmt, kind)
        if _present(base) and _present(target) and view["expected_progress"] is not None:
            expected = base + view["expected_progress"] * (target - base)
            view["expected_value"] = format_value(expected, fmt, kind)
        if bool(prog.get("suppressed")):
            view["hidden"] = suppressed_text(
                prog.get("n"), info["min_n"], info["anonymity"], prog.get("note")
            )
            view["value"] = "Hidden"
            view["progress"] = None
        else:
            view["value"] = format_value(prog.get("value"), fmt, kind)
            view["interval"] = format_interval(prog.get("ci_low"), prog.get("ci_high"), fmt, kind)
            view["n"] = int(prog["n"]) if _present(prog.get("n")) else None
            if not _present(prog.get("value")) and _present(prog.get("note")):
                view["hidden"] = str(prog["note"])
    return view


def build_views(meta: queries.Meta, period: date, unit: str = ALL_UNITS) -> list[dict[str, Any]]:
    """The tree for one period, node by node in depth-first order, for `unit` (default: all),
    each measure node with its change since the period before."""
    tree = queries.tree(meta)
    measures = queries.measures(meta).set_index("measure")
    rows = queries.progress(meta, period, unit)
    by_node = {r["node"]: r for _, r in rows.iterrows()}
    changes = {r["measure"]: r for _, r in queries.changes(meta, period, unit).iterrows()}
    views = []
    for _, t in tree.iterrows():
        info = measure_info(measures, t["measure"])
        view = node_view(t, by_node.get(t["node"]), info)
        if view["measure"] is not None and view["value"] not in ("Hidden", "–"):
            view["change"] = change_view(changes.get(view["measure"]), info["format"], info["kind"])
        views.append(view)
    return views


def _graph_lines(view: dict[str, Any]) -> list[str]:
    lines = []
    if view["measure"] is not None:
        if view["hidden"] and view["value"] in ("Hidden", "–"):
            lines.append(view["hidden"])
        else:
            lines.append(f"{view['value']}  (target {view['target']})")
    if view["change"].words:
        lines.append(view["change"].words)
    progress = format_progress(view["progress"])
    expected = format_progress(view["expected_progress"])
    if view["progress"] is not None or view["expected_progress"] is not None:
        lines.append(f"progress {progress} vs {expected} expected")
    return lines


def _context_popover(strategy: dict[str, Any]) -> None:
    context = strategy.get("context") or {}
    with st.popover("Strategy context", icon=":material/flag:"):
        st.markdown(f"**{escape_markdown(strategy.get('name', 'Strategy'))}**")
        labels = (
            ("target_customers", "Target customers"),
            ("value_proposition", "Value proposition"),
            ("brand", "Brand"),
        )
        shown = False
        for key, title in labels:
            if context.get(key):
                st.markdown(f"**{title}:** {escape_markdown(context[key])}")
                shown = True
        goals = context.get("business_goals") or []
        if goals:
            st.markdown("**Business goals:**")
            st.markdown("\n".join(f"- {escape_markdown(g)}" for g in goals))
            shown = True
        if not shown:
            st.caption("The strategy names no context yet (add `context:` to strategy.yaml).")


def _headline(views: list[dict[str, Any]], period_name: str) -> None:
    root = views[0]
    counts = pd.Series([v["status"] for v in views]).value_counts()
    cols = st.columns(4)
    cols[0].metric(f"{root['label']} · {period_name}", root["value"], border=True)
    cols[1].metric("Target", root["target"], border=True)
    cols[2].metric(
        "Progress vs expected",
        f"{format_progress(root['progress'])} of {format_progress(root['expected_progress'])}",
        border=True,
    )
    with cols[3].container(border=True):
        st.markdown(f"**Status** {status_badge(root['status'])}")
        st.caption(
            " · ".join(
                f"{counts[s]} {status_style(s).words.lower()}" for s in STATUS_ORDER if s in counts
            )
            + " across the tree"
        )


def _promises(views: list[dict[str, Any]]) -> None:
    st.subheader("Our letter to customers", anchor=False)
    outcomes = [v for v in views if v["depth"] == 1]
    with_promise = [v for v in outcomes if v["promise"]]
    if not with_promise:
        st.caption("No outcome carries a customer promise yet (add `promise:` to an outcome).")
    for v in with_promise:
        with st.container(border=True):
            st.markdown(f"**{escape_markdown(v['label'])}** {status_badge(v['status'])}")
            st.markdown(f"> *“{escape_markdown(v['promise'])}”*")


def _table(views: list[dict[str, Any]], unit_views: dict[str, dict[str, Any]] | None, unit: str):
    records = []
    for v in views:
        indent = "\u2003\u2003" * v["depth"]
        rec = {
            "Node": f"{indent}{'└ ' if v['depth'] else ''}{v['label']}",
            "Value": v["value"],
            "Target": v["target"],
            "Expected now": v["expected_value"],
            "Progress": None if v["progress"] is None else 100 * v["progress"],
            "Expected progress": (
                None if v["expected_progress"] is None else 100 * v["expected_progress"]
            ),
            "Status": status_label(v["status"]),
            "Change": v["change"].words,
            "Change detail": v["change"].detail if v["change"].words else "",
            "95% interval": v["interval"],
            "Responses": v["n"],
            "Note": v["hidden"] or "",
        }
        if unit_views is not None:
            uv = unit_views.get(v["node"])
            rec[f"{unit} value"] = uv["value"] if uv else "–"
            rec[f"{unit} change"] = uv["change"].words if uv else ""
            rec[f"{unit} note"] = (uv["hidden"] or "") if uv else ""
        records.append(rec)
    df = pd.DataFrame(records)
    progress_cfg = {
        "Progress": st.column_config.ProgressColumn(
            "Progress", min_value=0, max_value=100, format="%.0f%%", help="Of the way to target",
            color=PROGRESS_COLOR,
        ),
        "Expected progress": st.column_config.ProgressColumn(
            "Expected", min_value=0, max_value=100, format="%.0f%%",
            help="Where the plan says we should be by the period's last day",
            color=GREY,
        ),
        "Responses": st.column_config.NumberColumn(
            "n", help="Responses (or rows) behind the value", format="%,d"
        ),
        "Change": st.column_config.TextColumn(
            "Change", help="Since the period before: ▲/▼ only when the move is larger than "
            "chance (|z| ≥ 1.96); otherwise no clear change",
        ),
        "Change detail": st.column_config.TextColumn(
            "Change (95% interval)", help="The change and its 95% interval", width="medium",
        ),
    }  # fmt: skip
    labelled_table(
        df, ["Status"], progress_cfg,
        height=35 * (len(df) + 1) + 3,  # the whole tree, no inner scrolling
    )  # fmt: skip


def _unit_views(meta: queries.Meta, period: date, unit: str) -> dict[str, dict[str, Any]]:
    """A unit's own values for the tree's measures (its own progress where the tree gives it
    targets via `by_unit`)."""
    tree = queries.tree(meta)
    measures = queries.measures(meta).set_index("measure")
    own = {r["node"]: r for _, r in queries.progress(meta, period, unit).iterrows()}
    changes = {r["measure"]: r for _, r in queries.changes(meta, period, unit).iterrows()}
    values = queries.measure_values(meta, None, (unit,))
    values = values[values["period_start"] == period].set_index("measure")
    out: dict[str, dict[str, Any]] = {}
    for _, t in tree.iterrows():
        if not _present(t["measure"]):
            continue
        info = measure_info(measures, t["measure"])
        change = change_view(changes.get(t["measure"]), info["format"], info["kind"])
        if t["node"] in own:
            out[t["node"]] = {**node_view(t, own[t["node"]], info), "change": change}
            continue
        view = {"value": "–", "hidden": NO_DATA, "change": change}
        if t["measure"] in values.index:
            mv = values.loc[t["measure"]]
            if bool(mv["suppressed"]):
                view = {
                    "value": "Hidden",
                    "hidden": suppressed_text(
                        mv["n"], info["min_n"], info["anonymity"], mv.get("note")
                    ),
                    "change": NO_CHANGE,
                }
            else:
                view = {
                    "value": format_value(mv["value"], info["format"], info["kind"]),
                    "hidden": None if _present(mv["value"]) else mv.get("note"),
                    "change": change,
                }
        out[t["node"]] = view
    return out


def _own_views(meta: queries.Meta, period: date, unit: str) -> list[dict[str, Any]]:
    """The tree for a reader of some units only: the unit's progress where the tree gives it
    targets (`by_unit`), else the unit's own values of the tree's measures."""
    views = build_views(meta, period, unit)
    own = _unit_views(meta, period, unit)
    for view in views:
        if view["hidden"] == NO_DATA and view["node"] in own:
            view.update(own[view["node"]])
    return views


def _suppressed_notes(meta: queries.Meta, period: date, measure_ids: list[str]) -> None:
    values = queries.measure_values(meta)
    if values.empty:
        return
    hidden = values[
        (values["period_start"] == period)
        & values["suppressed"].fillna(False).astype(bool)
        & values["measure"].isin(measure_ids)
    ]
    if hidden.empty:
        return
    labels = queries.measures(meta).set_index("measure")["label"].to_dict()
    lines = [
        f"- {escape_markdown(unit_name(r['unit']))} · "
        f"{escape_markdown(labels.get(r['measure']) or r['measure'])}: "
        f"{suppressed_text(r['n'], r['min_n'], bool(r['anonymity']), r['note'])}"
        for _, r in hidden.iterrows()
    ]
    st.caption(
        (
            "1 value in this period is"
            if len(lines) == 1
            else f"{len(lines)} values in this period are"
        )
        + " hidden because too few people answered; a "
        "number from a handful of responses would mislead (and, for employee measures, could "
        "identify someone):\n" + "\n".join(lines)
    )


def _trend_line(
    fig: go.Figure,
    line: pd.DataFrame,
    changes: pd.DataFrame,
    info: dict[str, Any],
    name: str,
    color: str,
    width: int,
) -> None:
    """One unit's line; a point whose change since the period before is significant carries a
    ▲ or ▼ marker, every point says its change and interval on hover."""
    by_period = {r["period_start"]: r for _, r in changes.iterrows()}
    views = [
        change_view(by_period.get(p), info["format"], info["kind"]) for p in line["period_start"]
    ]
    symbols = {"up": "triangle-up", "down": "triangle-down"}
    fig.add_trace(go.Scatter(
        x=line["period_start"], y=line["value"], mode="lines+markers", name=name,
        line={"color": color, "width": width},
        marker={
            "symbol": [symbols.get(v.direction, "circle") for v in views],
            "size": [14 if v.direction in symbols else 6 for v in views],
        },
        customdata=[[v.words or "–", v.detail] for v in views],
        hovertemplate="%{y}<br>%{customdata[0]}<br>%{customdata[1]}<extra>" + name + "</extra>",
    ))  # fmt: skip


def _trend(meta: queries.Meta, views: list[dict[str, Any]], unit: str) -> None:
    st.subheader("Trends", anchor=False)
    nodes = [v for v in views if v["measure"]]
    if not nodes:
        st.caption("The tree has no measures.")
        return
    measures = queries.measures(meta).set_index("measure")
    choice = st.selectbox(
        "Measure", [v["node"] for v in nodes], key="trend_measure",
        format_func=lambda n: next(v["label"] for v in nodes if v["node"] == n),
    )  # fmt: skip
    view = next(v for v in nodes if v["node"] == choice)
    info = measure_info(measures, view["measure"])
    units = (ALL_UNITS,) if unit == ALL_UNITS else (ALL_UNITS, unit)
    values = queries.measure_values(meta, view["measure"], units)
    values = values[~values["suppressed"].fillna(False).astype(bool) & values["value"].notna()]
    history = queries.progress(meta, None, ALL_UNITS)
    history = history[history["node"] == choice].sort_values("period_start")

    fig = go.Figure()
    org = values[values["unit"] == ALL_UNITS].sort_values("period_start")
    has_band = org["ci_low"].notna().any()
    if has_band:
        fig.add_trace(go.Scatter(
            x=list(org["period_start"]) + list(org["period_start"])[::-1],
            y=list(org["ci_high"]) + list(org["ci_low"])[::-1],
            fill="toself", fillcolor="rgba(25,118,210,0.15)", line={"width": 0},
            name="95% interval", hoverinfo="skip",
        ))  # fmt: skip
    changes = queries.changes(meta, None, None)
    changes = changes[changes["measure"] == view["measure"]]
    lines = [(ALL_UNITS, "#1976d2", 3)] + ([(unit, "#7b1fa2", 2)] if unit != ALL_UNITS else [])
    for who, color, width in lines:
        line = values[values["unit"] == who].sort_values("period_start")
        _trend_line(fig, line, changes[changes["unit"] == who], info, unit_name(who), color, width)
    expected = history.dropna(subset=["baseline", "target", "expected_progress"])
    if not expected.empty:
        y = expected["baseline"] + expected["expected_progress"] * (
            expected["target"] - expected["baseline"]
        )
        fig.add_trace(go.Scatter(
            x=expected["period_start"], y=y, mode="lines", name="Target trajectory",
            line={"color": "#616161", "dash": "dash"},
        ))  # fmt: skip
    fig.update_layout(
        height=340, margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": 1.12}, yaxis_title=view["label"],
        hovermode="x unified",
        xaxis=period_axis(meta.period, history["period_start"].nunique()),
    )  # fmt: skip
    if org.empty and unit == ALL_UNITS:
        st.info(f"No {view['label']} values yet: its source has no data in the snapshot.")
        return
    st.plotly_chart(fig, width="stretch", key=f"trend_{choice}")
    caption = f"Target {view['target']}"
    if not has_band and info["kind"] in ("sum", "sum_ratio", "ratio", "employee_health"):
        caption += "; this measure is counted, not sampled, so it carries no interval"
    st.caption(
        caption + ". Hidden cells (too few responses) are left out of the lines. ▲/▼ mark a "
        "change since the period before that is larger than chance; hover a point for its change "
        "and interval."
    )


def render() -> None:
    render_page("Outcome tree", QUESTION, _render)


def _render(meta: queries.Meta) -> None:
    strategy = queries.strategy(meta)
    periods = queries.progress_periods(meta)
    choices = queries.unit_choices(meta)
    c1, c2, c3 = st.columns([1, 1, 1], vertical_alignment="bottom")
    if not periods or not choices:
        with c3:
            _context_popover(strategy)
        st.info(
            "No outcome progress yet: none of the tree's measures has data in the snapshot. "
            "The Data health page shows which sources have arrived."
        )
        return
    period = c1.selectbox(
        "Period", periods, index=0, key="tree_period",
        format_func=lambda p: format_period(p, meta.period),
    )  # fmt: skip
    unit = c2.selectbox(
        "Unit", choices, index=0, format_func=unit_name, key="tree_unit",
        help="Shows the unit's own values beside the organisation's.",
    )  # fmt: skip
    with c3:
        _context_popover(strategy)
    if ALL_UNITS not in choices:
        st.caption(
            "You see your units' values; the whole organisation's are for roles that read "
            "every unit."
        )

    if ALL_UNITS in choices:
        views = build_views(meta, period)
        unit_views = _unit_views(meta, period, unit) if unit != ALL_UNITS else None
    else:  # a reader of some units: the tree of the chosen one
        views, unit_views = _own_views(meta, period, unit), None
    period_name = format_period(period, meta.period)
    _headline(views, period_name)

    left, right = st.columns([2, 1])
    with left:
        st.subheader(f"From measures to revenue · {period_name}", anchor=False)
        nodes = [{**v, "lines": _graph_lines(v), "tooltip": v["change"].detail} for v in views]
        st.graphviz_chart(tree_dot(nodes), width="stretch")
    with right:
        _promises(views)

    _table(views, unit_views, unit)
    _suppressed_notes(meta, period, [v["measure"] for v in views if v["measure"]])

    _trend(meta, views, unit)
    responses_behind(meta, unit, period)


if __name__ == "__main__":
    render()
