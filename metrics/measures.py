"""Every measure of the strategy, per unit and period, with its uncertainty (marts.measure_values).

A measure turns a source's events into one number per organisation unit and period (DESIGN.md
"strategy.yaml", measure kinds): NPS, a mean (CES), a share inside a band, a sum (revenue, upsell),
a sum over a sum (cost per contact), a ratio of two measures (upsell rate) and employee health.
Besides every unit, the unit `all` is the whole organisation, computed over all its events pooled
(never a mean of units, which would weigh a team of 3 like a team of 300).

Cells with too few events are `suppressed` with a note; for employee measures (`anonymity: true`)
their value and interval are removed, and a second unit is suppressed when exactly one is, so that
`all` minus the shown units cannot reveal the hidden one.

Everything here is an Ibis expression: DuckDB runs it here, Spark at scale.
"""

from __future__ import annotations

import ibis

from metrics.engine import EventTables, empty_table, require_columns
from metrics.periods import period_start
from metrics.schemas import ALL_UNITS, SOURCES
from metrics.stats import Z95
from metrics.strategy import Measure, Strategy

#: Columns (and types) of marts.measure_values, in order.
MEASURE_VALUES_SCHEMA = ibis.schema(
    {
        "measure": "string",
        "unit": "string",
        "period_start": "date",
        "value": "float64",
        "n": "int64",
        "ci_low": "float64",
        "ci_high": "float64",
        "suppressed": "boolean",
        "note": "string",
    }
)

_NULL_FLOAT = ibis.null("float64")
_NULL_STR = ibis.null("string")

# What `n` counts, for the suppression note.
_COUNTED = {
    "nps": "responses",
    "mean": "responses",
    "share": "responses",
    "employee_health": "responses",
    "sum": "rows",
    "sum_ratio": "rows",
}


def measure_values(events: EventTables, strategy: Strategy) -> ibis.Table:
    """marts.measure_values: every measure x unit (and `all`) x period that has data."""
    parts = [measure_table(events, strategy, mid) for mid in strategy.measures]
    if not parts:
        return empty_table(MEASURE_VALUES_SCHEMA)
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def measure_table(
    events: EventTables, strategy: Strategy, measure_id: str, _stack: tuple[str, ...] = ()
) -> ibis.Table:
    """One measure's rows of marts.measure_values (same columns, same types)."""
    if measure_id in _stack:
        chain = " -> ".join((*_stack, measure_id))
        raise ValueError(f"measures.{measure_id}: a ratio refers to itself ({chain})")
    if measure_id not in strategy.measures:
        raise KeyError(
            f"unknown measure {measure_id!r}; strategy.yaml defines {list(strategy.measures)}"
        )
    m = strategy.measures[measure_id]
    if m.kind == "ratio":
        cells = _ratio(events, strategy, measure_id, m, (*_stack, measure_id))
    else:
        rows = _measure_events(events, strategy, measure_id, m)
        if rows is None:
            return empty_table(MEASURE_VALUES_SCHEMA)
        cells = _KINDS[m.kind](_with_all(rows), m)
        cells = _suppress(cells, m)
    return cells.select(
        measure=ibis.literal(measure_id, type="string"),
        unit=cells.unit.cast("string"),
        period_start=cells.period_start.cast("date"),
        value=cells.value.cast("float64"),
        n=cells.n.cast("int64"),
        ci_low=cells.ci_low.cast("float64"),
        ci_high=cells.ci_high.cast("float64"),
        suppressed=cells.suppressed.cast("boolean"),
        note=cells.note.cast("string"),
    )


# --- events in, per unit and period -----------------------------------------------------------


def _fields(m: Measure) -> list[str]:
    if m.kind == "employee_health":
        return ["enps_score", "wellbeing"]
    if m.kind == "sum_ratio":
        return [m.field, m.per] if m.per else [m.field]
    return [m.field]


