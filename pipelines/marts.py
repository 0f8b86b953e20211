"""Mart assets: every measure per unit and period, readiness gates, the feedback loop and the
outcome tree, recomputed from `events.*` with the formulas in `metrics/` (these assets are thin).

Each mart is rebuilt whole with `CREATE OR REPLACE TABLE` (idempotent: the same events and strategy
give the same table). Declarative automation keeps them current after ingestion; the strategy file
is an input too, so editing a target recomputes them.
"""

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import ibis
import ibis.expr.operations as ops
import pyarrow as pa

from metrics.config import Settings
from metrics.schemas import SOURCES
from metrics.strategy import Strategy, StrategyError, file_sha256, load_strategy
from pipelines.ingest import INGEST_ASSETS
from pipelines.resources import WAREHOUSE_POOL, OutcomeLoopResource

MARTS_GROUP = "marts"

#: Update after any parent updates (eager). Unlike plain eager(), a source that never had a file
#: (its ingestion asset never materialized) does not hold the marts back — its measures are just
#: empty — but a missing upstream MART still does (feedback_loop waits for feedback_items).
MART_AUTOMATION = dg.AutomationCondition.eager().without(
    ~dg.AutomationCondition.any_deps_missing()
) & ~dg.AutomationCondition.any_deps_missing().ignore(dg.AssetSelection.groups("ingest"))

MART_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=3), warn_window=timedelta(hours=2)
)


def run_now() -> datetime:
    """The run's time ("now"), UTC-naive, passed explicitly into the time-dependent formulas."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dg.asset(
    group_name="config",
    kinds={"yaml"},
    description=(
        "The strategy file (strategy.yaml): the outcome tree to revenue, its measures and targets, "
        "the readiness gate and the feedback loop. Validated here so an invalid edit fails the run "
        "with the same messages as `outcomeloop check`; a change recomputes every mart."
    ),
    automation_condition=dg.AutomationCondition.on_missing(),
)
def strategy(context: dg.AssetExecutionContext, outcomeloop: OutcomeLoopResource):
    cfg = outcomeloop.settings()
    try:
        parsed = load_strategy(cfg.strategy_path)
    except StrategyError as exc:
        raise dg.Failure(description=str(exc)) from exc
    nodes = parsed.nodes()
    return dg.MaterializeResult(
        metadata={
            "path": str(cfg.strategy_path),
            "sha256": file_sha256(cfg.strategy_path),
            "tree_nodes": len(nodes),
            "measures": len(parsed.measures),
            "period": parsed.period,
            "timezone": parsed.timezone,
        },
        data_version=dg.DataVersion(file_sha256(cfg.strategy_path)),
    )


# --- materialising Ibis expressions -------------------------------------------------------------


def event_tables(ib, cfg: Settings | None = None) -> dict[str, ibis.Table]:
    """The events the marts compute from: the warehouse's `events.*` tables, or with
    `compute: spark` the lake's Parquet on Spark (the same Ibis formulas run on either)."""
    # --- compute: spark (issue 10) -------------------------------------------------------------
    if cfg is not None and cfg.compute == "spark":
        from metrics.spark import spark_event_tables, spark_session
        from pipelines.lake import sync_lake

        # The lake follows the warehouse (also after `outcomeloop reload`); a no-op when current.
        sync_lake(ib.con, cfg.lake)
        return dict(spark_event_tables(spark_session(cfg), cfg.lake))
    # --- end compute: spark ----------------------------------------------------------------------
    return _duckdb_event_tables(ib)


def _duckdb_event_tables(ib) -> dict[str, ibis.Table]:
    """`metrics.engine.duckdb_event_tables`, with every table's columns read in one catalog query
    instead of one DESCRIBE per source (a mart run opens the warehouse six times)."""
    rows = ib.con.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = 'events' "
        "ORDER BY table_name, ordinal_position"
    ).fetchall()
    to_ibis = ib.compiler.type_mapper.from_string
    columns: dict[str, dict] = {}
    for table, column, sql_type, nullable in rows:
        columns.setdefault(table, {})[column] = to_ibis(sql_type, nullable=nullable == "YES")
    namespace = ops.Namespace(catalog=None, database="events")
    return {
        name: ops.DatabaseTable(
            name, schema=ibis.schema(columns[name]), source=ib, namespace=namespace
        ).to_expr()
        for name in SOURCES
        if name in columns
    }


def _gates_input(ib, events, strat: Strategy, now: datetime, cfg: Settings) -> ibis.Table:
    """readiness_gates as an input of the feedback marts: the published mart on DuckDB; on Spark
    the same expression in the same session (a Spark query cannot read a DuckDB table)."""
    if cfg.compute == "spark":
        from metrics.readiness import readiness_gates as compute

        return compute(events, strat, now)
    return ib.table("readiness_gates", database="marts")


def _duckdb_backend(con, expr: ibis.Table):
    """The Ibis DuckDB backend `expr` is bound to (or one on `con` for a pure in-memory table)."""
    try:
        backend = ibis.get_backend(expr)
    except Exception:  # no table of any backend in it (only in-memory tables)
        backend = None
    if backend is None or backend.name != "duckdb" or backend.con is not con:
        backend = ibis.duckdb.from_connection(con)
    return backend


def write_mart(con, name: str, data) -> int:
    """Replace `marts.<name>` with an Ibis expression's result or an Arrow table; the row count.

    On DuckDB the expression is compiled once and written in one `CREATE OR REPLACE TABLE ... AS`
    statement (its small in-memory tables, e.g. a period spine, registered on the connection
    first); every mart expression casts its columns, so the table gets exactly those types.
    """
    if isinstance(data, ibis.Table) and ibis.get_backend(data).name != "duckdb":
        data = data.to_pyarrow()  # computed on Spark: the (small) result comes back as Arrow
    if isinstance(data, pa.Table):
        con.register("_mart_arrow", data)
        try:
            return con.execute(
                f"CREATE OR REPLACE TABLE marts.{name} AS SELECT * FROM _mart_arrow"
            ).fetchone()[0]
        finally:
            con.unregister("_mart_arrow")
    backend = _duckdb_backend(con, data)
    backend._run_pre_execute_hooks(data)  # registers the expression's in-memory tables
    sql = backend.compile(data)
    # Ibis drops a cast to the type it already infers, where DuckDB may differ (a sum of integers
    # is HUGEINT, a truncated date a TIMESTAMP): cast every column to the expression's schema.
    to_sql_type = backend.compiler.type_mapper.from_ibis
    columns = ", ".join(
        f'CAST("{col}" AS {to_sql_type(dtype).sql("duckdb")}) AS "{col}"'
        for col, dtype in data.schema().items()
    )
    return con.execute(
        f"CREATE OR REPLACE TABLE marts.{name} AS SELECT {columns} FROM ({sql}) AS mart"
    ).fetchone()[0]


def _periods_meta(con, name: str) -> dict:
    lo, hi = con.execute(
        f"SELECT min(period_start), max(period_start) FROM marts.{name}"
    ).fetchone()
    return {"first_period": str(lo) if lo else "none", "last_period": str(hi) if hi else "none"}


# The last strategy parsed, by path and content: the marts of one run all read the same file.
_STRATEGY_CACHE: dict[tuple[str, bytes], Strategy] = {}


def _load_strategy(path: Path) -> Strategy:
    """`load_strategy`, parsed and validated once per content of the file (the model is frozen)."""
    try:
        content = Path(path).read_bytes()
    except OSError:
        return load_strategy(path)  # raises the StrategyError that explains it
    key = (str(path), hashlib.sha256(content).digest())
    if key not in _STRATEGY_CACHE:
        parsed = load_strategy(path)
        _STRATEGY_CACHE.clear()
        if Path(path).read_bytes() == content:  # not edited while it was being parsed
            _STRATEGY_CACHE[key] = parsed
        return parsed
    return _STRATEGY_CACHE[key]


def _mart_context(outcomeloop: OutcomeLoopResource) -> tuple[Settings, Strategy]:
    cfg = outcomeloop.settings()
    try:
        return cfg, _load_strategy(cfg.strategy_path)
    except StrategyError as exc:
        raise dg.Failure(description=str(exc)) from exc


def _mart(
    name: str,
    deps: list,
    description: str,
    check_specs: list[dg.AssetCheckSpec] | None = None,
) -> Callable:
    return dg.asset(
        name=name,
        group_name=MARTS_GROUP,
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        deps=deps,
        description=description,
        automation_condition=MART_AUTOMATION,
        freshness_policy=MART_FRESHNESS,
        check_specs=check_specs or [],
    )


def _keys(*sources: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(f"{s}_events") for s in sources]


ALL_EVENTS = [a.key for a in INGEST_ASSETS]


def _spec(name: str, asset: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, blocking=True, description=description)


@_mart(
    "measure_values",
    deps=[strategy, *_keys("nps", "ces", "employee_pulse", "upsell", "revenue", "cost")],
    description=(
        "Every measure of the strategy per unit (and `all`, pooled) and period: value, n, 95% "
        "interval, and whether the cell is suppressed for too few responses."
    ),
    check_specs=[_spec("nps_in_range", "measure_values", "NPS values within -100..100")],
)
def measure_values(context: dg.AssetExecutionContext, outcomeloop: OutcomeLoopResource):
    from metrics.measures import measure_values as compute

    cfg, strat = _mart_context(outcomeloop)
    with outcomeloop.connect(context.log) as con:
        ib = ibis.duckdb.from_connection(con)
        rows = write_mart(con, "measure_values", compute(event_tables(ib, cfg), strat))
        nps_ids = [m for m, spec in strat.measures.items() if spec.kind == "nps"]
        bad, suppressed, lo, hi = con.execute(  # the check and the metadata in one pass
            "SELECT count(*) FILTER (WHERE list_contains(CAST(? AS VARCHAR[]), measure) AND (value "
            "NOT BETWEEN -100 AND 100 OR ci_low < -100 OR ci_high > 100)), "
            "count(*) FILTER (WHERE suppressed), "
            "min(period_start), max(period_start) FROM marts.measure_values",
            [nps_ids],
        ).fetchone()
        meta = {"first_period": str(lo) if lo else "none", "last_period": str(hi) if hi else "none"}
    return dg.MaterializeResult(
        metadata={"dagster/row_count": rows, "suppressed_cells": suppressed, **meta},
        check_results=[
            dg.AssetCheckResult(
                check_name="nps_in_range", passed=bad == 0, metadata={"out_of_range": bad}
            )
        ],
    )


@_mart(
    "readiness",
    deps=[strategy, *_keys("readiness")],
    description="Each unit's latest readiness score per dimension, averaged over its assessors.",
)
def readiness(context: dg.AssetExecutionContext, outcomeloop: OutcomeLoopResource):
    from metrics.readiness import readiness as compute

    cfg, strat = _mart_context(outcomeloop)
    with outcomeloop.connect(context.log) as con:
        ib = ibis.duckdb.from_connection(con)
        rows = write_mart(con, "readiness", compute(event_tables(ib, cfg), strat))
        units = con.execute("SELECT count(DISTINCT unit) FROM marts.readiness").fetchone()[0]
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "units": units})


@_mart(
    "readiness_gates",
    deps=[strategy, *ALL_EVENTS],
    description=(
        "Per unit and period whether the unit passes its readiness gate (so its feedback loop "
        "counts), what blocks it, and since when it is ready. Runs through the current period."
    ),
)
def readiness_gates(context: dg.AssetExecutionContext, outcomeloop: OutcomeLoopResource):
    from metrics.readiness import readiness_gates as compute

    cfg, strat = _mart_context(outcomeloop)
    with outcomeloop.connect(context.log) as con:
        ib = ibis.duckdb.from_connection(con)
        rows = write_mart(con, "readiness_gates", compute(event_tables(ib, cfg), strat, run_now()))
        ready = con.execute(
            "SELECT count(*) FROM marts.readiness_gates WHERE ready AND period_start = "
            "(SELECT max(period_start) FROM marts.readiness_gates)"
        ).fetchone()[0]
        meta = _periods_meta(con, "readiness_gates")
    return dg.MaterializeResult(
        metadata={"dagster/row_count": rows, "units_ready_now": ready, **meta}
    )


@_mart(
    "feedback_items",
    deps=[strategy, readiness_gates, *_keys("nps", "ces", "feedback_actions")],
    description=(
        "Every detractor and high-effort response as a feedback item with its SLA deadline and "
        "status: acted, acted late, overdue, open, or held because its unit was not ready."
    ),
    check_specs=[_spec("items_have_unit", "feedback_items", "no feedback item without a unit")],
)
def feedback_items(context: dg.AssetExecutionContext, outcomeloop: OutcomeLoopResource):
    from metrics.feedback import feedback_items as compute

    cfg, strat = _mart_context(outcomeloop)
    with outcomeloop.connect(context.log) as con:
        ib = ibis.duckdb.from_connection(con)
        events, now = event_tables(ib, cfg), run_now()
        gates = _gates_input(ib, events, strat, now, cfg)
        rows = write_mart(con, "feedback_items", compute(events, strat, gates, now))
        no_unit = con.execute(
            "SELECT count(*) FROM marts.feedback_items WHERE unit IS NULL OR trim(unit) = ''"
        ).fetchone()[0]
        status = dict(
            con.execute("SELECT status, count(*) FROM marts.feedback_items GROUP BY 1").fetchall()
        )
    return dg.MaterializeResult(
        metadata={"dagster/row_count": rows, **{f"status_{k}": v for k, v in status.items()}},
        check_results=[
            dg.AssetCheckResult(
                check_name="items_have_unit",
                passed=no_unit == 0,
                metadata={"without_unit": no_unit},
            )
        ],
    )


@_mart(
    "feedback_loop",
    deps=[strategy, feedback_items, readiness_gates],
    description="The feedback loop's health per unit and period: acted upon, within SLA, overdue.",
)
def feedback_loop(context: dg.AssetExecutionContext, outcomeloop: OutcomeLoopResource):
    from metrics.feedback import feedback_loop as compute

    cfg, strat = _mart_context(outcomeloop)
    with outcomeloop.connect(context.log) as con:
        ib = ibis.duckdb.from_connection(con)
        if cfg.compute == "spark":  # items and gates from the same Spark session (issue 10)
            from metrics.feedback import feedback_items as compute_items

            events, now = event_tables(ib, cfg), run_now()
            gates = _gates_input(ib, events, strat, now, cfg)
            items = compute_items(events, strat, gates, now)
        else:
            items = ib.table("feedback_items", database="marts")
            gates = ib.table("readiness_gates", database="marts")
        rows = write_mart(con, "feedback_loop", compute(items, gates, strat))
        meta = _periods_meta(con, "feedback_loop")
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, **meta})


@_mart(
    "outcome_progress",
    deps=[strategy, measure_values],
    description=(
        "The outcome tree per period: each node's value against its baseline, target and the "
        "time-phased expectation, rolled up from the measures to revenue, with a status."
    ),
    check_specs=[
        _spec("progress_in_range", "outcome_progress", "progress and expectation within 0..1"),
        _spec("every_node_every_period", "outcome_progress", "every tree node in every period"),
    ],
)
def outcome_progress(context: dg.AssetExecutionContext, outcomeloop: OutcomeLoopResource):
    from metrics.progress import outcome_progress as compute

    _, strat = _mart_context(outcomeloop)
    with outcomeloop.connect(context.log) as con:
        values = con.sql("SELECT * FROM marts.measure_values").to_arrow_table()
        rows = write_mart(con, "outcome_progress", compute(strat, values))
        bad = con.execute(
            "SELECT count(*) FROM marts.outcome_progress WHERE progress NOT BETWEEN 0 AND 1 "
            "OR expected_progress NOT BETWEEN 0 AND 1 OR children_progress NOT BETWEEN 0 AND 1"
        ).fetchone()[0]
        node_ids = [node.id for node, _ in strat.nodes()]
        missing = con.execute(
            "WITH periods AS (SELECT DISTINCT period_start FROM marts.measure_values "
            "WHERE unit = 'all'), expected AS (SELECT unnest(?) AS node, period_start FROM periods) "
            "SELECT count(*) FROM expected e ANTI JOIN marts.outcome_progress o "
            "ON o.node = e.node AND o.period_start = e.period_start AND o.unit = 'all'",
            [node_ids],
        ).fetchone()[0]
        status = dict(
            con.execute(
                "SELECT status, count(*) FROM marts.outcome_progress WHERE unit = 'all' AND "
                "period_start = (SELECT max(period_start) FROM marts.outcome_progress) GROUP BY 1"
            ).fetchall()
        )
        meta = _periods_meta(con, "outcome_progress")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            **meta,
            **{f"latest_{k}": v for k, v in status.items()},
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="progress_in_range", passed=bad == 0, metadata={"out_of_range": bad}
            ),
            dg.AssetCheckResult(
                check_name="every_node_every_period",
                passed=missing == 0,
                metadata={"missing_node_periods": missing},
            ),
        ],
    )


MART_ASSETS = [
    measure_values,
    readiness,
    readiness_gates,
    feedback_items,
    feedback_loop,
    outcome_progress,
]
#: The marts that move with the clock alone (a gate period begins, an item turns overdue).
TIME_DEPENDENT_MARTS = [readiness_gates, feedback_items, feedback_loop]
