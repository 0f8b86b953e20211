"""Ingestion without Dagster: landed export files -> validated, keyed events in DuckDB.

- `inbox`: which files in a source folder are landed, and which are refused unread;
- `adapters`: how each tool's export is read (one module per format family);
- `rules`: the validation rules of docs/sources.md as one SQL pass;
- `staging`: one file read and judged into a temporary table;
- `upsert`: a staged file applied by key, its bad records quarantined;
- `ledger`: the file ledger (what became of each file, and why);
- `loader`: each file judged once per content hash, loaded in one transaction with its ledger row;
- `logs`: where the progress lines go.
Dagster assets, sensors and checks (in `pipelines/defs/`) call these functions; nothing here
imports Dagster, so all of it is tested with plain pytest.
"""

from pipelines.ingestion.adapters import FileRejected
from pipelines.ingestion.inbox import InboxScan, Unread, landed_files, scan_inbox, unread_entries
from pipelines.ingestion.ledger import FileOutcome, orphan_actions, record_refused
from pipelines.ingestion.loader import ingest_files, reload_source
from pipelines.ingestion.logs import forward_logs

__all__ = [
    "FileOutcome",
    "FileRejected",
    "InboxScan",
    "forward_logs",
    "ingest_files",
    "landed_files",
    "orphan_actions",
    "record_refused",
    "reload_source",
    "scan_inbox",
    "Unread",
    "unread_entries",
]
