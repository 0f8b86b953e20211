"""Readiness assessments: every assessor of a unit scores each dimension 1..5, once a quarter and
in the month the unit's gate opens.

Before the gate opens the unit's blocking dimensions stay at 1-2 (below the floor 2.5) while the
others creep up; from the gate month on, every dimension is 3-5 with a mean of at least 3.8
(threshold 3.5), so the gate computed from the files opens exactly when the story says.
"""

from __future__ import annotations

import numpy as np

from pipelines.demo import draws
from pipelines.demo.story import DIMENSIONS, Story, UnitStory


def _assessment_months(story: Story, unit: UnitStory) -> list[int]:
    months = set(range(0, story.months, 3))
    if unit.ready_month is not None:
        months.add(unit.ready_month)
    return sorted(months)


def readiness_rows(story: Story, seed: int, month: int) -> list[list[str]]:
    """The assessments held in `month` (none after the timeline's end)."""
    rng = draws.rng(seed, "readiness", month, story.start.toordinal())
    first = story.month_start(month)
    rows = []
    for u in story.units:
        if month not in _assessment_months(story, u):
            continue
        day = first.replace(day=min(8 + 2 * u.index, 28))
        if day > story.until:
            continue
        ready = story.is_ready(u, month)
        progress = 0.4 if u.ready_month is None else (month + 1) / (u.ready_month + 1)
        for a in range(u.assessors):
            assessor = f"{u.slug}-assessor-{a + 1}"
            for dim in DIMENSIONS:
                if ready:
                    score = (
                        int(rng.choice([3, 4])) if dim in u.blocking else int(rng.choice([4, 5]))
                    )
                elif dim in u.blocking:
                    score = int(rng.choice([1, 2], p=[0.6 - 0.4 * progress, 0.4 + 0.4 * progress]))
                else:
                    level = 2.4 + 0.9 * progress + rng.uniform(-0.6, 0.6)
                    score = int(np.clip(round(level), 1, 5))
                rows.append([day.isoformat(), u.name, dim, str(score), assessor])
    return rows
