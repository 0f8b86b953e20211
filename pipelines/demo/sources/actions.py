"""Feedback actions: who followed up on a detractor or a high-effort response, when, and how.

In a ready unit about 85% of items get a first action within the 48-hour SLA, about 10% later (up
to ten days), about 5% none (they turn overdue); a quarter of the acted ones get their root cause
fixed later. In a unit that is not ready, only about 2% get any action (someone replies anyway).
An action is a tuple (epoch, feedback_id, action_type, owner, root_cause, note), so a heap of them
pops in time order.
"""

from __future__ import annotations

import numpy as np

from pipelines.demo.draws import pick
from pipelines.demo.story import Story, UnitStory
from pipelines.demo.text import FIRST_ACTION_NOTES, FIX_NOTES, OWNERS, ROOT_CAUSES
from pipelines.demo.times import iso_utc


def owner(unit: UnitStory, k: int) -> str:
    """The `k`-th of the four people who follow up feedback in `unit`."""
    return OWNERS[(unit.index * 4 + k) % len(OWNERS)] + "@northwind-ledger.example"


def plan_actions(
    rng: np.random.Generator,
    story: Story,
    month: int,
    ids: list[str],
    t: np.ndarray,
    unit: np.ndarray,
    is_item: np.ndarray,
) -> list[tuple]:
    """The actions the day's responses will get: `ids`, their times `t` and unit indexes `unit`;
    only those where `is_item` (detractors, high-effort answers) are followed up."""
    n = t.size
    ready = np.array([story.is_ready(u, month) for u in story.units], bool)[unit]
    u = rng.random(n)
    in_sla = rng.uniform(0.25, 47.5, size=n) * rng.beta(1.2, 2.5, size=n) / 0.33
    in_sla = np.clip(in_sla, 0.25, 47.5)
    late = rng.uniform(49, 240, size=n)
    stray = rng.uniform(1, 120, size=n)
    hours = np.where(
        ready,
        np.where(u < 0.85, in_sla, np.where(u < 0.95, late, np.nan)),
        np.where(u < 0.02, stray, np.nan),
    )
    hours = np.where(is_item, hours, np.nan)
    first_type = np.where(rng.random(n) < 0.6, "called_back", "emailed")
    fix = ready & (rng.random(n) < 0.25)
    fix_after = rng.uniform(24, 480, size=n)
    owner_k = rng.integers(0, 4, size=n)
    cause = rng.integers(0, len(ROOT_CAUSES), size=n)
    note_first = pick(rng, FIRST_ACTION_NOTES, n)
    note_fix = pick(rng, FIX_NOTES, n)
    out = []
    for i in np.flatnonzero(~np.isnan(hours)).tolist():
        who = owner(story.units[int(unit[i])], int(owner_k[i]))
        at = int(t[i]) + int(hours[i] * 3600)
        out.append((at, ids[i], str(first_type[i]), who, "", note_first[i]))
        if fix[i]:
            at_fix = at + int(fix_after[i] * 3600)
            root = ROOT_CAUSES[int(cause[i])]
            out.append((at_fix, ids[i], "root_cause_fixed", who, root, note_fix[i]))
    return out


def action_rows(actions: list[tuple]) -> list[list[str]]:
    """Actions as rows of the feedback_actions CSV."""
    stamps = iso_utc(np.array([a[0] for a in actions], dtype=np.int64))
    return [[a[1], s, a[2], a[3], a[4], a[5]] for a, s in zip(actions, stamps, strict=True)]
