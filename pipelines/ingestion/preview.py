"""What `outcomeloop check` says about landed files before a run judges them: a dry run.

Each file not judged yet is staged exactly as a run would stage it (same adapter, same rules),
on a throw-away in-memory DuckDB connection: the warehouse is not opened and nothing is written.
The preview tells which field feeds each canonical column and how many rows would load, be
filtered or be quarantined (with the most common reasons), or why the file would be rejected.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from metrics.sources import SourcesConfig
from metrics.store.warehouse import configure
from pipelines.ingestion.loader import UNREADABLE, rejection_message, too_large
from pipelines.ingestion.staging import STAGE, stage_file

#: How many quarantine reasons a preview names per file.
REASONS_SHOWN = 3


@dataclass
class Preview:
    """What a run would make of one landed file."""

    source: str
    path: Path
    records: int = 0
    load: int = 0
    filtered: int = 0
    quarantined: int = 0
    #: canonical column -> the file's field (or a constant of sources.yaml)
    columns: dict[str, str] = field(default_factory=dict)
    filter_summary: str = ""
    #: the most common quarantine reasons, with their counts
    reasons: list[tuple[str, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: why the whole file would be rejected (None: it would load)
    rejected: str | None = None

    def lines(self) -> list[str]:
        """The preview as a few lines for the terminal."""
        head = f"{self.source}/{self.path.name}"
        if self.rejected is not None:
            return [f"{head}: would be REJECTED: {self.rejected}"]
        out = [
            f"{head}: {self.records:,} record(s): {self.load:,} would load, "
            f"{self.filtered:,} be filtered, {self.quarantined:,} be quarantined"
        ]
        mapped = ", ".join(f"{col} <- {src}" for col, src in self.columns.items())
        out.append(f"    columns: {mapped}")
        if self.filter_summary:
            out.append(f"    filtered: {self.filter_summary}")
        out += [f"    quarantined ({n:,}): {reason}" for reason, n in self.reasons]
        out += [f"    note: {note}" for note in self.notes]
        return out


def unjudged(files: Iterable[Path], judged_paths: set[str]) -> list[Path]:
    """The landed files whose path the ledger does not know yet."""
    return [p for p in files if os.path.abspath(p) not in judged_paths]


def preview_file(
    source: str,
    path: Path,
    config: SourcesConfig,
    *,
    dimensions: Sequence[str],
    now: datetime | None = None,
) -> Preview:
    """Stage `path` as a run would, on an in-memory connection, and count what would happen."""
    preview = Preview(source, Path(path))
    file_path = os.path.abspath(path)
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        preview.rejected = f"cannot be read: {exc}"
        return preview
    if (error := too_large(file_path, size, config)) is not None:
        preview.rejected = error
        return preview
    con = duckdb.connect(":memory:")
    try:
        configure(con)
        con.execute("SET preserve_insertion_order = true")
        try:
            staged = stage_file(con, source, Path(path), config, dimensions, now)
        except UNREADABLE as exc:
            preview.rejected = rejection_message(exc, file_path, source)
            return preview
        filtered = staged.records - staged.invalid - _valid(con)
        preview.records, preview.filtered = staged.records, filtered
        preview.quarantined = staged.invalid
        preview.load = staged.records - filtered - staged.invalid
        preview.columns, preview.filter_summary = staged.columns, staged.filter_summary
        preview.notes = staged.notes
        preview.reasons = [
            (str(reason), int(n))
            for reason, n in con.execute(
                f"SELECT __reason, count(*) FROM {STAGE} WHERE __filter IS NULL "
                f"AND __reason IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {REASONS_SHOWN}"
            ).fetchall()
        ]
    finally:
        con.close()
    return preview


def _valid(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(
        f"SELECT count(*) FROM {STAGE} WHERE __filter IS NULL AND __reason IS NULL"
    ).fetchone()
    assert row is not None
    return int(row[0])


def changed_mappings(ledger_rows: Iterable[Mapping], config: SourcesConfig) -> dict[str, list[str]]:
    """Per source, the files judged under a mapping other than today's (from ledger rows with
    source, file_path, status and mapping_digest); rows judged before digests were kept, and
    duplicates, which were never read, are left out."""
    changed: dict[str, list[str]] = {}
    digests: dict[str, str] = {}
    for row in ledger_rows:
        source, digest = row["source"], row.get("mapping_digest")
        if not digest or row["status"] not in ("loaded", "rejected"):
            continue
        if source not in digests:
            digests[source] = config.mapping_digest(source)
        if digest != digests[source]:
            changed.setdefault(source, []).append(row["file_path"])
    return changed
