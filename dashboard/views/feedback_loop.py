"""Feedback loop (CX teams): is the feedback we collect acted upon, in time?

Every detractor or high-effort response becomes an item with a deadline. Per unit this page shows
whether the unit may run the loop (its readiness gate), how many items arrived, how many were acted
upon within the SLA or late, which are overdue, and which are held because the unit was not ready
(held items are not pretended to be acted upon). Then whether acting worked (the recovery rate of
items acted upon against the others, each with its interval), how many customers were told what was
done, and the root causes per unit. Below: the trend of the within-SLA share, the item list with
filters and a CSV download, and the form to log an action on an item.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import auth, queries
from dashboard.actions import Action, ActionRejected, logged_actions, write_action
from dashboard.components import loop as loop_sections
from dashboard.components.formatting import (
    format_count,
    format_hours,
    format_period,
    percent_trend_layout,
    plural,
)
from dashboard.components.frame import render_page
from dashboard.components.status import PROGRESS_COLOR, feedback_status_label, gate_state
from dashboard.components.tables import csv_safe, labelled_table
from dashboard.components.text import comment_text, escape_markdown
from metrics.config import settings
from metrics.sla import within_sla_share, within_sla_shares

QUESTION = "Is the feedback we collect acted upon, within the SLA? Per unit, with the items behind."
ALL_PERIODS = "__all__"
COUNTS = (
    "items", "in_loop", "acted_within_sla", "acted_late", "overdue", "open", "held_not_ready",
    "closed_with_customer",
)  # fmt: skip


def _metrics(totals: pd.Series, median_hours: Any, sla_hours: float) -> None:
    share = within_sla_share(totals["acted_within_sla"], totals["acted_late"], totals["overdue"])
    top = st.columns(4)
    top[0].metric("Items", format_count(totals["items"]), border=True)
    top[1].metric("In loop", format_count(totals["in_loop"]), border=True)
    top[2].metric("Overdue", format_count(totals["overdue"]), border=True)
    top[3].metric("Held", format_count(totals["held_not_ready"]), border=True)
    bottom = st.columns(5)
    bottom[0].metric("Acted within SLA", format_count(totals["acted_within_sla"]), border=True)
    bottom[1].metric("Acted late", format_count(totals["acted_late"]), border=True)
    bottom[2].metric("Within SLA", "–" if share is None else f"{100 * share:.0f}%", border=True)
    bottom[3].metric("Median time to action", format_hours(median_hours), border=True)
    closed, in_loop = int(totals["closed_with_customer"]), int(totals["in_loop"])
    bottom[4].metric(
        "Customer told", "–" if not in_loop else f"{100 * closed / in_loop:.0f}%", border=True,
        help=f"Closed with the customer: {closed:,} of {in_loop:,} in-loop items, whose customer "
        "was told what was done (a closing action type)",
    )  # fmt: skip
    st.caption(
        f"SLA: first action within {sla_hours:g} hours. Within SLA: of the items due (acted upon, "
        "late or overdue), the share acted upon in time; open items not yet due count neither way. "
        "Customer told: of the in-loop items, the share closed with the customer (told what was done)."
    )


def _unit_table(loop: pd.DataFrame, gates: pd.DataFrame, period: date | None, kind: str) -> None:
    by_unit = loop.groupby("unit", as_index=False)[list(COUNTS)].sum()
    # The mart's median per unit and period; over several periods only a range can be told.
    medians = loop.groupby("unit")["median_hours_to_action"].agg(["min", "max", "count"])
    records = []
    for _, r in by_unit.iterrows():
        gate = gate_state(gates, r["unit"], period)
        since = format_period(gate["since"], kind) if gate["since"] is not None else ""
        records.append({
            "Unit": r["unit"],
            "Gate": gate["label"] + (f" since {since}" if since else ""),
            "Items": r["items"],
            "In loop": r["in_loop"],
            "Acted within SLA": r["acted_within_sla"],
            "Acted late": r["acted_late"],
            "Overdue": r["overdue"],
            "Open": r["open"],
            "Held": r["held_not_ready"],
            "Within SLA": _pct(within_sla_share(r["acted_within_sla"], r["acted_late"], r["overdue"])),
            "Median time to action": _median_text(medians, r["unit"]),
            "Closed with customer": _pct(
                r["closed_with_customer"] / r["in_loop"] if r["in_loop"] else None
            ),
        })  # fmt: skip
    labelled_table(
        pd.DataFrame(records), ["Gate"],
        {
            "Within SLA": st.column_config.ProgressColumn(
                "Within SLA", min_value=0, max_value=100, format="%.0f%%",
                help="Of the items due, the share acted upon within the SLA",
                color=PROGRESS_COLOR,
            ),
            "Closed with customer": st.column_config.ProgressColumn(
                "Closed with customer", min_value=0, max_value=100, format="%.0f%%",
                help="Of the in-loop items, the share whose customer was told what was done",
                color=PROGRESS_COLOR,
            ),
        },
    )  # fmt: skip


def _median_text(medians: pd.DataFrame, unit: str) -> str:
    if unit not in medians.index or not medians.loc[unit, "count"]:
        return "–"
    low, high = medians.loc[unit, "min"], medians.loc[unit, "max"]
    if low == high:
        return format_hours(low)
    return f"{format_hours(low)} to {format_hours(high)} (per period)"


def _pct(share: float | None) -> float | None:
    return None if share is None else 100 * share


def _trend(loop: pd.DataFrame, kind: str) -> None:
    st.subheader("Acted within SLA, over time", anchor=False)
    org = loop.groupby("period_start", as_index=False)[list(COUNTS)].sum()
    org["share"] = within_sla_shares(org) * 100
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=org["period_start"], y=org["share"], mode="lines+markers", name="All units",
        line={"color": "#1976d2", "width": 3}, connectgaps=False,
    ))  # fmt: skip
    for unit, rows in loop.groupby("unit"):
        rows = rows.sort_values("period_start")
        fig.add_trace(go.Scatter(
            x=rows["period_start"], y=within_sla_shares(rows) * 100, mode="lines+markers", name=str(unit),
            line={"width": 1.5, "dash": "dot"}, connectgaps=False,
        ))  # fmt: skip
    percent_trend_layout(fig, "% within SLA", kind, org["period_start"].nunique())
    st.plotly_chart(fig, width="stretch", key="sla_trend")
    st.caption(
        "Of the items due in each period of arrival, the share acted upon within the SLA. "
        "A gap means nothing was due in that period."
    )


def _items(meta: queries.Meta) -> None:
    st.subheader("Feedback items", anchor=False)
    options = queries.feedback_options(meta)
    if not options["units"]:
        st.info("No feedback items yet: no NPS detractor or high-effort CES response has arrived.")
        return
    c1, c2, c3 = st.columns(3)
    units = c1.multiselect("Unit", options["units"], default=options["units"], key="fl_units")
    sources = c2.multiselect(
        "Source", options["sources"], default=options["sources"], key="fl_sources",
        format_func=str.upper,
    )  # fmt: skip
    default_status = [s for s in ("overdue",) if s in options["statuses"]] or options["statuses"]
    statuses = c3.multiselect(
        "Status", options["statuses"], default=default_status, key="fl_statuses",
        format_func=feedback_status_label,
    )  # fmt: skip
    items = queries.feedback_items(meta, tuple(units), tuple(sources), tuple(statuses))
    if items.empty:
        st.success("No items match these filters.", icon=":material/check_circle:")
        return
    mask = queries.mask_contacts_enabled(meta)
    now = meta.built_at  # the run's "now", as the marts judged overdue
    shown = pd.DataFrame({
        "Received": items["received_at"],
        "Unit": items["unit"],
        "Source": items["source"].str.upper(),
        "Score": items["score"],
        "Comment": [comment_text(c, mask) for c in items["comment"]],
        "Due": items["due_at"],
        "Status": [feedback_status_label(s) for s in items["status"]],
        "Overdue by": [
            format_hours((pd.Timestamp(now) - d).total_seconds() / 3600)
            if s == "overdue" and pd.notna(d) else ""
            for s, d in zip(items["status"], items["due_at"], strict=True)
        ],
        "First action": items["first_action_at"],
        "Owner": items["owner"].fillna(""),
        "Root cause": items["root_cause"].fillna(""),
        "Customer told": items["closed_with_customer_at"],
        "Follow-up score": pd.to_numeric(items["followup_score"], errors="coerce"),
        "Recovered": [_recovered_text(r) for r in items["recovered"]],
        "Feedback id": items["feedback_id"],
    })  # fmt: skip
    total = int(items["total"].iloc[0])
    labelled_table(
        shown, ["Status"],
        {
            "Score": st.column_config.NumberColumn(format="%g"),
            "Follow-up score": st.column_config.NumberColumn(format="%g"),
            "Comment": st.column_config.TextColumn(width="large"),
        },
    )  # fmt: skip
    more = f", the first {len(items):,} shown" if total > len(items) else ""
    st.caption(f"{plural(total, 'item matches', 'items match')}{more}; the longest overdue first.")
    csv = csv_safe(shown.assign(Status=items["status"].to_numpy())).to_csv(index=False)
    st.download_button(
        "Download these items (CSV)", csv, file_name="feedback_items.csv", mime="text/csv",
        icon=":material/download:", key="fl_csv",
    )  # fmt: skip
    if auth.can_log_actions():  # access.yaml: only roles with log_actions see the form
        action_form(meta, items)


def _recovered_text(recovered: Any) -> str:
    if recovered is None or pd.isna(recovered):
        return ""
    return "yes" if recovered else "no"


def action_form(meta: queries.Meta, items: pd.DataFrame) -> None:
    """Log an action on one of the listed items: one canonical JSON Lines file in the inbox.

    The whole form is this one function, so access control can wrap it (only roles allowed to log
    actions see it). The action counts once the pipeline has loaded it into a snapshot; until
    then it is listed as pending below the form.
    """
    loop_cfg = queries.strategy(meta).get("feedback_loop") or {}
    closing = list(loop_cfg.get("closing_action_types") or ["customer_informed"])
    causes = loop_cfg.get("root_causes")
    labels = {
        r["feedback_id"]: f"{r['feedback_id']} · {r['unit']} · {str(r['source']).upper()} "
        f"{r['score']:g} · {feedback_status_label(r['status'])}"
        for _, r in items.iterrows()
    }
    st.subheader("Log an action", anchor=False)
    with st.form("log_action", clear_on_submit=True, border=True):
        c1, c2 = st.columns(2)
        feedback_id = c1.selectbox(
            "Feedback item", list(labels), format_func=lambda i: labels.get(i, i), key="la_item"
        )
        action_type = c2.text_input(
            "Action type", value=closing[0], key="la_type",
            help=f"Closing types (the customer was told what was done): {', '.join(closing)}",
        )  # fmt: skip
        owner = c1.text_input("Owner", key="la_owner", placeholder="who acted, e.g. an e-mail")
        if causes:
            root_cause = c2.selectbox(
                "Root cause", ["", *causes], key="la_cause", format_func=lambda c: c or "(none)"
            )
        else:
            root_cause = c2.text_input("Root cause", key="la_cause")
        note = st.text_input("Note", key="la_note")
        submitted = st.form_submit_button("Log action", icon=":material/add_task:", key="la_submit")
    if submitted:
        action = Action(str(feedback_id or ""), action_type, owner, root_cause or "", note)
        received = queries.feedback_item_received_at(meta, action.feedback_id)
        try:
            path = write_action(settings().inbox, action, received)
        except ActionRejected as exc:
            st.error(f"Nothing was logged: {exc}.", icon=":material/error:")
        else:
            st.success(
                f"Logged {action.action_type.strip()} on {action.feedback_id} ({path.name}). "
                "It counts once the pipeline has loaded it.",
                icon=":material/check_circle:",
            )
    _logged(meta)


def _logged(meta: queries.Meta) -> None:
    """The actions logged here, pending until a snapshot holds them, then with the item's status."""
    logged = logged_actions(settings().inbox)
    if not logged:
        return
    ledger = queries.action_files(meta, tuple(a.path.name for a in logged))
    judged = {r["name"]: r for _, r in ledger.iterrows()}
    lines = []
    for a in reversed(logged[-10:]):
        # Read through the query layer, so a reader scoped to some units (access.yaml) sees only
        # the actions on their own units' items.
        item = queries.feedback_item(meta, a.feedback_id)
        if item is None:
            continue
        row = judged.get(a.path.name)
        if row is None:
            state = "pending: the pipeline has not loaded it yet"
        elif row["status"] == "rejected":
            state = f"rejected by the pipeline: {escape_markdown(row['error'])}"
        else:
            state = f"loaded: the item is now {feedback_status_label(item['status'])}"
        lines.append(
            f"- {escape_markdown(a.feedback_id)} · {escape_markdown(a.action_type)} · "
            f"{escape_markdown(a.action_at)} · {state}"
        )
    if lines:
        st.markdown("**Logged from this dashboard**\n" + "\n".join(lines))


