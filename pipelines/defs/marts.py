"""Mart assets: every measure per unit and period, readiness gates, the feedback loop and the
outcome tree, recomputed from `events.*` with the formulas in `metrics/` (these assets are thin).

Each mart is rebuilt whole with `CREATE OR REPLACE TABLE` (idempotent: the same events and strategy
give the same table). Declarative automation keeps them current after ingestion; the strategy file
is an input too, so editing a target recomputes them.
"""

import contextlib
import functools
import hashlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import ibis
import ibis.expr.operations as ops
import pyarrow as pa
from ibis.backends.sql.datatypes import DuckDBType

from metrics.config import Settings
from metrics.engine import RUN_CLOCK_VARIABLE, empty_table, run_clock
from metrics.periods import period_spine, utc_naive
from metrics.schemas import SOURCES
from metrics.store.warehouse import configure
from metrics.strategy import Strategy, StrategyError, file_sha256, load_strategy
from pipelines.compiled import CACHE_DDL, CompiledSQL, select_sql
from pipelines.defs.ingest import INGEST_ASSETS
from pipelines.defs.resources import WAREHOUSE_POOL, OutcomeLoopResource

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
        from metrics.store.spark import spark_event_tables, spark_session
        from pipelines.lake import sync_lake

        # The lake follows the warehouse (also after `outcomeloop reload`); a no-op when current.
        sync_lake(ib.con, cfg.lake)
        return dict(spark_event_tables(spark_session(cfg), cfg.lake))
    # --- end compute: spark ----------------------------------------------------------------------
    return _duckdb_event_tables(ib)


@functools.cache
def _ibis_type(sql_type: str, nullable: bool):
    """A DuckDB type name as an Ibis type (sqlglot parses it: worth doing once per process)."""
    return DuckDBType.from_string(sql_type, nullable=nullable)


def _events_schema(con) -> list[tuple]:
    """Every `events.*` column with its type, in one catalog query (part of the SQL's key)."""
    return con.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = 'events' "
        "ORDER BY table_name, ordinal_position"
    ).fetchall()


def _duckdb_event_tables(ib, schema: list[tuple] | None = None) -> dict[str, ibis.Table]:
    """`metrics.engine.duckdb_event_tables`, built from one catalog query (`_events_schema`)
    instead of one DESCRIBE per source."""
    columns: dict[str, dict] = {}
    for table, column, sql_type, nullable in _events_schema(ib.con) if schema is None else schema:
        columns.setdefault(table, {})[column] = _ibis_type(sql_type, nullable == "YES")
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
    """Replace `marts.<name>` with an Ibis expression's result, an Arrow table or a SELECT's
    rows; the row count.

    On DuckDB the expression is compiled once and written in one `CREATE OR REPLACE TABLE ... AS`
    statement (its small in-memory tables, e.g. a period spine, registered on the connection
    first); every column is cast to the expression's type (`compiled.select_sql`).
    """
    if isinstance(data, ibis.Table) and ibis.get_backend(data).name != "duckdb":
        data = data.to_pyarrow()  # computed on Spark: the (small) result comes back as Arrow
    if isinstance(data, pa.Table):
        con.register("_mart_arrow", data)
        try:
            return con.execute(
                f"CREATE OR REPLACE TABLE marts.{name} AS SELECT * FROM _mart_arrow"
            ).fetchall()[0][0]
        finally:
            con.unregister("_mart_arrow")
    if isinstance(data, str):
        sql = data
    else:
        backend = _duckdb_backend(con, data)
        backend._run_pre_execute_hooks(data)  # registers the expression's in-memory tables
        sql = select_sql(backend, data)
    return con.execute(f"CREATE OR REPLACE TABLE marts.{name} AS {sql}").fetchall()[0][0]


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


def _keys(*sources: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(f"{s}_events") for s in sources]


ALL_EVENTS = [a.key for a in INGEST_ASSETS]


def _spec(name: str, asset: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, blocking=True, description=description)


def _mart_spec(name: str, deps: list, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        name,
        group_name=MARTS_GROUP,
        kinds={"duckdb"},
        deps=deps,
        description=description,
        automation_condition=MART_AUTOMATION,
        freshness_policy=MART_FRESHNESS,
        skippable=True,  # not written when a blocking check upstream in the same step failed
    )


