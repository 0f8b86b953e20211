"""Exactly-once loading: the file ledger, quarantine and keyed upserts into `events.<source>`.

Each landed file is judged once per content hash (sha256):
- same path and same bytes as before: already judged, nothing happens (re-runs change nothing);
- same bytes as a file loaded before under another name: a `duplicate` ledger row, nothing loaded;
- otherwise it is read, validated and upserted in ONE transaction together with its `loaded` ledger
  row; a file that cannot be read at all (or lacks a required column, or is too large) gets a
  `rejected` ledger row with the reason, and the run goes on with the next file.
Every record of a loaded file is exactly one of: loaded (an event), filtered (excluded on purpose,
or an older version of a key superseded by a newer one), or quarantined (with its reason).
Landed files are only ever read: never modified, moved or deleted.

Staging happens outside the transaction (a DuckDB error inside a transaction aborts it): the file is
parsed and validated into a temporary table first, then one transaction applies it.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from metrics.schemas import SOURCES, SourceSchema
from metrics.sources import SourcesConfig
from pipelines.ingestion.adapters import (
    HEADER_ROW,
    NOT_RECORDS,
    REPORT_FOOTER,
    FileRejected,
    Params,
    ReadOptions,
    ident,
    plan_file,
)
from pipelines.ingestion.rules import RuleOptions, columns, stage_sql

Log = Callable[[str], None]

#: Files at least this large get step-by-step progress lines in the log.
BIG_FILE_BYTES = 50 * 1024 * 1024

#: Names that are never loadable: editors' lock files, partial downloads and hidden files.
_SKIP_PREFIXES = (".", "~$")
_SKIP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")

_STAGE = "__ingest_stage"
_RAW = "__ingest_raw"


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


@dataclass
class InboxScan:
    """A source folder's files: those to load, and those refused with the reason why."""

    files: list[Path]
    refused: list[tuple[Path, str]]


def scan_inbox(inbox_dir: Path) -> InboxScan:
    """The loadable files of one source folder, oldest first (by mtime, then name).

    Hidden files, lock files (`.~lock*`, `~$*`) and partial downloads (`*.part`, `*.tmp`) are
    skipped silently: they are not data yet. Symlinks pointing outside the inbox and names with
    `..` are refused (reported, never read). Sub-folders are not descended into.
    """
    inbox_dir = Path(inbox_dir)
    if not inbox_dir.is_dir():
        return InboxScan([], [])
    root = inbox_dir.resolve()
    files: list[tuple[float, str, Path]] = []
    refused: list[tuple[Path, str]] = []
    for entry in os.scandir(inbox_dir):
        name = entry.name
        if name.startswith(_SKIP_PREFIXES) or name.lower().endswith(_SKIP_SUFFIXES):
            continue
        path = Path(entry.path)
        if ".." in name:
            refused.append((path, f"{path}: refused: file names containing '..' are not loaded"))
            continue
        if entry.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(root):
                refused.append(
                    (path, f"{path}: refused: a symlink to {target}, outside the inbox {root}")
                )
                continue
        if not entry.is_file():
            continue
        files.append((entry.stat().st_mtime, name, path))
    files.sort(key=lambda f: (f[0], f[1]))
    return InboxScan([p for _, _, p in files], sorted(refused))


