"""The pandas peer: marts.measure_values the way a data scientist would write it by hand.

It reads the events the measures need from the warehouse into DataFrames (`con.execute(...).df()`)
and computes every measure of the strategy per unit and period with pandas groupbys: NPS, mean,
share, sum, sum over sum, ratio and employee health, with the same 95% intervals, the same
suppression notes and the same complementary suppression for anonymous measures. It is the
baseline the Ibis marts are measured against, so it is honest rather than naive (it reads only the
columns it needs, each source once), and `compare` proves it gives the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

# Shared with the marts: only wording (what a note says `n` counts) and which zone names need no
# conversion, so the notes compare equal; every number here is computed independently.
from metrics.measures import MEASURE_VALUES_SCHEMA
from metrics.periods import _UTC_NAMES
from metrics.schemas import ALL_UNITS, SOURCES
from metrics.stats import Z95
from metrics.strategy import Measure, Strategy
from metrics.suppression import COUNTED

COLUMNS = list(MEASURE_VALUES_SCHEMA.names)


def _fields(m: Measure) -> list[str]:
    if m.kind == "employee_health":
        return ["enps_score", "wellbeing"]
    if m.kind == "sum_ratio":
        return [m.field, m.per] if m.per else [m.field]
    return [m.field]


# --- reading -------------------------------------------------------------------------------------


def _existing_tables(con) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'events' "
        "AND table_catalog = current_database()"
    ).fetchall()
    return {r[0] for r in rows}


def read_events(con, strategy: Strategy) -> dict[str, pd.DataFrame]:
    """Each source the measures use, once, with the unit, the time column and the fields needed."""
    wanted: dict[str, list[str]] = {}
    for m in strategy.measures.values():
        if m.kind == "ratio" or m.source is None:
            continue
        cols = wanted.setdefault(m.source, [])
        cols += [f for f in _fields(m) if f not in cols]
    present = _existing_tables(con)
    frames = {}
    for source, fields in wanted.items():
        if source not in present:
            continue
        time_col = SOURCES[source].time_column
        cols = ", ".join(f'"{c}"' for c in ["unit", time_col, *fields])
        frames[source] = con.execute(f'SELECT {cols} FROM events."{source}"').df()
    return frames


# --- per unit and period -------------------------------------------------------------------------


def period_start(ts: pd.Series, strategy: Strategy, is_date: bool) -> np.ndarray:
    """The first day of each value's period (datetime64[D]), bucketed in the strategy's zone."""
    if not is_date and strategy.timezone not in _UTC_NAMES:
        ts = ts.dt.tz_localize("UTC").dt.tz_convert(strategy.timezone).dt.tz_localize(None)
    values = pd.to_datetime(ts).to_numpy(dtype="datetime64[us]")
    if strategy.period == "month":
        return values.astype("datetime64[M]").astype("datetime64[D]")
    if strategy.period == "quarter":
        months = values.astype("datetime64[M]").astype(np.int64)
        return (months - months % 3).astype("datetime64[M]").astype("datetime64[D]")
    days = values.astype("datetime64[D]")
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; weeks start Monday
    return days - weekday.astype("timedelta64[D]")


def _rows(frame: pd.DataFrame, source: str, m: Measure, strategy: Strategy) -> pd.DataFrame:
    schema = SOURCES[source]
    time_col = schema.time_column
    is_date = next(c.type for c in schema.columns if c.name == time_col) == "DATE"
    fields = _fields(m)
    rows = pd.DataFrame(
        {
            "unit": frame["unit"].astype("string"),
            "period_start": period_start(frame[time_col], strategy, is_date),
            "x": frame[fields[0]].astype("float64"),
            "y": frame[fields[1]].astype("float64") if len(fields) > 1 else np.nan,
        }
    )
    rows = rows[rows["unit"].notna()]
    if m.kind == "employee_health":
        return rows[rows["x"].notna() | rows["y"].notna()]
    return rows[rows["x"].notna()]


def _grouped(rows: pd.DataFrame, **aggs: tuple[str, str]) -> pd.DataFrame:
    """Aggregate per (unit, period) and, pooled over every unit, per (`all`, period)."""
    by_unit = rows.groupby(["unit", "period_start"], sort=False).agg(**aggs).reset_index()
    pooled = rows.groupby("period_start", sort=False).agg(**aggs).reset_index()
    pooled.insert(0, "unit", ALL_UNITS)
    return pd.concat([by_unit, pooled], ignore_index=True)


def _cells(agg: pd.DataFrame, value, n, ci_low=np.nan, ci_high=np.nan, note=None) -> pd.DataFrame:
    out = pd.DataFrame({"unit": agg["unit"].astype(object), "period_start": agg["period_start"]})
    out["value"] = np.asarray(value, dtype="float64")
    out["n"] = np.asarray(n, dtype="int64")
    out["ci_low"] = np.broadcast_to(np.asarray(ci_low, dtype="float64"), len(out))
    out["ci_high"] = np.broadcast_to(np.asarray(ci_high, dtype="float64"), len(out))
    out["note"] = pd.Series(note if note is not None else [None] * len(out), dtype=object)
    return out


def _nps(rows: pd.DataFrame, m: Measure) -> pd.DataFrame:
    rows = rows.assign(p=(rows.x >= 9).astype("int64"), d=(rows.x <= 6).astype("int64"))
    agg = _grouped(rows, n=("x", "count"), p=("p", "sum"), d=("d", "sum"))
    n = agg["n"].to_numpy(dtype="float64")
    p_p, p_d = agg["p"].to_numpy() / n, agg["d"].to_numpy() / n
    value = (p_p - p_d) * 100.0
    half = Z95 * 100.0 * np.sqrt(np.maximum((p_p + p_d) - (p_p - p_d) ** 2, 0.0) / n)
    return _cells(
        agg, value, agg["n"], np.maximum(value - half, -100.0), np.minimum(value + half, 100.0)
    )


def _mean(rows: pd.DataFrame, m: Measure) -> pd.DataFrame:
    agg = _grouped(rows, n=("x", "count"), mean=("x", "mean"), sd=("x", "std"))
    half = Z95 * agg["sd"] / np.sqrt(agg["n"].astype("float64"))
    has_ci = agg["n"] >= 2
    return _cells(
        agg,
        agg["mean"],
        agg["n"],
        (agg["mean"] - half).where(has_ci),
        (agg["mean"] + half).where(has_ci),
    )


def _share(rows: pd.DataFrame, m: Measure) -> pd.DataFrame:
    low, high = m.band  # type: ignore[misc]
    rows = rows.assign(hit=((rows.x >= low) & (rows.x <= high)).astype("int64"))
    agg = _grouped(rows, n=("x", "count"), hits=("hit", "sum"))
    n = agg["n"].to_numpy(dtype="float64")
    p = agg["hits"].to_numpy() / n
    z2 = Z95 * Z95
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = Z95 * np.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    return _cells(
        agg,
        p * 100.0,
        agg["n"],
        np.maximum(centre - half, 0.0) * 100.0,
        np.minimum(centre + half, 1.0) * 100.0,
    )


def _sum(rows: pd.DataFrame, m: Measure) -> pd.DataFrame:
    agg = _grouped(rows, n=("x", "count"), total=("x", "sum"))
    return _cells(agg, agg["total"], agg["n"])


def _sum_ratio(rows: pd.DataFrame, m: Measure) -> pd.DataFrame:
    agg = _grouped(
        rows, n=("x", "count"), total=("x", "sum"), per=("y", "sum"), per_n=("y", "count")
    )
    no_per = (agg["per_n"] == 0) | (agg["per"] == 0)
    value = (agg["total"] / agg["per"]).where(~no_per)
    note = np.where(no_per, f"no {m.per} in period", None)
    return _cells(agg, value, agg["n"], note=list(note))


def _employee_health(rows: pd.DataFrame, m: Measure) -> pd.DataFrame:
    rows = rows.assign(p=(rows.x >= 9).astype("int64"), d=(rows.x <= 6).astype("int64"), one=1)
    agg = _grouped(
        rows, n=("one", "sum"), enps_n=("x", "count"), p=("p", "sum"), d=("d", "sum"),
        w=("y", "mean"),
    )  # fmt: skip
    enps_n = agg["enps_n"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        enps = (agg["p"] - agg["d"]).to_numpy(dtype="float64") * 100.0 / enps_n
    enps_part = np.where(enps_n > 0, (enps + 100.0) / 2.0, np.nan)
    well_part = (agg["w"].to_numpy(dtype="float64") - 1.0) / 4.0 * 100.0
    value = np.where(
        ~np.isnan(enps_part) & ~np.isnan(well_part),
        (enps_part + well_part) / 2.0,
        np.where(~np.isnan(enps_part), enps_part, well_part),
    )
    return _cells(agg, value, agg["n"])


_KINDS = {
    "nps": _nps,
    "mean": _mean,
    "share": _share,
    "sum": _sum,
    "sum_ratio": _sum_ratio,
    "employee_health": _employee_health,
}


# --- notes and suppression -----------------------------------------------------------------------


def _join(first: Iterable[Any], second: Iterable[Any]) -> list[str | None]:
    out = []
    for a, b in zip(first, second, strict=True):
        a = None if a is None or (isinstance(a, float) and math.isnan(a)) else a
        b = None if b is None or (isinstance(b, float) and math.isnan(b)) else b
        out.append(b if a is None else a if b is None else f"{a}; {b}")
    return out


def _suppress(cells: pd.DataFrame, m: Measure) -> pd.DataFrame:
    cells = cells.copy()
    too_few = (cells["n"] < m.min_n) if m.min_n > 0 else pd.Series(False, index=cells.index)
    counted = COUNTED.get(m.kind, "events")
    few = [
        f"n={n} below min_n {m.min_n}: too few {counted}" if t else None
        for n, t in zip(cells["n"], too_few, strict=True)
    ]
    cells["suppressed"] = too_few.to_numpy(dtype=bool)
    cells["note"] = _join(few, cells["note"])
    if not m.anonymity:
        return cells
    # One hidden unit in a period could be recovered as `all` minus the others: hide the smallest
    # shown unit (ties by name) as well.
    is_unit = cells["unit"] != ALL_UNITS
    # A unit hidden with no events (a zero-filled sum) reveals nobody, so it protects nothing.
    hides = is_unit & cells["suppressed"] & (cells["n"] > 0)
    hidden = hides.groupby(cells["period_start"]).transform("sum")
    candidates = cells[is_unit & ~cells["suppressed"]]
    smallest = candidates.sort_values(["period_start", "n", "unit"]).groupby("period_start").head(1)
    protect = cells.index.isin(smallest.index) & (hidden == 1).to_numpy()
    note = f"suppressed to protect a smaller unit below min_n {m.min_n} (anonymity)"
    cells["note"] = [
        (_join([note], [old])[0] if p else old)
        for p, old in zip(protect, cells["note"], strict=True)
    ]
    cells["suppressed"] = cells["suppressed"].to_numpy() | protect
    for col in ("value", "ci_low", "ci_high"):
        cells[col] = cells[col].where(~cells["suppressed"])
    return cells


def _ratio(
    frames: dict[str, pd.DataFrame], strategy: Strategy, m: Measure, stack: tuple[str, ...]
) -> pd.DataFrame:
    num_id, den_id = m.numerator, m.denominator
    num = measure_frame(frames, strategy, num_id, stack)  # type: ignore[arg-type]
    den = measure_frame(frames, strategy, den_id, stack)  # type: ignore[arg-type]
    num = num[["unit", "period_start", "value", "suppressed", "note"]].assign(has_num=True)
    den = den[["unit", "period_start", "value", "suppressed", "note"]].assign(has_den=True)
    j = num.merge(den, on=["unit", "period_start"], how="outer", suffixes=("_n", "_d"))
    has_num = j["has_num"].eq(True).to_numpy()
    has_den = j["has_den"].eq(True).to_numpy()
    nv, dv = j["value_n"].to_numpy(dtype="float64"), j["value_d"].to_numpy(dtype="float64")
    no_num, no_den, zero_den = np.isnan(nv), np.isnan(dv), dv == 0
    num_note = np.select(
        [~has_num, no_num], [f"no {num_id} in period", f"no {num_id} value in period"], None
    )
    den_note = np.select(
        [~has_den, no_den, zero_den],
        [f"no {den_id} in period", f"no {den_id} value in period", f"{den_id} is zero in period"],
        None,
    )
    ns = j["suppressed_n"].eq(True).to_numpy()
    ds = j["suppressed_d"].eq(True).to_numpy()
    supp_note = np.select(
        [ns & ds, ns, ds],
        [
            f"{num_id} and {den_id} are suppressed",
            f"{num_id} is suppressed",
            f"{den_id} is suppressed",
        ],
        None,
    )
    suppressed = ns | ds
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(no_num | no_den | zero_den, np.nan, nv / dv)
    if m.anonymity:
        value = np.where(suppressed, np.nan, value)
    out = pd.DataFrame({"unit": j["unit"].astype(object), "period_start": j["period_start"]})
    out["value"] = value
    out["n"] = pd.array([None] * len(out), dtype="Int64")
    out["ci_low"] = np.nan
    out["ci_high"] = np.nan
    out["suppressed"] = suppressed
    out["note"] = _join(supp_note, _join(num_note, den_note))
    return out


def measure_frame(
    frames: dict[str, pd.DataFrame], strategy: Strategy, measure_id: str, stack=()
) -> pd.DataFrame:
    """One measure's rows: unit, period_start, value, n, ci_low, ci_high, suppressed, note."""
    if measure_id in stack:
        raise ValueError(f"measures.{measure_id}: a ratio refers to itself")
    m = strategy.measures[measure_id]
    if m.kind == "ratio":
        return _ratio(frames, strategy, m, (*stack, measure_id))
    frame = frames.get(m.source)  # type: ignore[arg-type]
    if frame is None:
        return pd.DataFrame(columns=COLUMNS[1:])
    cells = _KINDS[m.kind](_rows(frame, m.source, m, strategy), m)  # type: ignore[arg-type]
    if m.kind == "sum":
        cells = _zero_filled(cells, frame, m.source, strategy)  # type: ignore[arg-type]
    return _suppress(cells, m)


