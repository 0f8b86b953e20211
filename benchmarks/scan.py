"""Rebuilding the marts, against the engine's physical limit and against a pandas peer.

- The marts: the `marts` step of `pipelines/defs/marts.py` (measure_values, readiness,
  readiness_gates, feedback_items, feedback_loop, outcome_progress), invoked as Dagster runs it:
  one step, one warehouse connection, each mart's Ibis expression built, compiled and its table
  replaced. measure_values alone is the same step with only that asset selected, which is what
  the pandas peer is compared with.
- The limit: ONE DuckDB query that reads every column the marts use from every events table and
  aggregates it once per unit and month. No real set of marts can beat a single pass.
- The peer: `benchmarks.pandas_peer`, measure_values the way a data scientist would write it in
  pandas; its numbers must equal the mart's, or the benchmark fails.
"""

from __future__ import annotations

import functools
import shutil
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import duckdb

from benchmarks import pandas_peer
from metrics.schemas import SOURCES
from metrics.store.warehouse import connect
from metrics.strategy import load_strategy

Say = Callable[[str], None]

#: Every column some mart reads, per events table (units come from every table: readiness gates
#: exist for every unit seen anywhere).
MART_COLUMNS: dict[str, tuple[str, ...]] = {
    "nps": ("response_id", "responded_at", "unit", "score", "account_id", "comment"),
    "ces": ("response_id", "responded_at", "unit", "score", "account_id", "comment"),
    "employee_pulse": ("responded_at", "unit", "enps_score", "wellbeing"),
    "upsell": ("closed_at", "unit", "amount"),
    "revenue": ("period", "unit", "amount"),
    "cost": ("period", "unit", "amount", "contacts"),
    "readiness": ("assessed_at", "unit", "dimension", "score", "assessor_id"),
    "feedback_actions": ("feedback_id", "action_at", "action_type"),
}
_NUMERIC = ("INTEGER", "BIGINT", "DOUBLE")


def scan_sql() -> str:
    """One query: every used column of every events table, grouped once by unit and month."""
    parts = []
    for source, cols in MART_COLUMNS.items():
        schema = SOURCES[source]
        types = {c.name: c.type for c in schema.table_columns}
        time_col = schema.time_column
        unit = "unit" if "unit" in cols else "CAST(NULL AS VARCHAR)"
        numbers = [c for c in cols if types[c] in _NUMERIC]
        texts = [c for c in cols if types[c] == "VARCHAR" and c != "unit"]
        num = " + ".join(f'coalesce(sum("{c}"), 0)' for c in numbers) or "0"
        if len(texts) > 1:
            txt = "greatest(" + ", ".join(f'max("{c}")' for c in texts) + ")"
        else:
            txt = f'max("{texts[0]}")' if texts else "CAST(NULL AS VARCHAR)"
        parts.append(
            f"SELECT '{source}' AS source, {unit} AS unit, "
            f"date_trunc('month', \"{time_col}\") AS period, count(*) AS n, "
            f"CAST({num} AS DOUBLE) AS total, {txt} AS text "
            f'FROM events."{source}" GROUP BY ALL'
        )
    return "SELECT count(*), sum(n), sum(total), max(text) FROM (" + " UNION ALL ".join(parts) + ")"


#: What the marts must WRITE at least: every feedback item's own columns (one row per detractor
#: and high-effort response, comment included); every other mart is a small per-cell table.
WRITE_FLOOR_SQL = """
CREATE OR REPLACE TABLE marts._write_floor AS
SELECT response_id, 'nps' AS source, unit, account_id, responded_at, score, comment
FROM events.nps WHERE score <= 6
UNION ALL
SELECT response_id, 'ces' AS source, unit, account_id, responded_at, score, comment
FROM events.ces WHERE score <= 3
"""


def _write_floor(db: Path) -> float:
    """Opening the warehouse, writing the items' raw rows (no joins, no status) and closing it."""
    started = time.perf_counter()
    con = connect(db)
    try:
        con.execute(WRITE_FLOOR_SQL).fetchall()
    finally:
        con.close()
    return time.perf_counter() - started


def _scan(db: Path) -> float:
    started = time.perf_counter()
    con = connect(db, read_only=True)
    try:
        con.execute(scan_sql()).fetchall()
    finally:
        con.close()
    return time.perf_counter() - started


