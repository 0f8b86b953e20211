"""Every measure of the strategy, per unit and period, with its uncertainty (marts.measure_values).

A measure turns a source's events into one number per organisation unit and period (docs/strategy.md,
"Measure kinds"): NPS, a mean (CES), a share inside a band, a sum (revenue, upsell),
a sum over a sum (cost per contact), a ratio of two measures (upsell rate) and employee health.
Besides every unit, the unit `all` is the whole organisation, computed over all its events pooled
(never a mean of units, which would weigh a team of 3 like a team of 300).

Cells with too few events are `suppressed` with a note; for employee measures (`anonymity: true`)
their value and interval are removed, and the smallest shown units are suppressed too until the
hidden units together hold at least `min_n` responses, so that `all` minus the shown units cannot
reveal a hidden unit (with exactly one unit hidden this is the "next smallest unit" rule);
metrics/suppression.py holds that rule.

Everything here is an Ibis expression: DuckDB runs it here, Spark at scale.
"""

from __future__ import annotations

import ibis

from metrics.engine import EventTables, empty_table, require_columns
from metrics.periods import period_start
from metrics.schemas import ALL_UNITS, SOURCES
from metrics.stats import Z95
from metrics.strategy import Measure, Strategy
from metrics.suppression import join_notes, suppress

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

_WITH_SE_SCHEMA = ibis.schema({**MEASURE_VALUES_SCHEMA, "se": "float64"})

_NULL_FLOAT = ibis.null("float64")
_NULL_STR = ibis.null("string")


def measure_values(events: EventTables, strategy: Strategy) -> ibis.Table:
    """marts.measure_values: every measure x unit (and `all`) x period that has data.

    Each source's events are read and aggregated once per unit and period, with every count and
    sum its measures need; each measure is then derived from that small aggregate, and a ratio
    from the two measures already built.
    """
    return measure_values_with_se(events, strategy).drop("se")


def measure_values_with_se(events: EventTables, strategy: Strategy) -> ibis.Table:
    """marts.measure_values with each cell's standard error `se` (the interval's 1.96 before
    the multiplication), from its own events: `nps` 100 * sqrt(((pP + pD) - (pP - pD)^2) / n),
    `mean` s / sqrt(n) (s with n - 1; NULL below two responses), `share` 100 * sqrt(p (1 - p) / n)
    in percent points; NULL for `sum`, `sum_ratio`, `ratio` and `employee_health`, and for a
    value removed by anonymity. Honest change (metrics.changes) compares periods with it.
    """
    built = _Built(events, strategy)
    parts = [built.measure(mid) for mid in strategy.measures]
    if not parts:
        return empty_table(_WITH_SE_SCHEMA)
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def measure_table(events: EventTables, strategy: Strategy, measure_id: str) -> ibis.Table:
    """One measure's rows of marts.measure_values (same columns, same types)."""
    return _Built(events, strategy).measure(measure_id).drop("se")


