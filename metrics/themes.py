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

from metrics.engine import EventTables, empty_table, require_columns
from metrics.periods import period_start
from metrics.schemas import ALL_UNITS
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
        comment = (t.comment if "comment" in t.columns else ibis.null()).cast("string")
        flag = {f"m{i}": mentions(comment, phrases) for i, phrases in enumerate(themes.values())}
        rows = t.filter(t.unit.notnull(), t.score.notnull()).select(
            unit=t.unit.cast("string"),
            period_start=period_start(t.responded_at, strategy),
            score=t.score.cast("float64"),
            has_comment=comment.strip().length().fill_null(0) > 0,
            **flag,
        )
        parts.append(_cells(rows, source, list(themes), item_max[source]))
    if not parts:
        return empty_table(COMMENT_THEMES_SCHEMA)
    return ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]


def _count(condition: ibis.BooleanValue) -> ibis.IntegerValue:
    return ibis.cases((condition, 1), else_=0).sum()


def _cells(rows: ibis.Table, source: str, names: list[str], item_max: float) -> ibis.Table:
    """The source's theme rows: counts per unit and period, `all` as the sum of the units' counts
    (every count here adds up exactly), then one row per theme with mentions."""
    is_item = rows.score <= item_max
    promoter, detractor = rows.score >= 9, rows.score <= 6
    counts = {
        "n": rows.score.count(),
        "comments": _count(rows.has_comment),
        "promoters": _count(promoter),
        "nps_detractors": _count(detractor),
    }
    for i in range(len(names)):
        m = rows[f"m{i}"]
        counts[f"mentions{i}"] = _count(m)
        counts[f"items{i}"] = _count(m & is_item)
        counts[f"promoters{i}"] = _count(m & promoter)
        counts[f"detractors{i}"] = _count(m & detractor)
    units = rows.group_by(["unit", "period_start"]).aggregate(**counts)
    everyone = units.group_by("period_start").aggregate(
        **{name: units[name].sum() for name in counts}
    )
    everyone = everyone.mutate(unit=ibis.literal(ALL_UNITS, type="string"))
    cells = units.union(everyone.select(*units.columns), distinct=False)

    per_theme = []
    for i, theme in enumerate(names):
        mentioned = cells[f"mentions{i}"]
        if source == "nps":
            rest = cells.n - mentioned
            impact = _nps(cells.promoters, cells.nps_detractors, cells.n) - _nps(
                cells.promoters - cells[f"promoters{i}"],
                cells.nps_detractors - cells[f"detractors{i}"],
                rest,
            )
        else:
            impact = ibis.null("float64")
        per_theme.append(
            cells.filter(mentioned > 0).select(
                source=ibis.literal(source, type="string"),
                unit=cells.unit.cast("string"),
                period_start=cells.period_start.cast("date"),
                theme=ibis.literal(theme, type="string"),
                mentions=mentioned.cast("int64"),
                comments=cells.comments.cast("int64"),
                share=(mentioned.cast("float64") / cells.comments).cast("float64"),
                detractors=cells[f"items{i}"].cast("int64"),
                nps_impact=impact.cast("float64"),
            )
        )
    return ibis.union(*per_theme, distinct=False) if len(per_theme) > 1 else per_theme[0]
