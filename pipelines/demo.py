"""Demo data that tells the bundled strategy's story, in the formats real tools export.

`generate` writes months of history into `inbox/<source>/` the way the tools a CX team uses would
hand it over: NPS as a Qualtrics "Data Table" CSV export, CES as Delighted webhook events (JSONL),
upsell as a Salesforce Opportunity data export, and finance, HR pulse, readiness assessments and
feedback actions as plain CSV. `live` keeps dropping new files (whole past days while it catches
up with the calendar, then each step what happened since the previous one, never an event later
than now), so whoever watches the dashboard sees the event-driven loop work.

The story (examples/strategy.yaml, DESIGN.md "Semantics"), true in the numbers:

- Units pass their readiness gate at different times: the first units (Sales, Marketing) about a
  third into the timeline, the next ones later, the last unit (Billing) never.
- Before a unit passes, its detractors and high-effort responses are held: hardly anyone acts on
  them. Once it passes, about 85% get a first action within the 48-hour SLA, about 10% later, about
  5% never (they turn overdue).
- After a unit passes, its NPS climbs from about 10 to about 40 and its CES from about 4.2 to about
  5.5 over the following months; units that are not ready stay flat.
- Employee health (eNPS and wellbeing) starts rising a few months before the gate: the readiness
  work itself is what people feel first. Upsell and revenue follow the customer measures with a lag,
  and cost per contact falls where customer effort falls.
- A few realistic flaws are planted so the data-health page has honest content: a Qualtrics survey
  preview and a test response, a malformed and an out-of-range score, a row without a unit, an
  export saved twice under another name, a unit spelled `Customer Support` for a month, feedback
  actions whose response does not exist, and a revenue month restated by a later file.

Everything is deterministic for a seed and an end date: each day's responses (and each month's
finance, pulse and readiness rows) come from their own random generator seeded from (seed, source,
date), so the same seed and `until` give byte-identical files, and `live` continues exactly the
story the history would have told. Volumes stream day by day into the files, so `scale=100`
(about 10M events) runs in bounded memory.
"""

from __future__ import annotations

import csv
import filecmp
import heapq
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TextIO

import numpy as np

from metrics.config import EXAMPLES_DIR

DEFAULT_UNITS: tuple[str, ...] = ("Sales", "Marketing", "Support", "Customer Success", "Billing")
DIMENSIONS: tuple[str, ...] = ("leadership", "culture", "process", "data", "people")
STATE_FILE = ".demo_state.json"  # in inbox/, beside (never inside) the source folders
STATE_VERSION = 1

Progress = Callable[[str], None] | None


class DemoError(Exception):
    """The demo cannot write its files; the message says which file and what to do."""


# --------------------------------------------------------------------------------------------------
# The story: who passes readiness when, and how each unit's numbers move


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


_PROFILES: dict[str, UnitProfile] = {
    "Sales": UnitProfile(520, 330, 80, 33, 620_000, 1_800, 10, 0.0, 2),
    "Marketing": UnitProfile(360, 220, 45, 9, 300_000, 900, 12, 0.2, 8),
    "Support": UnitProfile(880, 950, 120, 12, 460_000, 6_000, 6, 0.22, 0),
    "Customer Success": UnitProfile(540, 430, 60, 39, 520_000, 2_600, 14, 0.25, 10),
    # small on purpose: its NPS sometimes misses min_n 30 and its pulse the anonymity threshold 5
    "Billing": UnitProfile(40, 36, 7, 6, 150_000, 1_500, 4, 0.15, 3),
}
_GENERIC = UnitProfile(500, 400, 50, 18, 400_000, 2_500, 10, 0.2, 5)

#: When the first, second, ... unit passes its gate, as a fraction of the timeline (the last unit
#: never passes when there are two or more).
_READY_AT = (1 / 3, 0.38, 0.55, 0.7)
#: The dimension that blocks each unit's gate until it passes (the last unit: two of them).
_BLOCKING = ("data", "process", "people", "culture", "leadership")


@dataclass(frozen=True)
class UnitStory:
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
        if months < 1:
            raise DemoError(f"months must be at least 1, got {months}")
        if scale <= 0:
            raise DemoError(f"scale must be positive, got {scale}")
        names = [u.strip() for u in units]
        if not names or any(not n for n in names) or len(set(names)) != len(names):
            raise DemoError(f"units must be distinct, non-empty names, got {units!r}")
        if "all" in names:
            raise DemoError("'all' is reserved for the whole organisation; pick another unit name")
        start = _add_months(until.replace(day=1), -(months - 1))
        n_ready = len(names) - 1 if len(names) > 1 else 1
        fractions = (
            list(_READY_AT[:n_ready])
            if n_ready <= len(_READY_AT)
            else list(np.linspace(1 / 3, 0.8, n_ready))
        )
        stories = []
        for i, name in enumerate(names):
            ready = min(months - 1, round(fractions[i] * months)) if i < n_ready else None
            blocking = (
                (_BLOCKING[i % len(_BLOCKING)],) if ready is not None else ("data", "process")
            )
            stories.append(
                UnitStory(
                    name=name,
                    index=i,
                    profile=_PROFILES.get(name, _GENERIC),
                    ready_month=ready,
                    blocking=blocking,
                    assessors=3 if i % 2 == 0 else 2,
                )
            )
        return cls(start, months, until, scale, tuple(stories))

    # time -----------------------------------------------------------------------------------------
    def month_index(self, day: date) -> int:
        return (day.year - self.start.year) * 12 + day.month - self.start.month

    def month_start(self, index: int) -> date:
        return _add_months(self.start, index)

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
        return max(1, round(self.months / 9))

    @property
    def revenue_lag(self) -> int:
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

    def nps_target(self, unit: UnitStory, month: int) -> float:
        return unit.profile.nps0 + 32 * self.customer_progress(unit, month)

    def easy_share(self, unit: UnitStory, month: int) -> float:
        e0 = unit.profile.easy0
        return e0 + (1.0 - e0) * self.customer_progress(unit, month)

    def to_json(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "months": self.months,
            "until": self.until.isoformat(),
            "scale": self.scale,
            "units": [u.name for u in self.units],
        }


# --------------------------------------------------------------------------------------------------
# What generate returns


@dataclass(frozen=True)
class PlantedFlaw:
    """A deliberate data problem, where it is, and what the pipeline should make of it."""

    source: str
    file: Path
    row_number: int | None  # as a spreadsheet shows it (header rows count); None = whole file
    what: str


@dataclass
class DemoSummary:
    """What `generate` wrote, and the story facts a test (or a curious reader) can check."""

    home: Path
    start: date
    until: date
    files: list[Path] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)  # data rows (JSONL lines) per source
    ready_months: dict[str, date | None] = field(default_factory=dict)  # first ready period
    flaws: list[PlantedFlaw] = field(default_factory=list)

    @property
    def total_events(self) -> int:
        return sum(self.events.values())


# --------------------------------------------------------------------------------------------------
# Small helpers: dates, random generators, text


