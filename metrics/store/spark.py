"""The same formulas on Spark: a SparkSession from configuration and the lake's events as Ibis tables.

When an organisation outgrows one machine (`OUTCOMELOOP_COMPUTE=spark`), the event-scale marts
(measure values, readiness, gates, the feedback loop) are the very same Ibis expressions as on
DuckDB, run by Spark over the events lake (`pipelines.lake` writes it). Only where the events come
from changes, so the definitions and the numbers stay the same.

Where Spark runs is `OUTCOMELOOP_SPARK_MASTER` (metrics.config):
- `local[*]` (default) or `local[N]`: Spark inside this process, on this machine's cores;
- `spark://host:7077`, `yarn`, `k8s://...`: a cluster master;
- `sc://host:15002`: a Spark Connect server (needs `pyspark[connect]`);
- `databricks`: Databricks Connect (install `databricks-connect` instead of `pyspark`; the
  workspace and cluster come from its own configuration, e.g. `DATABRICKS_CONFIG_PROFILE`).

pyspark is an optional dependency (`pip install outcomeloop[spark]`): it is imported only when a
session is asked for.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import ibis

from metrics.config import Settings
from metrics.engine import EventTables, source_schema
from metrics.schemas import SOURCES

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# --- the lake layout (written by pipelines.lake, read here) ------------------------------------

#: Partition column of the lake: folders `period=YYYY-MM` (the month of the source's time column).
LAKE_PARTITION_COLUMN = "period"
#: Revenue and cost have a column of their own named `period`; the lake stores it under this name.
LAKE_RENAMED_PERIOD = "period_date"

#: Settings every OutcomeLoop session gets: timestamps are UTC wall-clock times (as on DuckDB),
#: and Arrow moves results to the driver.
BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}
#: A machine-local session has few cores: hundreds of shuffle partitions would only add overhead.
LOCAL_CONF: dict[str, str] = {"spark.sql.shuffle.partitions": "8"}


class SparkUnavailable(RuntimeError):
    """Spark was asked for but cannot start here (pyspark or Java missing)."""


def lake_source_dir(lake_root: Path | str, source: str) -> Path:
    """The lake folder of one source: `<lake_root>/events/<source>`."""
    return Path(lake_root) / "events" / source


def spark_session(
    cfg: Settings, conf: Mapping[str, str] | None = None, app_name: str = "outcomeloop"
) -> SparkSession:
    """The process's Spark session for `cfg.spark_master`, created on first use.

    Spark keeps one active session per process, so every mart of a run shares it (starting one
    takes seconds). `conf` adds or overrides settings (a test's `spark.sql.shuffle.partitions`).
    """
    master = cfg.spark_master.strip()
    if master == "databricks":
        try:
            from databricks.connect import DatabricksSession
        except ImportError as exc:
            raise SparkUnavailable(
                "OUTCOMELOOP_SPARK_MASTER=databricks needs the databricks-connect package "
                "(pip install databricks-connect, matching your cluster's runtime)"
            ) from exc
        return DatabricksSession.builder.getOrCreate()
    try:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailable(
            "OUTCOMELOOP_COMPUTE=spark needs pyspark: pip install 'outcomeloop[spark]' "
            "(and Java 17 or 21 on the PATH for a local session)"
        ) from exc
    _quiet_pyspark_warnings()
    # A session already running in this process (an earlier mart of the run, or a caller's own
    # session) is reused as it is, apart from the settings every session must have.
    running = SparkContext._active_spark_context is not None
    settings = dict(BASE_CONF)
    if master.startswith("local") and not running:
        settings.update(LOCAL_CONF)
    settings.update(conf or {})
    builder = SparkSession.builder.appName(app_name)
    builder = builder.remote(master) if master.startswith("sc://") else builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _quiet_pyspark_warnings() -> None:
    """pyspark 4 warns about untested pandas versions and Arrow fallbacks; neither changes a number
    here (results are fetched with `to_pyarrow()`), so they must not drown a run's log or fail a
    test that treats warnings as errors."""
    warnings.filterwarnings("ignore", module=r"pyspark(\..*)?")


def spark_event_tables(session: SparkSession, lake_root: Path | str) -> EventTables:
    """The lake's events as Ibis tables on Spark, keyed by source, for the formulas in `metrics`.

    Only sources with data in the lake are returned (a source without a folder has no data, as
    on DuckDB). Each table has exactly the columns and types of `events.<source>`.
    """
    from pyspark.sql import functions as F

    con = ibis.pyspark.connect(session)
    tables: dict[str, ibis.Table] = {}
    for source in SOURCES:
        folder = lake_source_dir(lake_root, source)
        if not folder.is_dir() or not any(folder.glob("*/*.parquet")):
            continue
        df = session.read.parquet(str(folder))
        expected = source_schema(source)
        columns = []
        for name in expected.names:
            stored = LAKE_RENAMED_PERIOD if name == LAKE_PARTITION_COLUMN else name
            if stored not in df.columns:
                raise KeyError(
                    f"lake folder {folder} has no column {stored!r} for events.{source}; "
                    f"its columns are {df.columns} (re-export it: outcomeloop run)"
                )
            columns.append(F.col(stored).alias(name))
        view = f"outcomeloop_events_{source}"
        df.select(*columns).createOrReplaceTempView(view)
        table = con.table(view)
        tables[source] = table.cast(
            {name: dtype for name, dtype in expected.items() if table.schema()[name] != dtype}
        )
    return tables
