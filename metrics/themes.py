"""Comment themes: what customers talk about, and how much each topic weighs on the NPS.

A CX team reads the comments for recurring themes (the outer loop). strategy.yaml `themes:` names
each theme with its phrases; a comment mentions a theme when one of its phrases occurs in it,
case-insensitively, with no letter or digit directly before or after it: "slow" matches "Support
is slow." but not "slowly", and "onboarding" matches "Onboarding-docs" (DESIGN.md "Comment
themes"; the rule itself is `metrics.theme_match`). Matching is exact and explainable: no model,
no download, the same on DuckDB and Spark.

Per source (nps, ces), unit (and `all`, pooled) and period: how many responses mention the theme,
their share of the responses with a comment, how many of them are feedback items (detractors,
high-effort), and for NPS the theme's impact: the NPS of all the cell's responses minus the NPS of
those that do not mention it (negative = the theme drags the NPS down). Employee pulse comments
are never read here.
"""

from __future__ import annotations

import ibis

from metrics.engine import EventTables, empty_table, require_columns, with_all_units
from metrics.periods import period_start
from metrics.strategy import Strategy
from metrics.theme_match import theme_pattern

#: Columns (and types) of marts.comment_themes, in order.
COMMENT_THEMES_SCHEMA = ibis.schema(
    {
        "source": "string",
        "unit": "string",
        "period_start": "date",
        "theme": "string",
        "mentions": "int64",
        "comments": "int64",
        "share": "float64",
        "detractors": "int64",
        "nps_impact": "float64",
    }
)

#: The customer sources whose comments are read (never the employee pulse).
THEME_SOURCES = ("nps", "ces")


def mentions(comment: ibis.StringValue, phrases: list[str]) -> ibis.BooleanValue:
    """True where `comment` mentions one of `phrases` (False for a NULL comment)."""
    return comment.lower().re_search(theme_pattern(phrases)).fill_null(False)


def _nps(promoters: ibis.Value, detractors: ibis.Value, n: ibis.Value) -> ibis.Value:
    """%promoters (9-10) minus %detractors (0-6), NULL without responses."""
    return ibis.cases(
        (n > 0, (promoters - detractors).cast("float64") * 100.0 / n), else_=ibis.null("float64")
    )


def comment_themes(events: EventTables, strategy: Strategy) -> ibis.Table:
    """marts.comment_themes: per source x unit (and `all`) x period x theme with mentions."""
    themes = strategy.themes
    item_max = {
        "nps": strategy.feedback_loop.nps_detractor_max,
        "ces": strategy.feedback_loop.ces_high_effort_max,
    }
    parts = []
    for source in THEME_SOURCES:
        t = events.get(source)
        if t is None or not themes:
            continue
        require_columns(t, source, ["responded_at", "unit", "score"], "comment themes")
        t = t.filter(t.unit.notnull(), t.score.notnull())
        comment = (t.comment if "comment" in t.columns else ibis.null()).cast("string")
        rows = t.select(
            unit=t.unit.cast("string"),
            period_start=period_start(t.responded_at, strategy),
            score=t.score.cast("float64"),
            has_comment=comment.strip().length().fill_null(0) > 0,
        )
        # One row per (response, theme it mentions): each theme's regex reads the comments once.
        mentioned = [
            t.filter(mentions(comment, phrases)).select(
                unit=t.unit.cast("string"),
                period_start=period_start(t.responded_at, strategy),
                score=t.score.cast("float64"),
                theme=ibis.literal(theme, type="string"),
            )
            for theme, phrases in themes.items()
        ]
        hits = ibis.union(*mentioned, distinct=False) if len(mentioned) > 1 else mentioned[0]
        parts.append(_cells(rows, hits, source, item_max[source]))
    if not parts:
        return empty_table(COMMENT_THEMES_SCHEMA)
    return ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]


def _count(condition: ibis.BooleanValue) -> ibis.IntegerValue:
    return ibis.cases((condition, 1), else_=0).sum()


def _cells(rows: ibis.Table, hits: ibis.Table, source: str, item_max: float) -> ibis.Table:
    """The source's theme rows: each cell's responses (n, comments, NPS counts) and each theme's
    mentions in it, per unit and `all`, joined; one row per theme with mentions."""
    base = with_all_units(
        rows,
        ["period_start"],
        n=rows.score.count(),
        comments=_count(rows.has_comment),
        promoters=_count(rows.score >= 9),
        detractors=_count(rows.score <= 6),
    )
    themed = with_all_units(
        hits,
        ["period_start", "theme"],
        mentions=hits.score.count(),
        items=_count(hits.score <= item_max),
        t_promoters=_count(hits.score >= 9),
        t_detractors=_count(hits.score <= 6),
    )
    base = base.rename(b_unit="unit", b_period="period_start")
    j = themed.inner_join(base, [themed.unit == base.b_unit, themed.period_start == base.b_period])
    if source == "nps":
        impact = _nps(j.promoters, j.detractors, j.n) - _nps(
            j.promoters - j.t_promoters, j.detractors - j.t_detractors, j.n - j.mentions
        )
    else:
        impact = ibis.null("float64")
    return j.select(
        source=ibis.literal(source, type="string"),
        unit=j.unit.cast("string"),
        period_start=j.period_start.cast("date"),
        theme=j.theme.cast("string"),
        mentions=j.mentions.cast("int64"),
        comments=j.comments.cast("int64"),
        share=(j.mentions.cast("float64") / j.comments).cast("float64"),
        detractors=j.items.cast("int64"),
        nps_impact=impact.cast("float64"),
    )