#: The marts in the order one step computes them (each after the marts it reads).
MART_SPECS = (
    _mart_spec(
        "measure_values",
        [strategy, *_keys("nps", "ces", "employee_pulse", "upsell", "revenue", "cost")],
        "Every measure of the strategy per unit (and `all`, pooled) and period: value, n, 95% "
        "interval, and whether the cell is suppressed for too few responses.",
    ),
    _mart_spec(
        "readiness",
        [strategy, *_keys("readiness")],
        "Each unit's latest readiness score per dimension, averaged over its assessors.",
    ),
    _mart_spec(
        "readiness_gates",
        [strategy, *ALL_EVENTS],
        "Per unit and period whether the unit passes its readiness gate (so its feedback loop "
        "counts), what blocks it, and since when it is ready. Runs through the current period.",
    ),
    _mart_spec(
        "feedback_items",
        [strategy, "readiness_gates", *_keys("nps", "ces", "feedback_actions")],
        "Every detractor and high-effort response as a feedback item with its SLA deadline and "
        "status: acted, acted late, overdue, open, or held because its unit was not ready.",
    ),
    _mart_spec(
        "feedback_loop",
        [strategy, "feedback_items", "readiness_gates"],
        "The feedback loop's health per unit and period: acted upon, within SLA, overdue.",
    ),
    _mart_spec(
        "outcome_progress",
        [strategy, "measure_values"],
        "The outcome tree per period: each node's value against its baseline, target and the "
        "time-phased expectation, rolled up from the measures to revenue, with a status.",
    ),
)
MART_NAMES = [spec.key.path[-1] for spec in MART_SPECS]
MART_KEYS = [spec.key for spec in MART_SPECS]
#: Marts a mart reads, within this step.
_MART_DEPS = {
    spec.key.path[-1]: {d.asset_key.path[-1] for d in spec.deps if d.asset_key in MART_KEYS}
    for spec in MART_SPECS
}
MART_CHECKS = [
    _spec("nps_in_range", "measure_values", "NPS values within -100..100"),
    _spec("items_have_unit", "feedback_items", "no feedback item without a unit"),
    _spec("progress_in_range", "outcome_progress", "progress and expectation within 0..1"),
    _spec("every_node_every_period", "outcome_progress", "every tree node in every period"),
]
#: The marts that move with the clock alone (a gate period begins, an item turns overdue).
TIME_DEPENDENT_MARTS = ["readiness_gates", "feedback_items", "feedback_loop"]


@dataclass
class MartResult:
    """What computing one mart produced: its row count and metadata, and its checks."""

    name: str
    metadata: dict
    checks: list[dg.AssetCheckResult] = field(default_factory=list)
    materialized: bool = True  # False: only checks ran, on the mart's current table

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


