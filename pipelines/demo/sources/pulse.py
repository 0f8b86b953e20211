"""The monthly employee pulse: eNPS (0..10) and wellbeing (1..5) per unit.

Employee health starts rising a few months before a unit's gate opens: the readiness work itself
is what people feel first. About 72% of employees answer, so a small unit sometimes has fewer than
five answers and its employee measures are suppressed for anonymity.
"""

from __future__ import annotations

import numpy as np

from pipelines.demo import draws
from pipelines.demo.story import Story
from pipelines.demo.times import day_epoch, iso_utc


def pulse_rows(story: Story, seed: int, month: int) -> list[list[str]]:
    """The pulse answers given in `month` (up to the timeline's end), in time order."""
    rng = draws.rng(seed, "employee_pulse", month, story.start.toordinal())
    first = story.month_start(month)
    out = []
    for u in story.units:
        headcount = max(1, round(u.profile.headcount * story.scale))
        n = int(rng.binomial(headcount, 0.72))
        e = story.employee_progress(u, month)
        p_enps = draws.nps_distribution(u.profile.enps0 + 32 * e, passives=0.3)
        enps = rng.choice(11, size=n, p=p_enps)
        p_wellbeing = (1 - e) * draws.WELLBEING_LOW + e * draws.WELLBEING_HIGH
        wellbeing = rng.choice(5, size=n, p=p_wellbeing) + 1
        missing = rng.random(n)
        # the pulse goes out on the 6th; most answer within days, during office hours
        day_offset = np.minimum(rng.exponential(2.5, size=n), 12).astype(np.int64)
        t = day_epoch(first) + (5 + day_offset) * 86400
        t = t + rng.integers(7 * 3600, 17 * 3600, size=n)
        keep = t < day_epoch(story.until) + 86400  # not answered yet after the timeline's end
        stamps = iso_utc(t)
        for i in np.flatnonzero(keep).tolist():
            out.append(
                (
                    int(t[i]),
                    u.index,
                    stamps[i],
                    u.name,
                    "" if missing[i] < 0.03 else str(int(enps[i])),
                    "" if 0.03 <= missing[i] < 0.07 else str(int(wellbeing[i])),
                )
            )
    out.sort()
    stamp = f"{first.year}{first.month:02d}"
    return [[f"EP-{stamp}-{k:06d}", *row[2:]] for k, row in enumerate(out)]