_TAG = {
    "nps": 1,
    "ces": 2,
    "flaws": 3,
    "employee_pulse": 4,
    "upsell": 5,
    "finance": 6,
    "readiness": 7,
    "nps_actions": 11,
    "ces_actions": 12,
    "orphans": 13,
}
_EPOCH = date(1970, 1, 1)
_ALNUM = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _rng(seed: int, tag: str, *keys: int) -> np.random.Generator:
    """An independent generator for one source and one day (or month): same inputs, same draws."""
    return np.random.default_rng([seed, _TAG[tag], *keys])


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def _day_epoch(d: date) -> int:
    return (d - _EPOCH).days * 86400


def _days(first: date, last: date) -> Iterator[date]:
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)


def _b62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(reversed(out))


def _iso_utc(epochs: np.ndarray) -> list[str]:
    """ISO 8601 UTC timestamps with a Z, as HR and ticketing tools export them."""
    text = np.datetime_as_string(np.asarray(epochs, dtype="datetime64[s]"), unit="s")
    return [s + "Z" for s in text.tolist()]


@lru_cache(maxsize=64)
def _us_eastern_dst(year: int) -> tuple[int, int]:
    """Epoch seconds when US Eastern daylight time starts and ends in `year` (rules since 2007:
    second Sunday of March 02:00 EST, first Sunday of November 02:00 EDT)."""
    march = date(year, 3, 1)
    second_sunday = 1 + (6 - march.weekday()) % 7 + 7
    november = date(year, 11, 1)
    first_sunday = 1 + (6 - november.weekday()) % 7
    start = _day_epoch(date(year, 3, second_sunday)) + 7 * 3600
    end = _day_epoch(date(year, 11, first_sunday)) + 6 * 3600
    return start, end