def landed_files(inbox_dir: Path) -> list[Path]:
    """The loadable files of one source folder, sorted by (mtime, name); see `scan_inbox`."""
    return scan_inbox(inbox_dir).files


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
        outcome = FileOutcome(file_path, source, "", 0, "rejected", 0, 0, 0, reason)
        _write_ledger(con, outcome, _naive_utc(now))
        outcomes.append(outcome)
    return outcomes


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Content hash of a landed file, streamed (a file may be far larger than memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def ingest_files(
    con: duckdb.DuckDBPyConnection,
    source: str,
    files: Sequence[Path],
    sources_config: SourcesConfig,
    *,
    dimensions: Sequence[str],
    now: datetime,
    log: Log | None = None,
) -> list[FileOutcome]:
    """Judge each file once and load what is new; one outcome per file judged in this call.

    Files whose path and content were judged before are skipped without an outcome (a re-run over
    the same inbox changes nothing). `dimensions` are the strategy's readiness dimensions; `now`
    stamps the ledger and quarantine rows.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; the sources are {', '.join(SOURCES)}")
    say = log or (lambda _msg: None)
    stamp = _naive_utc(now)
    con.execute("SET preserve_insertion_order = true")  # the staged rowid is the file position
    outcomes = []
    for path in files:
        outcome = _ingest_one(con, source, Path(path), sources_config, dimensions, stamp, say)
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
    log: Log | None = None,
) -> list[FileOutcome]:
    """Rebuild one source from all its landed files (after a mapping fix); nothing else touched.

    One transaction forgets the source (its events, quarantine and ledger rows); then every file is
    judged again, each in its own transaction. Should the process stop half-way, the files not yet
    reloaded have no ledger row, so the next run loads them: the source heals itself.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; the sources are {', '.join(SOURCES)}")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM events.{ident(source)}")
        con.execute("DELETE FROM ops.quarantine WHERE source = ?", [source])
        con.execute("DELETE FROM ops.file_ledger WHERE source = ?", [source])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    if log:
        log(f"{source}: forgot its events, quarantine and ledger; reloading {len(files)} file(s)")
    return ingest_files(con, source, files, sources_config, dimensions=dimensions, now=now, log=log)


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


# --- one file ------------------------------------------------------------------------------------


