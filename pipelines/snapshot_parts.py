"""The snapshot's large tables as immutable per-period Parquet files, reused from one publish to
the next.

`serving.responses` and `marts.feedback_items` hold millions of rows at scale, and a landing
changes a few periods of them. Each period of such a table is written once, as
`serving/parts/<table>/<period>-<random>.parquet`, and never modified; the snapshot file holds a
view over the files of the current periods. A publish writes new files only for the periods that
changed since the previous publish (pipelines.changes says which) and names the previous files
for the rest, so a landing writes a few small files and one small snapshot file.

The view names the files by absolute path, so every reader (the dashboard's fresh in-memory
connection that ATTACHes the snapshot READ_ONLY, a BI tool opening the file) resolves them the same
way whatever its working directory; the snapshot and its parts move together only as the whole
`$OUTCOMELOOP_HOME`, mounted at the same path (docs/snapshot.md).

A file no longer named is kept for `RETIRED_GRACE_SECONDS` after the snapshot that last named it
was replaced, because a reader may still be querying that snapshot (it keeps the replaced file
open, but opens the parts when it queries); then it is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from metrics.store.files import atomic_write, fsync_dir
from metrics.store.sql import literal

#: How long a part stays on disk after the last snapshot naming it was replaced.
RETIRED_GRACE_SECONDS = 3600

#: The parts the current snapshot names, per table and period (read by the next publish).
MANIFEST = "_published.json"

#: More periods than this to write at once: one partitioned COPY instead of one COPY each.
_ONE_PASS_FROM = 3

Manifest = dict[str, dict[str, str]]  # table -> period -> absolute file path


@dataclass(frozen=True)
class PartitionedTable:
    """A snapshot table published as per-period Parquet files behind a view.

    `select` is the query of its rows over the warehouse (what a plain copy would `CREATE TABLE
    AS`), and `partition` SQL over its columns giving each row's period as text.
    """

    name: str  # schema.table in the snapshot
    select: str
    partition: str
    #: A raw timestamp column and each period's [from, until) range of it: a cheap filter DuckDB
    #: prunes row groups with, so writing a few periods does not bucket every row in the zone.
    near: tuple[str, Callable[[str], tuple[datetime, datetime]]] | None = None

    def near_sql(self, periods: Sequence[str]) -> str:
        if self.near is None or not periods or "none" in periods:
            return "true"
        column, window = self.near
        ranges = [window(p) for p in periods]
        return (
            "("
            + " OR ".join(
                f'("{column}" >= {literal(str(lo))}::TIMESTAMP AND "{column}" < {literal(str(hi))}::TIMESTAMP)'
                for lo, hi in ranges
            )
            + ")"
        )


def read_manifest(folder: Path) -> Manifest:
    """What the current snapshot names (empty when there is no manifest, or it is unreadable:
    then every period is written again)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def publish_partitioned(
    con: duckdb.DuckDBPyConnection,
    table: PartitionedTable,
    folder: Path,
    target: str,
    previous: dict[str, str],
    changed: Collection[str] | None,
    after: str | None = None,
) -> tuple[dict[str, str], int]:
    """Create `target` (e.g. `snap.serving.responses`) as a view over the table's parts.

    A period in `changed` (None: every period), or without a file in `previous`, gets a new file;
    the others reuse the previous one, and only periods later than `after` (text) are named.
    Returns (period -> file, files written).
    """
    part = f"coalesce(CAST(({table.partition}) AS VARCHAR), 'none')"
    con.execute(f"CREATE OR REPLACE TEMP VIEW _publish_rows AS {table.select}")
    try:
        if changed is None or not previous:
            query = f"SELECT DISTINCT {part} FROM _publish_rows"
            periods = {p for (p,) in con.execute(query).fetchall()}
            changed = periods
        else:  # what the previous publish named, and what changed since (maybe emptied now)
            periods = set(previous) | set(changed)
        if after is not None:
            periods = {p for p in periods if p > after}
        part_dir = folder / table.name
        part_dir.mkdir(parents=True, exist_ok=True)
        files: dict[str, str] = {}
        to_write = []
        for period in sorted(periods):
            old = previous.get(period)
            # only this home's own parts: a copied home's manifest names the original's files
            ours = old is not None and Path(old).parent == part_dir.resolve()
            if ours and period not in changed and os.path.exists(old):
                files[period] = old
            else:
                to_write.append(period)
        files.update(_write_parts(con, part, table.near_sql, part_dir, to_write))
        if files:
            listing = ", ".join(literal(files[p]) for p in sorted(files))
            con.execute(f"CREATE VIEW {target} AS SELECT * FROM read_parquet([{listing}])")
        else:  # no rows: an empty table of the same columns
            con.execute(f"CREATE TABLE {target} AS SELECT * FROM _publish_rows LIMIT 0")
    finally:
        con.execute("DROP VIEW IF EXISTS _publish_rows")
    return files, len(to_write)


