"""Format adapters: how each tool's export is read, as raw text fields in file order.

An adapter does not judge values; it answers "where in this file is each canonical column, which
records are not responses at all, and in which zone were the timestamps written". The answer is a
`Plan` (see `plan`); `pipelines.ingestion.rules` turns it into the one set-based SQL pass that
types, validates and stages every record. No Python loop ever touches a data row.

One module per format family: `delimited` (CSV, and the `qualtrics` and `salesforce` exports
built on it), `jsonl` (JSON Lines and Delighted) and `parquet`.

A file named `*.canonical.jsonl` is canonical JSON Lines in any source, whatever the source's
configured format: one object per line with the canonical column names (DESIGN.md "Closing the
loop"). The dashboard logs feedback actions this way, and anyone can hand-write a fix-up file so.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from metrics.schemas import SOURCES
from metrics.sources import SourceConfig
from pipelines.ingestion.adapters.delimited import CSV, CsvFlavour, plan_csv
from pipelines.ingestion.adapters.jsonl import plan_json
from pipelines.ingestion.adapters.parquet import plan_parquet
from pipelines.ingestion.adapters.plan import (
    FileRejected,
    Params,
    Plan,
    ReadOptions,
    apply_settings,
)
from pipelines.ingestion.adapters.qualtrics import QUALTRICS
from pipelines.ingestion.adapters.salesforce import SALESFORCE

#: The formats read with DuckDB's CSV reader, and what sets each apart.
CSV_FLAVOURS: dict[str, CsvFlavour] = {"csv": CSV, "qualtrics": QUALTRICS, "salesforce": SALESFORCE}

#: The name ending of a file read as canonical JSON Lines whatever its source's format.
CANONICAL_SUFFIX = ".canonical.jsonl"

__all__ = ["CANONICAL_SUFFIX", "FileRejected", "Params", "Plan", "ReadOptions", "plan_file"]


def canonical_config(cfg: SourceConfig) -> SourceConfig:
    """How a `*.canonical.jsonl` file of a source is read: JSON Lines, canonical column names, no
    `where` filter, JSON numbers and ISO times (timestamps without a zone in UTC), whatever the
    locale of the source's exports; its value rules (a CES scale, the Salesforce expansion types)
    and a constant `unit` still apply."""
    return cfg.model_copy(
        update={
            "format": "jsonl",
            "columns": {},
            "where": {},
            "timezone": "UTC",
            "delimiter": None,
            "decimal": ".",
            "thousands": None,
            "date_format": None,
        }
    )


def plan_file(
    con: duckdb.DuckDBPyConnection,
    source: str,
    path: Path,
    cfg: SourceConfig,
    params: Params,
    *,
    raw_table: str,
    options: ReadOptions | None = None,
) -> Plan:
    """Work out how to read `path` for `source` under `cfg`; raise FileRejected if it cannot be."""
    schema = SOURCES[source]
    if path.name.lower().endswith(CANONICAL_SUFFIX):
        cfg = canonical_config(cfg)
    flavour = CSV_FLAVOURS.get(cfg.format)
    if flavour is not None:
        plan = plan_csv(con, schema, path, cfg, params, options or ReadOptions(), flavour)
    elif cfg.format == "parquet":
        plan = plan_parquet(con, schema, path, cfg, params)
    else:
        plan = plan_json(con, schema, path, cfg, params, raw_table)
    return apply_settings(plan, cfg, params)
