"""The events lake: each source's events as Parquet, for Spark to compute the marts from.

With `OUTCOMELOOP_COMPUTE=spark`, ingestion still parses every landed file with DuckDB and upserts
it into `events.<source>` (the warehouse stays the system of record: the file ledger, quarantine
and restated rows live there). After a source loads, its events table is exported here:

    $OUTCOMELOOP_HOME/lake/events/<source>/period=YYYY-MM/data_0.parquet

`period` is the month of the source's time column as stored (UTC for timestamps, the date as it
is for dates). It is only a storage layout for pruning; reporting periods are still bucketed by
the formulas in the strategy's time zone. Two sources have a column of their own named `period`
(`revenue`, `cost`); the lake stores it as `period_date` so it does not collide with the partition
column, and `metrics.store.spark.spark_event_tables` renames it back.

A source is rewritten whole (restated rows replace earlier ones anywhere in its history) into a
staging folder, which then takes the place of the old folder with two renames: a reader sees the
old complete folder or the new complete one, never a half-written one. Dagster's warehouse pool
already serializes ingestion and the marts, so that moment is never inside a Spark read here. A
fingerprint of the events table (row count and an order-independent hash) is stored beside the
data, so an export that would write the same rows is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from metrics.schemas import SOURCES
from metrics.store.spark import LAKE_PARTITION_COLUMN, LAKE_RENAMED_PERIOD, lake_source_dir

#: Written next to the Parquet files; Spark skips files whose name starts with `_`.
FINGERPRINT_FILE = "_outcomeloop_export.json"


@dataclass(frozen=True)
class LakeExport:
    """What one export did: the folder, the rows it holds, and whether it was rewritten."""

    source: str
    path: Path
    rows: int
    written: bool


def _fingerprint(con: duckdb.DuckDBPyConnection, source: str) -> dict:
    # fetchall: DuckDB 2 keeps a result open until it is drained, blocking the connection.
    ((rows, digest),) = con.execute(
        f'SELECT count(*), coalesce(bit_xor(hash(e)), 0) FROM events."{source}" e'
    ).fetchall()
    return {"source": source, "rows": int(rows), "hash": str(digest), "layout": 1}


def lake_fingerprint(lake_root: Path | str, source: str) -> dict | None:
    """The fingerprint stored with a source's lake folder, or None when it has none."""
    path = lake_source_dir(lake_root, source) / FINGERPRINT_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def export_source_to_lake(
    con: duckdb.DuckDBPyConnection, source: str, lake_root: Path | str, *, force: bool = False
) -> LakeExport:
    """Write `events.<source>` to the lake as Parquet partitioned by month, replacing the folder.

    Skipped (written=False) when the lake already holds exactly these rows, unless `force`. An
    empty events table leaves no folder: the source simply has no data on Spark.
    """
    if source not in SOURCES:
        raise KeyError(f"unknown source {source!r}; the lake holds one of {list(SOURCES)}")
    schema = SOURCES[source]
    target = lake_source_dir(lake_root, source)
    fingerprint = _fingerprint(con, source)
    if not force and lake_fingerprint(lake_root, source) == fingerprint:
        return LakeExport(source, target, fingerprint["rows"], written=False)

    target.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    staging = target.parent / f".{source}.staging-{token}"
    retired = target.parent / f".{source}.retired-{token}"
    try:
        if fingerprint["rows"] > 0:
            columns = []
            for col in schema.table_columns:
                if col.name == LAKE_PARTITION_COLUMN:
                    columns.append(f'"{col.name}" AS "{LAKE_RENAMED_PERIOD}"')
                else:
                    columns.append(f'"{col.name}"')
            month = f"strftime(CAST(\"{schema.time_column}\" AS DATE), '%Y-%m')"
            query = (
                f"SELECT {', '.join(columns)}, {month} AS {LAKE_PARTITION_COLUMN} "
                f'FROM events."{source}"'
            )
            path = str(staging).replace("'", "''")
            con.execute(
                f"COPY ({query}) TO '{path}' "
                f"(FORMAT parquet, PARTITION_BY ({LAKE_PARTITION_COLUMN}), OVERWRITE_OR_IGNORE)"
            ).fetchall()
            (staging / FINGERPRINT_FILE).write_text(json.dumps(fingerprint, sort_keys=True))
        # Swap: the old folder steps aside, the complete new one takes its name.
        if target.exists():
            os.replace(target, retired)
        if staging.exists():
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
    return LakeExport(source, target, fingerprint["rows"], written=True)


def sync_lake(con: duckdb.DuckDBPyConnection, lake_root: Path | str) -> list[LakeExport]:
    """Bring every source's lake folder in line with its events table (cheap when it already is).

    The marts call this before Spark reads the lake, so a source rebuilt outside ingestion
    (`outcomeloop reload`) or loaded before `compute: spark` was switched on is never stale.
    """
    existing = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'events'"
        ).fetchall()
    }
    exports = []
    for source in SOURCES:
        if source in existing:
            exports.append(export_source_to_lake(con, source, lake_root))
        else:
            shutil.rmtree(lake_source_dir(lake_root, source), ignore_errors=True)
    return exports
