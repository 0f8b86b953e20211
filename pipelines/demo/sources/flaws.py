"""Realistic flaws planted in the demo data, so the data-health page has honest content.

A Qualtrics survey preview and a test response (first month), a malformed score `10+` and an
out-of-range 11 (second month), a response without a unit (third month), feedback actions whose
response does not exist (fifth month). The other flaws live where their source is written: the
unit spelled `Customer Support` for a month (CES), an NPS export saved twice under another name
(fourth month), a revenue month restated by a later file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np

from pipelines.demo import draws
from pipelines.demo.formats import qualtrics
from pipelines.demo.formats.salesforce import account_id
from pipelines.demo.sources.actions import owner
from pipelines.demo.story import ACCOUNTS_PER_UNIT, Story
from pipelines.demo.times import day_epoch, new_york


@dataclass(frozen=True)
class PlantedFlaw:
    """A deliberate data problem, where it is, and what the pipeline should make of it."""

    source: str
    file: Path
    row_number: int | None  # as a spreadsheet shows it (header rows count); None = whole file
    what: str


def flaw_month(story: Story, k: int) -> int:
    """The month the `k`-th kind of flaw is planted in (the last month on a short timeline)."""
    return min(k, story.months - 1)


def nps_flaw_rows(story: Story, seed: int, month: int) -> list[tuple[int, list[str], str]]:
    """Rows that a careful pipeline must not count: (epoch, Qualtrics row, what is wrong)."""
    rng = draws.rng(seed, "flaws", month)
    first = story.month_start(month)
    unit_names = [u.name for u in story.units]
    specs = []
    if month == flaw_month(story, 0):
        specs += [
            ("1", "preview", "9", unit_names[0], "a Qualtrics survey preview (Status 1)"),
            ("2", "test", "7", unit_names[-1], "a Qualtrics survey test response (Status 2)"),
        ]
    if month == flaw_month(story, 1):
        specs += [
            ("0", "email", "10+", unit_names[0], "a malformed score '10+'"),
            ("0", "email", "11", unit_names[1 % len(unit_names)], "an out-of-range score 11"),
        ]
    if month == flaw_month(story, 2):
        specs += [("0", "email", "8", "", "a response without a unit")]
    out = []
    for k, (status, channel, score, unit, what) in enumerate(specs):
        t = day_epoch(first) + 14 * 3600 + 1800 * k + int(rng.integers(0, 1800))
        duration = int(rng.integers(40, 400))
        [started, recorded] = new_york(np.array([t - duration, t]))
        real = status == "0"
        row = qualtrics.response_row(
            started=started,
            recorded=recorded,
            status=status,
            ip="{}.{}.{}.{}".format(*rng.integers(1, 255, 4).tolist()) if real else "",
            duration=duration,
            response_id=qualtrics.response_ids(rng, 1)[0],
            channel=channel,
            language="EN",
            group={"9": "3", "7": "2", "8": "2", "11": "3"}.get(score, ""),
            score=score,
            comment="" if real else "testing the survey",
            unit=unit,
            account=account_id(int(rng.integers(0, ACCOUNTS_PER_UNIT))) if real else "",
        )
        out.append((t, row, what))
    return out


def orphan_actions(story: Story, seed: int, month: int) -> list[tuple]:
    """Feedback actions logged against ids that match no response (a typo, another system's case
    number): kept at load time and shown as orphans on the data-health page."""
    if month != flaw_month(story, 4):
        return []
    rng = draws.rng(seed, "orphans", month)
    first = story.month_start(month)
    unit = story.units[0]
    ids = [
        qualtrics.response_ids(rng, 1)[0],
        qualtrics.response_ids(rng, 1)[0][:-1],  # an id with its last character lost
        "CASE-004211",
        "CASE-004377",
    ]
    day = min(first + timedelta(days=9), story.until)
    base = day_epoch(day) + 10 * 3600
    return [
        (base + 5400 * k, fid, "called_back", owner(unit, k), "", "Logged from the call centre")
        for k, fid in enumerate(ids)
    ]