def _write_parts(
    con: duckdb.DuckDBPyConnection,
    part: str,
    near: Callable[[Sequence[str]], str],
    part_dir: Path,
    periods: list[str],
) -> dict[str, str]:
    """Write each period's rows to a new file, whole or not at all (a hidden temporary name,
    then a rename); period -> absolute path, for the periods that have rows."""
    if not periods:
        return {}
    token = uuid.uuid4().hex[:12]
    staging = part_dir / f".staging-{token}"
    written: dict[str, str] = {}
    try:
        listing = ", ".join(literal(p) for p in periods)
        if len(periods) >= _ONE_PASS_FROM:
            # one scan for all of them: DuckDB writes a folder per period
            con.execute(
                f"COPY (SELECT *, {part} AS __period FROM _publish_rows "
                f"WHERE {near(periods)} AND {part} IN ({listing})) TO {literal(str(staging))} "
                "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (__period))"
            )
            made = {
                p: path
                for p in periods
                for path in sorted((staging / f"__period={p}").glob("*.parquet"))[:1]
            }
        else:
            staging.mkdir()
            made = {}
            for p in periods:
                path = staging / f"{p}.parquet"
                [(rows,)] = con.execute(
                    f"COPY (SELECT * FROM _publish_rows WHERE {near([p])} AND {part} = ?) "
                    f"TO {literal(str(path))} (FORMAT parquet, COMPRESSION zstd)",
                    [p],
                ).fetchall()
                if rows:  # a period emptied by a restatement is no longer named
                    made[p] = path
        for p, path in made.items():
            with open(path, "rb+") as fh:
                os.fsync(fh.fileno())
            final = part_dir / f"{p}-{token}.parquet"
            os.replace(path, final)
            written[p] = str(final.resolve())
        fsync_dir(part_dir)
    except BaseException:
        for path in written.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def retire_unreferenced(folder: Path, manifest: Manifest, now: float | None = None) -> int:
    """After a snapshot naming `manifest`'s files was swapped in: start the grace period of the
    files the previous snapshot named and this one does not, remove files retired (or never
    named) longer ago than the grace period, and write the manifest. Returns files removed."""
    now = time.time() if now is None else now
    previous = {f for parts in read_manifest(folder).values() for f in parts.values()}
    current = {f for parts in manifest.values() for f in parts.values()}
    ours = folder.resolve()
    for name in previous - current:  # retired by this publish: the grace period starts now
        if Path(name).is_relative_to(ours):
            with contextlib.suppress(FileNotFoundError):
                os.utime(name, (now, now))
    removed = 0
    for path in folder.glob("*/*.parquet"):
        name = str(path.resolve())
        if name in current or name in previous:
            continue
        try:
            if path.stat().st_mtime < now - RETIRED_GRACE_SECONDS:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    for staging in folder.glob("*/.staging-*"):  # a publish killed while writing
        with contextlib.suppress(FileNotFoundError):
            if staging.stat().st_mtime < now - RETIRED_GRACE_SECONDS:
                shutil.rmtree(staging, ignore_errors=True)
    atomic_write(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    return removed
