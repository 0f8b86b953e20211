"""DuckDB connections done right: time zone set, lock errors retried, always closed.

DuckDB allows one process to hold a database file at a time (a reader blocks a writer too). The
pipeline serializes its own access with a Dagster concurrency pool; these helpers add a short retry
for the moments when another process (`outcomeloop run` beside `dagster dev`) holds the lock.
Readers of the published snapshot attach it READ_ONLY from a fresh in-memory connection, because a
plain `duckdb.connect(path)` in a process that still has that path open returns the OLD file after
an `os.replace`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from metrics.schemas import SOURCES
from metrics.store import scope
from metrics.store.sql import literal

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS ops.file_ledger (
    file_path VARCHAR, source VARCHAR, sha256 VARCHAR, size_bytes BIGINT,
    rows_loaded BIGINT, rows_filtered BIGINT, rows_quarantined BIGINT,
    status VARCHAR, error VARCHAR, loaded_at TIMESTAMP
)"""

#: Columns added to the ledger after its first release (a warehouse from before gains them).
LEDGER_ADDED = (
    # the digest of the source's mapping the file was judged with (SourcesConfig.mapping_digest)
    "ALTER TABLE ops.file_ledger ADD COLUMN IF NOT EXISTS mapping_digest VARCHAR",
    # the file's modification time when judged: with its path and size, what lets a run
    # recognise an unchanged file without reading it again
    "ALTER TABLE ops.file_ledger ADD COLUMN IF NOT EXISTS mtime_ns BIGINT",
)

QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS ops.quarantine (
    source VARCHAR, file_path VARCHAR, row_number BIGINT, record VARCHAR, reason VARCHAR,
    quarantined_at TIMESTAMP
)"""

#: Every alert OutcomeLoop decided to send, one row per (rule, subject); the subject names the
#: transition (DESIGN.md "Alerts"; pipelines/alerts/log.py writes it).
ALERT_LOG_DDL = """
CREATE TABLE IF NOT EXISTS ops.alert_log (
    rule VARCHAR, event VARCHAR, subject VARCHAR, unit VARCHAR, channel VARCHAR,
    first_seen_at TIMESTAMP, sent_at TIMESTAMP, attempts INTEGER, status VARCHAR, error VARCHAR
)"""
#: What the incremental marts and publishing track (see pipelines.changes): the event versions a
#: file replaced, and what each consumer has seen.
CHANGE_TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS ops.replaced_events (source VARCHAR, replaced_by VARCHAR, "
    "record VARCHAR)",
    "CREATE TABLE IF NOT EXISTS ops.consumed_files (consumer VARCHAR, source VARCHAR, "
    "file_path VARCHAR, sha256 VARCHAR)",
    "CREATE TABLE IF NOT EXISTS ops.consumers (consumer VARCHAR, signature VARCHAR, "
    "versions VARCHAR, event_counts VARCHAR)",
    "CREATE TABLE IF NOT EXISTS ops.mart_changes (mart VARCHAR, version BIGINT, part VARCHAR)",
)

# Spark's name for "this UTC timestamp as wall-clock time in zone tz"; defined here so the same
# Ibis expression (a builtin UDF of that name) runs on DuckDB and on Spark.
_MACROS = (
    "CREATE OR REPLACE TEMP MACRO from_utc_timestamp(ts, tz) AS "
    "CAST(timezone(tz, timezone('UTC', CAST(ts AS TIMESTAMP))) AS TIMESTAMP)",
)


class WarehouseBusy(Exception):
    """Another process held the DuckDB file for longer than we were willing to wait."""


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def connect(
    path: Path | str,
    *,
    read_only: bool = False,
    timezone: str = "UTC",
    memory_limit: str | None = None,
    threads: int | None = None,
    wait_seconds: float = 60.0,
    on_wait: Callable[[str], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file, retrying briefly while another process holds its lock."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    delay, told = 0.05, False
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if not _is_lock_error(exc) or time.monotonic() > deadline:
                if _is_lock_error(exc):
                    raise WarehouseBusy(
                        f"{path} is held by another process (is `dagster dev` or another "
                        f"`outcomeloop run` writing?); waited {wait_seconds:.0f}s"
                    ) from exc
                raise
            if on_wait and not told:
                on_wait(f"{path.name} is busy in another process; waiting for it")
                told = True
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    try:
        configure(con, timezone=timezone, memory_limit=memory_limit, threads=threads)
    except Exception:
        con.close()
        raise
    return con


def configure(
    con: duckdb.DuckDBPyConnection,
    *,
    timezone: str = "UTC",
    memory_limit: str | None = None,
    threads: int | None = None,
) -> None:
    """Settings every connection needs: the machine's zone must never leak into month buckets."""
    con.execute(f"SET TimeZone = {literal(timezone)}")
    if memory_limit:
        con.execute(f"SET memory_limit = {literal(memory_limit)}")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    # Ibis 12 writes list lambdas as `x -> ...`, which DuckDB 2 accepts only with this setting
    # (feedback_items filters each response's action times with one).
    con.execute("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")
    for macro in _MACROS:
        con.execute(macro)


@contextmanager
def warehouse(path: Path | str, **kwargs: Any) -> Iterator[duckdb.DuckDBPyConnection]:
    """`with warehouse(path) as con:` opens, configures and always closes, also on error."""
    con = connect(path, **kwargs)
    try:
        yield con
    finally:
        con.close()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ops and events tables (idempotent). Marts are created by their assets."""
    for schema in ("ops", "events", "marts"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(LEDGER_DDL)
    for added in LEDGER_ADDED:
        con.execute(added)
    con.execute(QUARANTINE_DDL)
    con.execute(ALERT_LOG_DDL)
    for ddl in CHANGE_TRACKING_DDL:
        con.execute(ddl)
    for source in SOURCES.values():
        con.execute(source.ddl("events"))


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether `schema.table` exists in the connection's current database."""
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = "
            "current_database() AND table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def query_snapshot(
    snapshot: Path | str,
    sql: str,
    params: Sequence[Any] | None = None,
    *,
    units: Sequence[str] | None = None,
    retries: int = 5,
) -> Any:
    """Run one query against the published snapshot and return an Arrow table.

    A fresh in-memory connection ATTACHes the snapshot READ_ONLY as `snap` (and `USE`s it, so
    queries name tables as `marts.measure_values`), runs the query, and closes. Retries briefly if
    the file is being swapped at that instant. With `units`, the query reads the snapshot through
    views limited to those units' rows (metrics/store/scope.py), not the tables themselves.
    """
    snapshot = Path(snapshot)
    last: Exception | None = None
    for attempt in range(retries):
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET TimeZone = 'UTC'")
            if units is None:
                con.execute(f"ATTACH {literal(snapshot)} AS snap (READ_ONLY)")
                con.execute("USE snap")
            else:
                con.execute(f"ATTACH {literal(snapshot)} AS {scope.SOURCE} (READ_ONLY)")
                scope.create_scoped_views(con, units)
            return con.sql(sql, params=list(params or [])).to_arrow_table()  # no DB-API copy
        except (duckdb.IOException, duckdb.CatalogException) as exc:
            if not snapshot.exists():
                raise FileNotFoundError(f"no published snapshot at {snapshot}") from exc
            last = exc
            time.sleep(0.05 * (attempt + 1))
        finally:
            con.close()
    assert last is not None
    raise last