def render() -> None:
    render_page("Feedback loop", QUESTION, _render)


def _render(meta: queries.Meta) -> None:
    loop = queries.feedback_loop(meta)
    gates = queries.gates(meta)
    sla = float((queries.strategy(meta).get("feedback_loop") or {}).get("sla_hours", 48))
    if loop.empty:
        st.info(
            "No feedback loop yet: the snapshot has no NPS or CES responses and no readiness "
            "assessments. The Data health page shows which sources have arrived."
        )
        return
    periods = sorted(set(loop["period_start"]), reverse=True)
    # Open on the latest period that has items, not on a current period nothing arrived in yet.
    with_items = set(loop.loc[loop["items"] > 0, "period_start"])
    first = next((i for i, p in enumerate(periods) if p in with_items), 0)
    choice = st.selectbox(
        "Period of arrival", [*periods, ALL_PERIODS], index=first, key="fl_period",
        format_func=lambda p: "All periods" if p == ALL_PERIODS
        else format_period(p, meta.period),
    )  # fmt: skip
    period = None if choice == ALL_PERIODS else choice
    chosen = loop if period is None else loop[loop["period_start"] == period]
    totals = chosen[list(COUNTS)].sum()
    _metrics(totals, queries.median_hours_to_action(meta, period), sla)
    if totals["held_not_ready"]:
        st.caption(
            f"{plural(int(totals['held_not_ready']), 'item is', 'items are')} held: "
            "they arrived while their unit had "
            "not passed its readiness assessment, so they are not counted as acted upon (see the "
            "Readiness page for what blocks the unit)."
        )
    st.subheader("Per unit", anchor=False)
    _unit_table(chosen, gates, period, meta.period)
    loop_sections.effect(queries.loop_outcomes(meta), period, meta.period)
    loop_sections.root_cause_chart(queries.root_causes(meta), period, meta.period)
    _trend(loop, meta.period)
    _items(meta)


if __name__ == "__main__":
    render()
