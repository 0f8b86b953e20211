"""The validation rules of docs/sources.md, as one set-based SQL pass over a file.

`stage_sql` turns an adapter's `Plan` into a single `SELECT` that, for every record, yields the
typed canonical columns plus two verdicts:
- `__filter`: why the record is excluded on purpose (a `where:` rule, a Qualtrics preview, a lost
  opportunity); such records are counted, never quarantined;
- `__reason`: the FIRST rule the record breaks, in words a person can act on ("score '11' is outside
  0..10"), naming the column, the value and (when it differs) the file's field.
A record with neither becomes an event. Values are parsed with TRY_CAST, so a bad value never stops
the file; it only sends its record to quarantine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from metrics.schemas import ALL_UNITS, Column, SourceSchema
from metrics.sources import DEFAULT_CES_SCALE
from metrics.store.sql import literal
from pipelines.ingestion.adapters.plan import Params, Plan

#: Free-text columns: only empty strings become NULL (trimming millions of comments costs time).
FREE_TEXT = frozenset({"comment", "note", "owner", "root_cause"})

#: Types parsed from text (TRY_CAST tolerates surrounding white space, so they are not trimmed).
TYPED = frozenset({"TIMESTAMP", "DATE", "INTEGER", "DOUBLE", "BIGINT"})

#: Number types, read with the export's decimal and thousands separators.
NUMBERS = frozenset({"INTEGER", "DOUBLE", "BIGINT"})

#: Value ranges per (source, column): (low, high); None = open. ces' score uses the configured scale.
RANGES: dict[tuple[str, str], tuple[float | None, float | None]] = {
    ("nps", "score"): (0, 10),
    ("employee_pulse", "enps_score"): (0, 10),
    ("employee_pulse", "wellbeing"): (1, 5),
    ("upsell", "amount"): (0, None),
    ("cost", "amount"): (0, None),
    ("readiness", "score"): (1, 5),
}


@dataclass(frozen=True)
class RuleOptions:
    """What the rules need beyond the file: the ces scale, readiness dimensions, unit spellings."""

    scale: tuple[float, float] = DEFAULT_CES_SCALE
    dimensions: Sequence[str] = ()
    unit_aliases: Mapping[str, str] | None = None
    #: timestamps later than this are quarantined (the load's time plus a day of clock skew)
    future_limit: datetime | None = None


def _num(x: float) -> str:
    return f"{x:g}"


def _msg(params: Params, col: str, value_sql: str | None, text: str, field: str | None) -> str:
    """SQL for "<col> '<value>' <text> (field <field>)"; user-given pieces go in as parameters."""
    where = f" (field {field})" if field and field != col else ""
    if value_sql is None:
        return params(f"{col} {text}{where}")
    return (
        f"concat({params(col + ' ' + chr(39))}, left({value_sql}, 80), "
        f"{params(chr(39) + ' ' + text + where)})"
    )


def columns(schema: SourceSchema) -> tuple[Column, ...]:
    """The columns staged and loaded for a source: canonical then extra (such as updated_at)."""
    return schema.columns + schema.extra


def stage_sql(schema: SourceSchema, plan: Plan, opts: RuleOptions, params: Params) -> str:
    """One SELECT over the file: typed columns, `__filter`, `__reason`, `__record` (and
    `__footer` when the plan has a footer)."""
    raw: list[str] = []  # level 1: raw text per column, normalised
    typed: list[str] = []  # level 2: parsed values
    checks: list[tuple[str, str]] = []  # level 3: (condition, reason) in order
    out: list[str] = []

    for col in columns(schema):
        name = col.name
        r, t = f"__r_{name}", f"__t_{name}"
        field = plan.field_names.get(name)
        src = plan.fields.get(name, "CAST(NULL AS VARCHAR)")
        if col.type in NUMBERS and (plan.thousands or plan.decimal != "."):
            src = _locale_number(src, plan, params)
        if name in plan.cleaners:
            src = plan.cleaners[name].replace("{v}", src)
        if name in FREE_TEXT or col.type in TYPED:
            # casts ignore surrounding spaces; trimming millions of values costs real time
            raw.append(f"NULLIF({src}, '') AS {r}")
        elif src.startswith('"'):
            # a plain column: trim() only where needed (most values have no surrounding spaces,
            # and on millions of rows trim() itself is a noticeable share of the load time)
            raw.append(
                f"NULLIF(CASE WHEN prefix({src}, ' ') OR suffix({src}, ' ') THEN trim({src}) "
                f"ELSE {src} END, '') AS {r}"
            )
        else:
            raw.append(f"NULLIF(trim({src}), '') AS {r}")
        if col.required:
            checks.append((f"{r} IS NULL", _msg(params, name, None, "is empty", field)))

        if col.type == "TIMESTAMP":
            typed.append(f"{_timestamp(r, plan, params)} AS {t}")
            checks.append(
                (
                    f"{r} IS NOT NULL AND {t} IS NULL",
                    _msg(params, name, r, "is not a timestamp", field),
                )
            )
            if opts.future_limit is not None:
                limit = opts.future_limit.strftime("%Y-%m-%d %H:%M:%S")
                checks.append(
                    (
                        f"{t} > TIMESTAMP {literal(limit)}",
                        _msg(params, name, r, f"is in the future (after {limit} UTC)", field),
                    )
                )
            out.append(f"{t} AS {name}")
        elif col.type == "DATE":
            typed.append(f"{_date(r, name, plan)} AS {t}")
            checks.append(
                (f"{r} IS NOT NULL AND {t} IS NULL", _msg(params, name, r, "is not a date", field))
            )
            out.append(f"{t} AS {name}")
        elif col.type in ("INTEGER", "DOUBLE", "BIGINT"):
            whole = col.type != "DOUBLE"
            typed.append(f"TRY_CAST({r} AS DOUBLE) AS {t}")
            bad = f"{t} IS NULL OR NOT isfinite({t})" + (f" OR {t} <> trunc({t})" if whole else "")
            kind = "is not a whole number" if whole else "is not a number"
            checks.append((f"{r} IS NOT NULL AND ({bad})", _msg(params, name, r, kind, field)))
            low, high = RANGES.get((schema.name, name), (None, None))
            if schema.name == "ces" and name == "score":
                low, high = opts.scale
            if low is not None and high is not None:
                cond, text = (
                    f"{t} < {_num(low)} OR {t} > {_num(high)}",
                    f"is outside {_num(low)}..{_num(high)}",
                )
            elif low is not None:
                cond, text = f"{t} < {_num(low)}", f"is below {_num(low)}"
            else:
                cond = None
            if schema.name == "cost" and name == "contacts":
                cond, text = f"{t} <= 0", "is not above 0"
            if cond is not None:
                checks.append((f"{r} IS NOT NULL AND ({cond})", _msg(params, name, r, text, field)))
            out.append(f"CAST({t} AS {col.type}) AS {name}")
        elif name == "unit":
            typed.append(f"{_aliased(r, opts.unit_aliases or {}, params)} AS {t}")
            checks.append(
                (
                    f"lower({t}) = '{ALL_UNITS}'",
                    _msg(
                        params,
                        name,
                        t,
                        "is reserved for the whole organisation; rename it "
                        "or map it under unit_aliases",
                        field,
                    ),
                )
            )
            out.append(f"{t} AS {name}")
        elif name == "dimension" and schema.name == "readiness":
            dims = list(opts.dimensions)
            if dims:
                cases = " ".join(f"WHEN {params(d.strip().lower())} THEN {params(d)}" for d in dims)
                typed.append(f"CASE lower({r}) {cases} END AS {t}")
            else:
                typed.append(f"CAST(NULL AS VARCHAR) AS {t}")
            allowed = ", ".join(dims) or "none configured"
            checks.append(
                (
                    f"{r} IS NOT NULL AND {t} IS NULL",
                    _msg(
                        params,
                        name,
                        r,
                        f"is not one of the strategy's readiness dimensions ({allowed})",
                        field,
                    ),
                )
            )
            out.append(f"{t} AS {name}")
        else:
            out.append(f"{r} AS {name}")

    if schema.name == "employee_pulse":
        checks.append(
            (
                "__r_enps_score IS NULL AND __r_wellbeing IS NULL",
                params("neither enps_score nor wellbeing is given"),
            )
        )

    filter_case = " ".join(f"WHEN {cond} THEN {params(reason)}" for cond, reason in plan.filters)
    filter_sql = f"CASE {filter_case} END" if filter_case else "CAST(NULL AS VARCHAR)"
    reason_case = " ".join(f"WHEN {cond} THEN {msg}" for cond, msg in checks)
    reason_sql = f"CASE {reason_case} END" if reason_case else "CAST(NULL AS VARCHAR)"
    # `__footer` (the first line of a report footer) is staged only for formats that have one
    footer_in = f", {plan.footer} AS __footer" if plan.footer else ""
    footer_out = ", __footer" if plan.footer else ""

    return f"""
