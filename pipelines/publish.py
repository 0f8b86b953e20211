"""Publishing the snapshot: what the dashboard (and any BI tool) reads, never the warehouse itself.

`publish_snapshot` copies the marts, the ledger and what the dashboard needs into a NEW DuckDB file
beside `serving/current.duckdb` and moves it over that file (fsync, rename, fsync the folder), so a
reader sees the old snapshot or the new one, never a partial one. docs/snapshot.md lists its tables.

Contact details customers write into comments (e-mail addresses, phone numbers) are masked in every
table of the snapshot (`_mask_free_text`), since BI tools and notebooks read it too; the warehouse
keeps the raw text for the pipeline.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
import uuid
from datetime import datetime
from pathlib import Path

import duckdb

from metrics import CONTRACT_VERSION
from metrics.display import default_format
from metrics.periods import period_start_sql
from metrics.privacy import mask_contacts
from metrics.schemas import SOURCE_NAMES, SOURCES
from metrics.sources import SourcesConfig
from metrics.store.files import replace_into
from metrics.store.sql import identifier, literal
from metrics.strategy import Strategy
from pipelines import changes
from pipelines.alerts.log import copy_alert_log
from pipelines.ingestion.inbox import unread_entries
from pipelines.marts.registry import MART_NAMES, by_name, near_range
from pipelines.marts.runner import strategy_signature
from pipelines.snapshot_parts import (
    PartitionedTable,
    publish_partitioned,
    read_manifest,
    retire_unreferenced,
)

#: The newest quarantined rows copied into the snapshot (the summary counts every row).
QUARANTINE_ROWS_IN_SNAPSHOT = 5000
#: Free text, in whichever table of the snapshot a column of this name is: what customers (or
#: colleagues) typed, or a raw record holding it. Its contact details are masked at publish.
FREE_TEXT_COLUMNS = (
    "comment", "comments", "note", "notes", "text", "record", "sample_record", "example", "examples",
)  # fmt: skip

#: Large, append-mostly tables published as per-period Parquet parts behind a view (see
#: pipelines.snapshot_parts); every other table is copied into the snapshot file whole. A mart
#: here must declare a partition in the registry: its periods and what changed come from there.
PARTITIONED_MARTS = ("feedback_items",)
RESPONSES = "serving.responses"

#: The consumer name under which publishing tracks what it has seen (pipelines.changes).
CONSUMER = "publish"


def _tree_rows(strategy: Strategy) -> list[tuple]:
    rows = []
    depth_of: dict[str, int] = {}
    for position, (node, parent) in enumerate(strategy.nodes()):
        depth = 0 if parent is None else depth_of[parent.id] + 1
        depth_of[node.id] = depth
        rows.append(
            (
                node.id,
                parent.id if parent else None,
                depth,
                position,
                node.label or node.id.replace("_", " ").capitalize(),
                node.measure,
                node.strand,
                node.promise,
                node.weight,
                node.direction or "up",
            )
        )
    return rows


def publish_snapshot(
    con: duckdb.DuckDBPyConnection,
    snapshot: Path,
    strategy: Strategy,
    strategy_sha: str,
    sources_cfg,
    now: datetime,
    dagster_url: str,
    *,
    inbox: Path | None = None,
) -> dict:
    """Build the snapshot into a new file next to `snapshot`, then atomically replace it.

    `now` is the run's time: the snapshot's `built_at`, and the clock staleness is judged by.
    Returns what a reader of the run needs (`data_through`).
    """
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_files(snapshot.parent)
    tmp = snapshot.parent / f".next-{uuid.uuid4().hex}.duckdb"
    parts = _Parts(con, snapshot.parent / "parts", strategy)
    try:
        data_through = _build(
            con, tmp, parts, strategy, strategy_sha, sources_cfg, now, dagster_url, inbox
        )
        replace_into(tmp, snapshot)
    except BaseException:
        for path in (tmp, tmp.with_name(tmp.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        raise
    # Only once the new snapshot is in place: its parts become the ones to reuse, the previous
    # ones start their grace period, and what was published is remembered (a crash before this
    # point makes the next publish write more parts, never fewer).
    removed = retire_unreferenced(parts.folder, parts.manifest)
    parts.commit()
    return {
        "data_through": data_through,
        "parts_named": sum(len(p) for p in parts.manifest.values()),
        "parts_written": parts.written,
        "parts_removed": removed,
    }


class _Parts:
    """The large tables' Parquet parts one publish names: reused from the previous publish for
    the periods nothing changed since (pipelines.changes), written anew for the others."""

    def __init__(self, con: duckdb.DuckDBPyConnection, folder: Path, strategy: Strategy) -> None:
        self.con, self.folder, self.strategy = con, folder, strategy
        self.signature = strategy_signature(strategy)
        self.previous = read_manifest(folder)
        self.manifest: dict[str, dict[str, str]] = {}
        self.written = 0
        self.ledger = con.execute(
            "SELECT source, file_path, sha256 FROM ops.file_ledger WHERE status = 'loaded'"
        ).fetchall()
        self.versions = {m: changes.mart_version(con, m) for m in PARTITIONED_MARTS}
        sig, self.seen_versions = changes.signature(con, CONSUMER)
        self.events = changes.event_changes(con, CONSUMER) if sig == self.signature else None

    def partitioned(self, name: str) -> str | None:
        """SQL of `name`'s period as text when it is published in parts, else None."""
        if name == RESPONSES:
            return "CAST(period_start AS VARCHAR)"
        mart = name.removeprefix("marts.")
        if mart in PARTITIONED_MARTS:
            partition = by_name()[mart].partition
            assert partition is not None, f"{mart} is published in parts but has no partition"
            return partition.sql(self.strategy)
        return None

    def changed(self, name: str) -> set[str] | None:
        """The periods of `name` changed since the last publish (None: all of them)."""
        if self.events is None:  # first publish, a code or strategy change, a reload
            return None
        if name == RESPONSES:
            rows = " UNION ALL ".join(
                self.events.rows_sql(s, ["responded_at"]) for s in ("nps", "ces")
            )
            ps = period_start_sql("responded_at", self.strategy.period, self.strategy.timezone)
            periods = self.con.execute(f"SELECT DISTINCT CAST({ps} AS VARCHAR) FROM ({rows})")
            return {p for (p,) in periods.fetchall()}
        mart = name.removeprefix("marts.")
        return changes.mart_changes_since(self.con, mart, self.seen_versions.get(mart, 0))

    def publish(self, name: str, select: str, partition: str, after: str | None = None) -> None:
        if self.strategy.privacy.mask_contacts:
            select = _masked_select(self.con, select)
        if name == RESPONSES:
            column: str | None = "responded_at"
        else:
            mart = by_name()[name.removeprefix("marts.")].partition
            column = mart.column if mart is not None and mart.bucketed else None
        window = functools.partial(near_range, strategy=self.strategy)
        table = PartitionedTable(name, select, partition, (column, window) if column else None)
        files, written = publish_partitioned(
            self.con,
            table,
            self.folder,
            f"snap.{name}",
            self.previous.get(name, {}),
            self.changed(name),
            after,
        )
        self.manifest[name] = files
        self.written += written

    def commit(self) -> None:
        changes.commit(self.con, CONSUMER, self.signature, self.ledger, self.versions)


