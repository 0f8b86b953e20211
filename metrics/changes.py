"""Honest change: did a measure really move since the period before, or is it chance?

Leaders read month-over-month moves as news, but with a few hundred responses an NPS moves ten
points by chance. Every measure x unit (and `all`, pooled) x period whose value and the previous
calendar period's value are both shown gets its change with a standard error, a z score and
whether the move is significant at 95% (DESIGN.md "Contract v2 / Honest change").

Each period's standard error comes from its own events, computed once with the value
(`metrics.measures.measure_values_with_se`); the change's is sqrt(se_now^2 + se_previous^2).
Kinds without a sampling error (`sum`, `sum_ratio`, `ratio`, `employee_health`) get no se, z or
significance: their change is what it is. Everything is Ibis, so Spark computes it too.
"""

from __future__ import annotations

import ibis

from metrics.engine import EventTables
from metrics.measures import measure_values_with_se
from metrics.stats import Z_SIGNIFICANT
from metrics.strategy import Strategy

#: Columns (and types) of marts.measure_changes, in order.
MEASURE_CHANGES_SCHEMA = ibis.schema(
    {
        "measure": "string",
        "unit": "string",
        "period_start": "date",
        "previous_period_start": "date",
        "value": "float64",
        "previous_value": "float64",
        "change": "float64",
        "se": "float64",
        "z": "float64",
        "significant": "boolean",
    }
)

#: The calendar step back from one period to the one right before it.
_PERIOD_STEP = {
    "month": ibis.interval(months=1),
    "quarter": ibis.interval(months=3),
    "week": ibis.interval(days=7),
}


def measure_changes(events: EventTables, strategy: Strategy) -> ibis.Table:
    """marts.measure_changes: each shown value against the calendar period right before it.

    A row needs both periods' values unsuppressed and not NULL; a gap (no value in the month
    before) gives no row rather than a change over two periods.
    """
    cells = measure_values_with_se(events, strategy)
    shown = cells.filter(cells.value.notnull(), ~cells.suppressed.fill_null(False))
    now = shown.select("measure", "unit", "period_start", "value", "se")
    before = shown.select(
        b_measure=shown.measure,
        b_unit=shown.unit,
        b_period=shown.period_start,
        b_value=shown.value,
        b_se=shown.se,
    )
    previous_start = (now.period_start - _PERIOD_STEP[strategy.period]).cast("date")
    joined = now.inner_join(
        before,
        [
            now.measure == before.b_measure,
            now.unit == before.b_unit,
            previous_start == before.b_period,
        ],
    )
    change = joined.value - joined.b_value
    se = (joined.se * joined.se + joined.b_se * joined.b_se).sqrt()
    z = ibis.cases((se > 0, change / se), else_=ibis.null("float64"))
    return joined.select(
        measure=joined.measure.cast("string"),
        unit=joined.unit.cast("string"),
        period_start=joined.period_start.cast("date"),
        previous_period_start=joined.b_period.cast("date"),
        value=joined.value.cast("float64"),
        previous_value=joined.b_value.cast("float64"),
        change=change.cast("float64"),
        se=se.cast("float64"),
        z=z.cast("float64"),
        significant=ibis.cases((z.notnull(), z.abs() >= Z_SIGNIFICANT), else_=ibis.null("boolean")),
    )
