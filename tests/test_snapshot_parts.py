"""The snapshot's Parquet parts: only changed periods are written, readers see a plain table, and
a part outlives the last snapshot naming it by the grace period, no longer."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import duckdb

from pipelines.snapshot_parts import (
    MANIFEST,
    RETIRED_GRACE_SECONDS,
    PartitionedTable,
    publish_partitioned,
    read_manifest,
    retire_unreferenced,
)

TABLE = PartitionedTable("marts.t", "SELECT * FROM src", "CAST(period AS VARCHAR)")


def _publish(con, folder: Path, snapshot: Path, changed) -> tuple[dict, int]:
    previous = read_manifest(folder).get(TABLE.name, {})
    con.execute(f"ATTACH '{snapshot}' AS snap")
    try:
        con.execute("CREATE SCHEMA snap.marts")
        files, written = publish_partitioned(con, TABLE, folder, "snap.marts.t", previous, changed)
    finally:
        con.execute("DETACH snap")
    retire_unreferenced(folder, {TABLE.name: files})
    return files, written


def _read(snapshot: Path) -> list[tuple]:
    """As the dashboard reads: a fresh in-memory connection, the snapshot attached read-only."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH '{snapshot}' AS snap (READ_ONLY)")
        return con.execute("SELECT * FROM snap.marts.t ORDER BY ALL").fetchall()
    finally:
        con.close()


def test_only_changed_periods_are_written_and_readers_see_the_rows(tmp_path, monkeypatch):
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE src (period DATE, x INTEGER)")
    con.execute("INSERT INTO src VALUES ('2025-01-01', 1), ('2025-02-01', 2), ('2025-03-01', 3)")
    folder = tmp_path / "parts"
    first, written = _publish(con, folder, tmp_path / "s1.duckdb", changed=None)
    assert written == 3 and sorted(first) == ["2025-01-01", "2025-02-01", "2025-03-01"]

    con.execute("UPDATE src SET x = 20 WHERE period = '2025-02-01'")
    con.execute("INSERT INTO src VALUES ('2025-04-01', 4)")
    monkeypatch.chdir(tmp_path.parent)  # the view's paths do not depend on the reader's folder
    second, written = _publish(
        con, folder, tmp_path / "s2.duckdb", changed={"2025-02-01", "2025-04-01"}
    )
    assert written == 2
    assert second["2025-01-01"] == first["2025-01-01"]  # untouched periods: the same file
    assert second["2025-02-01"] != first["2025-02-01"]
    assert _read(tmp_path / "s2.duckdb") == [
        (d, x) for d, x in con.execute("SELECT * FROM src ORDER BY ALL").fetchall()
    ]
    # a period emptied by a restatement is no longer named
    con.execute("DELETE FROM src WHERE period = '2025-04-01'")
    third, _ = _publish(con, folder, tmp_path / "s3.duckdb", changed={"2025-04-01"})
    assert sorted(third) == ["2025-01-01", "2025-02-01", "2025-03-01"]
    assert len(_read(tmp_path / "s3.duckdb")) == 3


def test_a_retired_part_stays_for_the_grace_period_then_goes(tmp_path):
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE src (period DATE, x INTEGER)")
    con.execute("INSERT INTO src VALUES ('2025-01-01', 1)")
    folder = tmp_path / "parts"
    first, _ = _publish(con, folder, tmp_path / "s1.duckdb", changed=None)
    old = Path(first["2025-01-01"])
    os.utime(old, (time.time() - 10 * RETIRED_GRACE_SECONDS,) * 2)  # written long ago
    con.execute("UPDATE src SET x = 2")
    _publish(con, folder, tmp_path / "s2.duckdb", changed={"2025-01-01"})
    assert old.exists()  # s1 may still be read: its part starts its grace period now
    assert _read(tmp_path / "s1.duckdb") == [(date(2025, 1, 1), 1)]  # still readable
    new = read_manifest(folder)[TABLE.name]["2025-01-01"]
    retire_unreferenced(folder, read_manifest(folder), now=time.time() + 60)
    assert old.exists()
    retire_unreferenced(folder, read_manifest(folder), now=time.time() + RETIRED_GRACE_SECONDS + 60)
    assert not old.exists() and Path(new).exists()
    assert (folder / MANIFEST).exists()


def test_a_copied_home_writes_its_own_parts(tmp_path):
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE src (period DATE, x INTEGER)")
    con.execute("INSERT INTO src VALUES ('2025-01-01', 1)")
    original = tmp_path / "a" / "parts"
    files, _ = _publish(con, original, tmp_path / "a.duckdb", changed=None)
    copy = tmp_path / "b" / "parts"
    copy.mkdir(parents=True)
    (copy / MANIFEST).write_text((original / MANIFEST).read_text())  # as `cp -r` leaves it
    copied, written = _publish(con, copy, tmp_path / "b.duckdb", changed=set())
    assert written == 1 and Path(copied["2025-01-01"]).parent == (copy / TABLE.name).resolve()
    assert Path(files["2025-01-01"]).exists()  # the original's part is left alone
