"""Applying a staged file: keyed upserts into `events.<source>` and its bad records to quarantine.

Runs inside the loader's transaction for the file, so the key deletions, events, quarantined rows
and the ledger row commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from metrics.schemas import SourceSchema
from metrics.store.sql import identifier
from pipelines import changes
from pipelines.ingestion.rules import columns
from pipelines.ingestion.staging import STAGE, Staged


def apply_staged(
    con: duckdb.DuckDBPyConnection,
    schema: SourceSchema,
    file_path: str,
    staged: Staged,
    now: datetime,
) -> tuple[int, int, int]:
    """Upsert the staged file by the source's key and quarantine its bad records.

    Within the file the last record of a key wins (for nps/ces: the latest `updated_at`, then the
    last record); across files a record replaces the loaded one with its key, except that a
    version with an older `updated_at` never replaces a newer one. Replaced versions in this file
    count as filtered. Returns (loaded, filtered, quarantined).
    """
    table = f"events.{identifier(schema.name)}"
    key = [identifier(k) for k in schema.key]
    versioned = any(c.name == "updated_at" for c in columns(schema))
    ok = "__filter IS NULL AND __reason IS NULL"
    order = "updated_at DESC NULLS LAST, rowid DESC" if versioned else "rowid DESC"
    if staged.has_duplicate_keys:
        con.execute(
            f"""
            UPDATE {STAGE} SET __filter = 'superseded by a later record with the same key'
            WHERE rowid IN (
                SELECT rowid FROM (
                    SELECT rowid, row_number() OVER (PARTITION BY {", ".join(key)} ORDER BY {order})
                        AS version
                    FROM {STAGE} WHERE {ok}
                ) WHERE version > 1
            )"""
        )
    match = " AND ".join(f"e.{k} IS NOT DISTINCT FROM s.{k}" for k in key)
    has_events = con.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None
    if has_events:
        if versioned:
            con.execute(
                f"""
                UPDATE {STAGE} AS s SET __filter = 'a newer version (updated_at) is already loaded'
                FROM {table} AS e
                WHERE s.__filter IS NULL AND s.__reason IS NULL AND {match}
                  AND e.updated_at IS NOT NULL
                  AND (s.updated_at IS NULL OR s.updated_at < e.updated_at)"""
            )
        # The replaced versions are logged, so the incremental marts and the snapshot also
        # revisit the periods and units the events were in before (pipelines.changes).
        replaced = con.execute(
            f"DELETE FROM {table} AS e USING {STAGE} AS s "
            f"WHERE s.__filter IS NULL AND s.__reason IS NULL AND {match} RETURNING to_json(e)"
        ).fetchall()
        changes.log_replaced(con, schema.name, file_path, [r for (r,) in replaced])
    cols = [identifier(c.name) for c in columns(schema)]
    inserted = con.execute(
        f"INSERT INTO {table} ({', '.join(cols)}, file_path, row_number) "
        f"SELECT {', '.join(cols)}, ?, rowid + ? FROM {STAGE} WHERE {ok}",
        [file_path, staged.first_row],
    ).fetchone()
    bad = 0
    if staged.invalid != 0:  # most files have no bad record: skip the statement
        quarantined = con.execute(
            "INSERT INTO ops.quarantine (source, file_path, row_number, record, reason, "
            f"quarantined_at) SELECT ?, ?, rowid + ?, __record, __reason, ? FROM {STAGE} "
            "WHERE __filter IS NULL AND __reason IS NOT NULL",
            [schema.name, file_path, staged.first_row, now],
        ).fetchone()
        bad = int(quarantined[0]) if quarantined else 0
    loaded = int(inserted[0]) if inserted else 0
    return loaded, staged.records - loaded - bad, bad