SELECT {", ".join(out)}, __filter, __reason,
       CASE WHEN __filter IS NULL AND __reason IS NOT NULL THEN {plan.record} END AS __record
       {footer_out}
FROM (
  SELECT *, {filter_sql} AS __filter, {reason_sql} AS __reason
  FROM (
    SELECT *{"".join(", " + x for x in typed)}
    FROM (SELECT *, {", ".join(raw)}{footer_in} FROM {plan.relation})
  )
)"""


def _locale_number(src: str, plan: Plan, params: Params) -> str:
    """Text of a number written in the export's locale ("1.234,5") as DuckDB reads it ("1234.5")."""
    if plan.thousands:
        src = f"replace({src}, {params(plan.thousands)}, '')"
    if plan.decimal != ".":
        src = f"replace({src}, {params(plan.decimal)}, '.')"
    return src


def _with_time(date_format: str) -> tuple[str, ...]:
    """A date pattern, and the same followed by a time of day (with and without seconds)."""
    return (date_format, f"{date_format} %H:%M:%S", f"{date_format} %H:%M")


def _timestamp(r: str, plan: Plan, params: Params) -> str:
    """Text -> UTC-naive TIMESTAMP: ISO with or without zone/offset, `YYYY-MM-DD HH:MM:SS`, and
    (JSON exports) Unix epoch seconds. Zone-less text is read in the plan's time zone."""
    naive = f"TRY_CAST({r} AS TIMESTAMP)"
    if plan.timezone != "UTC":
        naive = f"timezone('UTC', timezone({params(plan.timezone)}, {naive}))"
    # Cheap gate first: 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM' and 'YYYY-MM-DD HH:MM:SS' carry no zone.
    # Anything longer may: a letter, '+' or '-' after the date part means a zone or an offset
    # (TRY_CAST to TIMESTAMP would silently drop it), which TIMESTAMPTZ honours.
    zoned = f"timezone('UTC', TRY_CAST({r} AS TIMESTAMPTZ))"
    expr = (
        f"CASE WHEN length({r}) <= 16 OR (length({r}) = 19 AND {r}[17] = ':') THEN {naive} "
        f"WHEN regexp_matches(substr({r}, 12), '[A-Za-z+-]') THEN {zoned} "
        f"ELSE {naive} END"
    )
    if plan.date_format:
        # the export's own pattern first ("01.06.2022 14:30"), read in the plan's zone
        local = ", ".join(f"TRY_STRPTIME({r}, {params(f)})" for f in _with_time(plan.date_format))
        local = f"coalesce({local})"
        if plan.timezone != "UTC":
            local = f"timezone('UTC', timezone({params(plan.timezone)}, {local}))"
        expr = f"coalesce({local}, {expr})"
    if plan.epoch_seconds:
        epoch = f"timezone('UTC', to_timestamp(TRY_CAST({r} AS DOUBLE)))"
        expr = f"CASE WHEN regexp_full_match({r}, '\\d{{9,11}}(\\.\\d+)?') THEN {epoch} ELSE {expr} END"
    return expr


