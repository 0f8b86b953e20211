"""Follow-ups: some customers with a feedback item answer the same survey again within weeks.

The loop's effect made visible: about half of the items with an account get a follow-up response
from the same account one to six weeks later (more of those not acted upon in time), and the customer comes back no longer a detractor
(or high-effort answer) about half the time when the item was acted upon within the SLA, about
one time in seven otherwise; with the accounts that answer again by chance (and recover more
often), the marts then show acting roughly doubling the recovery rate (about 50% against 25%). A follow-up is itself a
response of its unit; when it is bad news again it becomes an item with its own actions (but no
follow-up of its own).

A follow-up waits in a heap as (epoch, original response id, source, payload) until its day: the
payload is the Qualtrics row (nps) or the Delighted event line (ces).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Of the items with an account, the share whose customer answers the same survey again: acted
#: upon within the SLA, or not (a customer still waiting for an answer is more likely to write).
FOLLOW_UP_SHARE = {True: 0.5, False: 0.8}
#: Days from the item to its follow-up.
FOLLOW_UP_DAYS = (7, 42)
#: The chance that the follow-up is no longer bad news: acted upon within the SLA, or not.
RECOVERY = {True: 0.5, False: 0.15}


@dataclass(frozen=True)
class FollowUpPlan:
    """Which of a day's responses get a follow-up, when, and whether the customer recovered."""

    index: np.ndarray  # positions of the followed-up responses among the day's
    t: np.ndarray  # follow-up times, epoch seconds
    recovered: np.ndarray  # bool per follow-up


def plan_followups(
    rng: np.random.Generator,
    t: np.ndarray,
    is_item: np.ndarray,
    has_account: np.ndarray,
    in_time: np.ndarray,
) -> FollowUpPlan:
    """The follow-ups of a day's items (`is_item` with `has_account`); `in_time` says which items
    were acted upon within the SLA."""
    n = t.size
    share = np.where(in_time, FOLLOW_UP_SHARE[True], FOLLOW_UP_SHARE[False])
    chosen = is_item & has_account & (rng.random(n) < share)
    low, high = FOLLOW_UP_DAYS
    after = (rng.uniform(low, high, size=n) * 86400).astype(np.int64)
    p = np.where(in_time, RECOVERY[True], RECOVERY[False])
    recovered = rng.random(n) < p
    index = np.flatnonzero(chosen)
    return FollowUpPlan(index, (t + after)[index], recovered[index])


def followup_scores(
    rng: np.random.Generator, recovered: np.ndarray, bad: tuple[int, int], good: tuple[int, int]
) -> np.ndarray:
    """A score per follow-up: within `good` (inclusive) when the customer recovered, else `bad`."""
    n = recovered.size
    return np.where(
        recovered,
        rng.integers(good[0], good[1] + 1, size=n),
        rng.integers(bad[0], bad[1] + 1, size=n),
    )