def _new_york(epochs: np.ndarray) -> list[str]:
    """UTC epoch seconds as New York wall-clock text (`2025-03-04 10:22:13`), as Qualtrics writes
    dates for a survey exported in America/New_York."""
    epochs = np.asarray(epochs, dtype=np.int64)
    offset = np.full(epochs.shape, -5 * 3600, dtype=np.int64)
    if epochs.size:
        years = (epochs // 86400).astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
        for year in np.unique(years).tolist():
            start, end = _us_eastern_dst(year)
            offset[(years == year) & (epochs >= start) & (epochs < end)] = -4 * 3600
    text = np.datetime_as_string((epochs + offset).astype("datetime64[s]"), unit="s")
    return [s.replace("T", " ") for s in text.tolist()]


def _avoid_fall_back_hour(epochs: np.ndarray) -> np.ndarray:
    """Move responses out of the repeated New York hour when clocks fall back, so every local
    timestamp in the export maps back to exactly one UTC instant."""
    if not epochs.size:
        return epochs
    year = int((epochs[0] // 86400).astype("datetime64[D]").astype("datetime64[Y]").astype(int))
    _, end = _us_eastern_dst(year + 1970)
    ambiguous = (epochs >= end - 3600) & (epochs < end + 3600)
    return np.where(ambiguous, epochs + 7200, epochs)


_HOURS = np.array(
    [2, 1.5, 1, 0.8, 0.6, 0.5, 0.6, 1, 2, 3, 4, 5, 6, 7, 7, 7, 7, 6.5, 6, 5, 4.5, 4, 3.5, 3]
)
_HOURS = _HOURS / _HOURS.sum()  # responses by UTC hour: North American and European office hours


def _times_in_day(rng: np.random.Generator, day: date, n: int) -> np.ndarray:
    hours = rng.choice(24, size=n, p=_HOURS)
    return _day_epoch(day) + hours * 3600 + rng.integers(0, 3600, size=n)


def _daily_rate(monthly: float, day: date, scale: float) -> float:
    """Expected responses on `day`: the monthly volume, seasonality, fewer at weekends."""
    season = 1 + 0.12 * math.sin(2 * math.pi * (day.month - 1) / 12)
    weekday = 1.15 if day.weekday() < 5 else 0.625
    return monthly * scale * season * weekday / 30.44


def _nps_distribution(nps: float, passives: float = 0.2) -> np.ndarray:
    """Probabilities of the answers 0..10 that give the NPS `nps` with this share of passives."""
    promoters = (1 - passives + nps / 100) / 2
    detractors = 1 - passives - promoters
    p = np.zeros(11)
    p[0:7] = detractors * np.array([0.04, 0.03, 0.05, 0.08, 0.12, 0.28, 0.40])
    p[7:9] = passives * np.array([0.45, 0.55])
    p[9:11] = promoters * np.array([0.5, 0.5])
    return p / p.sum()


_CES_HARD = np.array([0.12, 0.13, 0.15, 0.22, 0.18, 0.12, 0.08])  # mean 3.89
_CES_EASY = np.array([0.02, 0.03, 0.05, 0.10, 0.22, 0.30, 0.28])  # mean 5.49
_CSAT = np.array([0.08, 0.10, 0.17, 0.33, 0.32])
_WELLBEING_LOW = np.array([0.08, 0.18, 0.34, 0.28, 0.12])  # mean 3.18
_WELLBEING_HIGH = np.array([0.02, 0.06, 0.22, 0.42, 0.28])  # mean 3.88


def _pick(rng: np.random.Generator, bank: tuple[str, ...], n: int) -> list[str]:
    return [bank[i] for i in rng.integers(0, len(bank), size=n).tolist()]


# Comment banks: some carry commas, quotes or line breaks, as real free-text answers do.
_NPS_COMMENTS = {
    "detractor": (
        "Support took three days to answer, and the answer was wrong.",
        "Too expensive for what we get.",
        "Billing errors every month; I had to call twice to get a corrected invoice.",
        "The onboarding was confusing.\nNobody told us where to start.",
        "Nobody called back after I complained.",
        "Slow, unreliable, and hard to reach anyone.",
        "Reminders went out to our best customer by mistake",
        'The "premium" support is not premium at all.',
        "Reconciliation breaks whenever the bank file is late",
        "I was passed between three teams, and each asked the same questions.",
    ),
    "passive": (
        "Does the job.",
        "Good product, but pricing is hard to understand.",
        "Fine overall, some reports missing",
        "OK. Support is friendly, if a bit slow.",
        "Works for us, but setup took longer than promised",
        "Decent. Would like a better mobile app.",
    ),
    "promoter": (
        "Great team, always helpful!",
        "Easy to use, fast, and reliable.",
        "Our account manager really listens.\nThank you, Maria!",
        "Best invoicing tool we have used",
        "They fixed our issue the same day.",
        "We get paid two weeks faster than before.",
        "Clear, calm and on our side, as promised",
    ),
}
_CES_COMMENTS = {
    "hard": (
        "I had to explain my problem three times.",
        "Could not find the export button, and the help page was outdated.",
        "Waited 40 minutes on the phone",
        "The form kept rejecting my VAT number",
        "Chat bot loop, no human in sight.\nVery frustrating.",
    ),
    "neutral": (
        "Took a while, but it got sorted.",
        "Fine once I reached the right person",
        "The article helped, partly.",
    ),
    "easy": (
        "Quick and painless.",
        "Solved in one call, thanks!",
        "The new self-service page is great",
        "Easy: two clicks, done.",
        "Friendly, clear, and fast.",
    ),
}
_CSAT_COMMENTS = ("Happy with the webinar.", "The training was too long", "Nice session, thanks")
_ROOT_CAUSES = (
    "slow first response",
    "billing error",
    "unclear pricing",
    "product defect",
    "onboarding gap",
    "handover between teams",
    "outdated help article",
)
_NOTES_FIRST = (
    "Apologised and explained the next steps",
    "Walked the customer through the setup",
    "Credited the disputed invoice",
    "Left a voicemail, followed up by e-mail",
    "Escalated to product, customer informed",
    "",
    "",
)
_NOTES_FIX = (
    "Fixed for everyone, not just this customer",
    "Changed the process, checked with the customer a week later",
    "Help article rewritten",
)
_OWNER_NAMES = (
    "maria.lopez jonas.weber aisha.khan tom.okafor lena.fischer sam.ito priya.nair diego.alves "
    "emma.brown noah.martin sofia.rossi liam.walsh chen.wei olga.ivanova ben.cohen zoe.dubois "
    "omar.haddad ines.costa kai.nielsen ruth.adeyemi"
)
_OWNERS = tuple(_OWNER_NAMES.split())
_LANGUAGES = ("EN", "DE", "FR", "ES")
_LANGUAGE_P = np.array([0.85, 0.06, 0.05, 0.04])
_PLANS = ("Starter", "Growth", "Enterprise")
_ACCOUNTS_PER_UNIT = 600


def _account_id(index: int) -> str:
    """A Salesforce Account Id (18 characters), shared by NPS, CES and opportunities."""
    return "001Dm00" + _b62(index, 8) + "QAA"


def _owner(unit: UnitStory, k: int) -> str:
    return _OWNERS[(unit.index * 4 + k) % len(_OWNERS)] + "@northwind-ledger.example"


# --------------------------------------------------------------------------------------------------
# File formats


QUALTRICS_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (column id, English label, ImportId JSON) as a Qualtrics "Data Table" CSV export writes them
    ("StartDate", "Start Date", '{"ImportId":"startDate","timeZone":"America/New_York"}'),
    ("EndDate", "End Date", '{"ImportId":"endDate","timeZone":"America/New_York"}'),
    ("Status", "Response Type", '{"ImportId":"status"}'),
    ("IPAddress", "IP Address", '{"ImportId":"ipAddress"}'),
    ("Progress", "Progress", '{"ImportId":"progress"}'),
    ("Duration (in seconds)", "Duration (in seconds)", '{"ImportId":"duration"}'),
    ("Finished", "Finished", '{"ImportId":"finished"}'),
    ("RecordedDate", "Recorded Date", '{"ImportId":"recordedDate","timeZone":"America/New_York"}'),
    ("ResponseId", "Response ID", '{"ImportId":"_recordId"}'),
    ("DistributionChannel", "Distribution Channel", '{"ImportId":"distributionChannel"}'),
    ("UserLanguage", "User Language", '{"ImportId":"userLanguage"}'),
    (
        "Q1_NPS_GROUP",
        "How likely are you to recommend Northwind Ledger to a friend or colleague? - Group",
        '{"ImportId":"QID1_NPS_GROUP"}',
    ),
    (
        "Q1",
        "How likely are you to recommend Northwind Ledger to a friend or colleague?",
        '{"ImportId":"QID1"}',
    ),
    ("Q2", "What is the main reason for your score?", '{"ImportId":"QID2_TEXT"}'),
    ("BusinessUnit", "BusinessUnit", '{"ImportId":"BusinessUnit"}'),
    ("AccountId", "AccountId", '{"ImportId":"AccountId"}'),
)

#: The 41 API field names of a Salesforce Opportunity data export, plus the custom unit field.
_SALESFORCE_HEADER = (
    "Id,IsDeleted,AccountId,IsPrivate,Name,Description,StageName,Amount,Probability,"
    "ExpectedRevenue,TotalOpportunityQuantity,CloseDate,Type,NextStep,LeadSource,IsClosed,IsWon,"
    "ForecastCategory,ForecastCategoryName,CampaignId,HasOpportunityLineItem,Pricebook2Id,OwnerId,"
    "CreatedDate,CreatedById,LastModifiedDate,LastModifiedById,SystemModstamp,LastActivityDate,"
    "FiscalQuarter,FiscalYear,Fiscal,LastViewedDate,LastReferencedDate,HasOpenActivity,"
    "HasOverdueTask,DeliveryInstallationStatus__c,TrackingNumber__c,OrderNumber__c,"
    "CurrentGenerators__c,MainCompetitors__c,Business_Unit__c"
)
SALESFORCE_COLUMNS: tuple[str, ...] = tuple(_SALESFORCE_HEADER.split(","))

CSV_HEADERS = {
    "revenue": ("period", "unit", "amount"),
    "cost": ("period", "unit", "amount", "contacts", "category"),
    "employee_pulse": ("response_id", "responded_at", "unit", "enps_score", "wellbeing"),
    "readiness": ("assessed_at", "unit", "dimension", "score", "assessor_id"),
    "feedback_actions": ("feedback_id", "action_at", "action_type", "owner", "root_cause", "note"),
}


def _writer(fh: TextIO) -> csv.writer:
    return csv.writer(fh, lineterminator="\n")


@contextmanager
def _landing(path: Path, *, bom: bool = False) -> Iterator[TextIO]:
    """Write `path` as `path.part` and move it into place when complete, so the sensor (which
    skips `.part` files) never loads half a file. A landed file is never rewritten: the same bytes
    again leave it as it is, different bytes are an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        with open(part, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
            yield fh
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if path.exists():
        same = filecmp.cmp(part, path, shallow=False)
        part.unlink()
        if not same:
            raise DemoError(
                f"{path} already exists with different content, and landed files are never "
                f"rewritten. Empty {path.parent.parent} (or point OUTCOMELOOP_HOME at a new "
                "folder) and run `outcomeloop demo` again."
            )
        return
    os.replace(part, path)


# --------------------------------------------------------------------------------------------------
# One day of survey responses (shared by the history and the live demo)


@dataclass
class _NpsDay:
    epochs: np.ndarray  # RecordedDate, UTC epoch seconds, sorted
    rows: list[list[str]]  # Qualtrics rows in that order


def _nps_day(story: Story, seed: int, day: date) -> tuple[_NpsDay, list[tuple]]:
    """The NPS responses recorded on `day`, and the feedback actions they will get."""
    rng = _rng(seed, "nps", day.toordinal())
    month = story.month_index(day)
    t_parts, unit_parts, score_parts = [], [], []
    for u in story.units:
        n = int(rng.poisson(_daily_rate(u.profile.nps, day, story.scale)))
        t_parts.append(_times_in_day(rng, day, n))
        unit_parts.append(np.full(n, u.index))
        score_parts.append(rng.choice(11, size=n, p=_nps_distribution(story.nps_target(u, month))))
    t = _avoid_fall_back_hour(np.concatenate(t_parts).astype(np.int64))
    unit = np.concatenate(unit_parts).astype(np.int64)
    score = np.concatenate(score_parts).astype(np.int64)
    order = np.lexsort((unit, t))
    t, unit, score = t[order], unit[order], score[order]
    n = t.size

    ids = _response_ids(rng, n)
    duration = np.clip(rng.lognormal(5.0, 0.6, size=n), 25, 3600).astype(np.int64)
    anonymous = rng.random(n) < 0.15
    language = rng.choice(len(_LANGUAGES), size=n, p=_LANGUAGE_P)
    account = unit * _ACCOUNTS_PER_UNIT + rng.integers(0, _ACCOUNTS_PER_UNIT, size=n)
    ip = rng.integers(1, 255, size=(n, 4))
    detractor, promoter = score <= 6, score >= 9
    with_comment = rng.random(n) < np.where(detractor, 0.6, np.where(promoter, 0.45, 0.35))
    comments = {k: _pick(rng, bank, n) for k, bank in _NPS_COMMENTS.items()}

    recorded = _new_york(t)
    started = _new_york(t - duration)
    names = [u.name for u in story.units]
    rows = []
    for i in range(n):
        s = int(score[i])
        kind = "detractor" if s <= 6 else ("promoter" if s >= 9 else "passive")
        rows.append(
            [
                started[i],
                recorded[i],
                "0",
                "{}.{}.{}.{}".format(*ip[i].tolist()),
                "100",
                str(int(duration[i])),
                "1",
                recorded[i],
                ids[i],
                "anonymous" if anonymous[i] else "email",
                _LANGUAGES[int(language[i])],
                "1" if s <= 6 else ("3" if s >= 9 else "2"),
                str(s),
                comments[kind][i] if with_comment[i] else "",
                names[int(unit[i])],
                "" if anonymous[i] else _account_id(int(account[i])),
            ]
        )
    actions = _plan_actions(
        _rng(seed, "nps_actions", day.toordinal()), story, month, ids, t, unit, detractor
    )
    return _NpsDay(t, rows), actions


def _response_ids(rng: np.random.Generator, n: int) -> list[str]:
    """Qualtrics response ids: `R_` and 15 letters or digits."""
    chars = _ALNUM[rng.integers(0, len(_ALNUM), size=(n, 15))]
    return ["R_" + b.decode() for b in np.ascontiguousarray(chars).view("S15").ravel().tolist()]


def _ces_day(story: Story, seed: int, day: date) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Delighted webhook events for the CES (and a few CSAT) responses created on `day`.

    Returns (created events, later `survey_response.updated` events, feedback actions), events as
    (epoch, response id, JSON line). About a quarter of responses get their comment in an update
    minutes to days later, as Delighted sends it when the customer adds a comment.
    """
    rng = _rng(seed, "ces", day.toordinal())
    month = story.month_index(day)
    t_parts, unit_parts, score_parts, csat_parts = [], [], [], []
    for u in story.units:
        n = int(rng.poisson(_daily_rate(u.profile.ces, day, story.scale)))
        h = story.easy_share(u, month)
        csat = rng.random(n) < 0.02  # a CSAT survey on the same account: filtered by `where`
        ces = rng.choice(7, size=n, p=(1 - h) * _CES_HARD + h * _CES_EASY) + 1
        t_parts.append(_times_in_day(rng, day, n))
        unit_parts.append(np.full(n, u.index))
        score_parts.append(np.where(csat, rng.choice(5, size=n, p=_CSAT) + 1, ces))
        csat_parts.append(csat)
    t = np.concatenate(t_parts).astype(np.int64)
    unit = np.concatenate(unit_parts).astype(np.int64)
    score = np.concatenate(score_parts).astype(np.int64)
    csat = np.concatenate(csat_parts).astype(bool)
    order = np.lexsort((unit, t))
    t, unit, score, csat = t[order], unit[order], score[order], csat[order]
    n = t.size

    # Delighted ids are numbers; numbering by day keeps them unique and never like a Qualtrics id.
    ids = [str((day - date(2000, 1, 1)).days * 1_000_000 + i) for i in range(n)]
    account = unit * _ACCOUNTS_PER_UNIT + rng.integers(0, _ACCOUNTS_PER_UNIT, size=n)
    person = account * 8 + rng.integers(0, 8, size=n)
    updated = rng.random(n) < 0.25
    comment_now = ~updated & (rng.random(n) < 0.3)
    no_updated_at = ~updated & (rng.random(n) < 0.1)
    delay = 600 + np.minimum(rng.exponential(10 * 3600, size=n), 4 * 86400).astype(np.int64)
    hard, easy = score <= 3, score >= 5
    comments = {k: _pick(rng, bank, n) for k, bank in _CES_COMMENTS.items()}
    csat_comments = _pick(rng, _CSAT_COMMENTS, n)
    plan = rng.integers(0, len(_PLANS), size=n)

    alias_month = min(1, story.months - 1)
    created, updates = [], []
    for i in range(n):
        u = story.units[int(unit[i])]
        unit_label = u.name
        if u.name == "Support" and month == alias_month:
            unit_label = "Customer Support"  # a renamed Delighted property, mapped by unit_aliases
        if csat[i]:
            comment = csat_comments[i]
        else:
            comment = comments["hard" if hard[i] else ("easy" if easy[i] else "neutral")][i]
        ti = int(t[i])
        response = {
            "id": ids[i],
            "person": {
                "id": str(int(person[i])),
                "email": f"contact{int(person[i])}@customer{int(account[i])}.example",
            },
            "survey_type": "csat" if csat[i] else "ces",
            "score": int(score[i]),
            "comment": comment if comment_now[i] else None,
            "created_at": ti,
            "updated_at": None if no_updated_at[i] else ti,
            "person_properties": {
                "Unit": unit_label,
                "Account": _account_id(int(account[i])),
                "Plan": _PLANS[int(plan[i])],
            },
        }
        created.append((ti, ids[i], _event("survey_response.created", ids[i], 1, response)))
        if updated[i]:
            tu = ti + int(delay[i])
            response = {**response, "comment": comment, "updated_at": tu}
            updates.append((tu, ids[i], _event("survey_response.updated", ids[i], 2, response)))
    items = ~csat & hard
    actions = _plan_actions(
        _rng(seed, "ces_actions", day.toordinal()), story, month, ids, t, unit, items
    )
    return created, updates, actions


def _event(event_type: str, response_id: str, seq: int, response: dict) -> str:
    return json.dumps(
        {"event_type": event_type, "event_id": f"evt_{response_id}_{seq}", "event_data": response}
    )


def _plan_actions(
    rng: np.random.Generator,
    story: Story,
    month: int,
    ids: list[str],
    t: np.ndarray,
    unit: np.ndarray,
    is_item: np.ndarray,
) -> list[tuple]:
    """Feedback actions on the day's detractors / high-effort responses, as
    (epoch, feedback_id, action_type, owner, root_cause, note).

    In a ready unit about 85% of items get a first action within 48 hours, about 10% later (up to
    ten days), about 5% none; a quarter of the acted ones get their root cause fixed later. In a
    unit that is not ready, only about 2% get any action (someone replies anyway).
    """
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
    cause = rng.integers(0, len(_ROOT_CAUSES), size=n)
    note_first = _pick(rng, _NOTES_FIRST, n)
    note_fix = _pick(rng, _NOTES_FIX, n)
    out = []
    for i in np.flatnonzero(~np.isnan(hours)).tolist():
        owner = _owner(story.units[int(unit[i])], int(owner_k[i]))
        at = int(t[i]) + int(hours[i] * 3600)
        out.append((at, ids[i], str(first_type[i]), owner, "", note_first[i]))
        if fix[i]:
            at_fix = at + int(fix_after[i] * 3600)
            root = _ROOT_CAUSES[int(cause[i])]
            out.append((at_fix, ids[i], "root_cause_fixed", owner, root, note_fix[i]))
    return out


def _action_rows(actions: list[tuple]) -> list[list[str]]:
    stamps = _iso_utc(np.array([a[0] for a in actions], dtype=np.int64))
    return [[a[1], s, a[2], a[3], a[4], a[5]] for a, s in zip(actions, stamps, strict=True)]


def _pop_until(heap: list[tuple], end: int) -> list[tuple]:
    out = []
    while heap and heap[0][0] < end:
        out.append(heapq.heappop(heap))
    return out


# --------------------------------------------------------------------------------------------------
# Monthly sources (history only): upsell, revenue, cost, employee pulse, readiness


def _upsell_rows(story: Story, seed: int, month: int) -> list[list[str]]:
    """Salesforce opportunities closing in `month`. Upgrades of existing customers win more often
    and grow a little larger once the unit's customers are happier (with a lag)."""
    rng = _rng(seed, "upsell", month, story.start.toordinal())
    first = story.month_start(month)
    last = _add_months(first, 1) - timedelta(days=1)
    serial0 = (first.year * 12 + first.month) * 100_000
    types = (
        "Existing Customer - Upgrade",
        "New Customer",
        "Existing Customer - Replacement",
        "Existing Customer - Downgrade",
    )
    names = (
        "Seat expansion",
        "Upgrade to Enterprise",
        "Add-on: collections",
        "Add'l entities",
        "Renewal with upgrade",
        "Payments module",
        "New subsidiary rollout",
    )
    descriptions = (
        "Customer wants faster reconciliation, and fewer manual reminders.",
        "Finance team grew; needs more seats",
        "Replacing a legacy AR tool",
        "Pilot went well. Expanding to two more countries.",
        "",
    )
    sources = ("Web", "Partner Referral", "Phone Inquiry", "Customer Event", "Existing Customer")
    rows = []
    serial = 0
    for u in story.units:
        n = int(rng.poisson(u.profile.opportunities * story.scale))
        g = story.customer_progress(u, month - story.upsell_lag)
        kind = rng.choice(len(types), size=n, p=[0.5, 0.3, 0.12, 0.08])
        win_p = np.where(kind == 0, 0.33 + 0.22 * g, 0.35)
        won = rng.random(n) < win_p
        amount = np.round(rng.lognormal(9.0, 0.45, size=n) * np.where(kind == 0, 1 + 0.15 * g, 1))
        close_day = rng.integers(1, last.day + 1, size=n)
        age = rng.integers(20, 120, size=n)
        pick_name = rng.integers(0, len(names), size=n)
        pick_desc = rng.integers(0, len(descriptions), size=n)
        pick_source = rng.integers(0, len(sources), size=n)
        account = u.index * _ACCOUNTS_PER_UNIT + rng.integers(0, _ACCOUNTS_PER_UNIT, size=n)
        owner = rng.integers(0, 4, size=n)
        open_stage = rng.choice(["Prospecting", "Qualification", "Negotiation/Review"], size=n)
        for i in range(n):
            close = first.replace(day=int(close_day[i]))
            closed = close <= story.until
            amt = float(amount[i])
            if closed and won[i]:
                stage, prob, forecast, is_won = "Closed Won", 100, "Closed", "1"
            elif closed:
                stage, prob, forecast, is_won = "Closed Lost", 0, "Omitted", ""
            else:
                stage = str(open_stage[i])
                prob = {"Prospecting": 10, "Qualification": 20}.get(stage, 80)
                forecast, is_won = "Pipeline", ""
            created = datetime.combine(close - timedelta(days=int(age[i])), datetime.min.time())
            created += timedelta(seconds=int(age[i]) * 613 % 86400)
            modified = datetime.combine(min(close, story.until), datetime.min.time())
            modified += timedelta(hours=17, minutes=int(age[i]) % 60)
            owner_id = "005Dm00" + _b62(1000 + u.index * 4 + int(owner[i]), 8) + "AAA"
            quarter = (close.month - 1) // 3 + 1
            stamp_created = created.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
            stamp_modified = modified.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
            record = dict.fromkeys(SALESFORCE_COLUMNS, "")
            record.update(
                Id="006Dm00" + _b62(serial0 + serial, 8) + "IAA",
                AccountId=_account_id(int(account[i])),
                Name=names[int(pick_name[i])],
                Description=descriptions[int(pick_desc[i])],
                StageName=stage,
                Amount=f"{amt:.0f}",
                Probability=str(prob),
                ExpectedRevenue=f"{amt * prob / 100:.1f}".removesuffix(".0"),
                CloseDate=close.isoformat(),
                Type=types[int(kind[i])],
                LeadSource=sources[int(pick_source[i])],
                IsClosed="1" if closed else "",
                IsWon=is_won,
                ForecastCategory=forecast,
                ForecastCategoryName=forecast,
                OwnerId=owner_id,
                CreatedDate=stamp_created,
                CreatedById=owner_id,
                LastModifiedDate=stamp_modified,
                LastModifiedById=owner_id,
                SystemModstamp=stamp_modified,
                FiscalQuarter=str(quarter),
                FiscalYear=str(close.year),
                Fiscal=f"{close.year} {quarter}",
                Business_Unit__c=u.name,
            )
            rows.append(list(record.values()))
            serial += 1
    rows.sort(key=lambda r: (r[11], r[0]))
    return rows


def _revenue_amount(story: Story, seed: int, unit: UnitStory, month: int) -> float:
    """Monthly revenue: slow organic growth, plus up to 12% more once happier customers stay and
    buy more (after the revenue lag), plus a little noise."""
    rng = _rng(seed, "finance", month, unit.index, story.start.toordinal())
    g = story.customer_progress(unit, month - story.revenue_lag)
    season = 1 + 0.03 * math.sin(2 * math.pi * (story.month_start(month).month - 1) / 12)
    noise = 1 + rng.normal(0, 0.01)
    return unit.profile.revenue * (1 + 0.003 * month) * (1 + 0.12 * g) * season * noise


def _revenue_rows(story: Story, seed: int, month: int) -> list[list[str]]:
    period = story.month_start(month)
    rows = [
        [period.isoformat(), u.name, f"{_revenue_amount(story, seed, u, month):.2f}"]
        for u in story.units
    ]
    restated = _restatement(story)
    if restated is not None and restated[0] == month:
        # Finance booked a late invoice: this file restates an earlier month for one unit.
        _, earlier, unit = restated
        amount = _revenue_amount(story, seed, unit, earlier) * 1.031
        rows.append([story.month_start(earlier).isoformat(), unit.name, f"{amount:.2f}"])
    return sorted(rows)


def _restatement(story: Story) -> tuple[int, int, UnitStory] | None:
    """(month whose file restates, month restated, unit) or None when the timeline is too short."""
    if story.months < 4:
        return None
    unit = story.units[1] if len(story.units) > 1 else story.units[0]
    return story.months - 2, story.months - 4, unit


def _cost_rows(story: Story, seed: int, month: int) -> list[list[str]]:
    """Cost to serve: staff cost falls as customer effort falls (fewer repeat contacts to handle),
    tooling stays, training peaks in the months before the unit's gate opens."""
    rng = _rng(seed, "finance", month, 10_000, story.start.toordinal())
    period = story.month_start(month).isoformat()
    rows = []
    for u in story.units:
        g = story.customer_progress(u, month)
        contacts = round(u.profile.contacts * (1 + rng.normal(0, 0.04)))
        total = u.profile.contacts * 14.0
        staff = total * 0.78 * (1 - 0.32 * g) * (1 + rng.normal(0, 0.02))
        tooling = total * 0.15
        before_gate = u.ready_month is not None and u.ready_month - 2 <= month <= u.ready_month
        training = total * 0.07 * (1.4 if before_gate else 1.0)
        rows.append([period, u.name, f"{staff:.2f}", str(contacts), "support_staff"])
        rows.append([period, u.name, f"{tooling:.2f}", "", "tooling"])
        rows.append([period, u.name, f"{training:.2f}", "", "training"])
    return sorted(rows, key=lambda r: (r[0], r[1], r[4]))


def _pulse_rows(story: Story, seed: int, month: int) -> list[list[str]]:
    """The monthly employee pulse: eNPS (0..10) and wellbeing (1..5) per unit, rising a few months
    before the unit's gate opens. About 72% of employees answer, so a small unit sometimes has
    fewer than 5 answers and its employee measures are suppressed."""
    rng = _rng(seed, "employee_pulse", month, story.start.toordinal())
    first = story.month_start(month)
    out = []
    for u in story.units:
        headcount = max(1, round(u.profile.headcount * story.scale))
        n = int(rng.binomial(headcount, 0.72))
        e = story.employee_progress(u, month)
        enps = rng.choice(11, size=n, p=_nps_distribution(u.profile.enps0 + 32 * e, passives=0.3))
        wellbeing = rng.choice(5, size=n, p=(1 - e) * _WELLBEING_LOW + e * _WELLBEING_HIGH) + 1
        missing = rng.random(n)
        # the pulse goes out on the 6th; most answer within days, during office hours
        day_offset = np.minimum(rng.exponential(2.5, size=n), 12).astype(np.int64)
        t = _day_epoch(first) + (5 + day_offset) * 86400
        t = t + rng.integers(7 * 3600, 17 * 3600, size=n)
        keep = t < _day_epoch(story.until) + 86400  # not answered yet after the timeline's end
        stamps = _iso_utc(t)
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


def _assessment_months(story: Story, unit: UnitStory) -> list[int]:
    months = set(range(0, story.months, 3))
    if unit.ready_month is not None:
        months.add(unit.ready_month)
    return sorted(months)


def _readiness_rows(story: Story, seed: int, month: int) -> list[list[str]]:
    """Readiness assessments held this month: every assessor of the unit scores each dimension
    1..5. Before the gate opens the unit's blocking dimensions stay at 1-2 (below the floor 2.5)
    while the others creep up; from the gate month on, every dimension is 3-5 with a mean of at
    least 3.8 (threshold 3.5)."""
    rng = _rng(seed, "readiness", month, story.start.toordinal())
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


# --------------------------------------------------------------------------------------------------
# Planted flaws


def _flaw_month(story: Story, k: int) -> int:
    return min(k, story.months - 1)


def _nps_flaw_rows(story: Story, seed: int, month: int) -> list[tuple[int, list[str], str]]:
    """Rows that a careful pipeline must not count: (epoch, Qualtrics row, what is wrong)."""
    rng = _rng(seed, "flaws", month)
    first = story.month_start(month)
    unit_names = [u.name for u in story.units]
    specs = []
    if month == _flaw_month(story, 0):
        specs += [
            ("1", "preview", "9", unit_names[0], "a Qualtrics survey preview (Status 1)"),
            ("2", "test", "7", unit_names[-1], "a Qualtrics survey test response (Status 2)"),
        ]
    if month == _flaw_month(story, 1):
        specs += [
            ("0", "email", "10+", unit_names[0], "a malformed score '10+'"),
            ("0", "email", "11", unit_names[1 % len(unit_names)], "an out-of-range score 11"),
        ]
    if month == _flaw_month(story, 2):
        specs += [("0", "email", "8", "", "a response without a unit")]
    out = []
    for k, (status, channel, score, unit, what) in enumerate(specs):
        t = _day_epoch(first) + 14 * 3600 + 1800 * k + int(rng.integers(0, 1800))
        duration = int(rng.integers(40, 400))
        [started, recorded] = _new_york(np.array([t - duration, t]))
        group = {"9": "3", "7": "2", "8": "2", "11": "3"}.get(score, "")
        row = [
            started,
            recorded,
            status,
            "" if status != "0" else "{}.{}.{}.{}".format(*rng.integers(1, 255, 4).tolist()),
            "100",
            str(duration),
            "1",
            recorded,
            _response_ids(rng, 1)[0],
            channel,
            "EN",
            group,
            score,
            "testing the survey" if status != "0" else "",
            unit,
            "" if status != "0" else _account_id(int(rng.integers(0, _ACCOUNTS_PER_UNIT))),
        ]
        out.append((t, row, what))
    return out


def _orphan_actions(story: Story, seed: int, month: int) -> list[tuple]:
    """Feedback actions logged against ids that match no response (a typo, another system's case
    number): kept at load time and shown as orphans on the data-health page."""
    if month != _flaw_month(story, 4):
        return []
    rng = _rng(seed, "orphans", month)
    first = story.month_start(month)
    unit = story.units[0]
    ids = [
        _response_ids(rng, 1)[0],
        _response_ids(rng, 1)[0][:-1],  # an id with its last character lost
        "CASE-004211",
        "CASE-004377",
    ]
    day = min(first + timedelta(days=9), story.until)
    base = _day_epoch(day) + 10 * 3600
    return [
        (base + 5400 * k, fid, "called_back", _owner(unit, k), "", "Logged from the call centre")
        for k, fid in enumerate(ids)
    ]


# --------------------------------------------------------------------------------------------------
# generate


def generate(
    home: Path,
    *,
    months: int = 18,
    until: date | None = None,
    units: list[str] | None = None,
    scale: float = 1.0,
    seed: int = 7,
    progress: Progress = print,
) -> DemoSummary:
    """Write `months` of demo history ending on `until` into `home/inbox/<source>/`, and the
    bundled strategy.yaml / sources.yaml into `home` when absent.

    `until` defaults to yesterday (UTC), the last complete day: a history never holds events later
    than now, and `live` carries on with today as it happens.

    Running it again with the same arguments leaves the files as they are; a landed file is never
    rewritten (different content under an existing name raises DemoError).
    """
    home = Path(home)
    until = until or datetime.now(UTC).date() - timedelta(days=1)
    story = Story.build(until, months, list(units or DEFAULT_UNITS), scale)
    say = progress or (lambda _msg: None)
    inbox = home / "inbox"
    summary = DemoSummary(home=home, start=story.start, until=until)
    summary.events = {
        s: 0
        for s in (
            "nps",
            "ces",
            "upsell",
            "revenue",
            "cost",
            "employee_pulse",
            "readiness",
            "feedback_actions",
        )
    }
    summary.ready_months = {
        u.name: None if u.ready_month is None else story.month_start(u.ready_month)
        for u in story.units
    }
    for name in ("strategy.yaml", "sources.yaml"):
        target = home / name
        if not target.exists() and (EXAMPLES_DIR / name).is_file():
            home.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(EXAMPLES_DIR / name, target)
            summary.files.append(target)

    say(
        f"demo: {story.months} months {story.start:%Y-%m}..{until:%Y-%m-%d}, "
        f"{len(story.units)} units, scale {scale:g}, seed {seed} -> {inbox}"
    )
    pending_updates: list[tuple] = []  # Delighted updates not yet sent (epoch, id, line)
    pending_actions: list[tuple] = []  # feedback actions not yet taken
    for month in range(story.months):
        first = story.month_start(month)
        last = min(_add_months(first, 1) - timedelta(days=1), until)
        tag = f"{first:%Y-%m}"
        counts = _write_month_responses(
            story, seed, month, first, last, inbox, summary, pending_updates, pending_actions
        )
        for source, name, rows, bom in (
            ("upsell", f"opportunities_{tag}.csv", _upsell_rows(story, seed, month), True),
            ("revenue", f"revenue_{tag}.csv", _revenue_rows(story, seed, month), False),
            ("cost", f"cost_{tag}.csv", _cost_rows(story, seed, month), False),
            ("employee_pulse", f"pulse_{tag}.csv", _pulse_rows(story, seed, month), False),
            ("readiness", f"readiness_{tag}.csv", _readiness_rows(story, seed, month), False),
        ):
            if source == "readiness" and not rows:
                continue
            header = SALESFORCE_COLUMNS if source == "upsell" else CSV_HEADERS[source]
            path = inbox / source / name
            with _landing(path, bom=bom) as fh:
                w = _writer(fh)
                w.writerow(header)
                w.writerows(rows)
            summary.files.append(path)
            summary.events[source] += len(rows)
            counts[source] = len(rows)
            if source == "revenue" and (r := _restatement(story)) and r[0] == month:
                summary.flaws.append(
                    PlantedFlaw(
                        "revenue",
                        path,
                        None,
                        f"restates {story.month_start(r[1]):%Y-%m} for {r[2].name} "
                        "(a later file replaces the earlier row)",
                    )
                )
        say(
            f"  {tag} ({month + 1}/{story.months}): "
            + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        )

    _save_state(
        inbox,
        story,
        seed,
        last_day=until,
        pending_updates=pending_updates,
        pending_actions=pending_actions,
        keep_if_ahead=True,
    )
    summary.files.sort()
    say(f"demo: {summary.total_events:,} events in {len(summary.files)} files")
    return summary


def _write_month_responses(
    story: Story,
    seed: int,
    month: int,
    first: date,
    last: date,
    inbox: Path,
    summary: DemoSummary,
    pending_updates: list[tuple],
    pending_actions: list[tuple],
) -> dict[str, int]:
    """Stream one month of NPS, CES and feedback actions, a day at a time, into their files."""
    tag = f"{first:%Y-%m}"
    nps_path = inbox / "nps" / f"nps_export_{tag}.csv"
    ces_path = inbox / "ces" / f"delighted_{tag}.jsonl"
    act_path = inbox / "feedback_actions" / f"actions_{tag}.csv"
    flaws = _nps_flaw_rows(story, seed, month)
    for action in _orphan_actions(story, seed, month):
        heapq.heappush(pending_actions, action)
        summary.flaws.append(
            PlantedFlaw("feedback_actions", act_path, None, f"orphan action for {action[1]}")
        )
    counts = {"nps": 0, "ces": 0, "feedback_actions": 0}
    with (
        _landing(nps_path, bom=True) as nps_fh,
        _landing(ces_path) as ces_fh,
        _landing(act_path) as act_fh,
    ):
        nps_w, act_w = _writer(nps_fh), _writer(act_fh)
        _write_qualtrics_header(nps_w)
        act_w.writerow(CSV_HEADERS["feedback_actions"])
        for day in _days(first, last):
            end = _day_epoch(day) + 86400
            nps, actions = _nps_day(story, seed, day)
            rows = nps.rows
            todays = [f for f in flaws if _day_epoch(day) <= f[0] < end]
            if todays:
                keyed = [(int(e), 0, r, "") for e, r in zip(nps.epochs.tolist(), rows, strict=True)]
                keyed += [(e, 1, r, what) for e, r, what in todays]
                keyed.sort(key=lambda k: (k[0], k[1]))
                rows = [k[2] for k in keyed]
                for pos, k in enumerate(keyed):
                    if k[1]:
                        row_number = 4 + counts["nps"] + pos
                        summary.flaws.append(PlantedFlaw("nps", nps_path, row_number, k[3]))
            nps_w.writerows(rows)
            counts["nps"] += len(rows)

            created, updates, ces_actions = _ces_day(story, seed, day)
            for u in updates:
                heapq.heappush(pending_updates, u)
            lines = sorted(created + _pop_until(pending_updates, end))
            ces_fh.writelines(line + "\n" for _, _, line in lines)
            counts["ces"] += len(lines)

            for a in actions + ces_actions:
                heapq.heappush(pending_actions, a)
            due = _pop_until(pending_actions, end)
            act_w.writerows(_action_rows(due))
            counts["feedback_actions"] += len(due)
    summary.files += [nps_path, ces_path, act_path]
    for source, n in counts.items():
        summary.events[source] += n

    if month == _flaw_month(story, 1) and "Support" in [u.name for u in story.units]:
        summary.flaws.append(
            PlantedFlaw("ces", ces_path, None, "unit spelled 'Customer Support' (an alias)")
        )
    if month == _flaw_month(story, 3):
        copy = nps_path.with_name(f"nps_export_{tag} (1).csv")
        if not copy.exists():
            shutil.copyfile(nps_path, copy)
        elif not filecmp.cmp(nps_path, copy, shallow=False):
            raise DemoError(f"{copy} already exists with different content; empty the inbox")
        summary.files.append(copy)
        summary.flaws.append(
            PlantedFlaw("nps", copy, None, f"the same bytes as {nps_path.name} (duplicate export)")
        )
    return counts


def _write_qualtrics_header(w: csv.writer) -> None:
    for row in range(3):
        w.writerow([col[row] for col in QUALTRICS_COLUMNS])


# --------------------------------------------------------------------------------------------------
# live
#
# `live` never writes an event later than the real current time (the ingestion checks reject
# events from the future). While the history lags behind the calendar it catches up one whole past
# day per step; once it reaches today it drops, per step, the slice of today's simulated day that
# has happened since the previous step. One cursor (`emitted_until` in the state file, epoch
# seconds, exclusive) says how far the story has been told: every response, Delighted update and
# feedback action timed before it has been written, none after it. Updates and actions planned for
# later wait in the state file until their time has come.


def _state_path(inbox: Path) -> Path:
    return inbox / STATE_FILE


def _save_state(
    inbox: Path,
    story: Story,
    seed: int,
    *,
    last_day: date,
    pending_updates: list[tuple],
    pending_actions: list[tuple],
    keep_if_ahead: bool = False,
    emitted_until: int | None = None,
) -> None:
    """Remember where the story stopped (and what was still to happen), for `live`.

    `last_day` is the last day told completely; `emitted_until` (only `live` sets it) is the epoch
    second up to which (exclusive) the following day has been told already.
    """
    path = _state_path(inbox)
    if keep_if_ahead and path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        same_story = old.get("story") == story.to_json() and old.get("seed") == seed
        if same_story and _state_cursor(old) > _day_epoch(last_day) + 86400:
            return  # `live` already continued this very story: keep its place
    state = {
        "version": STATE_VERSION,
        "seed": seed,
        "story": story.to_json(),
        "last_day": last_day.isoformat(),
        "pending_updates": sorted(pending_updates),
        "pending_actions": sorted(pending_actions),
    }
    if emitted_until is not None:
        state["emitted_until"] = emitted_until
    inbox.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(state), encoding="utf-8")
    os.replace(part, path)


def _state_cursor(state: dict) -> int:
    """How far (epoch seconds, exclusive) a saved state has told the story: the end of its last
    complete day, or further into the next day when `live` dropped slices of it."""
    end_of_last_day = _day_epoch(date.fromisoformat(state["last_day"])) + 86400
    return max(end_of_last_day, int(state.get("emitted_until", end_of_last_day)))


@dataclass
class _LiveState:
    story: Story
    seed: int
    last_day: date  # the last day written completely
    emitted_until: int  # epoch seconds: everything before has been written, nothing after
    pending_updates: list[tuple]  # heap of Delighted updates still to send (epoch, id, line)
    pending_actions: list[tuple]  # heap of feedback actions still to take

    def roll_over(self) -> None:
        """Count a day as complete once the cursor has passed its end."""
        while self.emitted_until >= _day_epoch(self.last_day) + 2 * 86400:
            self.last_day += timedelta(days=1)


def _load_state(inbox: Path) -> _LiveState:
    path = _state_path(inbox)
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
    heapq.heapify(updates)
    heapq.heapify(actions)
    loaded = _LiveState(
        story,
        state["seed"],
        date.fromisoformat(state["last_day"]),
        _state_cursor(state),
        updates,
        actions,
    )
    loaded.roll_over()
    return loaded


@dataclass
class _SimulatedDay:
    """Everything that happens on one simulated day, before it is cut into what is due."""

    day: date
    nps: _NpsDay
    created: list[tuple]  # Delighted `survey_response.created` events (epoch, id, line)
    updates: list[tuple]  # their later `survey_response.updated` events
    actions: list[tuple]  # feedback actions on the day's NPS detractors and high-effort CES

    @classmethod
    def build(cls, story: Story, seed: int, day: date) -> _SimulatedDay:
        nps, nps_actions = _nps_day(story, seed, day)
        created, updates, ces_actions = _ces_day(story, seed, day)
        return cls(day, nps, created, updates, nps_actions + ces_actions)


_RESPONSE_ID = [col[0] for col in QUALTRICS_COLUMNS].index("ResponseId")


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
    progress: Progress = print,
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
    appears complete (written as `.part`, then renamed); existing files are never rewritten.
    Returns the files written.
    """
    inbox = Path(home) / "inbox"
    state = _load_state(inbox)
    if seed != state.seed:
        raise DemoError(
            f"{_state_path(inbox)} holds a history generated with seed {state.seed}, not {seed}: "
            f"run live with --seed {state.seed} so the story continues with the same draws"
        )
    clock = now or (lambda: datetime.now(UTC))
    say = progress or (lambda _msg: None)
    written: list[Path] = []
    simulated: _SimulatedDay | None = None
    waiting_said = False
    steps = 0
    while not (stop and stop()) and (max_steps is None or steps < max_steps):
        day = state.last_day + timedelta(days=1)
        day_end = _day_epoch(day) + 86400
        until = min(day_end, _epoch_of(clock()) + 1)  # exclusive: nothing later than now
        if until <= state.emitted_until:
            if not waiting_said:
                told = _iso_utc(np.array([state.emitted_until - 1]))[0]
                say(f"live: the inbox holds everything up to {told}; waiting for the clock")
                waiting_said = True
        else:
            waiting_said = False
            if simulated is None or simulated.day != day:
                simulated = _SimulatedDay.build(state.story, state.seed, day)
            written += _drop(inbox, state, simulated, until, say)
            _save_state(
                inbox,
                state.story,
                state.seed,
                last_day=state.last_day,
                pending_updates=state.pending_updates,
                pending_actions=state.pending_actions,
                emitted_until=state.emitted_until,
            )
        steps += 1
        if max_steps is not None and steps >= max_steps:
            break
        _sleep(every, stop)
    return written


def _drop(
    inbox: Path, state: _LiveState, simulated: _SimulatedDay, until: int, say: Callable
) -> list[Path]:
    """Write what happened from `state.emitted_until` up to `until` (exclusive, within one day)
    and move the cursor there."""
    since = state.emitted_until
    day = simulated.day
    whole_day = since == _day_epoch(day) and until == _day_epoch(day) + 86400
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
    told = {row[_RESPONSE_ID] for row in nps_rows} | {c[1] for c in created}
    for u in simulated.updates:
        if u[1] in told:
            heapq.heappush(state.pending_updates, u)
    for a in simulated.actions:
        if a[1] in told:
            heapq.heappush(state.pending_actions, a)
    lines = sorted(created + _pop_until(state.pending_updates, until))
    due = _pop_until(state.pending_actions, until)

    written = []
    if whole_day or nps_rows:
        path = inbox / "nps" / f"nps_export_{tag}.csv"
        with _landing(path, bom=True) as fh:
            w = _writer(fh)
            _write_qualtrics_header(w)
            w.writerows(nps_rows)
        written.append(path)
    if whole_day or lines:
        path = inbox / "ces" / f"delighted_{tag}.jsonl"
        with _landing(path) as fh:
            fh.writelines(line + "\n" for _, _, line in lines)
        written.append(path)
    if whole_day or due:
        path = inbox / "feedback_actions" / f"actions_{tag}.csv"
        with _landing(path) as fh:
            w = _writer(fh)
            w.writerow(CSV_HEADERS["feedback_actions"])
            w.writerows(_action_rows(due))
        written.append(path)

    state.emitted_until = until
    state.roll_over()
    say(f"live {label}: nps {len(nps_rows)}, ces events {len(lines)}, actions {len(due)}")
    return written


def _sleep(seconds: float, stop: Callable[[], bool] | None) -> None:
    """Wait, but notice a stop request within a fifth of a second."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if stop and stop():
            return
        time.sleep(min(left, 0.2))
