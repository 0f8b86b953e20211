"""Spark computes the same marts as DuckDB, and the events lake it reads is exact.

The lake tests run everywhere (DuckDB writes and reads the Parquet). The `spark` tests need pyspark
and Java 17+; they skip with the reason when either is missing.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from metrics.config import settings
from metrics.store import warehouse
from pipelines.lake import FINGERPRINT_FILE, export_source_to_lake, sync_lake
from pipelines.marts.registry import MART_NAMES

#: The day after the demo data below ends.
DEMO_RUN_TIME = datetime(2026, 7, 1, 12, 0, 0)


def _warehouse_with(rows: dict[str, list[dict]]) -> duckdb.DuckDBPyConnection:
    con = warehouse.connect(":memory:")
    warehouse.ensure_schema(con)
    for source, records in rows.items():
        for record in records:
            names = ", ".join(f'"{k}"' for k in record)
            marks = ", ".join("?" for _ in record)
            con.execute(
                f'INSERT INTO events."{source}" ({names}) VALUES ({marks})', list(record.values())
            )
    return con


REVENUE = [
    {"period": date(2026, 3, 15), "unit": "Sales", "amount": 1200.5, "file_path": "r.csv"},
    {"period": date(2026, 4, 1), "unit": "Sales", "amount": 900.0, "file_path": "r.csv"},
]
NPS = [
    {
        "response_id": "r1",
        "responded_at": datetime(2026, 3, 31, 23, 30),
        "unit": "Sales",
        "score": 9,
        "file_path": "n.csv",
        "row_number": 4,
    }
]


# --- the lake (DuckDB only) ----------------------------------------------------------------------


def test_export_partitions_by_month_and_keeps_a_sources_own_period(tmp_path):
    con = _warehouse_with({"revenue": REVENUE, "nps": NPS})
    try:
        export = export_source_to_lake(con, "revenue", tmp_path)
        assert export.written and export.rows == 2
        folder = tmp_path / "events" / "revenue"
        assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == [
            "period=2026-03",
            "period=2026-04",
        ]
        back = con.execute(
            f"SELECT period_date, unit, amount, period FROM read_parquet('{folder}/*/*.parquet', "
            "hive_partitioning = true) ORDER BY period_date"
        ).fetchall()
        # The revenue month's own date survives; `period` is only the folder's month.
        assert back == [
            (date(2026, 3, 15), "Sales", 1200.5, "2026-03"),
            (date(2026, 4, 1), "Sales", 900.0, "2026-04"),
        ]
        # A timestamp is partitioned by its stored (UTC) month: 31 March 23:30 UTC stays March.
        export_source_to_lake(con, "nps", tmp_path)
        assert [p.name for p in (tmp_path / "events" / "nps").iterdir() if p.is_dir()] == [
            "period=2026-03"
        ]
    finally:
        con.close()


def test_export_is_skipped_when_unchanged_and_replaces_the_folder_when_rows_change(tmp_path):
    con = _warehouse_with({"revenue": REVENUE})
    try:
        assert export_source_to_lake(con, "revenue", tmp_path).written
        assert not export_source_to_lake(con, "revenue", tmp_path).written
        # A restated month (same key, new amount) rewrites the folder whole.
        con.execute("UPDATE events.revenue SET amount = 1000 WHERE period = DATE '2026-04-01'")
        assert export_source_to_lake(con, "revenue", tmp_path).written
        folder = tmp_path / "events" / "revenue"
        amounts = con.execute(
            f"SELECT amount FROM read_parquet('{folder}/*/*.parquet') ORDER BY amount"
        ).fetchall()
        assert amounts == [(1000.0,), (1200.5,)]
        # No staging or retired folders are left beside it.
        assert sorted(p.name for p in folder.parent.iterdir()) == ["revenue"]
        assert (folder / FINGERPRINT_FILE).is_file()
        # Emptied (e.g. reloaded from nothing): the folder goes, the source has no data.
        con.execute("DELETE FROM events.revenue")
        export = export_source_to_lake(con, "revenue", tmp_path)
        assert export.written and export.rows == 0
        assert not folder.exists()
    finally:
        con.close()


def test_sync_lake_exports_only_sources_with_rows(tmp_path):
    con = _warehouse_with({"revenue": REVENUE, "nps": NPS})
    try:
        exports = {e.source: e for e in sync_lake(con, tmp_path)}
        assert exports["revenue"].rows == 2 and exports["nps"].rows == 1
        assert exports["ces"].rows == 0
        assert sorted(p.name for p in (tmp_path / "events").iterdir()) == ["nps", "revenue"]
    finally:
        con.close()


def test_unknown_source_is_refused(tmp_path):
    con = _warehouse_with({})
    try:
        with pytest.raises(KeyError, match="unknown source 'surveys'"):
            export_source_to_lake(con, "surveys", tmp_path)
    finally:
        con.close()


# --- Spark ---------------------------------------------------------------------------------------


def _java_works() -> bool:
    java = shutil.which("java")
    if java is None:
        return False
    return subprocess.run([java, "-version"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def spark():
    """One local Spark session for the module: 2 cores, few shuffle partitions."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install '.[spark]')")
    if not _java_works():
        pytest.skip("no working `java` on the PATH: a local Spark session needs Java 17 or 21")
    from metrics.store.spark import spark_session

    cfg = settings({"OUTCOMELOOP_SPARK_MASTER": "local[2]"})
    session = spark_session(cfg, {"spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


@pytest.mark.spark
def test_spark_event_tables_read_the_lake_with_the_warehouse_types(spark, tmp_path):
    from metrics.engine import source_schema
    from metrics.store.spark import spark_event_tables

    con = _warehouse_with({"revenue": REVENUE, "nps": NPS})
    try:
        sync_lake(con, tmp_path)
    finally:
        con.close()
    tables = spark_event_tables(spark, tmp_path)
    assert sorted(tables) == ["nps", "revenue"]  # sources without data are absent
    assert tables["revenue"].schema() == source_schema("revenue")
    assert tables["nps"].schema() == source_schema("nps")
    revenue = sorted(tables["revenue"].to_pyarrow().to_pylist(), key=lambda r: r["period"])
    assert [(r["period"], r["amount"]) for r in revenue] == [
        (date(2026, 3, 15), 1200.5),
        (date(2026, 4, 1), 900.0),
    ]
    (nps,) = tables["nps"].to_pyarrow().to_pylist()
    assert nps["responded_at"] == datetime(2026, 3, 31, 23, 30)  # no time zone shift
    assert nps["score"] == 9 and nps["row_number"] == 4


def _sort_key(row: dict) -> tuple:
    """Order rows by their non-float values (floats may differ in the last bits)."""
    key = []
    for name in sorted(row):
        value = row[name]
        if isinstance(value, float):
            continue
        if isinstance(value, list):
            value = tuple(value)
        key.append((value is None, "" if value is None else str(value)))
    return tuple(key)


def _assert_same_rows(name: str, duck: list[dict], spark: list[dict]) -> None:
    assert len(duck) == len(spark), f"marts.{name}: {len(duck)} rows on DuckDB, {len(spark)}"
    for d, s in zip(sorted(duck, key=_sort_key), sorted(spark, key=_sort_key), strict=True):
        assert d.keys() == s.keys(), f"marts.{name}: columns differ"
        for column, dv in d.items():
            sv = s[column]
            if isinstance(dv, float) and isinstance(sv, float):
                assert math.isclose(dv, sv, rel_tol=1e-9, abs_tol=1e-9), (
                    f"marts.{name}.{column}: {dv} (DuckDB) != {sv} (Spark) in {d}"
                )
            else:
                assert dv == sv, f"marts.{name}.{column}: {dv!r} (DuckDB) != {sv!r} (Spark) in {d}"


def _marts(snapshot: Path) -> dict[str, tuple[list, list[dict]]]:
    """Each mart of a published snapshot: its column types and its rows."""
    out = {}
    for name in MART_NAMES:
        types = warehouse.query_snapshot(
            snapshot,
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = 'marts' AND table_name = '{name}' ORDER BY ordinal_position",
        ).to_pylist()
        rows = warehouse.query_snapshot(snapshot, f"SELECT * FROM marts.{name}").to_pylist()
        out[name] = (types, rows)
    return out


def _run(home: Path, compute: str, monkeypatch) -> tuple[float, object]:
    from pipelines.cli import materialize_all

    monkeypatch.setenv("OUTCOMELOOP_HOME", str(home))
    monkeypatch.setenv("OUTCOMELOOP_COMPUTE", compute)
    monkeypatch.setenv("OUTCOMELOOP_SPARK_MASTER", "local[2]")
    started = time.monotonic()
    result = materialize_all(settings())
    return time.monotonic() - started, result


@pytest.mark.spark
@pytest.mark.parametrize("clock", [DEMO_RUN_TIME], ids=["2026-07-01"], indirect=True)
def test_every_mart_on_spark_equals_duckdb_on_the_demo_data(spark, tmp_path, monkeypatch, clock):
    from pipelines import demo

    duck_home, spark_home = tmp_path / "duckdb", tmp_path / "spark"
    demo.generate(duck_home, months=6, scale=0.05, until=date(2026, 6, 30))
    shutil.copytree(duck_home, spark_home)

    _, duck_result = _run(duck_home, "duckdb", monkeypatch)
    assert duck_result.success
    _, spark_result = _run(spark_home, "spark", monkeypatch)
    assert spark_result.success

    # Ingestion landed every source in the lake, partitioned by month.
    lake = spark_home / "lake" / "events"
    assert sorted(p.name for p in lake.iterdir()) == sorted(
        [
            "nps",
            "ces",
            "employee_pulse",
            "upsell",
            "revenue",
            "cost",
            "readiness",
            "feedback_actions",
        ]
    )
    assert (lake / "nps" / "period=2026-01").is_dir()
    assert not (duck_home / "lake").exists()  # the DuckDB run writes no lake

    duck = _marts(duck_home / "serving" / "current.duckdb")
    on_spark = _marts(spark_home / "serving" / "current.duckdb")
    for name in MART_NAMES:
        duck_types, duck_rows = duck[name]
        spark_types, spark_rows = on_spark[name]
        assert duck_types == spark_types, f"marts.{name}: column types differ"
        assert duck_rows, f"marts.{name} is empty: the comparison would prove nothing"
        _assert_same_rows(name, duck_rows, spark_rows)

    # The comparison covers real content: every measure, every item status, open and shut gates.
    measures = {r["measure"] for r in duck["measure_values"][1] if r["unit"] == "all"}
    assert {"nps", "ces", "enps", "employee_health", "revenue", "cost_to_serve"} <= measures
    statuses = {r["status"] for r in duck["feedback_items"][1]}
    assert {"acted", "held_not_ready"} <= statuses
    assert {r["ready"] for r in duck["readiness_gates"][1]} == {True, False}