def _ingest_one(
    con: duckdb.DuckDBPyConnection,
    source: str,
    path: Path,
    config: SourcesConfig,
    dimensions: Sequence[str],
    now: datetime,
    say: Log,
) -> FileOutcome | None:
    file_path = os.path.abspath(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        outcome = _rejected(source, file_path, "", 0, f"{file_path}: cannot be read: {exc}")
        return _record(con, outcome, now, say)

    limit = config.max_file_mb * 1024 * 1024
    if size > limit:
        seen = con.execute(
            "SELECT 1 FROM ops.file_ledger WHERE source = ? AND file_path = ? AND sha256 = '' "
            "AND size_bytes = ?",
            [source, file_path, size],
        ).fetchone()
        if seen:
            return None
        error = (
            f"{file_path}: {size / 1024 / 1024:.0f} MB is larger than max_file_mb = "
            f"{config.max_file_mb:g} in sources.yaml; not read (split the export or raise the limit)"
        )
        return _record(con, _rejected(source, file_path, "", size, error), now, say)

    big = size >= BIG_FILE_BYTES
    started = time.monotonic()
    schema = SOURCES[source]
    seen_path = con.execute(
        "SELECT 1 FROM ops.file_ledger WHERE source = ? AND file_path = ? LIMIT 1",
        [source, file_path],
    ).fetchone()
    staged: _Staged | None = None
    failure: Exception | None = None
    if seen_path:
        # A path judged before (a re-run over the same inbox): hash first, and read nothing
        # when its content was judged already.
        if big:
            say(f"{path.name}: hashing {size / 1024 / 1024:.0f} MB")
        sha = file_sha256(path)
        judged = con.execute(
            "SELECT status FROM ops.file_ledger WHERE source = ? AND file_path = ? AND sha256 = ?",
            [source, file_path, sha],
        ).fetchone()
        if judged:
            say(f"{path.name}: already judged ({judged[0]}), skipped")
            return None
    else:
        # A path never judged (the common case: a new export): hash it in a thread while DuckDB
        # parses and validates it (hashlib and DuckDB both release the GIL), instead of reading
        # the whole file once more before staging. The outcome is the same as hashing first: a
        # duplicate of a loaded file is still recorded as a duplicate, its staging discarded.
        if big:
            say(f"{path.name}: hashing, reading and validating {size / 1024 / 1024:.0f} MB")
        with ThreadPoolExecutor(max_workers=1) as pool:
            hashing = pool.submit(file_sha256, path)
            try:
                staged = _stage(con, source, path, config, dimensions, now)
            except (FileRejected, duckdb.Error, OSError, UnicodeError) as exc:
                _drop_temp(con)
                failure = exc
            sha = hashing.result()
    earlier = con.execute(
        "SELECT file_path, loaded_at FROM ops.file_ledger "
        "WHERE source = ? AND sha256 = ? AND status = 'loaded' ORDER BY loaded_at LIMIT 1",
        [source, sha],
    ).fetchone()
    if earlier:
        if staged is not None:
            _drop_temp(con)
        outcome = FileOutcome(
            file_path, source, sha, size, "duplicate", 0, 0, 0,
            f"same content as {earlier[0]}, loaded at {earlier[1]:%Y-%m-%d %H:%M} UTC",
        )  # fmt: skip
        return _record(con, outcome, now, say)

    if staged is None and failure is None:
        try:
            if big:
                say(f"{path.name}: reading and validating")
            staged = _stage(con, source, path, config, dimensions, now)
        except (FileRejected, duckdb.Error, OSError, UnicodeError) as exc:
            _drop_temp(con)
            failure = exc
    if failure is not None:
        message = (
            str(failure)
            if isinstance(failure, FileRejected)
            else f"{file_path}: cannot be read: {_first_lines(failure)}"
        )
        return _record(con, _rejected(source, file_path, sha, size, message), now, say)
    assert staged is not None
    for note in staged.notes:
        say(f"{path.name}: {note}")
    if big:
        say(f"{path.name}: {staged.records} records staged; loading")

    try:
        con.execute("BEGIN TRANSACTION")
        loaded, filtered, quarantined = _apply(con, schema, file_path, staged, now)
        outcome = FileOutcome(
            file_path, source, sha, size, "loaded", loaded, filtered, quarantined, None
        )
        _write_ledger(con, outcome, now)
        con.execute("COMMIT")
    except Exception as exc:  # roll back the file, record why, carry on with the next one
        con.execute("ROLLBACK")
        error = f"{file_path}: load failed: {_first_lines(exc)}"
        outcome = _rejected(source, file_path, sha, size, error)
        _record(con, outcome, now, say)
        return outcome
    finally:
        _drop_temp(con)

    assert loaded + filtered + quarantined == staged.records
    seconds = time.monotonic() - started
    say(
        f"{path.name}: {loaded} loaded, {filtered} filtered, {quarantined} quarantined "
        f"of {staged.records} records in {seconds:.1f}s"
        + (f" (filtered: {staged.filter_summary})" if staged.filter_summary else "")
    )
    return outcome


#: An event stamped later than this after the load's time is a clock or export error.
FUTURE_TOLERANCE = timedelta(days=1)


@dataclass
class _Staged:
    records: int
    notes: list[str]
    filter_summary: str
    first_row: int
    has_duplicate_keys: bool
    #: records that break a rule (quarantined; superseding never changes this count)
    invalid: int = -1


def _stage(
    con: duckdb.DuckDBPyConnection,
    source: str,
    path: Path,
    config: SourcesConfig,
    dimensions: Sequence[str],
    now: datetime | None = None,
) -> _Staged:
    """Parse, type and validate the whole file into the temp table `_STAGE` (one SQL pass).

    Retries once with a UTF-8 copy of the file when it is not UTF-8 (an Excel export on Windows
    is Windows-1252, which DuckDB's Latin-1 reader refuses for characters such as € and “ ”), and
    once with short rows padded when a line has fewer fields than the header (DuckDB's fast path
    reads neither).
    """
    cfg = config.source(source)
    schema = SOURCES[source]
    options = ReadOptions()
    opts = RuleOptions(
        scale=tuple(cfg.scale),  # type: ignore[arg-type]
        dimensions=tuple(dimensions),
        unit_aliases=config.unit_aliases,
        future_limit=None if now is None else now + FUTURE_TOLERANCE,
    )
    read_path, scratch = path, None
    created = None
    try:
        for _attempt in range(3):
            params = Params()
            try:
                plan = plan_file(
                    con, source, read_path, cfg, params, raw_table=_RAW, options=options
                )
                select = stage_sql(schema, plan, opts, params)
                created = con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {_STAGE} AS {select}", params.used(select)
                ).fetchone()
                break
            except duckdb.Error as exc:
                text = str(exc).lower()
                if "unicode" in text and scratch is None:
                    scratch = Path(tempfile.mkdtemp(prefix="outcomeloop-"))
                    read_path = _utf8_copy(path, scratch)
                elif ("csv" in text or "sniff" in text) and not options.null_padding:
                    # a line with fewer fields than the header: pad it (slower reader, same result)
                    options = ReadOptions(options.encoding, True)
                else:
                    raise
        else:  # pragma: no cover - the loop either breaks or raises
            raise FileRejected(f"{path}: cannot be read")
    except (FileRejected, duckdb.Error) as exc:
        if scratch is None:
            raise
        # name the landed file, not the UTF-8 copy, in the ledger
        text = str(exc) if isinstance(exc, FileRejected) else _first_lines(exc)
        text = text.replace(str(read_path), str(path))
        prefix = "" if text.startswith(str(path)) else f"{path}: cannot be read: "
        raise FileRejected(prefix + text) from exc
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    notes = list(plan.notes)
    if scratch is not None:
        notes.append("not UTF-8; read as Windows-1252 (cp1252)")

    # Lines that are not records: Qualtrics header rows 2-3, a Salesforce report's footer.
    if plan.header_records:
        con.execute(
            f"UPDATE {_STAGE} SET __filter = ? WHERE rowid < ?", [HEADER_ROW, plan.header_records]
        )
    if plan.footer:
        con.execute(
            f"UPDATE {_STAGE} SET __filter = ? WHERE rowid >= "
            f"(SELECT min(rowid) FROM {_STAGE} WHERE __footer)",
            [REPORT_FOOTER],
        )

    key = ", ".join(ident(k) for k in schema.key)
    if plan.header_records or plan.footer or plan.filters:
        row = con.execute(
            f"""
            SELECT count(*) FILTER (WHERE __filter IS NULL OR __filter NOT IN (?, ?)),
                   count(*) FILTER (WHERE __filter IS NULL AND __reason IS NULL),
                   count(DISTINCT hash({key})) FILTER (WHERE __filter IS NULL AND __reason IS NULL),
                   count(*) FILTER (WHERE __filter IS NOT NULL AND __filter NOT IN (?, ?))
            FROM {_STAGE}
            """,
            [*NOT_RECORDS, *NOT_RECORDS],
        ).fetchone()
        assert row is not None
        records, ok, distinct_keys, filtered = row
    else:
        # No header rows, footer or filter rules: every staged row is a record, none filtered
        # (`__filter` is NULL throughout), so the CREATE's row count is the record count and one
        # lean aggregate over the valid rows gives the rest.
        assert created is not None
        records, filtered = int(created[0]), 0
        row = con.execute(
            f"SELECT count(*), count(DISTINCT hash({key})) FROM {_STAGE} "
            "WHERE __filter IS NULL AND __reason IS NULL"
        ).fetchone()
        assert row is not None
        ok, distinct_keys = row
    summary = ""
    if filtered:
        groups = con.execute(
            f"SELECT __filter, count(*) FROM {_STAGE} WHERE __filter IS NOT NULL "
            f"AND __filter NOT IN (?, ?) GROUP BY ALL ORDER BY 2 DESC, 1",
            list(NOT_RECORDS),
        ).fetchall()
        summary = "; ".join(f"{reason}: {n}" for reason, n in groups)
    return _Staged(
        records, notes, summary, plan.first_row, distinct_keys < ok, records - ok - filtered
    )


