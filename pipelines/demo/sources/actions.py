"""Feedback actions: who followed up on a detractor or a high-effort response, when, and how.

In a ready unit about 85% of items get a first action within the 48-hour SLA, about 10% later (up
to ten days), about 5% none (they turn overdue). Most acted items (about 80%) are then closed with
the customer: a `customer_informed` action a few hours to two days after the first, naming the
root cause found; a quarter of the acted ones get their root cause fixed later. Each unit has its
own mix of root causes (one dominates), so the outer loop differs by unit. In a unit that is not
ready, only about 2% get any action (someone replies anyway). An action is a tuple (epoch,
feedback_id, action_type, owner, root_cause, note), so a heap of them pops in time order.
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


#: The action that tells the customer what was done (strategy.yaml's default closing type).
CUSTOMER_INFORMED = "customer_informed"


def cause_weights(unit_index: int) -> np.ndarray:
    """Each unit's mix of root causes: its own dominant cause, then the next ones, fading."""
    k = len(ROOT_CAUSES)
    rank = (np.arange(k) - 2 * unit_index) % k  # 0 = the unit's most frequent cause
    weights = 0.5 ** rank.astype(float)
    return weights / weights.sum()


def plan_actions(
    rng: np.random.Generator,
    story: Story,
    month: int | np.ndarray,
    ids: list[str],
    t: np.ndarray,
    unit: np.ndarray,
    is_item: np.ndarray,
) -> tuple[list[tuple], np.ndarray]:
    """The actions the day's responses will get: `ids`, their times `t`, unit indexes `unit` and
    story months `month`; only those where `is_item` (detractors, high-effort answers) are
    followed up. Also returns which responses were acted upon within the SLA."""
    n = t.size
    never = 10**9
    ready_month = np.array([never if u.ready_month is None else u.ready_month for u in story.units])
    ready = np.asarray(month) >= ready_month[unit]
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
    u_cause = rng.random(n)
    note_first = pick(rng, FIRST_ACTION_NOTES, n)
    note_fix = pick(rng, FIX_NOTES, n)
    informed = rng.random(n) < 0.8
    informed_after = rng.uniform(2, 48, size=n)
    # The root cause drawn from the unit's own mix (inverse CDF of its weights).
    cdf = np.cumsum([cause_weights(u.index) for u in story.units], axis=1)
    cause = np.minimum((u_cause[:, None] > cdf[unit]).sum(axis=1), len(ROOT_CAUSES) - 1)
    out = []
    for i in np.flatnonzero(~np.isnan(hours)).tolist():
        who = owner(story.units[int(unit[i])], int(owner_k[i]))
        at = int(t[i]) + int(hours[i] * 3600)
        root = ROOT_CAUSES[int(cause[i])]
        out.append((at, ids[i], str(first_type[i]), who, "", note_first[i]))
        if informed[i]:
            at_told = at + int(informed_after[i] * 3600)
            out.append((at_told, ids[i], CUSTOMER_INFORMED, who, root, ""))
        if fix[i]:
            at_fix = at + int(fix_after[i] * 3600)
            out.append((at_fix, ids[i], "root_cause_fixed", who, root, note_fix[i]))
    in_time = ~np.isnan(hours) & (np.nan_to_num(hours, nan=np.inf) <= 48)
    return out, in_time


def action_rows(actions: list[tuple]) -> list[list[str]]:
    """Actions as rows of the feedback_actions CSV."""
    stamps = iso_utc(np.array([a[0] for a in actions], dtype=np.int64))
    return [[a[1], s, a[2], a[3], a[4], a[5]] for a, s in zip(actions, stamps, strict=True)]
