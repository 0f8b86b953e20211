"""Ingestion without Dagster: landed export files -> validated, keyed events in DuckDB.

`adapters` knows the tools' export formats, `rules` holds DESIGN.md's validation rules as one SQL
pass, and `loader` keeps the file ledger, quarantine and keyed upserts. Dagster assets, sensors and
checks (in `pipelines/`) call these functions; nothing here imports Dagster, so all of it is tested
with plain pytest.
"""

from pipelines.ingestion.adapters import FileRejected
from pipelines.ingestion.loader import (
    FileOutcome,
    InboxScan,
    file_sha256,
    ingest_files,
    landed_files,
    orphan_actions,
    record_refused,
    reload_source,
    scan_inbox,
)

__all__ = [
    "FileOutcome",
    "FileRejected",
    "InboxScan",
    "file_sha256",
    "ingest_files",
    "landed_files",
    "orphan_actions",
    "record_refused",
    "reload_source",
    "scan_inbox",
]
