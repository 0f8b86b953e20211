"""`live`: keep the story going after the history, never writing an event later than now.

The ingestion checks reject events from the future, so while the history lags behind the calendar
`live` catches up one whole past day per step; once it reaches today it drops, per step, the slice
of today's simulated day that has happened since the previous step. One cursor (`emitted_until` in
the state file, epoch seconds, exclusive) says how far the story has been told: every response,
Delighted update and feedback action timed before it has been written, none after it. Updates and
actions planned for later wait in the state file until their time has come.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from pipelines.demo.formats import qualtrics
from pipelines.demo.formats.plain_csv import CSV_HEADERS, writer
from pipelines.demo.inbox import landing
from pipelines.demo.sources.actions import action_rows
from pipelines.demo.sources.responses import NpsDay, ces_day, nps_day
from pipelines.demo.state import LiveState, load_state, pop_until, state_path
from pipelines.demo.story import DemoError, Story
from pipelines.demo.times import day_epoch, iso_utc

log = logging.getLogger(__name__)


@dataclass
class _SimulatedDay:
    """Everything that happens on one simulated day, before it is cut into what is due."""

    day: date
    nps: NpsDay
    created: list[tuple]  # Delighted `survey_response.created` events (epoch, id, line)
    updates: list[tuple]  # their later `survey_response.updated` events
    actions: list[tuple]  # feedback actions on the day's NPS detractors and high-effort CES
    followups: list[tuple]  # their customers' later responses (epoch, original id, source, ...)

    @classmethod
    def build(cls, story: Story, seed: int, day: date) -> _SimulatedDay:
        nps, nps_actions, nps_followups = nps_day(story, seed, day)
        created, updates, ces_actions, ces_followups = ces_day(story, seed, day)
        return cls(
            day, nps, created, updates, nps_actions + ces_actions, nps_followups + ces_followups
        )


def _epoch_of(moment: datetime) -> int:
    """A moment as whole UTC epoch seconds (rounded down, so never later than the moment); a
    naive datetime counts as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp())


def live(
    home: Path,
    *,
    every: float = 10,
    seed: int = 7,
    stop: Callable[[], bool] | None = None,
    max_steps: int | None = None,
    now: Callable[[], datetime] | None = None,
) -> list[Path]:
    """Keep the story going, every `every` seconds, without ever writing an event later than the
    current time `now()` (default: the real UTC clock).

    While the history lags behind the calendar, each step drops one whole past day: its NPS
    export, Delighted events (new responses and updates to earlier ones) and feedback actions, as
    `nps_export_YYYY-MM-DD.csv`, `delighted_YYYY-MM-DD.jsonl`, `actions_YYYY-MM-DD.csv`. Once it
    has caught up, each step drops the slice of today that has happened since the previous step
    (the responses recorded in it, their due updates and the follow-up actions taken in it), named
    after the slice's last second, e.g. `nps_export_YYYY-MM-DD_HHMMSS.csv`; a source with nothing
    new in the slice gets no file. Follow-ups planned for later wait in the state file; at midnight
    UTC it carries on with the next day. Responses are cut from the same simulated day the history
    would have told, so ids stay deterministic and no response is ever written twice.

    Needs the history `generate` wrote (it reads and updates `inbox/.demo_state.json`) and that
    history's `seed`. Stops when `stop()` returns True or after `max_steps` steps. Each file
    appears complete (written under a temporary name, then renamed); existing files are never
    rewritten. Each drop is logged (INFO) on the `pipelines.demo` logger. Returns the files
    written.
    """
    inbox = Path(home) / "inbox"
    state = load_state(inbox)
    if seed != state.seed:
        raise DemoError(
            f"{state_path(inbox)} holds a history generated with seed {state.seed}, not {seed}: "
            f"run live with --seed {state.seed} so the story continues with the same draws"
        )
    clock = now or (lambda: datetime.now(UTC))
    written: list[Path] = []
    simulated: _SimulatedDay | None = None
    waiting_said = False
    steps = 0
    while not (stop and stop()) and (max_steps is None or steps < max_steps):
        day = state.last_day + timedelta(days=1)
        day_end = day_epoch(day) + 86400
        until = min(day_end, _epoch_of(clock()) + 1)  # exclusive: nothing later than now
        if until <= state.emitted_until:
            if not waiting_said:
                told = iso_utc(np.array([state.emitted_until - 1]))[0]
                log.info(f"live: the inbox holds everything up to {told}; waiting for the clock")
                waiting_said = True
        else:
            waiting_said = False
            if simulated is None or simulated.day != day:
                simulated = _SimulatedDay.build(state.story, state.seed, day)
            written += _drop(inbox, state, simulated, until)
            state.save(inbox)
        steps += 1
        if max_steps is not None and steps >= max_steps:
            break
        _sleep(every, stop)
    return written