class _MartRun:
    """One step's marts: one warehouse connection, one parse of the strategy and the events'
    catalog, and each mart's SQL from `ops.compiled_sql` when its inputs have not changed."""

    def __init__(
        self, con, cfg: Settings, strat: Strategy, now: datetime, schema: list | None = None
    ) -> None:
        self.con, self.cfg, self.strat, self.now = con, cfg, strat, now
        self.ib = ibis.duckdb.from_connection(con)
        self.spark = cfg.compute == "spark"
        self._events: dict[str, ibis.Table] | None = None
        self.compiled: CompiledSQL | None = None
        if not self.spark:
            self.schema = _events_schema(con) if schema is None else schema
            self.compiled = CompiledSQL(con, self.ib, strat.model_dump_json(), self.schema)
            con.execute(
                f"SET VARIABLE {RUN_CLOCK_VARIABLE} = TIMESTAMP '{utc_naive(now)}'"
            ).fetchall()

    @property
    def events(self) -> dict[str, ibis.Table]:
        """The events as Ibis tables (built on first use: a stored SQL needs none)."""
        if self._events is None:
            if self.spark:
                self._events = event_tables(self.ib, self.cfg)
            else:
                self._events = _duckdb_event_tables(self.ib, self.schema)
        return self._events

    def write(self, name: str, build: Callable[[], ibis.Table], extra: tuple = ()) -> int:
        """Replace `marts.<name>`: the stored SQL when current, else `build()` compiled."""
        if self.compiled is None:
            return write_mart(self.con, name, build())
        return write_mart(self.con, name, self.compiled.sql(name, build, extra))

    def gates(self) -> ibis.Table:
        """readiness_gates as an input of the feedback marts (see `_gates_input`)."""
        return _gates_input(self.ib, self.events, self.strat, self.now, self.cfg)

    def _earliest_period(self) -> ibis.Table:
        from metrics.readiness import earliest_period_table

        table = earliest_period_table(self.events, self.strat)
        return empty_table({"first": "date"}) if table is None else table

    def close(self) -> None:
        if self.compiled is not None:
            self.compiled.close()

    # --- the marts, each writing its table and returning its metadata and checks -----------

    def measure_values(self) -> MartResult:
        from metrics.measures import measure_values as compute

        rows = self.write("measure_values", lambda: compute(self.events, self.strat))
        suppressed, lo, hi = self.con.execute(
            "SELECT count(*) FILTER (WHERE suppressed), min(period_start), max(period_start) "
            "FROM marts.measure_values"
        ).fetchall()[0]
        return MartResult(
            "measure_values",
            {"dagster/row_count": rows, "suppressed_cells": suppressed, **_span(lo, hi)},
        )

    def readiness(self) -> MartResult:
        from metrics.readiness import readiness as compute

        rows = self.write("readiness", lambda: compute(self.events, self.strat))
        [(units,)] = self.con.execute("SELECT count(DISTINCT unit) FROM marts.readiness").fetchall()
        return MartResult("readiness", {"dagster/row_count": rows, "units": units})

    def readiness_gates(self) -> MartResult:
        from metrics.readiness import readiness_gates as compute

        if self.compiled is None:
            rows = write_mart(self.con, "readiness_gates", self.gates())
        else:
            # The gates' SQL holds the period spine (first period with data .. the current
            # one), so both ends are part of its key; the first period is one small query.
            first_sql = self.compiled.sql("earliest_period", self._earliest_period)
            found = self.con.execute(first_sql).fetchall()
            first = found[0][0] if found else None
            spine = period_spine(first, self.now, self.strat) if first else []
            rows = self.write(
                "readiness_gates",
                lambda: compute(self.events, self.strat, self.now, first=first),
                extra=(first, spine[-1] if spine else None),
            )
        ready, lo, hi = self.con.execute(
            "SELECT count(*) FILTER (WHERE ready AND period_start = (SELECT max(period_start) "
            "FROM marts.readiness_gates)), min(period_start), max(period_start) "
            "FROM marts.readiness_gates"
        ).fetchall()[0]
        return MartResult(
            "readiness_gates",
            {"dagster/row_count": rows, "units_ready_now": ready, **_span(lo, hi)},
        )

    def feedback_items(self) -> MartResult:
        from metrics.feedback import feedback_items as compute

        now = self.now if self.spark else run_clock()
        rows = self.write(
            "feedback_items", lambda: compute(self.events, self.strat, self.gates(), now)
        )
        by_status = self.con.execute(
            "SELECT status, count(*) FROM marts.feedback_items GROUP BY status ORDER BY status"
        ).fetchall()
        return MartResult(
            "feedback_items",
            {"dagster/row_count": rows, **{f"status_{k}": n for k, n in by_status}},
        )

    def feedback_loop(self) -> MartResult:
        from metrics.feedback import feedback_items as compute_items
        from metrics.feedback import feedback_loop as compute

        def build() -> ibis.Table:  # (only on a miss: reading the tables' schemas costs too)
            gates = self.gates()
            if self.spark:  # items from the same Spark session (issue 10)
                items = compute_items(self.events, self.strat, gates, self.now)
            else:
                items = self.ib.table("feedback_items", database="marts")
            return compute(items, gates, self.strat)

        rows = self.write("feedback_loop", build)
        lo, hi = self.con.execute(
            "SELECT min(period_start), max(period_start) FROM marts.feedback_loop"
        ).fetchall()[0]
        return MartResult("feedback_loop", {"dagster/row_count": rows, **_span(lo, hi)})

    def outcome_progress(self) -> MartResult:
        from metrics.progress import outcome_progress as compute

        values = self.con.sql("SELECT * FROM marts.measure_values").to_arrow_table()
        rows = write_mart(self.con, "outcome_progress", compute(self.strat, values))
        lo, hi = self.con.execute(
            "SELECT min(period_start), max(period_start) FROM marts.outcome_progress"
        ).fetchall()[0]
        status = self.con.execute(
            "SELECT status, count(*) FROM marts.outcome_progress WHERE unit = 'all' AND "
            "period_start = (SELECT max(period_start) FROM marts.outcome_progress) GROUP BY 1 "
            "ORDER BY 1"
        ).fetchall()
        return MartResult(
            "outcome_progress",
            {"dagster/row_count": rows, **_span(lo, hi), **{f"latest_{k}": n for k, n in status}},
        )


