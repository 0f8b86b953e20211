"""What is true now that someone should hear about: one `Alert` per subject, per rule.

Each subject names its transition, so the alert log's (rule, subject) is DESIGN.md's (rule,
subject, transition) and a repeat evaluation finds what it already told:

- item_due_soon / item_overdue: the feedback item's id (an item is due soon once, overdue once);
- status_changed: `<node>: <from> -> <to> (<period>)` for the whole organisation's latest period
  with data; the log's newest row for the node holds the status it was last seen at (the first
  evaluation records `<node>: <status> (<period>)` without sending);
- source_stale: `<source>: no new file since <last loaded>` (a new file, then silence again, is a
  new transition);
- run_failed: the Dagster run's id.

Values come from marts.outcome_progress, whose value is NULL wherever measure_values suppressed
the cell (too few responses, an anonymity measure): an alert can only carry what the tree shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from metrics.schemas import ALL_UNITS, SOURCES
from metrics.store.warehouse import has_table
from pipelines.alerts.config import Rule


@dataclass(frozen=True)
class Alert:
    """One subject of one rule: what the log keys on and what a message lists."""

    rule: str
    event: str
    subject: str
    unit: str | None
    line: str  # how the message lists it
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FailedRun:
    run_id: str
    job: str
    failed_at: datetime | None
    url: str


_STATUS_SUBJECT = re.compile(
    r"^(?P<node>.+): (?:(?P<old>\S+) -> )?(?P<new>\S+) \((?P<period>[^)]*)\)$"
)


def status_subject(node: str, new: str, period: object, old: str | None = None) -> str:
    change = f"{old} -> {new}" if old is not None else new
    return f"{node}: {change} ({period})"


def last_status(subject: str) -> tuple[str, str] | None:
    """(node, status) a status_changed subject leaves the node at."""
    match = _STATUS_SUBJECT.match(subject)
    return (match["node"], match["new"]) if match else None


def _stamp(when: datetime | None) -> str | None:
    return None if when is None else f"{when:%Y-%m-%d %H:%M}"


def items(con: duckdb.DuckDBPyConnection, rule: Rule, now: datetime) -> list[Alert]:
    """In-loop items without any action: due within the rule's hours (item_due_soon), or past
    their deadline (item_overdue). Held items are never in the loop, so never alerted."""
    if not has_table(con, "marts", "feedback_items"):
        return []
    if rule.event == "item_due_soon":
        window = "due_at > ? AND due_at <= ?"
        params = [now, now + timedelta(hours=rule.lead_hours)]
    else:
        window = "due_at <= ?"
        params = [now]
    rows = con.execute(
        f"""SELECT feedback_id, source, unit, received_at, due_at FROM marts.feedback_items
            WHERE in_loop AND first_action_at IS NULL AND due_at IS NOT NULL AND {window}
            ORDER BY due_at, feedback_id""",
        params,
    ).fetchall()
    return [
        Alert(
            rule=rule.id,
            event=rule.event,
            subject=feedback_id,
            unit=unit,
            line=f"{feedback_id} ({unit}, {source}, due {_stamp(due_at)} UTC)",
            details={
                "source": source,
                "received_at": _stamp(received_at),
                "due_at": _stamp(due_at),
            },
        )
        for feedback_id, source, unit, received_at, due_at in rows
    ]


def statuses(
    con: duckdb.DuckDBPyConnection, rule: Rule, last_seen: dict[str, str]
) -> tuple[list[Alert], list[Alert]]:
    """(changes to send, baselines to record): each watched node's status for the whole
    organisation in its latest period with data, against the status the log last holds for it."""
    if not has_table(con, "marts", "outcome_progress"):
        return [], []
    rows = con.execute(
        """SELECT node, period_start, status, value, progress, expected_progress
           FROM marts.outcome_progress WHERE unit = ? AND status IS NOT NULL
           QUALIFY row_number() OVER (PARTITION BY node ORDER BY period_start DESC) = 1
           ORDER BY node""",
        [ALL_UNITS],
    ).fetchall()
    watched = set(rule.nodes) if rule.nodes is not None else None
    changes, baselines = [], []
    for node, period, status, value, progress, expected in rows:
        if watched is not None and node not in watched:
            continue
        old = last_seen.get(node)
        if old == status:
            continue
        if old is None:
            baselines.append(
                Alert(rule.id, rule.event, status_subject(node, status, period), ALL_UNITS, "")
            )
            continue
        details = {"node": node, "period_start": str(period), "from": old, "to": status}
        if value is not None:  # NULL where the measure value is suppressed
            details["value"] = round(value, 4)
        if progress is not None:
            details["progress"] = round(progress, 4)
        if expected is not None:
            details["expected_progress"] = round(expected, 4)
        changes.append(
            Alert(
                rule=rule.id,
                event=rule.event,
                subject=status_subject(node, status, period, old),
                unit=ALL_UNITS,
                # words, not "->": Slack reads < > & as markup
                line=f"{node} went from {old.replace('_', ' ')} to {status.replace('_', ' ')} "
                f"(period starting {period})",
                details=details,
            )
        )
    return changes, baselines


def stale_sources(
    con: duckdb.DuckDBPyConnection,
    rule: Rule,
    now: datetime,
    freshness_hours: Callable[[str], float],
    configured: Iterable[str],
) -> list[Alert]:
    """Sources that delivered before and have had no new file for longer than their freshness
    (the same rule as the data-health page's "Stale"). A source that never delivered is not
    stale, it is missing, which the data-health page shows."""
    watched = rule.sources if rule.sources is not None else [s for s in SOURCES if s in configured]
    out = []
    for source in watched:
        last = con.execute(
            "SELECT max(loaded_at) FROM ops.file_ledger WHERE source = ? AND status = 'loaded'",
            [source],
        ).fetchone()[0]
        hours = freshness_hours(source)
        if last is None or (now - last).total_seconds() <= hours * 3600:
            continue
        since = (now - last).total_seconds() / 3600
        out.append(
            Alert(
                rule=rule.id,
                event=rule.event,
                subject=f"{source}: no new file since {_stamp(last)}",
                unit=None,
                line=f"{source} (last file {_stamp(last)} UTC, {since:.0f} h ago; allowed {hours:g} h)",
                details={
                    "source": source,
                    "last_loaded_at": _stamp(last),
                    "hours_since": round(since, 1),
                    "freshness_hours": hours,
                },
            )
        )
    return out


def failed_runs(rule: Rule, runs: Iterable[FailedRun]) -> list[Alert]:
    return [
        Alert(
            rule=rule.id,
            event=rule.event,
            subject=run.run_id,
            unit=None,
            line=f"{run.job} (run {run.run_id[:8]}, {_stamp(run.failed_at)} UTC)",
            details={"job": run.job, "failed_at": _stamp(run.failed_at), "url": run.url},
        )
        for run in runs
    ]


#: The first words of a message, per event; `{n}` is how many subjects it covers.
HEADLINES = {
    "item_due_soon": "{n} feedback item(s) due within {hours:g} h with no action yet",
    "item_overdue": "{n} feedback item(s) past their deadline with no action",
    "status_changed": "{n} outcome status change(s) for the whole organisation",
    "source_stale": "{n} source(s) without a new file for longer than their freshness allows",
    "run_failed": "{n} Dagster run(s) failed",
}