def _copy(
    con: duckdb.DuckDBPyConnection,
    parts: _Parts,
    name: str,
    select: str,
    after: str | None = None,
) -> None:
    """Publish the rows of `select` as snapshot table `name` (schema.table): in the snapshot
    file, or as Parquet parts behind a view for the large tables (see _Parts), naming only the
    periods later than `after` (text; the select must hold no earlier rows)."""
    partition = parts.partitioned(name)
    if partition is not None:
        parts.publish(name, select, partition, after)
    else:
        con.execute(f"CREATE TABLE snap.{name} AS {select}")


def _build(
    con: duckdb.DuckDBPyConnection,
    tmp: Path,
    parts: _Parts,
    strategy: Strategy,
    strategy_sha: str,
    sources_cfg,
    now: datetime,
    dagster_url: str,
    inbox: Path | None = None,
) -> datetime | None:
    """Write every table of the snapshot into the new file `tmp`; the data's newest event time."""
    con.execute(f"ATTACH {literal(tmp)} AS snap")
    try:
        with _mask_function(con, strategy):
            return _fill(con, parts, strategy, strategy_sha, sources_cfg, now, dagster_url, inbox)
    finally:
        con.execute("DETACH snap")


def _fill(
    con: duckdb.DuckDBPyConnection,
    parts: _Parts,
    strategy: Strategy,
    strategy_sha: str,
    sources_cfg,
    now: datetime,
    dagster_url: str,
    inbox: Path | None,
) -> datetime | None:
    """Every table of the snapshot, into the attached `snap`."""
    for schema in ("marts", "ops", "serving"):
        con.execute(f"CREATE SCHEMA snap.{schema}")
    for table in MART_NAMES:
        if _has_table(con, "marts", table):
            _copy(con, parts, f"marts.{table}", f"SELECT * FROM marts.{table}")
    con.execute("CREATE TABLE snap.ops.file_ledger AS SELECT * FROM ops.file_ledger")
    con.execute(
        "CREATE TABLE snap.ops.quarantine AS SELECT * FROM ops.quarantine "
        f"ORDER BY quarantined_at DESC, file_path, row_number LIMIT {QUARANTINE_ROWS_IN_SNAPSHOT}"
    )
    con.execute(
        """CREATE TABLE snap.serving.quarantine_summary AS
           SELECT source, reason, count(*) AS rows, count(DISTINCT file_path) AS files,
                  max(quarantined_at) AS last_at,
                  arg_min(record, (file_path, row_number)) AS sample_record,
                  arg_min(file_path, (file_path, row_number)) AS sample_file,
                  arg_min(row_number, (file_path, row_number)) AS sample_row
           FROM ops.quarantine GROUP BY source, reason ORDER BY source, rows DESC"""
    )
    copy_alert_log(con, "snap")  # the alerts asset refreshes this copy after it sends
    _source_health(con, sources_cfg, now)
    _unread_inbox(con, inbox)
    _responses(con, parts, strategy)
    # The responses an action matches are found by probing the (many) responses with the
    # (few) actions' ids, so the cost does not grow with a hash table of every response id.
    con.execute(
        """CREATE TABLE snap.serving.orphan_actions AS
           WITH ids AS (SELECT DISTINCT feedback_id FROM events.feedback_actions),
           matched AS (
               SELECT response_id FROM events.nps WHERE response_id IN (SELECT * FROM ids)
               UNION
               SELECT response_id FROM events.ces WHERE response_id IN (SELECT * FROM ids))
           SELECT a.feedback_id, a.action_at, a.action_type, a.owner, a.file_path, a.row_number
           FROM events.feedback_actions a
           WHERE NOT EXISTS (SELECT 1 FROM matched m WHERE m.response_id = a.feedback_id)
           ORDER BY a.action_at"""
    )
    # Every root cause the actions name, so the data-health page can list those outside
    # strategy.yaml's `feedback_loop.root_causes` (blank ones are no root cause).
    con.execute(
        """CREATE TABLE snap.serving.action_root_causes AS
           SELECT trim(root_cause) AS root_cause, count(*) AS actions,
                  max(action_at) AS last_action_at, arg_max(file_path, action_at) AS last_file
           FROM events.feedback_actions
           WHERE coalesce(trim(root_cause), '') <> ''
           GROUP BY trim(root_cause) ORDER BY actions DESC, root_cause"""
    )
    con.execute(
        "CREATE TABLE snap.serving.tree (node VARCHAR, parent VARCHAR, depth INTEGER, "
        "position INTEGER, label VARCHAR, measure VARCHAR, strand VARCHAR, promise VARCHAR, "
        "weight DOUBLE, direction VARCHAR)"
    )
    con.executemany(
        "INSERT INTO snap.serving.tree VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        _tree_rows(strategy),
    )
    con.execute(
        "CREATE TABLE snap.serving.measures (measure VARCHAR, label VARCHAR, kind VARCHAR, "
        "source VARCHAR, min_n INTEGER, anonymity BOOLEAN, format VARCHAR)"
    )
    measure_rows = [
        (
            mid,
            m.label or mid.replace("_", " "),
            m.kind,
            m.source,
            m.min_n,
            m.anonymity,
            m.format or default_format(m.kind),
        )
        for mid, m in strategy.measures.items()
    ]
    if measure_rows:
        con.executemany(
            "INSERT INTO snap.serving.measures VALUES (?, ?, ?, ?, ?, ?, ?)", measure_rows
        )
    con.execute("CREATE TABLE snap.serving.strategy (strategy_json VARCHAR)")
    con.execute(
        "INSERT INTO snap.serving.strategy VALUES (?)",
        [json.dumps(strategy.model_dump(mode="json"))],
    )
    if strategy.privacy.mask_contacts:
        _mask_free_text(con)
    data_through = _data_through(con, now)
    con.execute(
        "CREATE TABLE snap.serving.meta (built_at TIMESTAMP, data_through TIMESTAMP, "
        "strategy_sha256 VARCHAR, contract_version VARCHAR, strategy_name VARCHAR, "
        "timezone VARCHAR, period VARCHAR, dagster_url VARCHAR)"
    )
    con.execute(
        "INSERT INTO snap.serving.meta VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            now,
            data_through,
            strategy_sha,
            CONTRACT_VERSION,
            strategy.name,
            strategy.timezone,
            strategy.period,
            dagster_url,
        ],
    )
    return data_through