def _span(lo, hi) -> dict:
    return {"first_period": str(lo) if lo else "none", "last_period": str(hi) if hi else "none"}


def _check(name: str, asset: str, passed: bool, **metadata) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name, asset_key=dg.AssetKey(asset), passed=bool(passed), metadata=metadata
    )


# --- the blocking checks, each one query on the mart's current table ---------------------------


def _nps_in_range(con, strat: Strategy) -> dg.AssetCheckResult:
    nps_ids = [m for m, spec in strat.measures.items() if spec.kind == "nps"]
    bad = con.execute(
        "SELECT count(*) FROM marts.measure_values WHERE list_contains(CAST(? AS VARCHAR[]), "
        "measure) AND (value NOT BETWEEN -100 AND 100 OR ci_low < -100 OR ci_high > 100)",
        [nps_ids],
    ).fetchall()[0][0]
    return _check("nps_in_range", "measure_values", bad == 0, out_of_range=bad)


def _items_have_unit(con, strat: Strategy) -> dg.AssetCheckResult:
    no_unit = con.execute(
        "SELECT count(*) FROM marts.feedback_items WHERE unit IS NULL OR trim(unit) = ''"
    ).fetchall()[0][0]
    return _check("items_have_unit", "feedback_items", no_unit == 0, without_unit=no_unit)


def _progress_in_range(con, strat: Strategy) -> dg.AssetCheckResult:
    bad = con.execute(
        "SELECT count(*) FROM marts.outcome_progress WHERE progress NOT BETWEEN 0 AND 1 "
        "OR expected_progress NOT BETWEEN 0 AND 1 OR children_progress NOT BETWEEN 0 AND 1"
    ).fetchall()[0][0]
    return _check("progress_in_range", "outcome_progress", bad == 0, out_of_range=bad)


def _every_node_every_period(con, strat: Strategy) -> dg.AssetCheckResult:
    missing = con.execute(
        "WITH periods AS (SELECT DISTINCT period_start FROM marts.measure_values "
        "WHERE unit = 'all'), expected AS (SELECT unnest(?) AS node, period_start FROM periods) "
        "SELECT count(*) FROM expected e ANTI JOIN marts.outcome_progress o "
        "ON o.node = e.node AND o.period_start = e.period_start AND o.unit = 'all'",
        [[node.id for node, _ in strat.nodes()]],
    ).fetchall()[0][0]
    return _check(
        "every_node_every_period", "outcome_progress", missing == 0, missing_node_periods=missing
    )


#: (mart, check name) -> the check; MART_CHECKS declares them to Dagster.
_CHECK_FUNCTIONS = {
    ("measure_values", "nps_in_range"): _nps_in_range,
    ("feedback_items", "items_have_unit"): _items_have_unit,
    ("outcome_progress", "progress_in_range"): _progress_in_range,
    ("outcome_progress", "every_node_every_period"): _every_node_every_period,
}


#: Marts that read one another run in order in one chain; the chains are independent, so on
#: DuckDB they run at the same time, each on its own cursor of the step's connection.
_CHAINS = [
    ["readiness_gates", "feedback_items", "feedback_loop"],
    ["measure_values", "outcome_progress", "readiness"],
]


def _run_checks(con, strat: Strategy, mart: str, checks) -> list[dg.AssetCheckResult]:
    return [
        check(con, strat)
        for (asset, name), check in _CHECK_FUNCTIONS.items()
        if asset == mart and (checks is None or (asset, name) in checks)
    ]