def _date(r: str, name: str, plan: Plan) -> str:
    """Text -> DATE, never shifted by a zone: a timestamp given for a date keeps its own date."""
    formats = plan.date_formats
    tries = [f"TRY_CAST({r} AS DATE)"]
    if plan.date_format:  # the export's own pattern wins over ISO: "01.06.2022" is 1 June
        tries.insert(0, f"CAST(TRY_STRPTIME({r}, {literal(plan.date_format)}) AS DATE)")
        formats = tuple(f for f in _with_time(plan.date_format)[1:]) + formats
    tries += [f"CAST(TRY_STRPTIME({r}, {literal(fmt)}) AS DATE)" for fmt in formats]
    if name == "period":
        tries.append(f"CAST(TRY_STRPTIME({r}, '%Y-%m') AS DATE)")  # '2025-03' = that month
    if plan.epoch_seconds:
        tries.append(
            f"CASE WHEN regexp_full_match({r}, '\\d{{9,11}}') "
            f"THEN CAST(timezone('UTC', to_timestamp(TRY_CAST({r} AS DOUBLE))) AS DATE) END"
        )
    return tries[0] if len(tries) == 1 else f"coalesce({', '.join(tries)})"


def _aliased(r: str, aliases: Mapping[str, str], params: Params) -> str:
    if not aliases:
        return r
    cases = " ".join(
        f"WHEN {params(spelling.strip())} THEN {params(unit.strip())}"
        for spelling, unit in aliases.items()
    )
    return f"CASE {r} {cases} ELSE {r} END"
