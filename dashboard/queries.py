"""Every question the dashboard asks the published snapshot, in one place.

The dashboard reads `$OUTCOMELOOP_HOME/serving/current.duckdb` and nothing else (not the warehouse,
not strategy.yaml: the strategy travels inside the snapshot). Each query goes through
`metrics.store.warehouse.query_snapshot`, which attaches the file READ_ONLY from a fresh in-memory
connection, runs one statement and closes, so the pipeline can swap in a new snapshot at any time.

Who reads limits what is read: with access.yaml, every query runs with the signed-in reader's units
(`auth.reader_units`), through views of the snapshot that hold only those units' rows and no `all`
row unless the role reads every unit (metrics/store/scope.py). Tables, charts, downloads and
drill-downs all come from here, so none of them can show another unit.

Values from widgets reach SQL only as parameters. Every result is cached once, by `_run`, on the
snapshot's identity, the statement, its parameters and the reader's units. For the data that identity is the
snapshot's `built_at`: when the pipeline publishes, `built_at` changes, the keys change and the
pages show the new numbers by themselves (the TTL only bounds memory). `serving.meta`, which says
what `built_at` is, is keyed on the file's identity (inode, size, modification time) instead, so it
is read cheaply on every run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import duckdb
import pandas as pd
import streamlit as st

from dashboard import auth
from metrics.config import settings
from metrics.schemas import ALL_UNITS
from metrics.store.warehouse import query_snapshot

CACHE_TTL_SECONDS = 600
#: Rows at most in a drill-down or item list (the page says when there are more).
ROW_LIMIT = 2000


class SnapshotUnreadable(Exception):
    """The snapshot exists but a table the dashboard needs is missing or malformed."""


class _Snapshot(Protocol):
    """What a query needs to know about the snapshot it reads: the file and its cache key."""

    @property
    def path(self) -> str: ...

    @property
    def key(self) -> str: ...


@dataclass(frozen=True)
class Meta:
    """One published snapshot: where it is, when it was built and what it covers."""

    path: str
    built_at: datetime
    data_through: datetime | None
    strategy_name: str
    timezone: str
    period: str
    dagster_url: str
    contract_version: str

    @property
    def key(self) -> str:
        """The cache key of everything read from this snapshot."""
        return self.built_at.isoformat()


class _SnapshotFile(NamedTuple):
    """The snapshot file before its meta row is known, keyed on the file's identity."""

    path: str
    key: str


def snapshot_path() -> Path:
    return settings().snapshot


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _cached_query(
    path: str, key: str, sql: str, params: list[Any], units: tuple[str, ...] | None
) -> pd.DataFrame:
    """One statement against the snapshot (as `units` may read it), Arrow converted to pandas at
    the edge; cached per (file, snapshot identity, statement, parameters, units). Errors are
    raised, never cached."""
    try:
        return query_snapshot(path, sql, params, units=units).to_pandas()
    except FileNotFoundError:
        raise
    except duckdb.Error as exc:
        raise SnapshotUnreadable(f"{path}: {exc}".splitlines()[0]) from exc