def _zero_filled(
    cells: pd.DataFrame, frame: pd.DataFrame, source: str, strategy: Strategy
) -> pd.DataFrame:
    """A sum's periods without events as 0 (n 0): every unit with events in the source, and
    `all`, from the source's first to its last period."""
    schema = SOURCES[source]
    is_date = next(c.type for c in schema.columns if c.name == schema.time_column) == "DATE"
    known = frame[frame["unit"].notna()]
    if known.empty:
        return cells
    periods = period_start(known[schema.time_column], strategy, is_date)
    first, last = periods.min(), periods.max()
    if strategy.period == "week":
        spine = np.arange(first, last + np.timedelta64(1, "D"), np.timedelta64(7, "D"))
    else:
        step = 3 if strategy.period == "quarter" else 1
        months = np.arange(first.astype("datetime64[M]"), last.astype("datetime64[M]") + 1, step)
        spine = months.astype("datetime64[D]")
    units = [*sorted(known["unit"].astype(str).unique()), ALL_UNITS]
    grid = pd.DataFrame(
        [(u, p) for u in units for p in spine], columns=["unit", "period_start"]
    ).astype({"period_start": cells["period_start"].dtype, "unit": object})
    out = grid.merge(cells.astype({"unit": object}), on=["unit", "period_start"], how="left")
    out["value"] = out["value"].fillna(0.0)
    out["n"] = out["n"].fillna(0).astype("int64")
    out["note"] = out["note"].astype(object).where(out["note"].notna(), None)
    return out