def _masked_value(col: str, data_type: str) -> tuple[str, str]:
    """(the masked value of a free-text column, when it could hold a contact at all)."""
    if data_type == "VARCHAR":
        # Only text that could hold a contact reaches Python: an '@', or seven digits with at
        # most two other characters between each (a superset of metrics.privacy.PHONE).
        could = f"(contains({col}, '@') OR regexp_matches({col}, '\\d(\\D{{0,2}}\\d){{6}}'))"
        return f"_outcomeloop_mask({col})", could
    return f"list_transform({col}, x -> _outcomeloop_mask(x))", f"{col} IS NOT NULL"


@contextlib.contextmanager
def _mask_function(con: duckdb.DuckDBPyConnection, strategy: Strategy):
    """The masking rule as a DuckDB function while the snapshot is built (when the strategy asks
    for masking)."""
    if not strategy.privacy.mask_contacts:
        yield
        return
    con.create_function(
        "_outcomeloop_mask", mask_contacts, ["VARCHAR"], "VARCHAR", side_effects=False
    )
    try:
        yield
    finally:
        con.remove_function("_outcomeloop_mask")


def _masked_select(con: duckdb.DuckDBPyConnection, select: str) -> str:
    """`select` with the contact details of its FREE_TEXT_COLUMNS masked: the large tables are
    written to Parquet parts from it, so their files never hold them."""
    columns = con.execute(f"DESCRIBE {select}").fetchall()
    replaced = []
    for name, data_type, *_ in columns:
        if name in FREE_TEXT_COLUMNS and data_type in ("VARCHAR", "VARCHAR[]"):
            masked, could = _masked_value(identifier(name), data_type)
            replaced.append(
                f"CASE WHEN {could} THEN {masked} ELSE {identifier(name)} END AS {identifier(name)}"
            )
    if not replaced:
        return select
    return f"SELECT * REPLACE ({', '.join(replaced)}) FROM ({select})"


