"""Is a unit ready to run a customer feedback loop? (marts.readiness, marts.readiness_gates)

"Get the house in order first": assessors score each unit on the strategy's readiness dimensions
(leadership, culture, process, data, people; 1..5). A unit's gate opens for a period when, with each
assessor's latest score up to the period's last day, every dimension is scored, the mean over the
dimensions reaches the threshold, no dimension is below the floor, and enough distinct assessors
took part. Until then its detractor feedback is held, not pretended to be acted upon.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import ibis

from metrics.engine import EventTables, empty_table, require_columns
from metrics.periods import period_end, period_spine, period_start
from metrics.schemas import ALL_UNITS, SOURCES
from metrics.strategy import Strategy

if TYPE_CHECKING:
    pass

READINESS_SCHEMA = ibis.schema(
    {
        "unit": "string",
        "dimension": "string",
        "score": "float64",
        "n_assessors": "int64",
        "as_of": "date",
    }
)

GATES_SCHEMA = ibis.schema(
    {
        "unit": "string",
        "period_start": "date",
        "score": "float64",
        "ready": "boolean",
        "blocking_dimensions": "array<string>",
        "ready_since": "date",
    }
)

#: Sources whose events name a unit: a unit seen in any of them gets a gate.
UNIT_SOURCES = ("nps", "ces", "employee_pulse", "upsell", "revenue", "cost", "readiness")

# A row without assessor_id is one anonymous assessor.
_ANONYMOUS = "(anonymous)"
# Scores are means of 1..5 ratings; compare with the threshold and floor without float noise.
_EPS = 1e-9


def _assessments(events: EventTables, strategy: Strategy) -> ibis.Table | None:
    """Readiness scores for the strategy's dimensions: unit, dimension, assessor, assessed_at,
    score, and a tie-break (later file and row win on the same day)."""
    table = events.get("readiness")
    if table is None:
        return None
    require_columns(
        table,
        "readiness",
        ["assessed_at", "unit", "dimension", "score", "assessor_id"],
        "readiness",
    )
    rows = table.select(
        unit=table.unit.cast("string"),
        dimension=table.dimension.cast("string"),
        assessor=ibis.coalesce(table.assessor_id.cast("string"), ibis.literal(_ANONYMOUS)),
        assessed_at=table.assessed_at.cast("date"),
        score=table.score.cast("float64"),
        file_path=(table.file_path if "file_path" in table.columns else ibis.null()).cast("string"),
        row_number=(table.row_number if "row_number" in table.columns else ibis.null()).cast(
            "int64"
        ),
    )
    return rows.filter(
        rows.unit.notnull(),
        rows.unit != ALL_UNITS,
        rows.score.notnull(),
        rows.assessed_at.notnull(),
        rows.dimension.isin(list(strategy.readiness.dimensions)),
    )


def _latest(rows: ibis.Table, keys: list[str]) -> ibis.Table:
    """Each assessor's latest score per `keys` + dimension + assessor."""
    rank = ibis.row_number().over(
        group_by=[rows[k] for k in (*keys, "dimension", "assessor")],
        order_by=[
            ibis.desc(rows.assessed_at),
            ibis.desc(rows.file_path),
            ibis.desc(rows.row_number),
        ],
    )
    rows = rows.mutate(rank_=rank)
    return rows.filter(rows.rank_ == 0).drop("rank_")


def readiness(events: EventTables, strategy: Strategy) -> ibis.Table:
    """marts.readiness: per unit and dimension, the mean of each assessor's latest score, how many
    assessors that is, and the latest assessment date among them."""
    rows = _assessments(events, strategy)
    if rows is None:
        return empty_table(READINESS_SCHEMA)
    latest = _latest(rows, ["unit"])
    out = latest.group_by(["unit", "dimension"]).aggregate(
        score=latest.score.mean(),
        n_assessors=latest.assessor.nunique(),
        as_of=latest.assessed_at.max(),
    )
    return out.select(
        unit=out.unit.cast("string"),
        dimension=out.dimension.cast("string"),
        score=out.score.cast("float64"),
        n_assessors=out.n_assessors.cast("int64"),
        as_of=out.as_of.cast("date"),
    )


def _unit_tables(events: EventTables) -> list[tuple[str, ibis.Table]]:
    return [
        (name, events[name])
        for name in UNIT_SOURCES
        if name in events and "unit" in events[name].columns
    ]


def units(events: EventTables) -> ibis.Table | None:
    """Every unit seen in any events table that names units (never `all`)."""
    parts = [t.select(unit=t.unit.cast("string")) for _, t in _unit_tables(events)]
    if not parts:
        return None
    seen = ibis.union(*parts, distinct=True) if len(parts) > 1 else parts[0].distinct()
    return seen.filter(seen.unit.notnull(), seen.unit != ALL_UNITS)


def earliest_period_table(events: EventTables, strategy: Strategy) -> ibis.Table | None:
    """A one-row table whose `first` is the earliest period with any event or assessment."""
    parts = []
    for name, t in _unit_tables(events):
        column = SOURCES[name].time_column
        if column in t.columns:
            parts.append(t.aggregate(first=period_start(t[column], strategy).min()))
    if not parts:
        return None
    union = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    return union.aggregate(first=union.first.min())


def earliest_period(events: EventTables, strategy: Strategy) -> date | None:
    """The earliest period with any event or assessment (runs one small query), or None."""
    table = earliest_period_table(events, strategy)
    if table is None:
        return None
    return table.to_pyarrow()["first"][0].as_py()


