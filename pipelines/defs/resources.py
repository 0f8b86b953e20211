"""Resources: the DuckDB warehouse and the run's configuration, resolved from the environment once.

`DuckDBResource` from dagster-duckdb keeps its file lock when the body raises, so the warehouse is a
small resource of our own whose connection is always closed (metrics.store.warehouse.warehouse).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from metrics.config import Settings, settings
from metrics.store.warehouse import ensure_schema, warehouse
from metrics.strategy import Strategy, StrategyError, load_strategy

#: Every asset and check that opens the warehouse, reading or writing, carries this pool.
WAREHOUSE_POOL = "warehouse"


class OutcomeLoopResource(dg.ConfigurableResource):
    """Where the warehouse lives and which strategy and sources apply.

    Empty fields resolve from the environment (metrics.config) when a run starts, so one set of
    definitions serves every machine and every test's temporary OUTCOMELOOP_HOME.
    """

    home: str = ""
    #: DuckDB's memory limit per step (it spills to disk beyond it): a landing's steps touch little
    #: and stay small; the limit keeps a full rebuild of a large history from taking the machine.
    ingest_memory_limit: str = "1GB"
    marts_memory_limit: str = "1GB"
    serving_memory_limit: str = "512MB"
    #: DuckDB threads per step (0: one per core).
    threads: int = 0

    def settings(self) -> Settings:
        if self.home:
            return settings({"OUTCOMELOOP_HOME": self.home})
        return settings()

    def strategy(self) -> Strategy:
        """The strategy; an invalid file fails the step with `outcomeloop check`'s messages."""
        try:
            return load_strategy(self.settings().strategy_path)
        except StrategyError as exc:
            raise dg.Failure(description=str(exc)) from exc

    def sources(self):
        from metrics.sources import load_sources

        return load_sources(self.settings().sources_path)

    @contextmanager
    def connect(
        self,
        log: dg.DagsterLogManager | None = None,
        timezone: str = "UTC",
        step: str = "marts",
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the warehouse for `step` (ingest, marts or serving: its memory limit), waiting
        briefly on another process's lock, and always close it."""
        path: Path = self.settings().warehouse
        on_wait = log.warning if log is not None else None
        limits = {
            "ingest": self.ingest_memory_limit,
            "marts": self.marts_memory_limit,
            "serving": self.serving_memory_limit,
        }
        with warehouse(
            path,
            timezone=timezone,
            memory_limit=limits[step],
            threads=self.threads or None,
            wait_seconds=120,
            on_wait=on_wait,
        ) as con:
            ensure_schema(con)
            yield con


@dg.definitions
def resources() -> dg.Definitions:
    """The resources every asset asks for, and the executor.

    One process per run, not one per step: the steps share the warehouse pool (limit 1) and run
    one after another anyway, and a process per step costs seconds of start-up each.
    """
    return dg.Definitions(
        resources={"outcomeloop": OutcomeLoopResource()}, executor=dg.in_process_executor
    )
