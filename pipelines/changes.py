"""What changed since a consumer last looked: the base of incremental marts and publishing.

A landing changes few rows, and the marts and the snapshot are rebuilt from many. Each consumer
(an incremental mart, a published table) remembers what it has seen, so the next run can tell
which rows, and so which periods, changed since:

(The tables are created with the warehouse's, metrics.store.warehouse.CHANGE_TRACKING_DDL.)

- events: the loaded files in `ops.file_ledger` it has consumed (`ops.consumed_files`). The rows
  of the files loaded since are in `events.<source>` (their `file_path`); the versions those files
  replaced are logged by the upsert in `ops.replaced_events` (as JSON), so a restatement that moves
  an event to another period or unit touches both. A consumed file missing from the ledger means
  the source was reloaded: the consumer starts over.
- marts: every write of a mart gets the next version and logs the parts (periods) it changed in
  `ops.mart_changes` (NULL = all of it), so a reader of the mart unions what changed since the
  version it last saw.
- code and configuration: the consumer's `signature` (the strategy's digest, the code's digest);
  when it differs, the consumer starts over.
- a safety net for edits made behind the pipeline's back (SQL run on `events.*` by hand): a
  source whose event count moved while no file of it was loaded starts the consumer over.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from hashlib import sha256
from pathlib import Path

import duckdb

from metrics.schemas import SOURCES
from metrics.store.sql import identifier, literal

#: The code a mart's or a published table's rows depend on: the formulas, the mart machinery and
#: publishing (not ingestion, sensors or the CLI, whose changes do not change a mart's rows).
_CODE_ROOTS = (
    "metrics",
    "pipelines/marts",
    "pipelines/changes.py",
    "pipelines/publish.py",
    "pipelines/snapshot_parts.py",
)


@cache
def code_digest() -> str:
    """A digest of the project's code: a change to any formula or to publishing starts every
    consumer over (a full rebuild), so an incremental result never mixes two versions of a
    formula."""
    root = Path(__file__).resolve().parent.parent
    digest = sha256()
    for name in _CODE_ROOTS:
        part = root / name
        for path in sorted(part.rglob("*.py")) if part.is_dir() else [part]:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def log_replaced(
    con: duckdb.DuckDBPyConnection, source: str, replaced_by: str, records: Sequence[str]
) -> None:
    """Remember the versions of events a file replaced (JSON rows), inside its transaction."""
    if records:
        con.executemany(
            "INSERT INTO ops.replaced_events VALUES (?, ?, ?)",
            [(source, replaced_by, r) for r in records],
        )


def event_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Each source's number of events (cheap: DuckDB keeps the count)."""
    union = " UNION ALL ".join(
        f"SELECT {literal(s)}, count(*) FROM events.{identifier(s)}" for s in SOURCES
    )
    return {source: int(n) for source, n in con.execute(union).fetchall()}


@dataclass
class EventChanges:
    """The events changed since a consumer last looked: per source, the files loaded since."""

    new_files: dict[str, list[str]]

    def any(self, sources: Iterable[str]) -> bool:
        return any(self.new_files.get(s) for s in sources)

    def rows_sql(self, source: str, columns: Sequence[str]) -> str:
        """SQL of `columns` of the changed events of `source`: the rows the new files brought and
        the versions they replaced (empty when nothing changed)."""
        files = self.new_files.get(source, [])
        schema = SOURCES[source]
        types = {c.name: c.type for c in schema.table_columns}
        cols = ", ".join(identifier(c) for c in columns)
        if not files:
            nulls = ", ".join(f"CAST(NULL AS {types[c]}) AS {identifier(c)}" for c in columns)
            return f"SELECT {nulls} WHERE false"
        listing = ", ".join(literal(f) for f in files)
        parsed = ", ".join(
            f"CAST(json_extract_string(record, {literal('$.' + c)}) AS {types[c]}) "
            f"AS {identifier(c)}"
            for c in columns
        )
        return (
            f"SELECT {cols} FROM events.{identifier(source)} WHERE file_path IN ({listing}) "
            f"UNION ALL SELECT {parsed} FROM ops.replaced_events "
            f"WHERE source = {literal(source)} AND replaced_by IN ({listing})"
        )


