"""Staging one file: parse, type and validate all of it into a temporary table, writing nothing.

Staging happens outside the load transaction (a DuckDB error inside a transaction aborts it): the
file is read with its adapter's plan and judged by the rules in one SQL pass into `STAGE`, and
counted, so that `upsert` can apply it in one short transaction afterwards.
"""

from __future__ import annotations

import codecs
import contextlib
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from metrics.schemas import SOURCES, SourceSchema
from metrics.sources import SourceConfig, SourcesConfig
from metrics.store.sql import identifier
from pipelines.ingestion.adapters import FileRejected, Params, Plan, ReadOptions, plan_file
from pipelines.ingestion.adapters.plan import HEADER_ROW, NOT_RECORDS, REPORT_FOOTER
from pipelines.ingestion.ledger import first_lines
from pipelines.ingestion.rules import RuleOptions, stage_sql

#: The temporary table one file is staged in, and the one a JSON file's objects are read into.
STAGE = "__ingest_stage"
RAW = "__ingest_raw"

#: An event stamped later than this after the load's time is a clock or export error.
FUTURE_TOLERANCE = timedelta(days=1)


@dataclass
class Staged:
    """A file staged in `STAGE`: how many records it holds, and what the log should say."""

    records: int
    notes: list[str]
    filter_summary: str
    first_row: int
    has_duplicate_keys: bool
    #: records that break a rule (quarantined; superseding never changes this count)
    invalid: int = -1
    #: canonical column -> where the file has it (its field, or a constant of sources.yaml)
    columns: dict[str, str] = field(default_factory=dict)


def drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Forget whatever a file left staged (after it was applied, or when it failed)."""
    con.execute(f"DROP TABLE IF EXISTS {STAGE}; DROP TABLE IF EXISTS {RAW}")


def stage_file(
    con: duckdb.DuckDBPyConnection,
    source: str,
    path: Path,
    config: SourcesConfig,
    dimensions: Sequence[str],
    now: datetime | None = None,
) -> Staged:
    """Parse, type and validate the whole file into the temp table `STAGE` (one SQL pass).

    `now` is the load's time: events stamped more than `FUTURE_TOLERANCE` after it are
    quarantined. Raises FileRejected (or a reader error) when the file cannot be read at all.
    """
    schema = SOURCES[source]
    cfg = config.source(source)
    opts = RuleOptions(
        scale=tuple(cfg.scale),  # type: ignore[arg-type]
        dimensions=tuple(dimensions),
        unit_aliases=config.unit_aliases,
        future_limit=None if now is None else now + FUTURE_TOLERANCE,
    )
    plan, created, converted = _create_stage(con, source, schema, path, cfg, opts)
    notes = list(plan.notes)
    if converted:
        notes.append("not UTF-8; read as Windows-1252 (cp1252)")

    # Lines that are not records: Qualtrics header rows 2-3, a Salesforce report's footer.
    if plan.header_records:
        con.execute(
            f"UPDATE {STAGE} SET __filter = ? WHERE rowid < ?", [HEADER_ROW, plan.header_records]
        )
    if plan.footer:
        con.execute(
            f"UPDATE {STAGE} SET __filter = ? WHERE rowid >= "
            f"(SELECT min(rowid) FROM {STAGE} WHERE __footer)",
            [REPORT_FOOTER],
        )

    key = ", ".join(identifier(k) for k in schema.key)
    if plan.header_records or plan.footer or plan.filters:
        row = con.execute(
            f"""
            SELECT count(*) FILTER (WHERE __filter IS NULL OR __filter NOT IN (?, ?)),
                   count(*) FILTER (WHERE __filter IS NULL AND __reason IS NULL),
                   count(DISTINCT hash({key})) FILTER (WHERE __filter IS NULL AND __reason IS NULL),
                   count(*) FILTER (WHERE __filter IS NOT NULL AND __filter NOT IN (?, ?))
            FROM {STAGE}
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
            f"SELECT count(*), count(DISTINCT hash({key})) FROM {STAGE} "
            "WHERE __filter IS NULL AND __reason IS NULL"
        ).fetchone()
        assert row is not None
        ok, distinct_keys = row
    summary = ""
    if filtered:
        groups = con.execute(
            f"SELECT __filter, count(*) FROM {STAGE} WHERE __filter IS NOT NULL "
            f"AND __filter NOT IN (?, ?) GROUP BY ALL ORDER BY 2 DESC, 1",
            list(NOT_RECORDS),
        ).fetchall()
        summary = "; ".join(f"{reason}: {n}" for reason, n in groups)
    return Staged(
        records,
        notes,
        summary,
        plan.first_row,
        distinct_keys < ok,
        records - ok - filtered,
        dict(plan.field_names),
    )


def _create_stage(
    con: duckdb.DuckDBPyConnection,
    source: str,
    schema: SourceSchema,
    path: Path,
    cfg: SourceConfig,
    opts: RuleOptions,
) -> tuple[Plan, tuple | None, bool]:
    """Run the staging SELECT: (the plan, the CREATE's result row, whether the file was converted).

    Retries once with a UTF-8 copy of the file when it is not UTF-8 (an Excel export on Windows
    is Windows-1252, which DuckDB's Latin-1 reader refuses for characters such as € and “ ”), and
    once with short rows padded when a line has fewer fields than the header (DuckDB's fast path
    reads neither). Messages name the landed file, never the copy.
    """
    options = ReadOptions()
    read_path, converted = path, False
    with contextlib.ExitStack() as scratch:
        try:
            for _attempt in range(3):
                params = Params()
                try:
                    plan = plan_file(
                        con, source, read_path, cfg, params, raw_table=RAW, options=options
                    )
                    select = stage_sql(schema, plan, opts, params)
                    created = con.execute(
                        f"CREATE OR REPLACE TEMP TABLE {STAGE} AS {select}", params.used(select)
                    ).fetchone()
                    return plan, created, converted
                except duckdb.Error as exc:
                    text = str(exc).lower()
                    if "unicode" in text and not converted:
                        folder = scratch.enter_context(
                            tempfile.TemporaryDirectory(
                                prefix="outcomeloop-", ignore_cleanup_errors=True
                            )
                        )
                        read_path, converted = _utf8_copy(path, Path(folder)), True
                    elif ("csv" in text or "sniff" in text) and not options.null_padding:
                        # a line with fewer fields than the header: pad it (slower, same result)
                        options = ReadOptions(options.encoding, True)
                    else:
                        raise
            raise FileRejected(f"{path}: cannot be read")  # pragma: no cover - never exhausted
        except (FileRejected, duckdb.Error) as exc:
            if not converted:
                raise
            text = str(exc) if isinstance(exc, FileRejected) else first_lines(exc)
            text = text.replace(str(read_path), str(path))
            prefix = "" if text.startswith(str(path)) else f"{path}: cannot be read: "
            raise FileRejected(prefix + text) from exc


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
