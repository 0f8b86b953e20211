"""Logging a feedback action from the dashboard: the one thing the dashboard ever writes.

A CX agent who called a customer back records it on the item. The action becomes ONE new file in
`$OUTCOMELOOP_HOME/inbox/feedback_actions/`, written under a temporary name and renamed, named
`dashboard-<UTC yyyymmddThhmmss>-<uuid>.canonical.jsonl`: one JSON object with the canonical
feedback_actions columns (DESIGN.md "Closing the loop"). The pipeline's inbox sensor loads it like
any export, so the action counts only once a snapshot holds it; until then the page shows it as
pending. Bad input (an unknown item, no type, a time before the item) writes nothing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from metrics.schemas import SOURCES
from metrics.store.files import atomic_path

SOURCE = "feedback_actions"
PREFIX = "dashboard-"
SUFFIX = ".canonical.jsonl"


class ActionRejected(ValueError):
    """The action cannot be logged; the message says what to fix. Nothing was written."""


@dataclass(frozen=True)
class Action:
    """One action on a feedback item, as the agent entered it."""

    feedback_id: str
    action_type: str
    owner: str = ""
    root_cause: str = ""
    note: str = ""
    #: When it was done (naive = UTC); the form logs "now".
    action_at: datetime | None = None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check(action: Action, received_at: datetime | None, action_at: datetime) -> list[str]:
    """What is wrong with `action` done at `action_at` (empty when it can be logged).
    `received_at` is the item's arrival (naive = UTC) as the snapshot holds it; None when no item
    has that id."""
    problems = []
    if received_at is None:
        problems.append(
            f"there is no feedback item {action.feedback_id.strip()!r} in the snapshot; "
            "pick an item from the list"
        )
    if not action.action_type.strip():
        problems.append("the action type is empty: say what was done (e.g. customer_informed)")
    if received_at is not None and _utc(action_at) < _utc(received_at):
        problems.append(
            f"the action time {_utc(action_at):%Y-%m-%d %H:%M} UTC is before the item arrived "
            f"({_utc(received_at):%Y-%m-%d %H:%M} UTC); an action must follow it"
        )
    return problems


def record(action: Action, action_at: datetime) -> dict[str, str | None]:
    """The action as one canonical feedback_actions object (blank text as null)."""
    values = {
        "feedback_id": action.feedback_id.strip(),
        "action_at": _utc(action_at).isoformat(timespec="seconds"),
        "action_type": action.action_type.strip(),
        "owner": action.owner.strip() or None,
        "root_cause": action.root_cause.strip() or None,
        "note": action.note.strip() or None,
    }
    assert list(values) == list(SOURCES[SOURCE].column_names)  # the canonical columns, in order
    return values


def write_action(
    inbox: Path, action: Action, received_at: datetime | None, now: datetime | None = None
) -> Path:
    """Write `action` as one new file into `inbox/feedback_actions/`, atomically; return its path.

    Raises ActionRejected (with every problem, writing nothing) when `check` finds any.
    """
    moment = _utc(action.action_at or now or datetime.now(UTC)).replace(microsecond=0)
    problems = check(action, received_at, moment)
    if problems:
        raise ActionRejected("; ".join(problems))
    name = f"{PREFIX}{moment:%Y%m%dT%H%M%S}-{uuid.uuid4()}{SUFFIX}"
    target = Path(inbox) / SOURCE / name
    line = json.dumps(record(action, moment), ensure_ascii=False) + "\n"
    with atomic_path(target) as tmp:
        tmp.write_text(line, encoding="utf-8")
    return target


@dataclass(frozen=True)
class LoggedAction:
    """An action file the dashboard wrote, and the action it holds."""

    path: Path
    feedback_id: str
    action_type: str
    action_at: str


def logged_actions(inbox: Path) -> list[LoggedAction]:
    """Every action file the dashboard wrote into the inbox, oldest first."""
    folder = Path(inbox) / SOURCE
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob(f"{PREFIX}*{SUFFIX}")):
        try:
            obj = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
        except (OSError, IndexError, json.JSONDecodeError):
            continue  # not one of ours after all: the pipeline judges it like any file
        out.append(
            LoggedAction(
                path, str(obj.get("feedback_id")), str(obj.get("action_type")),
                str(obj.get("action_at")),
            )
        )  # fmt: skip
    return out
