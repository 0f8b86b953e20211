"""Where the event tables come from, for the Ibis expressions in `metrics`.

Every event-scale formula (measures, readiness gates, the feedback loop) is an Ibis expression over
`EventTables`: a mapping from a canonical source name to its events table. DuckDB runs the
expressions on one machine; the same expressions run on Spark when an organisation outgrows it. A
source missing from the mapping simply has no data (its measures are empty).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping

import ibis
import ibis.expr.datatypes as dt
from ibis.common.exceptions import TableNotFound

from metrics.schemas import ALL_UNITS, SOURCES

#: source name -> its events table (canonical columns, see metrics.schemas).
EventTables = Mapping[str, ibis.Table]

# DuckDB column types of metrics.schemas -> Ibis types, for empty stand-in tables.
_IBIS_TYPES = {
    "VARCHAR": "string",
    "TIMESTAMP": "timestamp",
    "DATE": "date",
    "INTEGER": "int32",
    "BIGINT": "int64",
    "DOUBLE": "float64",
}


@ibis.udf.scalar.builtin
def from_utc_timestamp(ts: dt.timestamp, tz: str) -> dt.timestamp:  # type: ignore[empty-body]
    """A UTC wall-clock timestamp as the wall-clock time in zone `tz`.

    Spark has FROM_UTC_TIMESTAMP natively; on DuckDB `metrics.store.warehouse.connect` defines a temp
    macro of the same name, so the expression compiles to the same call on both engines.
    """


def duckdb_event_tables(ib_con) -> dict[str, ibis.Table]:
    """The `events.<source>` tables of an Ibis DuckDB backend, keyed by source name.

    `ib_con` is `ibis.duckdb.from_connection(con)` on a connection from `metrics.store.warehouse.connect`
    (which defines the `from_utc_timestamp` macro). Only sources whose table exists are returned.
    """
    # (Ibis 12's `list_tables` does not work with DuckDB 2, so ask for each table instead.)
    tables: dict[str, ibis.Table] = {}
    for name in SOURCES:
        try:
            tables[name] = ib_con.table(name, database="events")
        except TableNotFound:
            continue
    return tables


def source_schema(source: str) -> ibis.Schema:
    """The Ibis schema of `events.<source>` (canonical and extra columns, then lineage)."""
    return ibis.schema({c.name: _IBIS_TYPES[c.type] for c in SOURCES[source].table_columns})


#: The stand-ins `empty_table` made that are still in use (see `is_empty_stand_in`).
_STAND_INS: weakref.WeakSet[ibis.Table] = weakref.WeakSet()


def empty_table(schema: ibis.Schema | Mapping[str, str]) -> ibis.Table:
    """A table with `schema` and no rows, so results keep their columns and types when empty."""
    schema = ibis.schema(schema)
    table = ibis.memtable(schema.to_pyarrow().empty_table(), schema=schema)
    _STAND_INS.add(table)
    return table


def is_empty_stand_in(table: ibis.Table) -> bool:
    """True for the empty tables `empty_table` returns when there is no data at all.

    Such a table belongs to no backend; callers return early instead of building an expression
    that would otherwise run on Ibis' default backend (which lacks `from_utc_timestamp`).
    """
    return table in _STAND_INS


def require_columns(table: ibis.Table, source: str, columns: list[str], what: str) -> None:
    """Fail with a clear message when `events.<source>` lacks a column a formula needs."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise KeyError(
            f"{what}: events.{source} has no column(s) {missing}; its columns are "
            f"{list(table.columns)} (check the measure's `field`/`per` in strategy.yaml)"
        )


def with_all_units(rows: ibis.Table, keys: list[str], **aggregates: ibis.Value) -> ibis.Table:
    """`aggregates` of `rows` per unit and `keys`, plus the `all` rows: the same aggregates over
    every unit's rows pooled (never a combination of the units' results)."""
    units = rows.group_by(["unit", *keys]).aggregate(**aggregates)
    everyone = rows.group_by(keys).aggregate(**aggregates)
    everyone = everyone.mutate(unit=ibis.literal(ALL_UNITS, type="string"))
    return units.union(everyone.select(units.columns), distinct=False)
