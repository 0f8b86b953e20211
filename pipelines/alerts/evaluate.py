"""One evaluation of every rule: find what is true now, log what is new, send what is owed.

Per rule, in this order, so nothing is lost and nothing is told twice:
1. the rule's subjects now (pipelines.alerts.events);
2. the new ones are written to ops.alert_log as `pending` BEFORE any send (a crash mid-send leaves
   them owed, not forgotten);
3. everything the rule still owes, new or left over from a failed send, goes out as ONE message
   (up to MAX_LISTED subjects listed, the rest counted); success marks them `sent`, failure
   counts an attempt and keeps the reason.
A rule whose channel lacks a variable it needs (`${VAR}`, `$OUTCOMELOOP_SMTP_URL`) is off: it is
not evaluated at all, which is how an example alerts.yaml stays quiet until a URL is set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from pipelines.alerts import events
from pipelines.alerts import log as alert_log
from pipelines.alerts.channels import Message, SendFailed, send
from pipelines.alerts.config import AlertsConfig, Rule, missing_variables

#: Subjects one message lists by name; the rest are counted.
MAX_LISTED = 20

_log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """What one evaluation did, for the asset's metadata and the tests."""

    recorded: int = 0
    sent: int = 0
    retried_later: int = 0
    gave_up: int = 0
    messages: int = 0
    off: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def changed_log(self) -> bool:
        return bool(self.recorded or self.sent or self.retried_later or self.gave_up)


def evaluate_alerts(
    con: duckdb.DuckDBPyConnection,
    config: AlertsConfig,
    now: datetime,
    *,
    env: Mapping[str, str],
    freshness_hours: Callable[[str], float],
    configured_sources: Iterable[str] = (),
    failed_runs: Iterable[events.FailedRun] = (),
) -> Evaluation:
    """Evaluate every rule of `config` at `now` (UTC, naive) and deliver what is owed."""
    alert_log.ensure_log(con)
    configured_sources, failed_runs = list(configured_sources), list(failed_runs)
    result = Evaluation()
    for rule in config.rules:
        channel = config.channels[rule.channel]
        missing = missing_variables(channel, env)
        if missing:
            result.off[rule.id] = f"channel {rule.channel} is off: {', '.join(missing)} not set"
            _log.info("alert rule %s skipped: %s", rule.id, result.off[rule.id])
            continue
        current = _current(con, rule, now, freshness_hours, configured_sources, failed_runs)
        result.recorded += alert_log.record(con, current, rule.channel, now)
        _deliver(con, config, rule, {a.subject: a for a in current}, now, env, result)
    return result


def _current(
    con: duckdb.DuckDBPyConnection,
    rule: Rule,
    now: datetime,
    freshness_hours: Callable[[str], float],
    configured_sources: list[str],
    failed_runs: list[events.FailedRun],
) -> list[events.Alert]:
    """The rule's subjects now (a status_changed rule also records its baselines here)."""
    if rule.event in ("item_due_soon", "item_overdue"):
        return events.items(con, rule, now)
    if rule.event == "status_changed":
        changes, baselines = events.statuses(con, rule, alert_log.last_statuses(con, rule.id))
        alert_log.record(con, baselines, None, now, baseline=True)
        return changes
    if rule.event == "source_stale":
        return events.stale_sources(con, rule, now, freshness_hours, configured_sources)
    return events.failed_runs(rule, failed_runs)


def message_for(rule: Rule, owed: list[events.Alert]) -> Message:
    """One sentence a person can read, naming up to MAX_LISTED subjects and counting the rest."""
    headline = events.HEADLINES[rule.event].format(n=len(owed), hours=rule.lead_hours)
    listed = [a.line or a.subject for a in owed[:MAX_LISTED]]
    rest = len(owed) - len(listed)
    text = f"OutcomeLoop: {headline}: {', '.join(listed)}" + (f" and {rest} more." if rest else ".")
    alerts = [
        {
            "rule": a.rule,
            "event": a.event,
            "subject": a.subject,
            "unit": a.unit,
            "details": a.details,
        }
        for a in owed[:MAX_LISTED]
    ]
    return Message(headline=headline, text=text, alerts=alerts)


def _deliver(
    con: duckdb.DuckDBPyConnection,
    config: AlertsConfig,
    rule: Rule,
    current: dict[str, events.Alert],
    now: datetime,
    env: Mapping[str, str],
    result: Evaluation,
) -> None:
    """Send everything the rule owes as one message, and record how it went."""
    owed = [
        # a subject owed from an earlier evaluation that is no longer current (the item was
        # acted upon since) is still told, by name: it was true when it was found
        current.get(subject) or events.Alert(rule.id, event, subject, unit, "")
        for event, subject, unit in alert_log.owed(con, rule.id)
    ]
    if not owed:
        return
    subjects = [a.subject for a in owed]
    result.messages += 1
    try:
        send(config.channels[rule.channel], message_for(rule, owed), env)
    except SendFailed as exc:
        alert_log.mark_failed(con, rule.id, subjects, rule.channel, str(exc))
        gave_up = con.execute(
            "SELECT count(*) FROM ops.alert_log WHERE rule = ? AND status = 'failed' "
            "AND subject IN (SELECT unnest(?))",
            [rule.id, subjects],
        ).fetchone()[0]
        result.gave_up += gave_up
        result.retried_later += len(subjects) - gave_up
        result.errors[rule.id] = str(exc)
        _log.warning("alert rule %s: sending to %s failed: %s", rule.id, rule.channel, exc)
        return
    alert_log.mark_sent(con, rule.id, subjects, rule.channel, now)
    result.sent += len(subjects)
