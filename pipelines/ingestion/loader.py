"""Exactly-once loading: each landed file judged once, loaded in one transaction with its ledger row.

Each landed file is judged once per content hash (sha256):
- same path, size and modification time as when judged: recognised from the ledger without
  reading the file (so a run over an unchanged inbox reads no file);
- same path and same bytes as before (a touched file): already judged, nothing happens;
- same bytes as a file loaded before under another name: a `duplicate` ledger row, nothing loaded;
- otherwise it is staged (read and validated, see `staging`), then applied (see `upsert`) in ONE
  transaction together with its `loaded` ledger row; a file that cannot be read at all (or lacks
  a required column, or is too large) gets a `rejected` ledger row with the reason, and the run
  goes on with the next file.
Every record of a loaded file is exactly one of: loaded (an event), filtered (excluded on purpose,
or an older version of a key superseded by a newer one), or quarantined (with its reason).
Landed files are only ever read: never modified, moved or deleted.

Progress goes to the `pipelines.ingestion` loggers: the Dagster asset forwards them to the run's
log, and the CLI prints them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import duckdb

from metrics.schemas import SOURCES
from metrics.sources import SourcesConfig
from metrics.store.files import file_sha256
from metrics.store.sql import identifier
from pipelines.ingestion import ledger, staging, upsert
from pipelines.ingestion.adapters import FileRejected
from pipelines.ingestion.ledger import (
    FileOutcome,
    first_lines,
    ledger_time,
    reader_error,
    rejected,
    retry_hint,
)

log = logging.getLogger(__name__)

#: Files at least this large get step-by-step progress lines in the log.
BIG_FILE_BYTES = 50 * 1024 * 1024

#: Set by the command line while a person watches the terminal: DuckDB then draws its progress
#: bar while a big file is read and validated.
progress_bar = False

#: What makes a file unreadable (recorded as rejected) rather than a failure of the run.
UNREADABLE = (FileRejected, duckdb.Error, OSError, UnicodeError)


def ingest_files(
    con: duckdb.DuckDBPyConnection,
    source: str,
    files: Sequence[Path],
    sources_config: SourcesConfig,
    *,
    dimensions: Sequence[str],
    now: datetime,
) -> list[FileOutcome]:
    """Judge each file once and load what is new; one outcome per file judged in this call.

    Files whose path and content were judged before are skipped without an outcome (a re-run over
    the same inbox changes nothing). `dimensions` are the strategy's readiness dimensions; `now`
    stamps the ledger and quarantine rows.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; the sources are {', '.join(SOURCES)}")
    stamp = ledger_time(now)
    con.execute("SET preserve_insertion_order = true")  # the staged rowid is the file position
    judged = ledger.judged_stats(con, source)
    outcomes = []
    for path in files:
        outcome = _ingest_one(con, source, Path(path), sources_config, dimensions, stamp, judged)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def reload_source(
    con: duckdb.DuckDBPyConnection,
    source: str,
    files: Sequence[Path],
    sources_config: SourcesConfig,
    *,
    dimensions: Sequence[str],
    now: datetime,
) -> list[FileOutcome]:
    """Rebuild one source from all its landed files (after a mapping fix); nothing else touched.

    One transaction forgets the source (its events, quarantine and ledger rows, and what the
    incremental marts and the snapshot had seen, so they rebuild whole); then every file is
    judged again, each in its own transaction. Should the process stop half-way, the files not yet
    reloaded have no ledger row, so the next run loads them: the source heals itself.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; the sources are {', '.join(SOURCES)}")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM events.{identifier(source)}")
        con.execute("DELETE FROM ops.quarantine WHERE source = ?", [source])
        con.execute("DELETE FROM ops.file_ledger WHERE source = ?", [source])
        # every incremental mart and published table starts over (pipelines.changes)
        con.execute("DELETE FROM ops.consumers")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    log.info(
        "%s: forgot its events, quarantine and ledger; reloading %d file(s)", source, len(files)
    )
    return ingest_files(con, source, files, sources_config, dimensions=dimensions, now=now)


def _ingest_one(
    con: duckdb.DuckDBPyConnection,
    source: str,
    path: Path,
    config: SourcesConfig,
    dimensions: Sequence[str],
    now: datetime,
    judged_stats: set[tuple[str, int, int]],
) -> FileOutcome | None:
    """Judge one file: its outcome, or None when this path and content were judged before."""
    file_path = os.path.abspath(path)
    digest = config.mapping_digest(source)
    try:
        stat = path.stat()
    except OSError as exc:
        outcome = rejected(source, file_path, "", 0, f"{file_path}: cannot be read: {exc}", digest)
        return ledger.record(con, outcome, now)
    size, mtime_ns = stat.st_size, stat.st_mtime_ns
    if (file_path, size, mtime_ns) in judged_stats:
        return None  # judged before and untouched since: not read at all

    error = too_large(file_path, size, config)
    if error is not None:
        seen = con.execute(
            "SELECT 1 FROM ops.file_ledger WHERE source = ? AND file_path = ? AND sha256 = '' "
            "AND size_bytes = ?",
            [source, file_path, size],
        ).fetchone()
        if seen:
            return None
        return ledger.record(
            con, rejected(source, file_path, "", size, error, digest, mtime_ns), now
        )

    big = size >= BIG_FILE_BYTES
    started = time.monotonic()
    con.execute(f"SET enable_progress_bar = {str(big and progress_bar).lower()}")
    seen_path = con.execute(
        "SELECT 1 FROM ops.file_ledger WHERE source = ? AND file_path = ? LIMIT 1",
        [source, file_path],
    ).fetchone()
    staged: staging.Staged | None = None
    failure: Exception | None = None
    if seen_path:
        # A path judged before (a re-run over the same inbox): hash first, and read nothing
        # when its content was judged already.
        if big:
            log.info("%s: hashing %.0f MB", path.name, size / 1024 / 1024)
        sha = file_sha256(path)
        judged = con.execute(
            "SELECT status FROM ops.file_ledger WHERE source = ? AND file_path = ? AND sha256 = ?",
            [source, file_path, sha],
        ).fetchone()
        if judged:
            ledger.restamp(con, source, file_path, sha, mtime_ns)
            log.debug("%s: already judged (%s), skipped", path.name, judged[0])
            return None
    else:
        # A path never judged (the common case: a new export): hash it in a thread while DuckDB
        # parses and validates it (hashlib and DuckDB both release the GIL), instead of reading
        # the whole file once more before staging. The outcome is the same as hashing first: a
        # duplicate of a loaded file is still recorded as a duplicate, its staging discarded.
        if big:
            log.info("%s: hashing, reading and validating %.0f MB", path.name, size / 1024 / 1024)
        with ThreadPoolExecutor(max_workers=1) as pool:
            hashing = pool.submit(file_sha256, path)
            try:
                staged = staging.stage_file(con, source, path, config, dimensions, now)
            except UNREADABLE as exc:
                staging.drop_staging(con)
                failure = exc
            sha = hashing.result()
    earlier = con.execute(
        "SELECT file_path, loaded_at FROM ops.file_ledger "
        "WHERE source = ? AND sha256 = ? AND status = 'loaded' ORDER BY loaded_at LIMIT 1",
        [source, sha],
    ).fetchone()
    if earlier:
        if staged is not None:
            staging.drop_staging(con)
        outcome = FileOutcome(
            file_path, source, sha, size, "duplicate", 0, 0, 0,
            f"same content as {earlier[0]}, loaded at {earlier[1]:%Y-%m-%d %H:%M} UTC", digest,
            mtime_ns,
        )  # fmt: skip
        return ledger.record(con, outcome, now)

    if staged is None and failure is None:
        try:
            if big:
                log.info("%s: reading and validating", path.name)
            staged = staging.stage_file(con, source, path, config, dimensions, now)
        except UNREADABLE as exc:
            staging.drop_staging(con)
            failure = exc
    if failure is not None:
        message = rejection_message(failure, file_path, source)
        return ledger.record(
            con, rejected(source, file_path, sha, size, message, digest, mtime_ns), now
        )
    assert staged is not None
    for note in staged.notes:
        log.info("%s: %s", path.name, note)
    if big:
        log.info("%s: %s records staged; loading", path.name, staged.records)
    return _load(con, source, path, file_path, sha, size, mtime_ns, staged, now, started, digest)


def rejection_message(failure: Exception, file_path: str, source: str) -> str:
    """Why a file cannot be loaded, ending in how to have it judged again."""
    message = (
        str(failure)
        if isinstance(failure, FileRejected)
        else f"{file_path}: cannot be read: {reader_error(failure, file_path)}"
    )
    return f"{message}; {retry_hint(source)}"


def too_large(file_path: str, size: int, config: SourcesConfig) -> str | None:
    """The rejection of a file over `max_file_mb`, or None when it is within the limit."""
    if size <= config.max_file_mb * 1024 * 1024:
        return None
    return (
        f"{file_path}: {size / 1024 / 1024:.0f} MB is larger than max_file_mb = "
        f"{config.max_file_mb:g} in sources.yaml; not read (split the export or raise the limit)"
    )


def _load(
    con: duckdb.DuckDBPyConnection,
    source: str,
    path: Path,
    file_path: str,
    sha: str,
    size: int,
    mtime_ns: int,
    staged: staging.Staged,
    now: datetime,
    started: float,
    digest: str,
) -> FileOutcome:
    """Apply a staged file and write its `loaded` ledger row in one transaction; should that
    fail, roll the file back and record it as rejected with the reason."""
    try:
        con.execute("BEGIN TRANSACTION")
        loaded, filtered, quarantined = upsert.apply_staged(
            con, SOURCES[source], file_path, staged, now
        )
        outcome = FileOutcome(
            file_path, source, sha, size, "loaded", loaded, filtered, quarantined, None, digest,
            mtime_ns,
        )  # fmt: skip
        ledger.write_ledger(con, outcome, now)
        con.execute("COMMIT")
    except Exception as exc:  # roll back the file, record why, carry on with the next one
        con.execute("ROLLBACK")
        error = f"{file_path}: load failed: {first_lines(exc)}; {retry_hint(source)}"
        return ledger.record(
            con, rejected(source, file_path, sha, size, error, digest, mtime_ns), now
        )
    finally:
        staging.drop_staging(con)

    assert loaded + filtered + quarantined == staged.records
    log.info(
        "%s: %s loaded, %s filtered, %s quarantined of %s records in %.1fs%s",
        path.name,
        loaded,
        filtered,
        quarantined,
        staged.records,
        time.monotonic() - started,
        f" (filtered: {staged.filter_summary})" if staged.filter_summary else "",
    )
    return outcome
