"""The file ledger: one row per landed file judged, saying what became of it and why.

`ops.file_ledger` is what makes loading exactly-once (a file is judged once per content hash) and
what the data-health page shows data engineers: loaded, rejected (with the reason) or duplicate.
A file that loads writes its row inside its own load transaction (see `loader`); a file that
loads nothing (rejected, duplicate, refused by the inbox scan) gets its row here, alone.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)


@dataclass
class FileOutcome:
    """What became of one landed file: the ledger row it produced."""

    file_path: str
    source: str
    sha256: str
    size_bytes: int
    status: str  # loaded | rejected | duplicate
    rows_loaded: int
    rows_filtered: int
    rows_quarantined: int
    error: str | None
    #: the digest of the source's mapping the file was judged with (None: not judged by it)
    mapping_digest: str | None = None
    #: The file's modification time (ns) when judged: with the path and size, what lets the next
    #: run recognise the file without reading it. None for entries that were never stat'ed.
    mtime_ns: int | None = None


def rejected(
    source: str,
    file_path: str,
    sha: str,
    size: int,
    error: str,
    digest: str | None = None,
    mtime_ns: int | None = None,
) -> FileOutcome:
    """The outcome of a file that loads nothing because of `error`."""
    return FileOutcome(file_path, source, sha, size, "rejected", 0, 0, 0, error, digest, mtime_ns)


def judged_stats(con: duckdb.DuckDBPyConnection, source: str) -> set[tuple[str, int, int]]:
    """(file_path, size_bytes, mtime_ns) of every file of `source` judged before: a file whose
    path, size and modification time are all unchanged is not read again."""
    rows = con.execute(
        "SELECT file_path, size_bytes, mtime_ns FROM ops.file_ledger "
        "WHERE source = ? AND mtime_ns IS NOT NULL",
        [source],
    ).fetchall()
    return {(path, size, mtime) for path, size, mtime in rows}


def restamp(
    con: duckdb.DuckDBPyConnection, source: str, file_path: str, sha: str, mtime_ns: int
) -> None:
    """A judged file was touched (new mtime, same bytes): remember the new mtime, so the next run
    recognises it without hashing it again."""
    con.execute(
        "UPDATE ops.file_ledger SET mtime_ns = ? WHERE source = ? AND file_path = ? AND sha256 = ?",
        [mtime_ns, source, file_path, sha],
    )


def write_ledger(con: duckdb.DuckDBPyConnection, o: FileOutcome, now: datetime) -> None:
    """Insert the ledger row of `o` (inside the caller's transaction, if any)."""
    con.execute(
        "INSERT INTO ops.file_ledger (file_path, source, sha256, size_bytes, rows_loaded, "
        "rows_filtered, rows_quarantined, status, error, loaded_at, mapping_digest, mtime_ns) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            o.file_path, o.source, o.sha256, o.size_bytes, o.rows_loaded, o.rows_filtered,
            o.rows_quarantined, o.status, o.error, now, o.mapping_digest, o.mtime_ns,
        ],
    )  # fmt: skip


def record(con: duckdb.DuckDBPyConnection, outcome: FileOutcome, now: datetime) -> FileOutcome:
    """Write a ledger row for a file that loads nothing (rejected or duplicate), in its own
    transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        write_ledger(con, outcome, now)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    log.info("%s: %s: %s", Path(outcome.file_path).name, outcome.status, outcome.error)
    return outcome


def record_refused(
    con: duckdb.DuckDBPyConnection,
    source: str,
    refused: Sequence[tuple[Path, str]],
    *,
    now: datetime,
) -> list[FileOutcome]:
    """Ledger `rejected` rows for refused inbox entries (once per path), without reading them."""
    outcomes = []
    for path, reason in refused:
        file_path = os.path.abspath(path)
        seen = con.execute(
            "SELECT 1 FROM ops.file_ledger WHERE source = ? AND file_path = ? AND sha256 = ''",
            [source, file_path],
        ).fetchone()
        if seen:
            continue
        outcome = rejected(source, file_path, "", 0, reason)
        write_ledger(con, outcome, ledger_time(now))
        outcomes.append(outcome)
    return outcomes


def orphan_actions(con: duckdb.DuckDBPyConnection) -> list[tuple[str, datetime, str]]:
    """Feedback actions whose feedback_id matches no nps or ces response (files arrive in any
    order, so these are kept and shown, never quarantined): (feedback_id, action_at, action_type)."""
    return con.execute(
        """
        SELECT a.feedback_id, a.action_at, a.action_type
        FROM events.feedback_actions a
        WHERE NOT EXISTS (SELECT 1 FROM events.nps r WHERE r.response_id = a.feedback_id)
          AND NOT EXISTS (SELECT 1 FROM events.ces r WHERE r.response_id = a.feedback_id)
        ORDER BY a.action_at, a.feedback_id
        """
    ).fetchall()


def first_lines(exc: BaseException, n: int = 3, width: int = 300) -> str:
    """The error text for the ledger: DuckDB's reader errors run to 20 lines of settings, and
    the first few say what and where.

    Each line is cut to `width` characters: DuckDB quotes the offending line, which may be a
    megabyte long, and the ledger's error column is shown on the dashboard.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " / ".join(
        line if len(line) <= width else f"{line[:width]}... ({len(line)} characters)"
        for line in lines[:n]
    )


def retry_hint(source: str) -> str:
    """How to have a rejected file judged again: the ledger remembers its content, so landing
    the same bytes again does nothing."""
    return (
        f"after fixing sources.yaml, `outcomeloop reload {source}` judges it again "
        "(a corrected export landed as a new file is read by the next run)"
    )


def reader_error(exc: BaseException, path: Path | str | None = None) -> str:
    """A reader error in words that end in the useful part: the likely cause and the line.

    DuckDB's CSV sniffer reports a file it cannot make sense of as "Error when sniffing file ...
    The search space used was: ..." followed by twenty lines of settings; what a user needs is
    the line that broke the pattern and why it probably did."""
    text = str(exc)
    lowered = text.lower()
    line = re.search(r"\bline[: ]+(\d+)", text, re.IGNORECASE)
    where = f" near line {line.group(1)}" if line else ""
    original = re.search(r"Original Line:\s*\n?(.*)", text)
    quoted = f": {original.group(1).strip()[:120]!r}" if original else ""
    if (
        "sniffing" in lowered
        or "expected number of columns" in lowered
        or "too many columns" in lowered
    ):
        cause = (
            "the rows do not have the same number of fields"
            f"{where}{quoted}; likely causes: lines after the records (a report footer such as "
            "'Grand Totals'), a delimiter other than the one used (set `delimiter:` in "
            "sources.yaml), or text in another encoding"
        )
        return cause
    if "unicode" in lowered or "encoding" in lowered:
        return f"the text is not UTF-8 or Windows-1252{where} (export it as UTF-8)"
    return first_lines(exc)


def ledger_time(now: datetime) -> datetime:
    """Ledger and quarantine times are UTC without a zone, like every timestamp in the warehouse."""
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return now
