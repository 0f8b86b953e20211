"""Shared pytest fixtures: a temporary home, the run's clock, in-memory warehouses for formulas.

`home` is a test's OUTCOMELOOP_HOME (DAGSTER_HOME inside it); `pipeline_home` is that home holding
the small end-to-end dataset of tests/fixtures/pipeline/, whose numbers tests/test_pipeline.py
computes by hand. `clock` pins the run's time ("now") that the marts step, the publish step and the
inbox sensor read, so no result depends on the wall clock.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ibis
import pytest

from metrics.engine import duckdb_event_tables
from metrics.schemas import SOURCES
from metrics.store import warehouse
from metrics.strategy import Strategy

#: The end-to-end dataset: 5 files (6 NPS responses, one quarantined) from January to March 2025.
PIPELINE_FIXTURE = Path(__file__).parent / "fixtures" / "pipeline"

#: The run's time unless a test asks for another: the day tests/fixtures/pipeline/ is computed at.
RUN_TIME = datetime(2025, 3, 20, 12, 0, 0)


@pytest.fixture
def home(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty OUTCOMELOOP_HOME, `<tmp_path>/home`, with DAGSTER_HOME inside it.

    Every other OUTCOMELOOP_* variable is removed, so paths and engine come from the home alone.
    A test picks another folder name with `@pytest.mark.parametrize("home", [name], indirect=True)`.
    """
    path = tmp_path / getattr(request, "param", "home")
    path.mkdir()
    for name in [n for n in os.environ if n.startswith("OUTCOMELOOP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OUTCOMELOOP_HOME", str(path))
    monkeypatch.setenv("DAGSTER_HOME", str(path / "dagster"))
    return path


@pytest.fixture
def pipeline_home(home: Path, clock: datetime) -> Path:
    """`home` with tests/fixtures/pipeline/ (strategy, sources, inbox) copied in and the clock
    pinned, so the hand-computed numbers of tests/test_pipeline.py hold in it."""
    shutil.copytree(PIPELINE_FIXTURE, home, dirs_exist_ok=True)
    return home


@pytest.fixture
def clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Pin "now" for the marts step, the publish step, the alerts and the inbox sensor; return it.

    RUN_TIME unless the test says `@pytest.mark.parametrize("clock", [when], indirect=True)`.
    The value is UTC-naive like `pipelines.marts.runner.run_now()`; the sensor sees the same
    instant as seconds since the epoch.
    """
    from pipelines.defs import alerts, marts, sensors, serving

    now: datetime = getattr(request, "param", RUN_TIME)
    monkeypatch.setattr(alerts, "run_now", lambda: now)
    monkeypatch.setattr(marts, "run_now", lambda: now)
    monkeypatch.setattr(serving, "run_now", lambda: now)
    monkeypatch.setattr(sensors, "clock", lambda: now.replace(tzinfo=UTC).timestamp())
    return now


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
