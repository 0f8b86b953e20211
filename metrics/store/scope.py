"""A reader's view of the snapshot limited to some units: unit scoping where the data is read.

A unit lead reads the snapshot through views of the same names (`marts.measure_values`, ...) that
hold only their units' rows, so every query (a table, a chart, a CSV download, a drill-down) sees
nothing else, whatever page or widget asks. The rules, per table or view of the snapshot:

- it has a `unit` column: only the rows of the scope's units (never the organisation's `all` row,
  which pools every unit's events);
- it is one of SHARED_TABLES (what the snapshot is and how the strategy is built, no data of any
  unit): read whole;
- the file ledger: only the rows of the action files the dashboard itself wrote (so a scoped CX
  agent sees their logged action go from pending to loaded; the page lists only the actions on
  items of the reader's units);
- anything else (quarantined records, actions matched to no response, tables added later):
  empty. Organisation-wide tables are for roles that read every unit.

Anonymity suppression is untouched: a hidden cell stays hidden in the rows the scope keeps, and
the `all` row a unit's value could be subtracted from is not there.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from metrics.store.sql import identifier

#: Tables every signed-in reader sees whole: the snapshot's identity and the strategy's structure.
SHARED_TABLES = ("serving.meta", "serving.strategy", "serving.tree", "serving.measures")
#: Organisation-wide tables a scoped reader sees some rows of: table -> the rows' condition.
PARTLY_SHARED = {
    "ops.file_ledger": "source = 'feedback_actions' AND "
    "regexp_matches(file_path, '(^|[/\\\\])dashboard-[^/\\\\]*\\.canonical\\.jsonl$')",
}
#: The catalog the scoped views live in (queries name tables as `schema.table` after `USE`).
SCOPED = "snap"
#: The catalog the snapshot itself is attached as, below the views.
SOURCE = "snapshot_file"


def create_scoped_views(con: duckdb.DuckDBPyConnection, units: Sequence[str]) -> None:
    """In `con`, where the snapshot is attached as SOURCE, build the catalog SCOPED whose every
    table is a view of the snapshot's table of the same name limited to `units`; then `USE` it."""
    con.execute(f"ATTACH ':memory:' AS {SCOPED}")
    # The units travel as rows of a table, never as SQL text.
    con.execute(f"CREATE TABLE {SCOPED}.main._scope_units (unit VARCHAR)")
    if units:
        con.executemany(f"INSERT INTO {SCOPED}.main._scope_units VALUES (?)", [[u] for u in units])
    tables = con.execute(
        "SELECT table_schema, table_name, bool_or(column_name = 'unit') "
        "FROM information_schema.columns WHERE table_catalog = ? "
        "GROUP BY ALL ORDER BY ALL",
        [SOURCE],
    ).fetchall()
    for schema in sorted({s for s, _, _ in tables} - {"main"}):
        con.execute(f"CREATE SCHEMA {SCOPED}.{identifier(schema)}")
    for schema, table, has_unit in tables:
        name = f"{identifier(schema)}.{identifier(table)}"
        if has_unit:
            where = f"unit IN (SELECT unit FROM {SCOPED}.main._scope_units)"
        elif f"{schema}.{table}" in SHARED_TABLES:
            where = "true"
        elif f"{schema}.{table}" in PARTLY_SHARED:
            where = PARTLY_SHARED[f"{schema}.{table}"]
        else:
            where = "false"
        con.execute(f"CREATE VIEW {SCOPED}.{name} AS SELECT * FROM {SOURCE}.{name} WHERE {where}")
    con.execute(f"USE {SCOPED}")