class _Built:
    """The expressions of one measure_values build: each source's aggregate and each measure's
    table, made once and shared (a ratio reuses its numerator's and denominator's tables)."""

    def __init__(self, events: EventTables, strategy: Strategy):
        self.events = events
        self.strategy = strategy
        self.tables: dict[str, ibis.Table] = {}
        self.sources: dict[str, _SourceCells | None] = {}

    def measure(self, measure_id: str, _stack: tuple[str, ...] = ()) -> ibis.Table:
        if measure_id in _stack:
            chain = " -> ".join((*_stack, measure_id))
            raise ValueError(f"measures.{measure_id}: a ratio refers to itself ({chain})")
        if measure_id not in self.strategy.measures:
            raise KeyError(
                f"unknown measure {measure_id!r}; strategy.yaml defines "
                f"{list(self.strategy.measures)}"
            )
        if measure_id not in self.tables:
            self.tables[measure_id] = self._build(measure_id, (*_stack, measure_id))
        return self.tables[measure_id]

    def _build(self, measure_id: str, stack: tuple[str, ...]) -> ibis.Table:
        m = self.strategy.measures[measure_id]
        if m.kind == "ratio":
            if m.numerator is None or m.denominator is None:
                raise ValueError(
                    f"measures.{measure_id}: a ratio needs a numerator and a denominator"
                )
            num = self.measure(m.numerator, stack)
            den = self.measure(m.denominator, stack)
            cells = _ratio(num, den, m)
        else:
            source = self._source(measure_id, m)
            if source is None:
                return empty_table(_WITH_SE_SCHEMA)
            aggregates = source.cells(measure_id)
            if m.kind == "sum":
                aggregates = source.zero_filled(aggregates)
            cells = _KINDS[m.kind](aggregates, m)
            cells = suppress(cells, m)
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
            se=cells.se.cast("float64"),
        )

    def _source(self, measure_id: str, m: Measure) -> _SourceCells | None:
        if m.source is None or m.source not in SOURCES:
            raise ValueError(
                f"measures.{measure_id}: a {m.kind} measure needs a known source, got {m.source!r}"
            )
        if m.source not in self.sources:
            table = self.events.get(m.source)
            if table is None:
                self.sources[m.source] = None
            else:
                measures = {
                    mid: spec
                    for mid, spec in self.strategy.measures.items()
                    if spec.kind != "ratio" and spec.source == m.source
                }
                self.sources[m.source] = _SourceCells(table, m.source, measures, self.strategy)
        return self.sources[m.source]


# --- events in, per unit and period -----------------------------------------------------------


def _fields(m: Measure) -> list[str]:
    if m.kind == "employee_health":
        return ["enps_score", "wellbeing"]
    if m.kind == "sum_ratio":
        return [m.field, m.per] if m.per else [m.field]
    return [m.field]


class _SourceCells:
    """One source's events aggregated once per unit (and `all`) and period, with every count and
    sum that the source's measures need; `cells(measure_id)` is one measure's view of it."""

    def __init__(
        self, table: ibis.Table, source: str, measures: dict[str, Measure], strategy: Strategy
    ):
        fields: list[str] = []
        for mid, m in measures.items():
            needed = _fields(m)
            require_columns(table, source, ["unit", *needed], f"measures.{mid}")
            fields += [f for f in needed if f not in fields]
        column = {f: f"f{i}" for i, f in enumerate(fields)}
        time = table[SOURCES[source].time_column]
        no_field = {}  # the second field of a sum_ratio without `per`
        if any(m.kind == "sum_ratio" and len(_fields(m)) == 1 for m in measures.values()):
            no_field["no_field"] = _NULL_FLOAT
        rows = table.select(
            unit=table.unit.cast("string"),
            period_start=period_start(time, strategy),
            **{col: table[f].cast("float64") for f, col in column.items()},
            **no_field,
        )
        rows = rows.filter(rows.unit.notnull())
        self.rows, self.period = rows, strategy.period
        # Every measure's aggregates over the rows; an aggregate two measures share is made once.
        aggregates: list[tuple[str, ibis.Value, str]] = []  # (primitive, expression, column)
        self._names: dict[str, dict[str, str]] = {}
        for mid, m in measures.items():
            first, *rest = _fields(m)
            x = rows[column[first]]
            y = rows[column[rest[0]]] if rest else (rows.no_field if no_field else None)
            names = {}
            for name, (primitive, expr) in _AGGREGATES[m.kind](x, y, m).items():
                col = next((c for p, e, c in aggregates if p == primitive and e.equals(expr)), None)
                if col is None:
                    col = f"a{len(aggregates)}"
                    aggregates.append((primitive, expr, col))
                names[name] = col
            self._names[mid] = names
        self.agg = _pooled_cells(rows, aggregates)

    def cells(self, measure_id: str) -> ibis.Table:
        """The measure's (unit, period_start, n, ...) cells that have at least one event."""
        names = self._names[measure_id]
        agg = self.agg
        return agg.filter(agg[names["n"]] > 0).select(
            "unit", "period_start", **{name: agg[col] for name, col in names.items()}
        )

    def zero_filled(self, cells: ibis.Table) -> ibis.Table:
        """A sum's cells with the periods without events as zeros: for every unit with events in
        the source (and `all`), every period from the source's first to its last period with
        any event (no upsell won in April is 0, not "no data"); n is 0 there."""
        rows = self.rows
        units = rows.select("unit").distinct()
        everyone = rows.select(unit=ibis.literal(ALL_UNITS, type="string")).distinct()
        grid = units.union(everyone).cross_join(_spine(rows, self.period))
        joined = grid.left_join(cells, ["unit", "period_start"])
        return joined.select(
            grid.unit,
            grid.period_start,
            n=joined.n.fill_null(0),
            total=joined.total.fill_null(0.0),
        )