def _apply(
    con: duckdb.DuckDBPyConnection,
    schema: SourceSchema,
    file_path: str,
    staged: _Staged,
    now: datetime,
) -> tuple[int, int, int]:
    """Upsert the staged file by the source's key and quarantine its bad records.

    Within the file the last record of a key wins (for nps/ces: the latest `updated_at`, then the
    last record); across files a record replaces the loaded one with its key, except that a
    version with an older `updated_at` never replaces a newer one. Replaced versions in this file
    count as filtered. Runs inside the caller's transaction.
    """
    table = f"events.{ident(schema.name)}"
    key = [ident(k) for k in schema.key]
    versioned = any(c.name == "updated_at" for c in columns(schema))
    ok = "__filter IS NULL AND __reason IS NULL"
    order = "updated_at DESC NULLS LAST, rowid DESC" if versioned else "rowid DESC"
    if staged.has_duplicate_keys:
        con.execute(
            f"""
            UPDATE {_STAGE} SET __filter = 'superseded by a later record with the same key'
            WHERE rowid IN (
                SELECT rowid FROM (
                    SELECT rowid, row_number() OVER (PARTITION BY {", ".join(key)} ORDER BY {order})
                        AS version
                    FROM {_STAGE} WHERE {ok}
                ) WHERE version > 1
            )"""
        )
    match = " AND ".join(f"e.{k} IS NOT DISTINCT FROM s.{k}" for k in key)
    has_events = con.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None
    if has_events:
        if versioned:
            con.execute(
                f"""
                UPDATE {_STAGE} AS s SET __filter = 'a newer version (updated_at) is already loaded'
                FROM {table} AS e
                WHERE s.__filter IS NULL AND s.__reason IS NULL AND {match}
                  AND e.updated_at IS NOT NULL
                  AND (s.updated_at IS NULL OR s.updated_at < e.updated_at)"""
            )
        con.execute(
            f"DELETE FROM {table} AS e USING {_STAGE} AS s "
            f"WHERE s.__filter IS NULL AND s.__reason IS NULL AND {match}"
        )
    cols = [ident(c.name) for c in columns(schema)]
    inserted = con.execute(
        f"INSERT INTO {table} ({', '.join(cols)}, file_path, row_number) "
        f"SELECT {', '.join(cols)}, ?, rowid + ? FROM {_STAGE} WHERE {ok}",
        [file_path, staged.first_row],
    ).fetchone()
    bad = 0
    if staged.invalid != 0:  # most files have no bad record: skip the statement
        quarantined = con.execute(
            "INSERT INTO ops.quarantine (source, file_path, row_number, record, reason, "
            f"quarantined_at) SELECT ?, ?, rowid + ?, __record, __reason, ? FROM {_STAGE} "
            "WHERE __filter IS NULL AND __reason IS NOT NULL",
            [schema.name, file_path, staged.first_row, now],
        ).fetchone()
        bad = int(quarantined[0]) if quarantined else 0
    loaded = int(inserted[0]) if inserted else 0
    return loaded, staged.records - loaded - bad, bad