def _drop(inbox: Path, state: LiveState, simulated: _SimulatedDay, until: int) -> list[Path]:
    """Write what happened from `state.emitted_until` up to `until` (exclusive, within one day)
    and move the cursor there."""
    since = state.emitted_until
    day = simulated.day
    whole_day = since == day_epoch(day) and until == day_epoch(day) + 86400
    if whole_day:
        tag, label = day.isoformat(), day.isoformat()
    else:
        last_second = datetime.fromtimestamp(until - 1, UTC)
        first_second = datetime.fromtimestamp(since, UTC)
        tag = f"{day.isoformat()}_{last_second:%H%M%S}"
        label = f"{day.isoformat()} {first_second:%H:%M:%S}..{last_second:%H:%M:%S} UTC"

    epochs = simulated.nps.epochs
    chosen = np.flatnonzero((epochs >= since) & (epochs < until)).tolist()
    nps_rows = [simulated.nps.rows[i] for i in chosen]
    created = [c for c in simulated.created if since <= c[0] < until]
    told = {row[qualtrics.RESPONSE_ID] for row in nps_rows} | {c[1] for c in created}
    for u in simulated.updates:
        if u[1] in told:
            heapq.heappush(state.pending_updates, u)
    # A follow-up (and the actions on it) is decided when its original response is told.
    followup_ids = set()
    for f in simulated.followups:
        if f[1] in told:
            heapq.heappush(state.pending_responses, f)
            followup_ids.add(_response_id(f))
    for a in simulated.actions:
        if a[1] in told or a[1] in followup_ids:
            heapq.heappush(state.pending_actions, a)
    due_responses = pop_until(state.pending_responses, until)
    nps_rows = [r for _, r in sorted(
        [(int(e), list(r)) for e, r in zip(epochs[chosen].tolist(), nps_rows, strict=True)]
        + [(int(f[0]), list(f[3])) for f in due_responses if f[2] == "nps"],
        key=lambda x: x[0],
    )]  # fmt: skip
    told_lines = [(f[0], f[1], f[3]) for f in due_responses if f[2] == "ces"]
    lines = sorted(created + pop_until(state.pending_updates, until) + told_lines)
    due = pop_until(state.pending_actions, until)

    written = []
    if whole_day or nps_rows:
        path = inbox / "nps" / f"nps_export_{tag}.csv"
        with landing(path, bom=True) as fh:
            w = writer(fh)
            qualtrics.write_header(w)
            w.writerows(nps_rows)
        written.append(path)
    if whole_day or lines:
        path = inbox / "ces" / f"delighted_{tag}.jsonl"
        with landing(path) as fh:
            fh.writelines(line + "\n" for _, _, line in lines)
        written.append(path)
    if whole_day or due:
        path = inbox / "feedback_actions" / f"actions_{tag}.csv"
        with landing(path) as fh:
            w = writer(fh)
            w.writerow(CSV_HEADERS["feedback_actions"])
            w.writerows(action_rows(due))
        written.append(path)

    state.emitted_until = until
    state.roll_over()
    log.info(f"live {label}: nps {len(nps_rows)}, ces events {len(lines)}, actions {len(due)}")
    return written


def _response_id(followup: tuple) -> str:
    """The response id of a follow-up (its Qualtrics row's, or its Delighted event's)."""
    _, _, source, payload = followup
    if source == "nps":
        return payload[qualtrics.RESPONSE_ID]
    return str(json.loads(payload)["event_data"]["id"])


def _sleep(seconds: float, stop: Callable[[], bool] | None) -> None:
    """Wait, but notice a stop request within a fifth of a second."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if stop and stop():
            return
        time.sleep(min(left, 0.2))