def _spine(rows: ibis.Table, period: str) -> ibis.Table:
    """One row (`period_start`) per period from the first to the last period of `rows`."""
    bounds = rows.aggregate(first=rows.period_start.min(), last=rows.period_start.max())
    first, last = bounds["first"], bounds["last"]
    if period == "week":
        steps = last.delta(first, unit="day") // 7
    else:
        months = (last.year() - first.year()) * 12 + last.month() - first.month()
        steps = months // _MONTHS_PER_PERIOD[period]
    ks = bounds.select("first", k=ibis.range(0, steps + 1).unnest())
    if period == "week":
        start = ks["first"] + (ks.k * 7).as_interval("D")
    else:
        index = (
            ks["first"].year() * 12 + ks["first"].month() - 1 + ks.k * _MONTHS_PER_PERIOD[period]
        )
        start = ibis.date(index // 12, index % 12 + 1, 1)
    return ks.select(period_start=start.cast("date"))


_MONTHS_PER_PERIOD = {"month": 1, "quarter": 3}


def _pooled_cells(rows: ibis.Table, aggregates: list[tuple[str, ibis.Value, str]]) -> ibis.Table:
    """Each aggregate per unit and period, and per period for `all` (every event pooled).

    The events are read once: each unit's cell keeps partial aggregates (counts, sums, and for a
    standard deviation the count, mean and sum of squared deviations), and `all` combines the
    units' partials exactly (Chan et al.'s pooled variance), instead of reading every event a
    second time under `all`.
    """
    partials: dict[str, ibis.Value] = {}
    for primitive, expr, col in aggregates:
        if primitive in ("count", "sum"):
            partials[col] = expr.count() if primitive == "count" else expr.sum()
        elif primitive == "mean":
            partials[f"{col}_s"], partials[f"{col}_c"] = expr.sum(), expr.count()
        else:  # sd
            partials[f"{col}_c"], partials[f"{col}_m"] = expr.count(), expr.mean()
            partials[f"{col}_q"] = expr.var(how="pop") * expr.count()
    units = rows.group_by(["unit", "period_start"]).aggregate(**partials)

    by_period = units.period_start
    deviations = {}  # per sd: the unit's squared deviations about the pooled mean, summed
    for primitive, _, col in aggregates:
        if primitive == "sd":
            c, m, q = units[f"{col}_c"], units[f"{col}_m"], units[f"{col}_q"]
            pooled_mean = (c * m).sum().over(group_by=by_period) / c.sum().over(group_by=by_period)
            deviations[f"{col}_d"] = q.fill_null(0) + c * (m - pooled_mean) ** 2
    units = units.mutate(**deviations) if deviations else units
    pooled: dict[str, ibis.Value] = {}
    for primitive, _, col in aggregates:
        if primitive in ("count", "sum"):
            pooled[col] = units[col].sum()
        elif primitive == "mean":
            pooled[f"{col}_s"], pooled[f"{col}_c"] = (
                units[f"{col}_s"].sum(),
                units[f"{col}_c"].sum(),
            )
        else:
            pooled[f"{col}_c"], pooled[f"{col}_q"] = (
                units[f"{col}_c"].sum(),
                units[f"{col}_d"].sum(),
            )
    everyone = units.group_by("period_start").aggregate(**pooled)
    everyone = everyone.mutate(unit=ibis.literal(ALL_UNITS, type="string"))

    def final(t: ibis.Table) -> ibis.Table:
        out = {}
        for primitive, _, col in aggregates:
            if primitive in ("count", "sum"):
                out[col] = t[col]
            elif primitive == "mean":
                s, c = t[f"{col}_s"], t[f"{col}_c"]
                out[col] = ibis.cases((c > 0, s / c), else_=_NULL_FLOAT)
            else:
                c, q = t[f"{col}_c"], t[f"{col}_q"]
                out[col] = ibis.cases((c >= 2, (q / (c - 1)).sqrt()), else_=_NULL_FLOAT)
        return t.select("unit", "period_start", **out)

    return final(units).union(final(everyone), distinct=False)


def _flag(condition: ibis.BooleanValue) -> ibis.IntegerValue:
    """1 where `condition` holds, else 0 (also where it is NULL); summed, it counts."""
    return ibis.cases((condition, 1), else_=0)


def _band_flag(x: ibis.FloatingValue, m: Measure) -> ibis.IntegerValue:
    if m.band is None:
        raise ValueError("a share measure needs band: [low, high]")
    low, high = m.band
    return _flag((x >= low) & (x <= high))


# What each kind aggregates per unit and period, over all of the source's rows: `n` counts the
# events the measure counts (cells without any are dropped), NULL fields add nothing.
_AGGREGATES = {
    "nps": lambda x, y, m: {
        "n": ("count", x),
        "promoters": ("sum", _flag(x >= 9)),
        "detractors": ("sum", _flag(x <= 6)),
    },
    "mean": lambda x, y, m: {"n": ("count", x), "mean": ("mean", x), "sd": ("sd", x)},
    "share": lambda x, y, m: {"n": ("count", x), "hits": ("sum", _band_flag(x, m))},
    "sum": lambda x, y, m: {"n": ("count", x), "total": ("sum", x)},
    "sum_ratio": lambda x, y, m: {
        "n": ("count", x),
        "total": ("sum", x),
        # Only rows with the numerator count, as they do in n and the total.
        "per_total": ("sum", ibis.cases((x.notnull(), y), else_=_NULL_FLOAT)),
    },
    # A pulse response counts when it answered at least one of the two questions.
    "employee_health": lambda x, y, m: {
        "n": ("count", ibis.cases((x.notnull() | y.notnull(), 1), else_=ibis.null("int64"))),
        "enps_n": ("count", x),
        "promoters": ("sum", _flag(x >= 9)),
        "detractors": ("sum", _flag(x <= 6)),
        "wellbeing": ("mean", y),
    },
}


# --- one function per kind: (unit, period_start, value, n, ci_low, ci_high, note) --------------
# Each takes the measure's aggregate cells (unit, period_start and the kind's aggregates above).


def _nps(agg: ibis.Table, m: Measure) -> ibis.Table:
    """%promoters (9-10) minus %detractors (0-6); interval from the trinomial variance."""
    p_p = agg.promoters.cast("float64") / agg.n
    p_d = agg.detractors.cast("float64") / agg.n
    value = (p_p - p_d) * 100.0
    variance = ibis.greatest((p_p + p_d) - (p_p - p_d) * (p_p - p_d), 0.0)
    se = 100.0 * (variance / agg.n).sqrt()
    half = Z95 * se
    return agg.select(
        "unit",
        "period_start",
        value=value,
        n=agg.n,
        ci_low=ibis.greatest(value - half, -100.0),
        ci_high=ibis.least(value + half, 100.0),
        note=_NULL_STR,
        se=se,
    )


def _mean(agg: ibis.Table, m: Measure) -> ibis.Table:
    """The mean with +/- 1.96 s / sqrt(n) (s with n - 1); no interval below two responses."""
    se = agg.sd / agg.n.cast("float64").sqrt()  # NULL below two responses (no sd)
    half = Z95 * se
    has_ci = agg.n >= 2
    return agg.select(
        "unit",
        "period_start",
        value=agg.mean,
        n=agg.n,
        ci_low=ibis.cases((has_ci, agg.mean - half), else_=_NULL_FLOAT),
        ci_high=ibis.cases((has_ci, agg.mean + half), else_=_NULL_FLOAT),
        note=_NULL_STR,
        se=ibis.cases((has_ci, se), else_=_NULL_FLOAT),
    )


def wilson_bounds(
    hits: ibis.IntegerValue, n: ibis.IntegerValue, z: float = Z95
) -> tuple[ibis.FloatingValue, ibis.FloatingValue, ibis.FloatingValue]:
    """A share (0..1) of `hits` in `n` with its Wilson score interval clipped to 0..1, as Ibis
    expressions: (share, low, high). The same formula as `metrics.stats.wilson_interval`."""
    n = n.cast("float64")
    p = hits.cast("float64") / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom
    return p, ibis.greatest(centre - half, 0.0), ibis.least(centre + half, 1.0)


def _share(agg: ibis.Table, m: Measure) -> ibis.Table:
    """Percent (0..100) of responses inside the inclusive band, with the Wilson interval."""
    p, low, high = wilson_bounds(agg.hits, agg.n)
    return agg.select(
        "unit",
        "period_start",
        value=p * 100.0,
        n=agg.n,
        ci_low=low * 100.0,
        ci_high=high * 100.0,
        note=_NULL_STR,
        se=100.0 * (p * (1.0 - p) / agg.n.cast("float64")).sqrt(),
    )


def _sum(agg: ibis.Table, m: Measure) -> ibis.Table:
    """The total of the field over the period; n = rows summed."""
    return agg.select(
        "unit",
        "period_start",
        value=agg.total,
        n=agg.n,
        ci_low=_NULL_FLOAT,
        ci_high=_NULL_FLOAT,
        note=_NULL_STR,
        se=_NULL_FLOAT,
    )


def _sum_ratio(agg: ibis.Table, m: Measure) -> ibis.Table:
    """sum(field) / sum(per), e.g. cost per contact; NULL (with a note) without a denominator."""
    no_per = agg.per_total.isnull() | (agg.per_total == 0)
    return agg.select(
        "unit",
        "period_start",
        value=ibis.cases((no_per, _NULL_FLOAT), else_=agg.total / agg.per_total),
        n=agg.n,
        ci_low=_NULL_FLOAT,
        ci_high=_NULL_FLOAT,
        note=ibis.cases((no_per, ibis.literal(f"no {m.per} in period")), else_=_NULL_STR),
        se=_NULL_FLOAT,
    )


def _employee_health(agg: ibis.Table, m: Measure) -> ibis.Table:
    """0..100: mean of the eNPS mapped (eNPS + 100) / 2 and the wellbeing mapped (w - 1) / 4 * 100,
    each where it has answers; n = pulse responses."""
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
        se=_NULL_FLOAT,
    )


_KINDS = {
    "nps": _nps,
    "mean": _mean,
    "share": _share,
    "sum": _sum,
    "sum_ratio": _sum_ratio,
    "employee_health": _employee_health,
}


def _ratio(num: ibis.Table, den: ibis.Table, m: Measure) -> ibis.Table:
    """One measure's value over another's, per unit and period (e.g. upsell revenue / revenue),
    from the two measures' tables (marts.measure_values rows).

    A row exists where either side has one; a missing, NULL or zero denominator (or a missing or
    NULL numerator) leaves the value NULL with the reason; a suppressed side suppresses the ratio.
    """
    num_id, den_id = m.numerator, m.denominator
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
    value_note = join_notes(num_note, den_note)
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
        note=join_notes(supp_note, value_note),
        se=_NULL_FLOAT,
    )