def _measure_events(
    events: EventTables, strategy: Strategy, measure_id: str, m: Measure
) -> ibis.Table | None:
    """The measure's events as (unit, period_start, x[, y]); None when the source has no table."""
    if m.source is None or m.source not in SOURCES:
        raise ValueError(
            f"measures.{measure_id}: a {m.kind} measure needs a known source, got {m.source!r}"
        )
    table = events.get(m.source)
    if table is None:
        return None
    fields = _fields(m)
    require_columns(table, m.source, ["unit", *fields], f"measures.{measure_id}")
    time = table[SOURCES[m.source].time_column]
    rows = table.select(
        unit=table.unit.cast("string"),
        period_start=period_start(time, strategy),
        x=table[fields[0]].cast("float64"),
        y=(table[fields[1]] if len(fields) > 1 else ibis.null()).cast("float64"),
    )
    rows = rows.filter(rows.unit.notnull())
    if m.kind == "employee_health":
        # A pulse response counts when it answered at least one of the two questions.
        return rows.filter(rows.x.notnull() | rows.y.notnull())
    return rows.filter(rows.x.notnull())


def _with_all(rows: ibis.Table) -> ibis.Table:
    """The events once under their unit and once more under `all`: `all` pools every event."""
    everyone = rows.select(
        unit=ibis.literal(ALL_UNITS, type="string"),
        period_start=rows.period_start,
        x=rows.x,
        y=rows.y,
    )
    return rows.union(everyone, distinct=False)


def _by_cell(rows: ibis.Table, **aggs) -> ibis.Table:
    return rows.group_by(["unit", "period_start"]).aggregate(**aggs)


# --- one function per kind: (unit, period_start, value, n, ci_low, ci_high, note) --------------


def _nps(rows: ibis.Table, m: Measure) -> ibis.Table:
    """%promoters (9-10) minus %detractors (0-6); interval from the trinomial variance."""
    agg = _by_cell(
        rows,
        n=rows.x.count(),
        promoters=ibis.cases((rows.x >= 9, 1), else_=0).sum(),
        detractors=ibis.cases((rows.x <= 6, 1), else_=0).sum(),
    )
    p_p = agg.promoters.cast("float64") / agg.n
    p_d = agg.detractors.cast("float64") / agg.n
    value = (p_p - p_d) * 100.0
    variance = ibis.greatest((p_p + p_d) - (p_p - p_d) * (p_p - p_d), 0.0)
    half = Z95 * 100.0 * (variance / agg.n).sqrt()
    return agg.select(
        "unit",
        "period_start",
        value=value,
        n=agg.n,
        ci_low=ibis.greatest(value - half, -100.0),
        ci_high=ibis.least(value + half, 100.0),
        note=_NULL_STR,
    )


def _mean(rows: ibis.Table, m: Measure) -> ibis.Table:
    """The mean with +/- 1.96 s / sqrt(n) (s with n - 1); no interval below two responses."""
    agg = _by_cell(rows, n=rows.x.count(), mean=rows.x.mean(), sd=rows.x.std(how="sample"))
    half = Z95 * agg.sd / agg.n.cast("float64").sqrt()
    has_ci = agg.n >= 2
    return agg.select(
        "unit",
        "period_start",
        value=agg.mean,
        n=agg.n,
        ci_low=ibis.cases((has_ci, agg.mean - half), else_=_NULL_FLOAT),
        ci_high=ibis.cases((has_ci, agg.mean + half), else_=_NULL_FLOAT),
        note=_NULL_STR,
    )


def _share(rows: ibis.Table, m: Measure) -> ibis.Table:
    """Percent (0..100) of responses inside the inclusive band, with the Wilson interval."""
    if m.band is None:
        raise ValueError("a share measure needs band: [low, high]")
    low, high = m.band
    agg = _by_cell(
        rows,
        n=rows.x.count(),
        hits=ibis.cases(((rows.x >= low) & (rows.x <= high), 1), else_=0).sum(),
    )
    n = agg.n.cast("float64")
    p = agg.hits.cast("float64") / n
    z2 = Z95 * Z95
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom
    return agg.select(
        "unit",
        "period_start",
        value=p * 100.0,
        n=agg.n,
        ci_low=ibis.greatest(centre - half, 0.0) * 100.0,
        ci_high=ibis.least(centre + half, 1.0) * 100.0,
        note=_NULL_STR,
    )


