"""The plot the demo data follows: which units there are, how big, and who becomes ready when.

Units pass their readiness gate at different times: the first units (Sales, Marketing) about a
third into the timeline, the next ones later, the last unit (Billing) never. After a unit passes,
its NPS climbs from about 10 to about 40 and its CES from about 4.2 to about 5.5 over the following
months; units that are not ready stay flat. Employee health starts rising a few months before the
gate (the readiness work itself is what people feel first); upsell and revenue follow the customer
measures with a lag. Every generator asks the `Story` how far a unit has come in a given month.

One month goes wrong: three months before the end, Support's phone system fails (`outage`). Its
customers wait on hold, its NPS drops by about 20 points for that month (a significant change in
marts.measure_changes, at every scale the benchmarks use) and comes back the month after; its
detractors write about waiting, so the `waiting` theme explains the drop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from pipelines.demo.times import add_months

DEFAULT_UNITS: tuple[str, ...] = ("Sales", "Marketing", "Support", "Customer Success", "Billing")
DIMENSIONS: tuple[str, ...] = ("leadership", "culture", "process", "data", "people")
#: Customer accounts per unit with Salesforce opportunities.
ACCOUNTS_PER_UNIT = 600
#: Accounts per unit that answer the surveys (at scale 1; more at larger scales), so that an
#: account rarely answers again by chance and its next answer is mostly its follow-up.
RESPONDENTS_PER_UNIT = 6_000


class DemoError(Exception):
    """The demo cannot write its files; the message says which file and what to do."""


@dataclass(frozen=True)
class UnitProfile:
    """A unit's size and starting point (volumes are per month at scale 1)."""

    nps: float  # NPS responses a month
    ces: float  # CES responses a month
    headcount: int  # employees asked in the monthly pulse
    opportunities: float  # Salesforce opportunities closing a month
    revenue: float  # monthly revenue at the start
    contacts: float  # customer contacts handled a month
    nps0: float  # NPS before any improvement
    easy0: float  # share of the "easy" CES mix before any improvement (0 = CES about 3.9)
    enps0: float  # employee NPS before any improvement


PROFILES: dict[str, UnitProfile] = {
    "Sales": UnitProfile(520, 330, 80, 33, 620_000, 1_800, 10, 0.0, 2),
    "Marketing": UnitProfile(360, 220, 45, 9, 300_000, 900, 12, 0.2, 8),
    "Support": UnitProfile(880, 950, 120, 12, 460_000, 6_000, 6, 0.22, 0),
    "Customer Success": UnitProfile(540, 430, 60, 39, 520_000, 2_600, 14, 0.25, 10),
    # small on purpose: its NPS sometimes misses min_n 30 and its pulse the anonymity threshold 5
    "Billing": UnitProfile(40, 36, 7, 6, 150_000, 1_500, 4, 0.15, 3),
}
#: The profile of a unit the demo has no story for (a name passed with `--units`).
GENERIC_PROFILE = UnitProfile(500, 400, 50, 18, 400_000, 2_500, 10, 0.2, 5)

#: The unit whose phone system fails for one month, and how many NPS points it costs.
OUTAGE_UNIT = "Support"
OUTAGE_NPS_DROP = 20.0

#: When the first, second, ... unit passes its gate, as a fraction of the timeline (the last unit
#: never passes when there are two or more).
READY_AT = (1 / 3, 0.38, 0.55, 0.7)
#: The dimension that blocks each unit's gate until it passes (the last unit: two of them).
BLOCKING = ("data", "process", "people", "culture", "leadership")


@dataclass(frozen=True)
class UnitStory:
    """One unit's part in the story: its profile and when (if ever) its gate opens."""

    name: str
    index: int
    profile: UnitProfile
    ready_month: int | None  # month index (0 = first month) the gate opens; None = never
    blocking: tuple[str, ...]  # dimensions below the floor while not ready
    assessors: int  # distinct assessors scoring the unit each time

    @property
    def slug(self) -> str:
        return self.name.lower().replace(" ", "-")