def event_changes(con: duckdb.DuckDBPyConnection, consumer: str) -> EventChanges | None:
    """The events changed since `consumer` last committed; None when it must start over (it
    never committed, or a source it consumed was reloaded)."""
    current = con.execute(
        "SELECT source, file_path, sha256 FROM ops.file_ledger WHERE status = 'loaded'"
    ).fetchall()
    seen = con.execute(
        "SELECT source, file_path, sha256 FROM ops.consumed_files WHERE consumer = ?", [consumer]
    ).fetchall()
    known = con.execute(
        "SELECT event_counts FROM ops.consumers WHERE consumer = ?", [consumer]
    ).fetchall()
    if not known or not set(seen) <= set(current):
        return None
    seen_set = set(seen)
    new: dict[str, list[str]] = {}
    for source, path, sha in current:
        if (source, path, sha) not in seen_set:
            new.setdefault(source, []).append(path)
    counts_then = json.loads(known[0][0] or "{}")
    for source, count in event_counts(con).items():
        if source not in new and counts_then.get(source) != count:
            return None  # changed by hand: nothing says where
    return EventChanges(new)


def signature(con: duckdb.DuckDBPyConnection, consumer: str) -> tuple[str | None, dict]:
    """The consumer's signature and the mart versions it saw at its last commit."""
    rows = con.execute(
        "SELECT signature, versions FROM ops.consumers WHERE consumer = ?", [consumer]
    ).fetchall()
    if not rows:
        return None, {}
    return rows[0][0], json.loads(rows[0][1] or "{}")


def commit(
    con: duckdb.DuckDBPyConnection,
    consumer: str,
    sig: str,
    files: Sequence[tuple[str, str, str]],
    versions: dict[str, int] | None = None,
) -> None:
    """Record that `consumer` is current with `files` (as listed when its work began), the
    mart `versions` it read, under signature `sig`."""
    con.execute("DELETE FROM ops.consumed_files WHERE consumer = ?", [consumer])
    if files:
        con.executemany(
            "INSERT INTO ops.consumed_files VALUES (?, ?, ?, ?)",
            [(consumer, *f) for f in files],
        )
    con.execute("DELETE FROM ops.consumers WHERE consumer = ?", [consumer])
    con.execute(
        "INSERT INTO ops.consumers VALUES (?, ?, ?, ?)",
        [
            consumer,
            sig,
            json.dumps(versions or {}, sort_keys=True),
            json.dumps(event_counts(con), sort_keys=True),
        ],
    )


def mart_version(con: duckdb.DuckDBPyConnection, mart: str) -> int:
    """How many times `mart` has been written (0: never, since change tracking began)."""
    [(version,)] = con.execute(
        "SELECT coalesce(max(version), 0) FROM ops.mart_changes WHERE mart = ?", [mart]
    ).fetchall()
    return int(version)


def log_mart_write(con: duckdb.DuckDBPyConnection, mart: str, parts: Iterable[str] | None) -> int:
    """Log a write of `mart` that changed `parts` (None: possibly everything); its version."""
    version = mart_version(con, mart) + 1
    rows = [(mart, version, None)] if parts is None else [(mart, version, p) for p in parts]
    if not rows:
        rows = [(mart, version, "")]  # a write that changed nothing still moves the version
    con.executemany("INSERT INTO ops.mart_changes VALUES (?, ?, ?)", rows)
    return version


def mart_changes_since(con: duckdb.DuckDBPyConnection, mart: str, version: int) -> set[str] | None:
    """The parts of `mart` changed by its writes after `version`; None when one of them may have
    changed everything (or `version` is unknown)."""
    if version <= 0:
        return None
    rows = con.execute(
        "SELECT part FROM ops.mart_changes WHERE mart = ? AND version > ?", [mart, version]
    ).fetchall()
    parts = {p for (p,) in rows}
    if None in parts:
        return None
    return parts - {""}