def _sum(rows: ibis.Table, m: Measure) -> ibis.Table:
    """The total of the field over the period; n = rows summed."""
    agg = _by_cell(rows, n=rows.x.count(), total=rows.x.sum())
    return agg.select(
        "unit",
        "period_start",
        value=agg.total,
        n=agg.n,
        ci_low=_NULL_FLOAT,
        ci_high=_NULL_FLOAT,
        note=_NULL_STR,
    )


def _sum_ratio(rows: ibis.Table, m: Measure) -> ibis.Table:
    """sum(field) / sum(per), e.g. cost per contact; NULL (with a note) without a denominator."""
    agg = _by_cell(rows, n=rows.x.count(), total=rows.x.sum(), per_total=rows.y.sum())
    no_per = agg.per_total.isnull() | (agg.per_total == 0)
    return agg.select(
        "unit",
        "period_start",
        value=ibis.cases((no_per, _NULL_FLOAT), else_=agg.total / agg.per_total),
        n=agg.n,
        ci_low=_NULL_FLOAT,
        ci_high=_NULL_FLOAT,
        note=ibis.cases((no_per, ibis.literal(f"no {m.per} in period")), else_=_NULL_STR),
    )


def _employee_health(rows: ibis.Table, m: Measure) -> ibis.Table:
    """0..100: mean of the eNPS mapped (eNPS + 100) / 2 and the wellbeing mapped (w - 1) / 4 * 100,
    each where it has answers; n = pulse responses."""
    enps_n = rows.x.count()
    agg = _by_cell(
        rows,
        n=rows.count(),
        enps_n=enps_n,
        promoters=ibis.cases((rows.x >= 9, 1), else_=0).sum(),
        detractors=ibis.cases((rows.x <= 6, 1), else_=0).sum(),
        wellbeing=rows.y.mean(),
    )
    enps = (agg.promoters - agg.detractors).cast("float64") * 100.0 / agg.enps_n
    enps_part = ibis.cases((agg.enps_n > 0, (enps + 100.0) / 2.0), else_=_NULL_FLOAT)
    wellbeing_part = (agg.wellbeing - 1.0) / 4.0 * 100.0
    value = ibis.cases(
        (enps_part.notnull() & wellbeing_part.notnull(), (enps_part + wellbeing_part) / 2.0),
        (enps_part.notnull(), enps_part),
        else_=wellbeing_part,
    )
    return agg.select(
        "unit",
        "period_start",
        value=value,
        n=agg.n,
        ci_low=_NULL_FLOAT,
        ci_high=_NULL_FLOAT,
        note=_NULL_STR,
    )


_KINDS = {
    "nps": _nps,
    "mean": _mean,
    "share": _share,
    "sum": _sum,
    "sum_ratio": _sum_ratio,
    "employee_health": _employee_health,
}


