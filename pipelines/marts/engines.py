"""Where the marts are computed: DuckDB (the default) or Spark, behind one small interface.

The formulas in `metrics/` are Ibis expressions, so they run unchanged on either engine; only three
things differ, and `Engine` names them: where the events come from, how one mart reads another
that was computed before it, and how a result reaches the warehouse. Both engines write the marts
into the DuckDB warehouse (the system of record the snapshot is published from), so the checks and
the metadata queries run there on either engine. `engine_for` picks one from `Settings.compute`;
nothing else in the code asks which engine runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

import duckdb
import ibis
import pyarrow as pa

from metrics.config import Settings
from metrics.engine import EventTables, duckdb_event_tables
from metrics.strategy import Strategy

if TYPE_CHECKING:
    from pipelines.marts.registry import Partition


class Engine(Protocol):
    """What the mart runner needs from a compute engine."""

    #: The warehouse connection: every mart is written here, and its checks read it here.
    con: duckdb.DuckDBPyConnection

    def event_tables(self) -> EventTables:
        """The events the formulas compute from, as Ibis tables keyed by source."""
        ...

    def mart_input(self, name: str, compute: Callable[[], ibis.Table]) -> ibis.Table:
        """Mart `name`, computed earlier in this step, as an input of another mart's expression.

        `compute` builds the mart's expression again, for an engine that cannot read the table
        it wrote.
        """
        ...

    def write(
        self,
        name: str,
        data: ibis.Table | pa.Table,
        *,
        diff_on: str | None = None,
        record: Callable[[set[str] | None], None] | None = None,
    ) -> int:
        """Replace `marts.<name>` with `data` (an Ibis expression or an Arrow table); its rows.

        With `diff_on` (a column), the distinct values of that column in rows that differ from
        the previous table (None when there was none to compare); `record` is called with them
        inside the write's transaction.
        """
        ...

    def write_parts(
        self,
        name: str,
        data: ibis.Table,
        partition: Partition,
        strategy: Strategy,
        parts: Sequence[str],
        *,
        record: Callable[[set[str] | None], None] | None = None,
    ) -> int:
        """Replace the rows of `marts.<name>` in the periods `parts` with those of `data` in
        them, keeping the rest (see registry.Partition); the table's rows."""
        ...

    def read(self, name: str) -> pa.Table:
        """`marts.<name>` as written, for the formulas that are plain Python over Arrow."""
        ...

    def events_loaded(self, source: str) -> dict:
        """Called after ingestion changed `events.<source>`: the metadata of any follow-up."""
        ...


