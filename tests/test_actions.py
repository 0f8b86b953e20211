"""The dashboard's action writer: one canonical JSON Lines file, atomically, or nothing at all."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from dashboard.actions import Action, ActionRejected, logged_actions, write_action

RECEIVED = datetime(2025, 3, 15, 8, 0)  # naive = UTC, as the snapshot holds it
NOW = datetime(2025, 3, 20, 12, 0, 5, 123456, tzinfo=UTC)


def test_a_valid_action_is_one_file_with_the_canonical_columns(tmp_path: Path) -> None:
    action = Action(" R_102 ", " customer_informed ", owner="ana", root_cause="", note=" Called ")
    path = write_action(tmp_path, action, RECEIVED, now=NOW)
    assert path.parent == tmp_path / "feedback_actions"
    assert path.name.startswith("dashboard-20250320T120005-")
    assert path.name.endswith(".canonical.jsonl")
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    (line,) = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line) == {
        "feedback_id": "R_102",
        "action_at": "2025-03-20T12:00:05+00:00",
        "action_type": "customer_informed",
        "owner": "ana",
        "root_cause": None,  # blank text is no root cause
        "note": "Called",
    }
    [logged] = logged_actions(tmp_path)
    assert (logged.feedback_id, logged.action_type) == ("R_102", "customer_informed")


@pytest.mark.parametrize(
    ("action", "received", "words"),
    [
        (Action("R_404", "call"), None, "no feedback item 'R_404'"),
        (Action("R_102", "   "), RECEIVED, "the action type is empty"),
        (
            # 08:30 in Berlin is 07:30 UTC, half an hour before the item arrived
            Action(
                "R_102",
                "call",
                action_at=datetime(2025, 3, 15, 8, 30, tzinfo=timezone(timedelta(hours=1))),
            ),
            RECEIVED,
            "before the item arrived (2025-03-15 08:00 UTC)",
        ),
    ],
    ids=["unknown item", "empty type", "time before the item"],
)
def test_bad_input_is_explained_and_writes_nothing(tmp_path: Path, action, received, words) -> None:
    with pytest.raises(ActionRejected, match=words.replace("(", r"\(").replace(")", r"\)")):
        write_action(tmp_path, action, received, now=NOW)
    assert not (tmp_path / "feedback_actions").exists() or not any(
        (tmp_path / "feedback_actions").iterdir()
    )


def test_an_action_at_the_items_own_instant_is_allowed(tmp_path: Path) -> None:
    path = write_action(tmp_path, Action("R_102", "call", action_at=RECEIVED), RECEIVED)
    assert json.loads(path.read_text())["action_at"] == "2025-03-15T08:00:00+00:00"