def _marts(home: Path, subset: set[str] | None = None) -> dict[str, float]:
    """The marts step as a run executes it (one Dagster step on one warehouse connection):
    seconds in all (`total`) and per mart (as each mart reports)."""
    import dagster as dg

    from pipelines.defs.marts import marts
    from pipelines.defs.resources import OutcomeLoopResource

    step = marts
    if subset is not None:
        keys = {dg.AssetKey(name) for name in subset}
        step = marts.subset_for(keys, {c for c in marts.check_keys if c.asset_key in keys})
    resource = OutcomeLoopResource(home=str(home))
    # A run's step gets its context from the run; building one here makes a throwaway Dagster
    # instance (~0.07 s), which is not the step's work, so it happens before the clock starts.
    context = dg.build_asset_context(instance=_instance())
    seconds: dict[str, float] = {}
    with warnings.catch_warnings():  # DuckDB's hint about an extra Arrow copy, once per run
        warnings.simplefilter("ignore", UserWarning)
        started = time.perf_counter()
        for event in step(context, outcomeloop=resource):
            if isinstance(event, dg.AssetCheckResult) and not event.passed:
                raise AssertionError(f"check {event.check_name} failed")
            if isinstance(event, dg.MaterializeResult):  # each mart's own time, as it reports
                seconds[event.asset_key.path[-1]] = float(event.metadata["seconds"])
    seconds["total"] = time.perf_counter() - started
    return seconds


@functools.cache
def _instance():
    import dagster as dg

    return dg.DagsterInstance.ephemeral()


def _pandas(db: Path, strategy) -> tuple[float, object]:
    started = time.perf_counter()
    con = duckdb.connect(str(db), read_only=True)
    try:
        frame = pandas_peer.measure_values(con, strategy)
    finally:
        con.close()
    return time.perf_counter() - started, frame


def run(source_home: Path, work: Path, repeats: int, say: Say) -> dict:
    """Marts vs the single scan vs the pandas peer on a copy of the scale's warehouse."""
    home = work / "marts-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    for name in ("warehouse.duckdb", "strategy.yaml", "sources.yaml"):
        if (source_home / name).exists():
            shutil.copyfile(source_home / name, home / name)
    db = home / "warehouse.duckdb"
    strategy = load_strategy(home / "strategy.yaml")

    say(f"marts: warm-up (imports), then {repeats} alternating runs each")
    _marts(home)
    _scan(db)
    _pandas(db, strategy)

    scans: list[float] = []
    floors: list[float] = []
    marts: list[dict[str, float]] = []
    alone: list[float] = []
    peers: list[float] = []
    frame = None
    steps = ("scan", "marts", "measure_values", "pandas", "floor")
    for i in range(repeats):
        for step in steps[i % 5 :] + steps[: i % 5]:  # rotate the order
            if step == "scan":
                scans.append(_scan(db))
            elif step == "floor":
                floors.append(_write_floor(db))
            elif step == "marts":
                marts.append(_marts(home))
            elif step == "measure_values":
                alone.append(_marts(home, {"measure_values"})["total"])
            else:
                seconds, frame = _pandas(db, strategy)
                peers.append(seconds)
        say(
            f"  run {i + 1}: marts {marts[-1]['total']:.3f}s, measure_values alone "
            f"{alone[-1]:.3f}s, scan {scans[-1]:.3f}s, write floor {floors[-1]:.3f}s, "
            f"pandas {peers[-1]:.3f}s"
        )

    con = connect(db)
    try:
        con.execute("DROP TABLE IF EXISTS marts._write_floor").fetchall()
    finally:
        con.close()
    con = duckdb.connect(str(db), read_only=True)
    try:
        expected = con.sql("SELECT * FROM marts.measure_values").to_arrow_table().to_pylist()
    finally:
        con.close()
    problems = pandas_peer.compare(expected, frame)  # type: ignore[arg-type]
    if problems:
        raise AssertionError(
            f"the pandas peer and marts.measure_values differ in {len(problems)} place(s): "
            + "; ".join(problems[:10])
        )
    say(f"marts: the pandas peer equals marts.measure_values ({len(expected):,} rows, 1e-9)")

    totals = [m["total"] for m in marts]
    per_mart = {name: statistics.median(m[name] for m in marts) for name in marts[0]}
    measure_values_s = statistics.median(alone)
    return {
        "marts_s": statistics.median(totals),
        "per_mart_s": per_mart,
        "scan_s": statistics.median(scans),
        "write_floor_s": statistics.median(floors),
        # The physical limit of a rebuild: reading every column once AND writing what must be
        # stored. The scan alone writes nothing, so it is a lower bound no rebuild can reach.
        "ratio_vs_scan_plus_write_floor": statistics.median(totals)
        / (statistics.median(scans) + statistics.median(floors)),
        "pandas_s": statistics.median(peers),
        "measure_values_s": measure_values_s,
        "ratio_vs_scan": statistics.median(totals) / statistics.median(scans),
        "speedup_vs_pandas": statistics.median(peers) / measure_values_s,
        "measure_values_rows": len(expected),
        "runs": {
            "marts": totals,
            "measure_values": alone,
            "scan": scans,
            "write_floor": floors,
            "pandas": peers,
        },
    }
