"""`ops.alert_log`: what was decided, sent, and what is still owed (DESIGN.md "Alerts").

One row per (rule, subject); the subject names the transition (pipelines.alerts.events), so a row
is written once and only its delivery columns change afterwards:

- `pending`: not yet delivered (attempts so far in `attempts`, the last reason in `error`); tried
  again at every evaluation;
- `sent`: delivered at `sent_at`; never sent again;
- `failed`: MAX_ATTEMPTS sends failed; kept, with the last error, for a person to look at.

A status_changed baseline (the first status seen for a node, recorded without sending) is a `sent`
row with no channel, no sent_at and 0 attempts.

The snapshot carries a copy of the log (the data-health page and `outcomeloop status` read it):
the publish step copies it (`copy_alert_log`), and an evaluation that changed the log refreshes
the snapshot's copy right away (`refresh_snapshot`), so the page is never a run behind.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import duckdb

from metrics.store.files import replace_into
from metrics.store.sql import literal
from metrics.store.warehouse import ALERT_LOG_DDL
from pipelines.alerts.events import Alert, last_status

#: A subject whose send failed this many times is given up on (status `failed`).
MAX_ATTEMPTS = 5

COLUMNS = "rule, event, subject, unit, channel, first_seen_at, sent_at, attempts, status, error"


def ensure_log(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute(ALERT_LOG_DDL)


def last_statuses(con: duckdb.DuckDBPyConnection, rule: str) -> dict[str, str]:
    """node -> the status the log last holds for it under `rule` (newest row first)."""
    rows = con.execute(
        "SELECT subject FROM ops.alert_log WHERE rule = ? AND event = 'status_changed' "
        "ORDER BY first_seen_at DESC, subject",
        [rule],
    ).fetchall()
    seen: dict[str, str] = {}
    for (subject,) in rows:
        parsed = last_status(subject)
        if parsed is not None:
            seen.setdefault(*parsed)
    return seen


def record(
    con: duckdb.DuckDBPyConnection,
    alerts: Iterable[Alert],
    channel: str | None,
    now: datetime,
    *,
    baseline: bool = False,
) -> int:
    """Add the alerts the log does not hold yet (by rule and subject); how many were new."""
    alerts = list(alerts)
    if not alerts:
        return 0
    known = {
        (rule, subject)
        for rule, subject in con.execute(
            "SELECT rule, subject FROM ops.alert_log WHERE rule IN (SELECT unnest(?))",
            [sorted({a.rule for a in alerts})],
        ).fetchall()
    }
    rows = []
    for a in alerts:
        if (a.rule, a.subject) in known:
            continue
        known.add((a.rule, a.subject))
        if baseline:
            rows.append((a.rule, a.event, a.subject, a.unit, None, now, None, 0, "sent", None))
        else:
            rows.append(
                (a.rule, a.event, a.subject, a.unit, channel, now, None, 0, "pending", None)
            )
    if rows:
        con.executemany(
            f"INSERT INTO ops.alert_log ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
    return len(rows)


def owed(con: duckdb.DuckDBPyConnection, rule: str) -> list[tuple[str, str, str | None]]:
    """(event, subject, unit) of the rule's pending rows, oldest first."""
    return con.execute(
        "SELECT event, subject, unit FROM ops.alert_log WHERE rule = ? AND status = 'pending' "
        "ORDER BY first_seen_at, subject",
        [rule],
    ).fetchall()


def mark_sent(
    con: duckdb.DuckDBPyConnection, rule: str, subjects: list[str], channel: str, now: datetime
) -> None:
    con.execute(
        "UPDATE ops.alert_log SET status = 'sent', sent_at = ?, attempts = attempts + 1, "
        "error = NULL, channel = ? WHERE rule = ? AND status = 'pending' "
        "AND subject IN (SELECT unnest(?))",
        [now, channel, rule, subjects],
    )


def mark_failed(
    con: duckdb.DuckDBPyConnection, rule: str, subjects: list[str], channel: str, error: str
) -> None:
    """One more failed attempt: still pending, or `failed` once MAX_ATTEMPTS are used up."""
    con.execute(
        "UPDATE ops.alert_log SET attempts = attempts + 1, error = ?, channel = ?, "
        f"status = CASE WHEN attempts + 1 >= {MAX_ATTEMPTS} THEN 'failed' ELSE 'pending' END "
        "WHERE rule = ? AND status = 'pending' AND subject IN (SELECT unnest(?))",
        [error, channel, rule, subjects],
    )


def copy_alert_log(con: duckdb.DuckDBPyConnection, catalog: str) -> None:
    """Write the log into `<catalog>.ops.alert_log` (an attached snapshot being built)."""
    ensure_log(con)
    con.execute(
        f"CREATE OR REPLACE TABLE {catalog}.ops.alert_log AS SELECT {COLUMNS} FROM ops.alert_log "
        "ORDER BY first_seen_at, rule, subject"
    )


def refresh_snapshot(con: duckdb.DuckDBPyConnection, snapshot: Path) -> bool:
    """Replace the published snapshot by a copy whose alert log is the warehouse's, through the
    same atomic rename as a publish (a reader sees the old file or the new one). Everything else
    in it is unchanged, `serving.meta` included. False when nothing is published yet."""
    if not snapshot.exists():
        return False
    tmp = snapshot.parent / f".next-{uuid.uuid4().hex}.duckdb"
    try:
        shutil.copyfile(snapshot, tmp)
        con.execute(f"ATTACH {literal(tmp)} AS alert_snap")
        try:
            con.execute("CREATE SCHEMA IF NOT EXISTS alert_snap.ops")
            copy_alert_log(con, "alert_snap")
        finally:
            con.execute("DETACH alert_snap")
        replace_into(tmp, snapshot)
    except BaseException:
        for path in (tmp, tmp.with_name(tmp.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        raise
    return True