@dataclass(frozen=True)
class Story:
    """The timeline (`months` calendar months ending with the one holding `until`) and its units."""

    start: date
    months: int
    until: date
    scale: float
    units: tuple[UnitStory, ...]

    @classmethod
    def build(cls, until: date, months: int, units: list[str], scale: float) -> Story:
        """Check the arguments and decide each unit's gate month."""
        if months < 1:
            raise DemoError(f"months must be at least 1, got {months}")
        if scale <= 0:
            raise DemoError(f"scale must be positive, got {scale}")
        names = [u.strip() for u in units]
        if not names or any(not n for n in names) or len(set(names)) != len(names):
            raise DemoError(f"units must be distinct, non-empty names, got {units!r}")
        if "all" in names:
            raise DemoError("'all' is reserved for the whole organisation; pick another unit name")
        start = add_months(until.replace(day=1), -(months - 1))
        n_ready = len(names) - 1 if len(names) > 1 else 1
        fractions = (
            list(READY_AT[:n_ready])
            if n_ready <= len(READY_AT)
            else list(np.linspace(1 / 3, 0.8, n_ready))
        )
        stories = []
        for i, name in enumerate(names):
            ready = min(months - 1, round(fractions[i] * months)) if i < n_ready else None
            blocking = (BLOCKING[i % len(BLOCKING)],) if ready is not None else ("data", "process")
            stories.append(
                UnitStory(
                    name=name,
                    index=i,
                    profile=PROFILES.get(name, GENERIC_PROFILE),
                    ready_month=ready,
                    blocking=blocking,
                    assessors=3 if i % 2 == 0 else 2,
                )
            )
        return cls(start, months, until, scale, tuple(stories))

    @property
    def respondents_per_unit(self) -> int:
        """Accounts per unit that answer surveys: each answers about as often at every scale."""
        return round(RESPONDENTS_PER_UNIT * max(1.0, self.scale))

    # time -----------------------------------------------------------------------------------------
    def month_index(self, day: date) -> int:
        return (day.year - self.start.year) * 12 + day.month - self.start.month

    def month_start(self, index: int) -> date:
        return add_months(self.start, index)

    @property
    def ramp(self) -> int:
        """Months from passing the gate to the full customer improvement."""
        return max(2, round(0.4 * self.months))

    @property
    def employee_lead(self) -> int:
        """Months by which employee health starts rising before the gate opens."""
        return max(1, round(self.months / 6))

    @property
    def upsell_lag(self) -> int:
        """Months by which upsell follows the customer measures."""
        return max(1, round(self.months / 9))

    @property
    def revenue_lag(self) -> int:
        """Months by which revenue follows the customer measures."""
        return max(1, round(self.months / 6))

    # how far each measure has moved (0 = baseline, 1 = full improvement) -------------------------
    def customer_progress(self, unit: UnitStory, month: float) -> float:
        if unit.ready_month is None:
            return 0.0
        return float(np.clip((month - unit.ready_month) / self.ramp, 0.0, 1.0))

    def employee_progress(self, unit: UnitStory, month: float) -> float:
        if unit.ready_month is None:
            return 0.0
        return self.customer_progress(unit, month + self.employee_lead)

    def is_ready(self, unit: UnitStory, month: int) -> bool:
        return unit.ready_month is not None and month >= unit.ready_month

    @property
    def outage_month(self) -> int | None:
        """The month (index) of Support's phone outage: three months before the end, so the drop
        and the recovery are both in the history; None for a timeline under six months."""
        return self.months - 3 if self.months >= 6 else None

    def in_outage(self, unit: UnitStory, month: int) -> bool:
        return unit.name == OUTAGE_UNIT and month == self.outage_month

    def nps_target(self, unit: UnitStory, month: int) -> float:
        drop = OUTAGE_NPS_DROP if self.in_outage(unit, month) else 0.0
        return unit.profile.nps0 + 32 * self.customer_progress(unit, month) - drop

    def easy_share(self, unit: UnitStory, month: int) -> float:
        e0 = unit.profile.easy0
        return e0 + (1.0 - e0) * self.customer_progress(unit, month)

    def to_json(self) -> dict:
        """What the state file remembers to rebuild the same story for `live`."""
        return {
            "start": self.start.isoformat(),
            "months": self.months,
            "until": self.until.isoformat(),
            "scale": self.scale,
            "units": [u.name for u in self.units],
        }