def _mask_free_text(con: duckdb.DuckDBPyConnection) -> None:
    """Mask e-mail addresses and phone numbers (metrics.privacy, the one rule screens use too) in
    every FREE_TEXT_COLUMNS column of every table of the new snapshot (text or a list of texts).
    The views over Parquet parts were masked when their parts were written (_masked_select)."""
    columns = con.execute(
        "SELECT c.table_schema, c.table_name, c.column_name, c.data_type "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "ON t.table_catalog = c.table_catalog AND t.table_schema = c.table_schema "
        "AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' "
        "WHERE c.table_catalog = 'snap' AND c.column_name IN (SELECT unnest(?)) "
        "AND c.data_type IN ('VARCHAR', 'VARCHAR[]') ORDER BY ALL",
        [list(FREE_TEXT_COLUMNS)],
    ).fetchall()
    for schema, table, column, data_type in columns:
        col = identifier(column)
        masked, could = _masked_value(col, data_type)
        con.execute(
            f"UPDATE snap.{identifier(schema)}.{identifier(table)} SET {col} = {masked} "
            f"WHERE {could}"
        )


#: A `.next-*` file untouched this long belongs to a publish that was killed.
STALE_TEMP_SECONDS = 3600


def _remove_stale_temp_files(folder: Path) -> None:
    """Delete what killed publishes left behind (a half-written `.next-*.duckdb` and its WAL).

    Readers never open these files, so they do no harm, but each is as large as a snapshot.
    Only files untouched for an hour go: a publish under way keeps writing to its own file.
    """
    cutoff = time.time() - STALE_TEMP_SECONDS
    for path in folder.glob(".next-*.duckdb*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:  # removed by someone else meanwhile
            continue


def _data_through(con, now: datetime) -> datetime | None:
    """The newest event time in the warehouse: what the numbers are current through."""
    parts = [
        f'SELECT max(CAST("{s.time_column}" AS TIMESTAMP)) AS t FROM events."{s.name}"'
        for s in SOURCES.values()
        if s.name not in ("revenue", "cost", "readiness")
    ]
    newest = con.execute(f"SELECT max(t) FROM ({' UNION ALL '.join(parts)})").fetchone()[0]
    # an export can carry events stamped later than now (clock skew, a whole day's file):
    # the numbers are never "current through" a moment that has not happened yet
    return min(newest, now) if newest is not None else None


def _source_health(con, sources_cfg, now: datetime) -> None:
    con.execute(
        "CREATE TABLE snap.serving.source_health (source VARCHAR, configured BOOLEAN, "
        "files BIGINT, files_loaded BIGINT, files_rejected BIGINT, files_duplicate BIGINT, "
        "rows_loaded BIGINT, rows_filtered BIGINT, rows_quarantined BIGINT, events BIGINT, "
        "last_file VARCHAR, last_loaded_at TIMESTAMP, latest_event_at TIMESTAMP, "
        "freshness_hours DOUBLE, stale BOOLEAN)"
    )
    configured = set(sources_cfg.sources) if sources_cfg is not None else set()
    for name, schema in SOURCES.items():
        ledger = con.execute(
            """SELECT count(*), count(*) FILTER (status = 'loaded'),
                      count(*) FILTER (status = 'rejected'), count(*) FILTER (status = 'duplicate'),
                      coalesce(sum(rows_loaded), 0), coalesce(sum(rows_filtered), 0),
                      coalesce(sum(rows_quarantined), 0),
                      arg_max(file_path, (loaded_at, rowid)) FILTER (status = 'loaded'),
                      max(loaded_at) FILTER (status = 'loaded')
               FROM ops.file_ledger WHERE source = ?""",
            [name],
        ).fetchone()
        events, latest = con.execute(
            f'SELECT count(*), max(CAST("{schema.time_column}" AS TIMESTAMP)) FROM events."{name}"'
        ).fetchone()
        if name not in configured and ledger[0] == 0 and sources_cfg is not None:
            continue  # neither configured nor ever seen: not worth a row
        hours = (sources_cfg or SourcesConfig()).freshness_hours(name)
        last_loaded = ledger[8]
        stale = last_loaded is None or (now - last_loaded).total_seconds() > hours * 3600
        con.execute(
            "INSERT INTO snap.serving.source_health VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                name,
                name in configured,
                *ledger[:7],
                events,
                ledger[7],
                last_loaded,
                latest,
                hours,
                stale,
            ],
        )