class DuckDBEngine:
    """The marts computed by DuckDB inside the warehouse: each expression runs where its events
    live, and a mart reads the tables written before it."""

    #: Marts with a partition are recomputed a period at a time (see registry.Partition).
    incremental = True

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    @cached_property
    def backend(self):
        """The Ibis DuckDB backend on the warehouse connection."""
        return ibis.duckdb.from_connection(self.con)

    def event_tables(self) -> EventTables:
        return duckdb_event_tables(self.backend)

    def mart_input(self, name: str, compute: Callable[[], ibis.Table]) -> ibis.Table:
        return self.backend.table(name, database="marts")

    def write(
        self,
        name: str,
        data: ibis.Table | pa.Table,
        *,
        diff_on: str | None = None,
        record: Callable[[set[str] | None], None] | None = None,
    ) -> int:
        # Ibis creates the new table with the expression's column types (DuckDB alone would widen
        # some, e.g. a sum of integers to HUGEINT) under a staging name, which then takes the
        # mart's place, all in one transaction: a failure leaves the previous table whole.
        staging = f"_next_{name}"
        obj = ibis.memtable(data) if isinstance(data, pa.Table) else data
        self.con.begin()
        try:
            self.con.execute(f"DROP TABLE IF EXISTS marts.{staging}")
            self.backend.create_table(staging, obj=obj, database="marts")
            changed = self._diff(name, staging, diff_on) if diff_on else None
            self.con.execute(f"DROP TABLE IF EXISTS marts.{name}")
            self.con.execute(f"ALTER TABLE marts.{staging} RENAME TO {name}")
            [(rows,)] = self.con.execute(f"SELECT count(*) FROM marts.{name}").fetchall()
            if record is not None:
                record(changed)
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        return rows

    def _diff(self, name: str, staging: str, column: str) -> set[str] | None:
        """The values of `column` in rows that differ between marts.<name> and its successor;
        None when there is no previous table of the same shape to compare with."""
        shape = (
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
            "current_database() AND schema_name = 'marts' AND table_name = ? ORDER BY column_index"
        )
        new = self.con.execute(shape, [staging]).fetchall()
        if new != self.con.execute(shape, [name]).fetchall() or (column,) not in {
            (c,) for c, _ in new
        }:
            return None
        rows = self.con.execute(
            f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM ('
            f"(SELECT * FROM marts.{staging} EXCEPT ALL SELECT * FROM marts.{name}) UNION ALL "
            f"(SELECT * FROM marts.{name} EXCEPT ALL SELECT * FROM marts.{staging}))"
        ).fetchall()
        return {value for (value,) in rows}

    def write_parts(
        self,
        name: str,
        data: ibis.Table,
        partition: Partition,
        strategy: Strategy,
        parts: Sequence[str],
        *,
        record: Callable[[set[str] | None], None] | None = None,
    ) -> int:
        staging = f"_parts_{name}"
        self.con.begin()
        try:
            self.con.execute(f"DROP TABLE IF EXISTS marts.{staging}")
            if parts:
                # the filter is on the expression, so DuckDB reads only those periods' events
                chosen = data.filter(partition.selects(data, strategy, parts))
                self.backend.create_table(staging, obj=chosen, database="marts")
                self.con.execute(
                    f"DELETE FROM marts.{name} WHERE {partition.sql_selects(strategy, parts)}"
                )
                self.con.execute(f"INSERT INTO marts.{name} BY NAME SELECT * FROM marts.{staging}")
                self.con.execute(f"DROP TABLE marts.{staging}")
            [(rows,)] = self.con.execute(f"SELECT count(*) FROM marts.{name}").fetchall()
            if record is not None:
                record(set(parts))
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        return rows

    def read(self, name: str) -> pa.Table:
        return self.con.sql(f"SELECT * FROM marts.{name}").to_arrow_table()

    def events_loaded(self, source: str) -> dict:
        return {}


class SparkEngine(DuckDBEngine):
    """The marts computed by Spark over the events lake (Parquet), for organisations that outgrow
    one machine. Results are small (per unit and period) and come back as Arrow into the
    warehouse; a Spark query cannot read a DuckDB table, so a mart that reads another builds that
    one's expression again in the same Spark session."""

    def __init__(self, con: duckdb.DuckDBPyConnection, cfg: Settings) -> None:
        super().__init__(con)
        self.cfg = cfg
        self._inputs: dict[str, ibis.Table] = {}

    def event_tables(self) -> EventTables:
        from metrics.store.spark import spark_event_tables, spark_session
        from pipelines.lake import sync_lake

        # The lake follows the warehouse (also after `outcomeloop reload`); a no-op when current.
        sync_lake(self.con, self.cfg.lake)
        return dict(spark_event_tables(spark_session(self.cfg), self.cfg.lake))

    def mart_input(self, name: str, compute: Callable[[], ibis.Table]) -> ibis.Table:
        if name not in self._inputs:
            self._inputs[name] = compute()
        return self._inputs[name]

    #: Spark recomputes every mart whole (its results come back as Arrow anyway).
    incremental = False

    def write(
        self,
        name: str,
        data: ibis.Table | pa.Table,
        *,
        diff_on: str | None = None,
        record: Callable[[set[str] | None], None] | None = None,
    ) -> int:
        if isinstance(data, ibis.Table):
            data = data.to_pyarrow()
        return super().write(name, data, diff_on=diff_on, record=record)

    def events_loaded(self, source: str) -> dict:
        from pipelines.lake import export_source_to_lake

        export = export_source_to_lake(self.con, source, self.cfg.lake)
        return {"lake_path": str(export.path), "lake_rewritten": export.written}


def engine_for(cfg: Settings, con: duckdb.DuckDBPyConnection) -> Engine:
    """The engine `cfg.compute` names (`duckdb` or `spark`), working with the warehouse `con`."""
    return SparkEngine(con, cfg) if cfg.compute == "spark" else DuckDBEngine(con)