def _left_join_cells(left: ibis.Table, right: ibis.Table) -> ibis.Table:
    """`left` with `right`'s columns per (unit, period_start); NULLs where right has no row."""
    right = right.rename(r_unit_="unit", r_period_="period_start")
    joined = left.left_join(
        right, [left.unit == right.r_unit_, left.period_start == right.r_period_]
    )
    return joined.drop("r_unit_", "r_period_")


def readiness_gates(
    events: EventTables, strategy: Strategy, now: datetime, *, first: date | None = None
) -> ibis.Table:
    """marts.readiness_gates: per unit and period, the unit's readiness score, whether its
    feedback loop is open (`ready`), what blocks it and since when it has been ready.

    Covers every unit seen in the events and every period from the earliest period with any
    event or assessment (`first`, read from the data unless given) through the period that
    contains `now`, so a gate exists for every period a response can arrive in.
    """
    seen = units(events)
    if first is None:
        first = earliest_period(events, strategy)
    if seen is None or first is None:
        return empty_table(GATES_SCHEMA)
    spine_dates = period_spine(first, now, strategy)
    if not spine_dates:
        return empty_table(GATES_SCHEMA)
    spine = ibis.memtable(
        {
            "period_start": spine_dates,
            "period_last": [period_end(d, strategy.period) for d in spine_dates],
        },
        schema={"period_start": "date", "period_last": "date"},
    )
    grid = seen.cross_join(spine)
    dims = list(strategy.readiness.dimensions)
    cfg = strategy.readiness

    rows = _assessments(events, strategy)
    if rows is None:
        rows = empty_table(
            {
                "unit": "string",
                "dimension": "string",
                "assessor": "string",
                "assessed_at": "date",
                "score": "float64",
                "file_path": "string",
                "row_number": "int64",
            }
        )
    # Every assessment made by each period's last day, then each assessor's latest one.
    rows = rows.rename(a_unit="unit")
    history = grid.join(rows, [grid.unit == rows.a_unit, rows.assessed_at <= grid.period_last])
    latest = _latest(history, ["unit", "period_start"])
    per_dim = latest.group_by(["unit", "period_start", "dimension"]).aggregate(
        dim_score=latest.score.mean()
    )
    cols = {
        f"d{i}": ibis.cases((per_dim.dimension == d, per_dim.dim_score)).max()
        for i, d in enumerate(dims)
    }
    wide = per_dim.group_by(["unit", "period_start"]).aggregate(**cols)
    assessors = latest.group_by(["unit", "period_start"]).aggregate(
        n_assessors=latest.assessor.nunique()
    )

    g = _left_join_cells(grid, wide)
    g = _left_join_cells(g, assessors)

    scores = [g[f"d{i}"] for i in range(len(dims))]
    scored = sum((s.notnull().cast("int64") for s in scores), ibis.literal(0, type="int64"))
    total = sum((s.fill_null(0.0) for s in scores), ibis.literal(0.0, type="float64"))
    g = g.mutate(
        scored_=scored,
        score=ibis.cases((scored > 0, total / scored.cast("float64")), else_=ibis.null("float64")),
        n_assessors=g.n_assessors.fill_null(0),
    )
    below_threshold = g.score.isnull() | (g.score < cfg.threshold - _EPS)
    # One single-item array per blocking dimension, concatenated in the strategy's order (no
    # lambdas: DuckDB 2 rejects the arrow syntax Ibis emits for array filters).
    no_block = ibis.literal([], type="array<string>")
    blocking = [
        ibis.cases(
            (
                s.isnull()
                | (s < cfg.floor - _EPS)
                | (below_threshold & (s < cfg.threshold - _EPS)),
                ibis.literal([d], type="array<string>"),
            ),
            else_=no_block,
        )
        for s, d in zip(scores, dims, strict=True)
    ]
    if not blocking:
        blocking_array = no_block
    elif len(blocking) == 1:
        blocking_array = blocking[0]
    else:
        blocking_array = blocking[0].concat(*blocking[1:])
    floors_ok = ibis.literal(True)
    for s in scores:
        floors_ok = floors_ok & s.notnull() & (s >= cfg.floor - _EPS)
    ready = (
        (g.scored_ == len(dims))
        & ~below_threshold
        & floors_ok
        & (g.n_assessors >= cfg.min_assessors)
    )
    g = g.mutate(ready=ready.fill_null(False), blocking_dimensions=blocking_array)

    # ready_since: islands of consecutive ready periods; each not-ready period starts a new group.
    breaks = (
        ibis.cases((g.ready, 0), else_=1)
        .sum()
        .over(ibis.cumulative_window(group_by=g.unit, order_by=g.period_start))
    )
    g = g.mutate(streak_=breaks)
    streak_start = (
        ibis.cases((g.ready, g.period_start), else_=ibis.null("date"))
        .min()
        .over(group_by=[g.unit, g.streak_])
    )
    return g.select(
        unit=g.unit.cast("string"),
        period_start=g.period_start.cast("date"),
        score=g.score.cast("float64"),
        ready=g.ready.cast("boolean"),
        blocking_dimensions=g.blocking_dimensions.cast("array<string>"),
        ready_since=ibis.cases((g.ready, streak_start), else_=ibis.null("date")).cast("date"),
    )