# --- ledger ---------------------------------------------------------------------------------------


def _rejected(source: str, file_path: str, sha: str, size: int, error: str) -> FileOutcome:
    return FileOutcome(file_path, source, sha, size, "rejected", 0, 0, 0, error)


def _record(
    con: duckdb.DuckDBPyConnection, outcome: FileOutcome, now: datetime, say: Log
) -> FileOutcome:
    """Write a ledger row for a file that loads nothing (rejected or duplicate), in its own
    transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        _write_ledger(con, outcome, now)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    say(f"{Path(outcome.file_path).name}: {outcome.status}: {outcome.error}")
    return outcome


def _write_ledger(con: duckdb.DuckDBPyConnection, o: FileOutcome, now: datetime) -> None:
    con.execute(
        "INSERT INTO ops.file_ledger (file_path, source, sha256, size_bytes, rows_loaded, "
        "rows_filtered, rows_quarantined, status, error, loaded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            o.file_path, o.source, o.sha256, o.size_bytes, o.rows_loaded, o.rows_filtered,
            o.rows_quarantined, o.status, o.error, now,
        ],
    )  # fmt: skip


def _first_lines(exc: BaseException, n: int = 3, width: int = 300) -> str:
    """DuckDB's reader errors run to 20 lines of settings; the first few say what and where.

    Each line is cut to `width` characters: DuckDB quotes the offending line, which may be a
    megabyte long, and the ledger's error column is shown on the dashboard.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " / ".join(
        line if len(line) <= width else f"{line[:width]}... ({len(line)} characters)"
        for line in lines[:n]
    )


def _latin1_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    """The five bytes Windows-1252 leaves undefined keep their Latin-1 meaning: nothing is lost."""
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("outcomeloop-latin1", _latin1_fallback)


def _utf8_copy(path: Path, folder: Path) -> Path:
    """A UTF-8 copy of a Windows-1252 (or Latin-1) export in `folder`, streamed."""
    target = folder / path.name
    with (
        open(path, encoding="cp1252", errors="outcomeloop-latin1", newline="") as src,
        open(target, "w", encoding="utf-8", newline="") as dst,
    ):
        shutil.copyfileobj(src, dst, 1 << 20)
    return target


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP TABLE IF EXISTS {_STAGE}; DROP TABLE IF EXISTS {_RAW}")


def _naive_utc(now: datetime) -> datetime:
    """Ledger and quarantine times are UTC without a zone, like every timestamp in the warehouse."""
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return now