def measure_values(con, strategy: Strategy) -> pd.DataFrame:
    """marts.measure_values computed with pandas: read the events, group by, done."""
    frames = read_events(con, strategy)
    parts = []
    for mid in strategy.measures:
        part = measure_frame(frames, strategy, mid)
        if len(part):
            parts.append(part.assign(measure=mid))
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(parts, ignore_index=True)[COLUMNS]


# --- checking the peer against the marts ---------------------------------------------------------


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def compare(expected: list[dict], actual: pd.DataFrame, tol: float = 1e-9) -> list[str]:
    """Every difference between the marts' rows (`expected`) and the peer's; empty when equal.

    Numbers agree within `tol` (relative, or absolute near zero); n, suppressed and note exactly.
    """

    def key(r: dict) -> tuple:
        return (r["measure"], r["unit"], _day(r["period_start"]))

    want = {key(r): r for r in expected}
    got = {key(r): r for r in actual.to_dict("records")}
    problems = [f"missing in the peer: {k}" for k in sorted(set(want) - set(got))[:10]]
    problems += [f"extra in the peer: {k}" for k in sorted(set(got) - set(want))[:10]]
    for k in sorted(set(want) & set(got)):
        w, g = want[k], got[k]
        for col in ("value", "ci_low", "ci_high"):
            a, b = w[col], g[col]
            if _missing(a) and _missing(b):
                continue
            if _missing(a) or _missing(b) or not math.isclose(a, b, rel_tol=tol, abs_tol=tol):
                problems.append(f"{k} {col}: marts {a!r}, peer {b!r}")
        n_w, n_g = (
            (None if _missing(w["n"]) else int(w["n"])),
            (None if _missing(g["n"]) else int(g["n"])),
        )
        if n_w != n_g:
            problems.append(f"{k} n: marts {n_w!r}, peer {n_g!r}")
        if bool(w["suppressed"]) != bool(g["suppressed"]):
            problems.append(f"{k} suppressed: marts {w['suppressed']!r}, peer {g['suppressed']!r}")
        note_w = None if _missing(w["note"]) else w["note"]
        note_g = None if _missing(g["note"]) else g["note"]
        if note_w != note_g:
            problems.append(f"{k} note: marts {note_w!r}, peer {note_g!r}")
    return problems
