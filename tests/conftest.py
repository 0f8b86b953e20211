"""Shared pytest fixtures. Fixture names are prefixed by the area that owns them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import ibis
import pytest

from metrics.engine import duckdb_event_tables
from metrics.schemas import SOURCES
from metrics.store import warehouse
from metrics.strategy import Strategy


class IbisWarehouse:
    """An in-memory warehouse with the events schema, for testing the Ibis marts on DuckDB."""

    def __init__(self) -> None:
        self.con = warehouse.connect(":memory:")
        warehouse.ensure_schema(self.con)
        self.ib = ibis.duckdb.from_connection(self.con)

    def insert(self, source: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add events to `events.<source>`; omitted columns are NULL (lineage gets defaults)."""
        for i, row in enumerate(rows):
            row = {"file_path": f"{source}.csv", "row_number": i + 2, **row}
            unknown = set(row) - {c.name for c in SOURCES[source].table_columns}
            assert not unknown, f"events.{source} has no column(s) {sorted(unknown)}"
            names = ", ".join(f'"{name}"' for name in row)
            marks = ", ".join("?" for _ in row)
            self.con.execute(
                f'INSERT INTO events."{source}" ({names}) VALUES ({marks})', list(row.values())
            )

    def events(self) -> dict[str, ibis.Table]:
        return duckdb_event_tables(self.ib)

    def rows(self, expr: ibis.Table, *order_by: str) -> list[dict[str, Any]]:
        """Run the expression on DuckDB and return its rows as dicts, sorted by `order_by`."""
        result = expr.to_pyarrow().to_pylist()
        if order_by:
            result.sort(key=lambda r: tuple(r[k] for k in order_by))
        return result

    def close(self) -> None:
        self.con.close()


@pytest.fixture
def ibis_warehouse() -> Iterator[IbisWarehouse]:
    """A fresh in-memory DuckDB warehouse with empty events tables, closed after the test."""
    wh = IbisWarehouse()
    try:
        yield wh
    finally:
        wh.close()


@pytest.fixture
def ibis_strategy() -> Callable[..., Strategy]:
    """Build a Strategy from just the parts a test cares about (measures, readiness, ...)."""

    def make(measures: Mapping[str, Any] | None = None, **parts: Any) -> Strategy:
        raw = {"name": "test", "tree": {"id": "root"}, "measures": dict(measures or {}), **parts}
        return Strategy.model_validate(raw)

    return make
