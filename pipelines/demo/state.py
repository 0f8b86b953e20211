"""Where the story stopped: the state file `generate` leaves and `live` carries on from.

`inbox/.demo_state.json` (beside, never inside, the source folders) holds the story's arguments,
the seed, the last day told completely, how far into the next day `live` has told it
(`emitted_until`, epoch seconds, exclusive), and the follow-ups already decided but not yet due:
Delighted updates, feedback actions and customers' follow-up responses, as heaps ordered by time.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from metrics.store.files import atomic_write
from pipelines.demo.story import DemoError, Story
from pipelines.demo.times import day_epoch

STATE_FILE = ".demo_state.json"  # in inbox/, beside (never inside) the source folders
STATE_VERSION = 1


def state_path(inbox: Path) -> Path:
    """The state file of the history in `inbox`."""
    return inbox / STATE_FILE


def pop_until(heap: list[tuple], end: int) -> list[tuple]:
    """Take the follow-ups due before `end` (epoch seconds) off `heap`, in time order."""
    out = []
    while heap and heap[0][0] < end:
        out.append(heapq.heappop(heap))
    return out


def save_state(
    inbox: Path,
    story: Story,
    seed: int,
    *,
    last_day: date,
    pending_updates: list[tuple],
    pending_actions: list[tuple],
    pending_responses: list[tuple],
    keep_if_ahead: bool = False,
    emitted_until: int | None = None,
) -> None:
    """Remember where the story stopped (and what was still to happen), for `live`.

    `last_day` is the last day told completely; `emitted_until` (only `live` sets it) is the epoch
    second up to which (exclusive) the following day has been told already. With `keep_if_ahead`
    (a history written again) a state that `live` already carried further is kept.
    """
    path = state_path(inbox)
    if keep_if_ahead and path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        same_story = old.get("story") == story.to_json() and old.get("seed") == seed
        if same_story and state_cursor(old) > day_epoch(last_day) + 86400:
            return  # `live` already continued this very story: keep its place
    state = {
        "version": STATE_VERSION,
        "seed": seed,
        "story": story.to_json(),
        "last_day": last_day.isoformat(),
        "pending_updates": sorted(pending_updates),
        "pending_actions": sorted(pending_actions),
        "pending_responses": sorted(pending_responses),
    }
    if emitted_until is not None:
        state["emitted_until"] = emitted_until
    atomic_write(path, json.dumps(state))


def state_cursor(state: dict) -> int:
    """How far (epoch seconds, exclusive) a saved state has told the story: the end of its last
    complete day, or further into the next day when `live` dropped slices of it."""
    end_of_last_day = day_epoch(date.fromisoformat(state["last_day"])) + 86400
    return max(end_of_last_day, int(state.get("emitted_until", end_of_last_day)))


@dataclass
class LiveState:
    """The saved state, loaded for `live` to carry on."""

    story: Story
    seed: int
    last_day: date  # the last day written completely
    emitted_until: int  # epoch seconds: everything before has been written, nothing after
    pending_updates: list[tuple]  # heap of Delighted updates still to send (epoch, id, line)
    pending_actions: list[tuple]  # heap of feedback actions still to take
    #: heap of follow-up responses still to come (epoch, original id, source, row or line)
    pending_responses: list[tuple]

    def roll_over(self) -> None:
        """Count a day as complete once the cursor has passed its end."""
        while self.emitted_until >= day_epoch(self.last_day) + 2 * 86400:
            self.last_day += timedelta(days=1)

    def save(self, inbox: Path) -> None:
        """Write this state back, cursor and pending follow-ups included."""
        save_state(
            inbox,
            self.story,
            self.seed,
            last_day=self.last_day,
            pending_updates=self.pending_updates,
            pending_actions=self.pending_actions,
            pending_responses=self.pending_responses,
            emitted_until=self.emitted_until,
        )


def load_state(inbox: Path) -> LiveState:
    """The state `generate` (or an earlier `live`) left in `inbox`."""
    path = state_path(inbox)
    if not path.is_file():
        raise DemoError(
            f"{path} not found: `live` continues a demo history, so run `outcomeloop demo` "
            "(without --live) into this OUTCOMELOOP_HOME first"
        )
    state = json.loads(path.read_text(encoding="utf-8"))
    if state.get("version") != STATE_VERSION:
        raise DemoError(
            f"{path} was written by another version of the demo; run `outcomeloop demo` again"
        )
    s = state["story"]
    story = Story.build(date.fromisoformat(s["until"]), s["months"], s["units"], s["scale"])
    updates = [tuple(x) for x in state["pending_updates"]]
    actions = [tuple(x) for x in state["pending_actions"]]
    responses = [tuple(x) for x in state.get("pending_responses", [])]
    for heap in (updates, actions, responses):
        heapq.heapify(heap)
    loaded = LiveState(
        story,
        state["seed"],
        date.fromisoformat(state["last_day"]),
        state_cursor(state),
        updates,
        actions,
        responses,
    )
    loaded.roll_over()
    return loaded