def _unread_inbox(con, inbox: Path | None) -> None:
    """serving.unread_inbox: what lies in inbox/ that no source reads (an unknown folder such as
    inbox/NPS/, a file directly in inbox/), so the data-health page can say so."""
    con.execute(
        "CREATE TABLE snap.serving.unread_inbox (path VARCHAR, reason VARCHAR, hint VARCHAR)"
    )
    entries = unread_entries(inbox, SOURCE_NAMES) if inbox is not None else []
    if entries:
        con.executemany(
            "INSERT INTO snap.serving.unread_inbox VALUES (?, ?, ?)",
            [(str(e.path), e.reason, e.hint) for e in entries],
        )


def _responses(con, parts: _Parts, strategy: Strategy) -> None:
    """The survey responses behind the customer measures over a recent window (drill-down).

    Employee pulse responses are never copied: their anonymity must hold in every table.
    """
    cutoff = con.execute(
        "SELECT max(period_start) FROM marts.measure_values"
        if _has_table(con, "marts", "measure_values")
        else "SELECT NULL"
    ).fetchone()[0]
    ps = period_start_sql("responded_at", strategy.period, strategy.timezone)
    selects = []
    for source in ("nps", "ces"):
        selects.append(
            f"SELECT '{source}' AS source, response_id, unit, {ps} AS period_start, responded_at, "
            f"CAST(score AS DOUBLE) AS score, comment, account_id, file_path, row_number "
            f"FROM events.{source}"
        )
    union = " UNION ALL ".join(selects)
    window = (
        ""
        if cutoff is None
        else f" WHERE period_start > DATE {literal(str(cutoff))} - INTERVAL '12 months'"
    )
    _copy(
        con,
        parts,
        "serving.responses",
        f"SELECT * FROM ({union}){window} ORDER BY responded_at, source, response_id",
    )


def _has_table(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = "
            "current_database() AND table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )
