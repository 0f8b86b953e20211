"""Behind every number: the survey responses behind a measure value, down to file and row.

Only NPS and CES responses travel in the snapshot (`serving.responses`); employee pulse responses
never do, and measures marked `anonymity` offer no drill-down, so no one can be identified.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.components.formatting import (
    format_count,
    format_period,
    format_value,
    measure_info,
    plural,
    suppressed_text,
    unit_name,
)
from dashboard.components.text import comment_text, escape_markdown

#: Sources whose responses the snapshot keeps for the drill-down (docs/snapshot.md).
RESPONSE_SOURCES = ("nps", "ces")


def responses_behind(meta: queries.Meta, default_unit: str, default_period: date) -> None:
    """The drill-down: pick a measure, a unit and a period, read its value and the responses
    (with file and row) behind it, lowest scores first, comments masked when the strategy asks."""
    st.subheader("Behind every number", anchor=False)
    st.caption("Pick a measure, a unit and a period to read the responses behind its value.")
    measures = queries.measures(meta)
    anonymous = measures["anonymity"].fillna(False).astype(bool)
    measures = measures[measures["source"].isin(RESPONSE_SOURCES) & ~anonymous]
    if measures.empty:
        st.caption("No survey measure (NPS, CES) in this strategy.")
        return
    order = {m: i for i, m in enumerate(queries.tree(meta)["measure"].dropna())}
    measures = measures.assign(_order=measures["measure"].map(order).fillna(len(order)))
    measures = measures.sort_values(["_order", "measure"])
    labels = dict(
        zip(measures["measure"], measures["label"].fillna(measures["measure"]), strict=True)
    )
    unit_options = queries.unit_choices(meta)
    if not unit_options:
        st.caption("The snapshot holds no values for your units yet.")
        return
    c1, c2, c3 = st.columns(3)
    measure = c1.selectbox(
        "Measure", list(labels), format_func=lambda m: labels[m], key="drill_measure"
    )
    unit = c2.selectbox(
        "Unit", unit_options, index=unit_options.index(default_unit) if default_unit in unit_options
        else 0, format_func=unit_name, key="drill_unit",
    )  # fmt: skip
    source = str(measures.set_index("measure").loc[measure, "source"])
    periods = queries.response_periods(meta, source)
    if not periods:
        st.info(f"The snapshot holds no {source.upper()} responses yet.")
        return
    period = c3.selectbox(
        "Period", periods, index=periods.index(default_period) if default_period in periods else 0,
        format_func=lambda p: format_period(p, meta.period), key="drill_period",
    )  # fmt: skip
    info = measure_info(measures.set_index("measure"), measure)
    cell = queries.measure_values(meta, measure, (unit,))
    cell = cell[cell["period_start"] == period]
    name = f"{labels[measure]} for {unit_name(unit)} in {format_period(period, meta.period)}"
    if cell.empty:
        st.markdown(f"{escape_markdown(name)}: no value.")
    elif bool(cell.iloc[0]["suppressed"]):
        reason = suppressed_text(cell.iloc[0]["n"], info["min_n"], info["anonymity"])
        st.markdown(f"{escape_markdown(name)}: {reason}.")
    else:
        value = format_value(cell.iloc[0]["value"], info["format"], info["kind"])
        st.markdown(
            f"{escape_markdown(name)}: **{value}** from "
            f"{format_count(cell.iloc[0]['n'])} responses."
        )
    with_comment = st.toggle(
        "Only responses with a comment", value=True, key="drill_with_comment",
        help="The comments say why people scored as they did",
    )  # fmt: skip
    rows = queries.responses(meta, source, unit, period, with_comment=with_comment)
    if rows.empty:
        st.caption("No responses in the snapshot for this choice.")
        return
    mask = queries.mask_contacts_enabled(meta)
    total = int(rows["total"].iloc[0])
    shown = pd.DataFrame({
        "Received": rows["responded_at"].dt.strftime("%Y-%m-%d %H:%M"),
        "Unit": rows["unit"],
        "Score": rows["score"],
        "Comment": [comment_text(c, mask) for c in rows["comment"]],
        "File": rows["file_path"],
        "Row": rows["row_number"],
        "Response": rows["response_id"],
    })  # fmt: skip
    st.dataframe(
        shown, hide_index=True, width="stretch",
        column_config={
            "Score": st.column_config.NumberColumn(format="%g"),
            "Comment": st.column_config.TextColumn(width="large"),
        },
    )  # fmt: skip
    more = f" (the {len(rows):,} lowest scores shown)" if total > len(rows) else ""
    st.caption(
        f"{plural(total, 'response', 'responses')}{more}; lowest scores first. "
        "File and row point at the export."
    )