def _ratio(
    events: EventTables, strategy: Strategy, measure_id: str, m: Measure, stack: tuple[str, ...]
) -> ibis.Table:
    """One measure's value over another's, per unit and period (e.g. upsell revenue / revenue).

    A row exists where either side has one; a missing, NULL or zero denominator (or a missing or
    NULL numerator) leaves the value NULL with the reason; a suppressed side suppresses the ratio.
    """
    if m.numerator is None or m.denominator is None:
        raise ValueError(f"measures.{measure_id}: a ratio needs a numerator and a denominator")
    num_id, den_id = m.numerator, m.denominator
    num = measure_table(events, strategy, num_id, stack)
    den = measure_table(events, strategy, den_id, stack)
    num = num.select(nu=num.unit, np=num.period_start, nv=num.value, ns=num.suppressed, nn=num.note)
    den = den.select(du=den.unit, dp=den.period_start, dv=den.value, ds=den.suppressed, dn=den.note)
    j = num.outer_join(den, [num.nu == den.du, num.np == den.dp])
    no_num = j.nv.isnull()
    no_den = j.dv.isnull()
    zero_den = j.dv == 0
    num_note = ibis.cases(
        (j.nu.isnull(), ibis.literal(f"no {num_id} in period")),
        (no_num, ibis.literal(f"no {num_id} value in period")),
        else_=_NULL_STR,
    )
    den_note = ibis.cases(
        (j.du.isnull(), ibis.literal(f"no {den_id} in period")),
        (no_den, ibis.literal(f"no {den_id} value in period")),
        (zero_den, ibis.literal(f"{den_id} is zero in period")),
        else_=_NULL_STR,
    )
    value_note = _join_notes(num_note, den_note)
    num_supp = j.ns.fill_null(False)
    den_supp = j.ds.fill_null(False)
    supp_note = ibis.cases(
        (num_supp & den_supp, ibis.literal(f"{num_id} and {den_id} are suppressed")),
        (num_supp, ibis.literal(f"{num_id} is suppressed")),
        (den_supp, ibis.literal(f"{den_id} is suppressed")),
        else_=_NULL_STR,
    )
    suppressed = num_supp | den_supp
    value = ibis.cases((no_num | no_den | zero_den, _NULL_FLOAT), else_=j.nv / j.dv)
    if m.anonymity:
        value = ibis.cases((suppressed, _NULL_FLOAT), else_=value)
    return j.select(
        unit=ibis.coalesce(j.nu, j.du),
        period_start=ibis.coalesce(j.np, j.dp),
        value=value,
        n=ibis.null("int64"),
        ci_low=_NULL_FLOAT,
        ci_high=_NULL_FLOAT,
        suppressed=suppressed,
        note=_join_notes(supp_note, value_note),
    )


# --- suppression -------------------------------------------------------------------------------


def _join_notes(first: ibis.StringValue, second: ibis.StringValue) -> ibis.StringValue:
    return ibis.cases(
        (first.isnull(), second),
        (second.isnull(), first),
        else_=first + "; " + second,
    )


def _suppress(cells: ibis.Table, m: Measure) -> ibis.Table:
    """Mark cells with n below min_n; for anonymity measures also protect the next smallest unit
    and remove suppressed values and intervals."""
    too_few = (cells.n < m.min_n) if m.min_n > 0 else ibis.literal(False)
    counted = _COUNTED.get(m.kind, "events")
    few_note = (
        ibis.literal("n=") + cells.n.cast("string") + f" below min_n {m.min_n}: too few {counted}"
    )
    cells = cells.mutate(
        suppressed=too_few,
        note=_join_notes(ibis.cases((too_few, few_note), else_=_NULL_STR), cells.note),
    )
    if not m.anonymity:
        return cells

    # Complementary suppression: with exactly one unit hidden in a period, `all` minus the shown
    # units would reveal it, so the smallest shown unit (ties by name) is hidden too.
    is_unit = cells.unit != ALL_UNITS
    cells = cells.mutate(
        candidate=is_unit & ~cells.suppressed,
        hidden_flag=ibis.cases((is_unit & cells.suppressed, 1), else_=0),
    )
    hidden_units = cells.hidden_flag.sum().over(group_by=cells.period_start)
    rank = ibis.row_number().over(
        group_by=[cells.period_start, cells.candidate], order_by=[cells.n, cells.unit]
    )
    protect = cells.candidate & (hidden_units == 1) & (rank == 0)
    cells = cells.mutate(
        suppressed=cells.suppressed | protect,
        note=ibis.cases(
            (
                protect,
                _join_notes(
                    ibis.literal(
                        f"suppressed to protect a smaller unit below min_n {m.min_n} (anonymity)"
                    ),
                    cells.note,
                ),
            ),
            else_=cells.note,
        ),
    )
    return cells.mutate(
        value=ibis.cases((cells.suppressed, _NULL_FLOAT), else_=cells.value),
        ci_low=ibis.cases((cells.suppressed, _NULL_FLOAT), else_=cells.ci_low),
        ci_high=ibis.cases((cells.suppressed, _NULL_FLOAT), else_=cells.ci_high),
    ).drop("candidate", "hidden_flag")
