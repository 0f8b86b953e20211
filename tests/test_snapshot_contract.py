"""The snapshot the dashboard tests build by hand has exactly the shape the pipeline publishes.

tests/snapshot_factory.py writes the snapshot that tests/test_dashboard.py and the browser tests
read; `pipelines.publish.publish_snapshot` writes the real one. Were they to drift apart, the
dashboard tests would pass against tables, columns or types the pipeline never writes.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from metrics.config import settings
from pipelines.cli import materialize_all
from pipelines.marts.registry import MART_NAMES
from tests.snapshot_factory import make_snapshot


def _shape(path: Path) -> dict[str, list]:
    """Schemas, and every table's columns in order with their types and nullability."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        schemas = con.execute(
            "SELECT schema_name FROM information_schema.schemata "
            "WHERE catalog_name = current_database() ORDER BY schema_name"
        ).fetchall()
        columns = con.execute(
            "SELECT table_schema, table_name, ordinal_position, column_name, data_type, "
            "is_nullable FROM information_schema.columns "
            "WHERE table_catalog = current_database() "
            "ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    tables: dict[str, list] = {}
    for schema, table, _, column, data_type, nullable in columns:
        tables.setdefault(f"{schema}.{table}", []).append((column, data_type, nullable))
    return {"schemas": [s for (s,) in schemas], **tables}


def test_the_dashboard_tests_snapshot_has_the_published_schema(pipeline_home, tmp_path):
    assert materialize_all(settings()).success
    published = _shape(pipeline_home / "serving" / "current.duckdb")
    make_snapshot(tmp_path / "factory.duckdb")
    hand_made = _shape(tmp_path / "factory.duckdb")

    assert published["schemas"] == ["main", "marts", "ops", "serving"]
    marts = sorted(t.removeprefix("marts.") for t in published if t.startswith("marts."))
    assert marts == sorted(MART_NAMES)  # the run published every mart
    assert sorted(hand_made) == sorted(published)
    for table, columns in published.items():
        assert hand_made[table] == columns, table
