"""What customers talk about: the comment themes that pull the NPS down, per unit and period.

A number alone says nothing about why. The strategy names the themes CX teams look for
(`themes:` in strategy.yaml, phrases matched as whole words); marts.comment_themes counts, per
source, unit and period, how many comments mention each, how many of those come from detractors,
and how much each theme pulls the NPS down: the NPS of everyone minus the NPS of those who did not
mention it. Choosing a theme shows its comments, masked by the privacy rules. Employee pulse
comments are never analysed.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.components.formatting import format_period, plural, unit_name
from dashboard.components.frame import render_page
from dashboard.components.text import comment_text, escape_markdown
from metrics.theme_match import theme_pattern

QUESTION = "What do customers talk about, and which topics pull the NPS down?"
SOURCES = {"nps": "NPS comments", "ces": "CES comments"}


def theme_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The themes as shown, most harmful first: NPS impact in points, share of comments in
    percent, detractors among the mentions."""
    return pd.DataFrame({
        "Theme": rows["theme"],
        "NPS impact": rows["nps_impact"].astype("float64"),
        "Share of comments": 100 * rows["share"].astype("float64"),
        "Mentions": rows["mentions"].astype("int64"),
        "Detractors": rows["detractors"].astype("int64"),
        "Comments": rows["comments"].astype("int64"),
    })  # fmt: skip


def render() -> None:
    render_page("What customers talk about", QUESTION, _render)


def _render(meta: queries.Meta) -> None:
    themes: dict[str, list[str]] = queries.strategy(meta).get("themes") or {}
    if not themes:
        st.info(
            "The strategy names no comment themes yet. Add `themes:` to strategy.yaml (a theme "
            "and the phrases that mention it); `outcomeloop themes suggest` proposes phrases "
            "from your detractors' comments."
        )
        return
    periods = queries.theme_periods(meta)
    if not periods:
        st.info("No comment mentions any theme yet.")
        return
    c1, c2, c3 = st.columns(3)
    source = c1.selectbox(
        "Comments from", list(SOURCES), format_func=SOURCES.get, key="themes_source"
    )
    unit = c2.selectbox(
        "Unit", queries.unit_choices(meta), format_func=unit_name, key="themes_unit"
    )
    if unit is None:
        st.info("No unit of yours has comments in the snapshot yet.")
        return
    period = c3.selectbox(
        "Period", periods, format_func=lambda p: format_period(p, meta.period),
        key="themes_period",
    )  # fmt: skip
    rows = queries.themes(meta, source, unit, period)
    where = f"{unit_name(unit)}, {format_period(period, meta.period)}"
    if rows.empty:
        st.info(f"No {SOURCES[source]} mention a theme in {where}.")
        return
    _ranking(rows, source, where)
    _comments(meta, themes, rows, source, unit, period)


def _ranking(rows: pd.DataFrame, source: str, where: str) -> None:
    st.subheader(f"Themes · {where}", anchor=False)
    table = theme_table(rows)
    if source != "nps":
        table = table.drop(columns=["NPS impact"])
    st.dataframe(
        table, hide_index=True, width="stretch",
        column_config={
            "NPS impact": st.column_config.NumberColumn(
                "NPS impact", format="%+.1f",
                help="The NPS of all responses minus the NPS of those not mentioning the theme: "
                "negative means the theme pulls the NPS down",
            ),
            "Share of comments": st.column_config.ProgressColumn(
                "Share of comments", min_value=0, max_value=100, format="%.0f%%",
                help="Comments mentioning the theme, of all comments",
            ),
            "Detractors": st.column_config.NumberColumn(
                "Detractors", help="Mentions by feedback items (detractors; high effort for CES)",
            ),
        },
    )  # fmt: skip
    worst = rows.iloc[0]
    if source == "nps" and pd.notna(worst["nps_impact"]) and worst["nps_impact"] < 0:
        st.caption(
            f"**{escape_markdown(worst['theme'])}** pulls the NPS down most: "
            f"{worst['nps_impact']:+.1f} points, from {plural(int(worst['mentions']), 'mention', 'mentions')}."
        )


def _comments(
    meta: queries.Meta, themes: dict[str, list[str]], rows: pd.DataFrame, source: str,
    unit: str, period: Any,
) -> None:  # fmt: skip
    st.subheader("Read the comments", anchor=False)
    names = [t for t in rows["theme"] if t in themes]
    theme = st.selectbox("Theme", names, key="themes_theme")
    if theme is None:
        return
    st.caption("Phrases: " + ", ".join(escape_markdown(p) for p in themes[theme]))
    found = queries.theme_comments(meta, source, unit, period, theme_pattern(themes[theme]))
    if found.empty:
        st.caption("The snapshot holds none of these comments (it keeps the last 13 periods).")
        return
    mask = queries.mask_contacts_enabled(meta)
    shown = pd.DataFrame({
        "Received": found["responded_at"].dt.strftime("%Y-%m-%d %H:%M"),
        "Unit": found["unit"],
        "Score": found["score"],
        "Comment": [comment_text(c, mask) for c in found["comment"]],
    })  # fmt: skip
    st.dataframe(
        shown, hide_index=True, width="stretch",
        column_config={
            "Score": st.column_config.NumberColumn(format="%g"),
            "Comment": st.column_config.TextColumn(width="large"),
        },
    )  # fmt: skip
    total = int(found["total"].iloc[0])
    more = f" (the {len(found):,} lowest scores shown)" if total > len(found) else ""
    st.caption(f"{plural(total, 'comment', 'comments')} mention {escape_markdown(theme)}{more}.")


if __name__ == "__main__":
    render()