def _run(snapshot: _Snapshot, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    """Every query of the dashboard: `sql` with `params` against `snapshot` as the current reader
    may read it, cached on its key. Raises auth.NotSignedIn for a visitor who may read nothing."""
    units = auth.reader_units()
    return _cached_query(snapshot.path, snapshot.key, sql, list(params or []), units)


def _dates(df: pd.DataFrame, column: str) -> list[date]:
    return [pd.Timestamp(p).date() for p in df[column]]


def _read_meta(snapshot: _SnapshotFile) -> Meta:
    row = _run(snapshot, "SELECT * FROM serving.meta LIMIT 1")
    if row.empty:
        raise SnapshotUnreadable(f"{snapshot.path}: serving.meta has no row")
    r = row.iloc[0]

    def text(column: str, default: str) -> str:
        value = r.get(column)
        return default if value is None or pd.isna(value) else str(value)

    data_through = r.get("data_through")
    return Meta(
        path=snapshot.path,
        built_at=pd.Timestamp(r["built_at"]).to_pydatetime(),
        data_through=None if pd.isna(data_through) else pd.Timestamp(data_through).to_pydatetime(),
        strategy_name=text("strategy_name", "OutcomeLoop"),
        timezone=text("timezone", "UTC"),
        period=text("period", "month"),
        dagster_url=text("dagster_url", settings().dagster_url),
        contract_version=text("contract_version", ""),
    )


def _file(path: Path | str) -> _SnapshotFile:
    """The snapshot keyed on the file's identity (inode, size, modification time)."""
    stat = os.stat(path)
    return _SnapshotFile(str(path), f"file:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}")


def current(path: Path | None = None) -> Meta | None:
    """The published snapshot's meta row, or None when nothing has been published yet."""
    path = path or snapshot_path()
    try:
        snapshot = _file(path)
    except FileNotFoundError:
        return None
    try:
        return _read_meta(snapshot)
    except FileNotFoundError:  # swapped away between stat and attach, and not back yet
        return None


# --- the strategy as published -----------------------------------------------------------------


def strategy(meta: Meta) -> dict[str, Any]:
    """The validated strategy (context, readiness, feedback_loop, status, privacy, ...) as a dict."""
    df = _run(meta, "SELECT strategy_json FROM serving.strategy LIMIT 1")
    if df.empty or df.iloc[0, 0] is None:
        return {}
    try:
        return json.loads(df.iloc[0, 0])
    except json.JSONDecodeError as exc:
        raise SnapshotUnreadable(
            f"{meta.path}: serving.strategy is not valid JSON ({exc})"
        ) from exc


def mask_contacts_enabled(meta: Meta) -> bool:
    """The strategy's privacy.mask_contacts; on unless the strategy turns it off."""
    privacy = strategy(meta).get("privacy") or {}
    return bool(privacy.get("mask_contacts", True))


def tree(meta: Meta) -> pd.DataFrame:
    """The outcome tree's nodes in depth-first order (root first)."""
    return _run(meta, "SELECT * FROM serving.tree ORDER BY position")


def measures(meta: Meta) -> pd.DataFrame:
    """Each measure's label, kind, source, min_n, anonymity flag and display format."""
    return _run(meta, "SELECT * FROM serving.measures ORDER BY measure")


# --- outcome progress and measure values -------------------------------------------------------


def progress_periods(meta: Meta) -> list[date]:
    """Periods with outcome progress for the whole organisation, newest first (for a reader of
    some units: the periods their units have values in)."""
    if auth.reader_units() is not None:
        sql = "SELECT DISTINCT period_start FROM marts.measure_values ORDER BY period_start DESC"
        return _dates(_run(meta, sql), "period_start")
    df = _run(
        meta,
        "SELECT DISTINCT period_start FROM marts.outcome_progress WHERE unit = ? "
        "ORDER BY period_start DESC",
        [ALL_UNITS],
    )
    return _dates(df, "period_start")


_PROGRESS_SQL = """
SELECT op.*, coalesce(mv.suppressed, false) AS suppressed, mv.note AS note,
       m.min_n, coalesce(m.anonymity, false) AS anonymity
FROM marts.outcome_progress AS op
LEFT JOIN marts.measure_values AS mv
  ON mv.measure = op.measure AND mv.unit = op.unit AND mv.period_start = op.period_start
LEFT JOIN serving.measures AS m ON m.measure = op.measure
"""


def progress(meta: Meta, period: date | None = None, unit: str | None = ALL_UNITS) -> pd.DataFrame:
    """outcome_progress rows (with each row's suppression flag from measure_values)."""
    where, params = [], []
    if period is not None:
        where.append("op.period_start = ?")
        params.append(period)
    if unit is not None:
        where.append("op.unit = ?")
        params.append(unit)
    sql = _PROGRESS_SQL + (" WHERE " + " AND ".join(where) if where else "")
    return _run(meta, sql + " ORDER BY op.period_start, op.node", params)


def measure_values(
    meta: Meta, measure: str | None = None, units: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """measure_values rows, optionally for one measure and some units, with min_n and anonymity."""
    unit_list = list(units) if units is not None else None
    return _run(
        meta,
        "SELECT mv.*, m.min_n, coalesce(m.anonymity, false) AS anonymity "
        "FROM marts.measure_values AS mv LEFT JOIN serving.measures AS m USING (measure) "
        "WHERE (CAST(? AS VARCHAR) IS NULL OR mv.measure = ?) "
        "AND (CAST(? AS VARCHAR[]) IS NULL OR list_contains(CAST(? AS VARCHAR[]), mv.unit)) "
        "ORDER BY mv.measure, mv.unit, mv.period_start",
        [measure, measure, unit_list, unit_list],
    )


def unit_choices(meta: Meta) -> list[str]:
    """The units a unit picker offers the reader: the organisation first when they may read it."""
    named = units(meta)
    return [ALL_UNITS, *named] if auth.reader_units() is None else named


def units(meta: Meta) -> list[str]:
    """Every organisation unit named in the snapshot (without `all`)."""
    df = _run(
        meta,
        "SELECT unit FROM marts.measure_values WHERE unit <> ? "
        "UNION SELECT unit FROM marts.readiness_gates WHERE unit <> ? "
        "UNION SELECT unit FROM marts.feedback_loop WHERE unit <> ? ORDER BY unit",
        [ALL_UNITS, ALL_UNITS, ALL_UNITS],
    )
    return [str(u) for u in df["unit"]]


# --- behind every number: the responses ---------------------------------------------------------


def response_periods(meta: Meta, source: str) -> list[date]:
    """Periods the snapshot holds responses of one source for, newest first."""
    df = _run(
        meta,
        "SELECT DISTINCT period_start FROM serving.responses WHERE source = ? "
        "ORDER BY period_start DESC",
        [source],
    )
    return _dates(df, "period_start")


def responses(
    meta: Meta,
    source: str,
    unit: str,
    period: date,
    *,
    with_comment: bool = False,
    limit: int = ROW_LIMIT,
) -> pd.DataFrame:
    """The survey responses behind a measure value (lowest scores first); `total` counts all
    (with `with_comment`, only those with a comment)."""
    return _run(
        meta,
        "SELECT responded_at, unit, score, comment, response_id, account_id, file_path, "
        "row_number, count(*) OVER () AS total "
        "FROM serving.responses WHERE source = ? AND period_start = ? AND (? = ? OR unit = ?) "
        "AND (NOT ? OR coalesce(trim(comment), '') <> '') "
        "ORDER BY score, responded_at LIMIT ?",
        [source, period, unit, ALL_UNITS, unit, with_comment, limit],
    )


# --- feedback loop -----------------------------------------------------------------------------


def feedback_loop(meta: Meta) -> pd.DataFrame:
    """Per unit and period of arrival: items, in loop, acted (within SLA / late), overdue, held."""
    return _run(
        meta,
        "SELECT * FROM marts.feedback_loop WHERE unit <> ? ORDER BY period_start, unit",
        [ALL_UNITS],
    )


def feedback_options(meta: Meta) -> dict[str, list[str]]:
    """The units, sources and statuses present among the feedback items (for the filters)."""
    df = _run(
        meta,
        "SELECT list(DISTINCT unit ORDER BY unit) AS units, "
        "list(DISTINCT source ORDER BY source) AS sources, "
        "list(DISTINCT status ORDER BY status) AS statuses FROM marts.feedback_items",
    )
    row = df.iloc[0]
    return {k: [str(v) for v in (row[k] if row[k] is not None else [])] for k in df.columns}


def feedback_items(
    meta: Meta,
    units: tuple[str, ...],
    sources: tuple[str, ...],
    statuses: tuple[str, ...],
    limit: int = ROW_LIMIT,
) -> pd.DataFrame:
    """Feedback items matching the filters, the longest overdue first; `total` counts all."""
    return _run(
        meta,
        # The total is its own count, not `count(*) OVER ()`, which would materialize every
        # matching item (comments included) before the top-N sort could keep only `limit`.
        "WITH f AS (SELECT * FROM marts.feedback_items "
        "WHERE list_contains(CAST(? AS VARCHAR[]), unit) "
        "AND list_contains(CAST(? AS VARCHAR[]), source) "
        "AND list_contains(CAST(? AS VARCHAR[]), status)) "
        "SELECT feedback_id, unit, source, received_at, score, comment, status, due_at, "
        "first_action_at, hours_to_action, account_id, owner, root_cause, "
        "closed_with_customer_at, followup_at, followup_score, recovered, "
        "(SELECT count(*) FROM f) AS total "
        "FROM f ORDER BY due_at NULLS LAST, received_at LIMIT ?",
        [list(units), list(sources), list(statuses), limit],
    )


def feedback_item(meta: Meta, feedback_id: str) -> dict[str, Any] | None:
    """One feedback item (received_at, unit, status, first_action_at); None when there is none."""
    df = _run(
        meta,
        "SELECT feedback_id, received_at, unit, status, first_action_at "
        "FROM marts.feedback_items WHERE feedback_id = ? LIMIT 1",
        [feedback_id.strip()],
    )
    return None if df.empty else df.iloc[0].to_dict()


def feedback_item_received_at(meta: Meta, feedback_id: str) -> datetime | None:
    """When the feedback item `feedback_id` arrived (naive UTC); None when there is no such item."""
    item = feedback_item(meta, feedback_id)
    return None if item is None else pd.Timestamp(item["received_at"]).to_pydatetime()


def loop_outcomes(meta: Meta) -> pd.DataFrame:
    """Per unit (and `all`), period of arrival and acted: followed-up and recovered items."""
    return _run(meta, "SELECT * FROM marts.loop_outcomes ORDER BY period_start, unit, acted")


def root_causes(meta: Meta) -> pd.DataFrame:
    """Per unit (and `all`) and period of arrival: items per root cause and their share."""
    return _run(
        meta, "SELECT * FROM marts.root_causes ORDER BY period_start, unit, items DESC, root_cause"
    )


def action_files(meta: Meta, names: tuple[str, ...]) -> pd.DataFrame:
    """The ledger rows of feedback_actions files with these names (the dashboard's own action
    files): which the snapshot already holds, and how each was judged."""
    return _run(
        meta,
        "SELECT regexp_extract(file_path, '[^/\\\\]+$') AS name, status, error, rows_loaded "
        "FROM ops.file_ledger WHERE source = 'feedback_actions' "
        "AND list_contains(CAST(? AS VARCHAR[]), regexp_extract(file_path, '[^/\\\\]+$'))",
        [list(names)],
    )


def action_root_causes(meta: Meta) -> pd.DataFrame:
    """Every root cause the feedback actions name, with how many actions and the latest."""
    return _run(meta, "SELECT * FROM serving.action_root_causes ORDER BY actions DESC, root_cause")


def median_hours_to_action(meta: Meta, period: date | None = None) -> float | None:
    """Median hours from arrival to first action over all in-loop items acted upon (of one period
    of arrival, in the strategy's zone, when given)."""
    df = _run(
        meta,
        "SELECT median(hours_to_action) AS h FROM marts.feedback_items "
        "WHERE in_loop AND hours_to_action IS NOT NULL AND (CAST(? AS DATE) IS NULL OR "
        "CAST(date_trunc(?, timezone(?, timezone('UTC', received_at))) AS DATE) = ?)",
        [period, meta.period, meta.timezone, period],
    )
    value = df["h"].iloc[0]
    return None if pd.isna(value) else float(value)


# --- readiness ---------------------------------------------------------------------------------


def readiness(meta: Meta) -> pd.DataFrame:
    """Each unit's latest score per readiness dimension, with the number of assessors."""
    return _run(meta, "SELECT * FROM marts.readiness ORDER BY unit, dimension")


def gates(meta: Meta) -> pd.DataFrame:
    """The readiness gate per unit and period: score, ready, blocking dimensions, ready since."""
    return _run(
        meta,
        "SELECT * FROM marts.readiness_gates WHERE unit <> ? ORDER BY unit, period_start",
        [ALL_UNITS],
    )


# --- data health -------------------------------------------------------------------------------


def source_health(meta: Meta) -> pd.DataFrame:
    """Per source: files, rows loaded / filtered / quarantined, last file, freshness."""
    return _run(meta, "SELECT * FROM serving.source_health ORDER BY source")


def unread_inbox(meta: Meta) -> pd.DataFrame:
    """Folders and files in inbox/ that no source reads, with the reason and a hint."""
    return _run(meta, "SELECT path, reason, hint FROM serving.unread_inbox ORDER BY path")


def file_ledger(meta: Meta, status: str | None = None) -> pd.DataFrame:
    """Landed files, newest first; `status` ('loaded', 'rejected', 'duplicate') filters."""
    return _run(
        meta,
        "SELECT loaded_at, source, status, file_path, rows_loaded, rows_filtered, "
        "rows_quarantined, size_bytes, error, sha256 FROM ops.file_ledger "
        "WHERE (CAST(? AS VARCHAR) IS NULL OR status = ?) ORDER BY loaded_at DESC",
        [status, status],
    )


def quarantine_summary(meta: Meta) -> pd.DataFrame:
    """Quarantined rows counted per source and reason, each with a sample row."""
    return _run(meta, "SELECT * FROM serving.quarantine_summary ORDER BY rows DESC, source, reason")


def quarantine_rows(meta: Meta, source: str, reason: str, limit: int = 20) -> pd.DataFrame:
    """The newest quarantined rows of one source and reason (the record as it arrived)."""
    return _run(
        meta,
        "SELECT quarantined_at, file_path, row_number, record FROM ops.quarantine "
        "WHERE source = ? AND reason = ? ORDER BY quarantined_at DESC, row_number LIMIT ?",
        [source, reason, limit],
    )


def orphan_actions(meta: Meta) -> pd.DataFrame:
    """Feedback actions whose feedback_id matches no response (yet)."""
    return _run(meta, "SELECT * FROM serving.orphan_actions ORDER BY action_at DESC")


def alert_log(meta: Meta) -> pd.DataFrame:
    """Alerts, the ones still owed (pending, failed) first, then the newest.

    Keyed on the snapshot FILE, not on `built_at`: the alerts step refreshes this table in the
    published snapshot after it sends, without a new build (docs/snapshot.md)."""
    try:
        snapshot = _file(meta.path)
    except FileNotFoundError:  # swapped away this instant: the meta's build still answers
        snapshot = _SnapshotFile(meta.path, meta.key)
    return _run(
        snapshot,
        "SELECT rule, event, subject, unit, channel, first_seen_at, sent_at, attempts, status, "
        "error FROM ops.alert_log ORDER BY CASE status WHEN 'failed' THEN 0 WHEN 'pending' "
        "THEN 1 ELSE 2 END, coalesce(sent_at, first_seen_at) DESC, rule, subject LIMIT ?",
        [ROW_LIMIT],
    )


# --- honest change and comment themes ------------------------------------------------------------


def changes(meta: Meta, period: date | None = None, unit: str | None = ALL_UNITS) -> pd.DataFrame:
    """measure_changes rows: each value against the period before, with se, z and significance."""
    return _run(
        meta,
        "SELECT * FROM marts.measure_changes WHERE (CAST(? AS DATE) IS NULL OR period_start = ?) "
        "AND (CAST(? AS VARCHAR) IS NULL OR unit = ?) ORDER BY measure, unit, period_start",
        [period, period, unit, unit],
    )


def theme_periods(meta: Meta) -> list[date]:
    """Periods with any theme mentioned, newest first."""
    df = _run(meta, "SELECT DISTINCT period_start FROM marts.comment_themes ORDER BY 1 DESC")
    return _dates(df, "period_start")


def themes(meta: Meta, source: str, unit: str, period: date) -> pd.DataFrame:
    """comment_themes of one source, unit and period; the themes that pull the NPS down most
    first (then the most mentioned)."""
    return _run(
        meta,
        "SELECT * FROM marts.comment_themes WHERE source = ? AND unit = ? AND period_start = ? "
        "ORDER BY nps_impact NULLS LAST, mentions DESC, theme",
        [source, unit, period],
    )


def theme_comments(
    meta: Meta, source: str, unit: str, period: date, pattern: str, limit: int = ROW_LIMIT
) -> pd.DataFrame:
    """The responses whose comment mentions a theme (`pattern` from metrics.theme_match, the rule
    the mart used), lowest scores first; `total` counts all."""
    return _run(
        meta,
        "SELECT responded_at, unit, score, comment, response_id, count(*) OVER () AS total "
        "FROM serving.responses WHERE source = ? AND period_start = ? AND (? = ? OR unit = ?) "
        "AND regexp_matches(lower(comment), ?) ORDER BY score, responded_at LIMIT ?",
        [source, period, unit, ALL_UNITS, unit, pattern, limit],
    )