def _run_chain(
    con, cfg: Settings, strat: Strategy, now: datetime, chain: list[str], checks, log, schema
) -> tuple[list[MartResult], BaseException | None]:
    """Compute the marts of `chain` in order with their selected checks; a failed check stops
    the marts that read its mart. An error stops the chain: the results so far and the error."""
    failed: set[str] = set()
    results: list[MartResult] = []
    run = None
    try:
        run = _MartRun(con, cfg, strat, now, schema)
        for name in chain:
            blocked = _MART_DEPS[name] & failed
            if blocked:
                failed.add(name)
                if log is not None:
                    log.warning(
                        f"{name} not recomputed: a blocking check of {sorted(blocked)} failed"
                    )
                continue
            started = time.perf_counter()
            result = getattr(run, name)()
            result.metadata["seconds"] = round(time.perf_counter() - started, 4)
            result.checks = _run_checks(con, strat, name, checks)
            if not result.passed:
                failed.add(name)
            compiled = run.compiled
            if compiled is not None and name in compiled.hits:
                result.metadata["sql"] = "stored"
            elif compiled is not None and name in compiled.misses:
                result.metadata["sql"] = "compiled"
            elif compiled is not None and any(m == name for m, _ in compiled.bypassed):
                files = sorted({f for m, fs in compiled.bypassed if m == name for f in fs})
                result.metadata["sql"] = f"compiled, not stored ({', '.join(files)} changed)"
                if log is not None:
                    log.warning(
                        f"{name}: formula files were replaced while this process loaded them "
                        f"({', '.join(files)}); its SQL was compiled and not stored"
                    )
            results.append(result)
    except Exception as exc:  # the marts already written are still reported
        return results, exc
    finally:
        if run is not None:
            with contextlib.suppress(Exception):  # never hides the chain's result or error
                run.close()
    return results, None


def _run_chain_on_cursor(con, *args) -> tuple[list[MartResult], BaseException | None]:
    try:
        cursor = con.cursor()  # its own transactions, settings and temporary objects
    except Exception as exc:
        return [], exc
    try:
        configure(cursor)
        return _run_chain(cursor, *args)
    except Exception as exc:
        return [], exc
    finally:
        with contextlib.suppress(Exception):
            cursor.close()


def compute_marts(
    outcomeloop: OutcomeLoopResource,
    names: list[str] | None = None,
    log: dg.DagsterLogManager | None = None,
    checks: set[tuple[str, str]] | None = None,
) -> Iterator[MartResult]:
    """Compute `names` (default: every mart) on one warehouse connection, with the `checks`
    (mart, check) selected (default: all); results in MART_NAMES order.

    A mart whose selected blocking check fails stops the marts after it that read it (within
    this step); they keep their previous tables and are left out of the results. A selected
    check whose mart is not computed runs on the mart's current table, after the computed marts
    (so it compares that table with the marts just written). An error is raised after the marts
    written before it have been reported: iterate to the end (the work happens on the first
    `next`; a consumer that stops early never sees the error).
    """
    cfg, strat = _mart_context(outcomeloop)
    now = run_now()
    chains = [[n for n in chain if names is None or n in names] for chain in _CHAINS]
    chains = [chain for chain in chains if chain]
    with outcomeloop.connect(log) as con:
        if cfg.compute == "spark" or len(chains) < 2:
            outcomes = [_run_chain(con, cfg, strat, now, c, checks, log, None) for c in chains]
        else:
            con.execute(CACHE_DDL).fetchall()  # once, before the cursors use it
            schema = _events_schema(con)  # once for both cursors
            with ThreadPoolExecutor(len(chains)) as pool:
                futures = [
                    pool.submit(
                        _run_chain_on_cursor, con, cfg, strat, now, chain, checks, log, schema
                    )
                    for chain in chains
                ]
                outcomes = [future.result() for future in futures]
        results = [r for done, _ in outcomes for r in done]
        errors = [error for _, error in outcomes if error is not None]
        computed = {r.name for r in results}
        check_only = sorted(
            {mart for mart, _ in checks or ()} - computed - {n for c in chains for n in c}
        )
        for mart in check_only if not errors else []:
            results.append(MartResult(mart, {}, _run_checks(con, strat, mart, checks), False))
    yield from sorted(results, key=lambda r: MART_NAMES.index(r.name))
    if errors:
        for other in errors[1:]:
            errors[0].add_note(f"another chain of marts failed too: {other!r}")
        raise errors[0]


@dg.multi_asset(
    name="marts",
    specs=list(MART_SPECS),
    check_specs=MART_CHECKS,
    can_subset=True,
    pool=WAREHOUSE_POOL,
    description=(
        "Every mart, recomputed from events.* in one step on one warehouse connection (each "
        "mart is its own asset; a run may select any of them)."
    ),
)
def marts(context: dg.AssetExecutionContext, outcomeloop: OutcomeLoopResource):
    selected = sorted(key.path[-1] for key in context.selected_asset_keys)
    checks = {(c.asset_key.path[-1], c.name) for c in context.selected_asset_check_keys}
    for result in compute_marts(outcomeloop, selected, context.log, checks):
        if result.materialized:
            yield dg.MaterializeResult(asset_key=result.name, metadata=result.metadata)
        yield from result.checks


MART_ASSETS = [marts]
