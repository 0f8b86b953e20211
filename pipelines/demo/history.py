"""`generate`: months of demo history, written into the inbox a month per file and source.

Responses stream into their files a day at a time, so `scale=100` (about 10M events) runs in
bounded memory; follow-ups decided on one day (a Delighted update, a feedback action) wait in a
heap until the day they happen, and those still waiting at the end go into the state file for
`live`.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from metrics.config import EXAMPLES_DIR
from metrics.store.files import atomic_path
from pipelines.demo.formats import qualtrics
from pipelines.demo.formats.plain_csv import CSV_HEADERS, writer
from pipelines.demo.formats.salesforce import SALESFORCE_COLUMNS
from pipelines.demo.inbox import land_copy, land_csv, landing
from pipelines.demo.sources.actions import action_rows
from pipelines.demo.sources.business import cost_rows, restatement, revenue_rows, upsell_rows
from pipelines.demo.sources.flaws import PlantedFlaw, flaw_month, nps_flaw_rows, orphan_actions
from pipelines.demo.sources.pulse import pulse_rows
from pipelines.demo.sources.readiness import readiness_rows
from pipelines.demo.sources.responses import ces_day, nps_day
from pipelines.demo.state import pop_until, save_state
from pipelines.demo.story import DEFAULT_UNITS, Story
from pipelines.demo.strategy_file import demo_strategy
from pipelines.demo.times import add_months, day_epoch, days

log = logging.getLogger(__name__)

#: Every source the history writes, in the order the summary counts them.
SOURCES = (
    "nps",
    "ces",
    "upsell",
    "revenue",
    "cost",
    "employee_pulse",
    "readiness",
    "feedback_actions",
)


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


def generate(
    home: Path,
    *,
    months: int = 18,
    until: date | None = None,
    units: list[str] | None = None,
    scale: float = 1.0,
    seed: int = 7,
) -> DemoSummary:
    """Write `months` of demo history ending on `until` into `home/inbox/<source>/`, and the
    bundled strategy.yaml (its volume targets at the demo's scale, `strategy_file`) and
    sources.yaml (and alerts.yaml with the bundled strategy) into `home` when absent.

    `until` defaults to yesterday (UTC), the last complete day: a history never holds events later
    than now, and `live` carries on with today as it happens.

    Running it again with the same arguments leaves the files as they are; a landed file is never
    rewritten (different content under an existing name raises DemoError). Progress is logged
    (INFO) on the `pipelines.demo` logger, a line per month.
    """
    home = Path(home)
    until = until or datetime.now(UTC).date() - timedelta(days=1)
    story = Story.build(until, months, list(units or DEFAULT_UNITS), scale)
    inbox = home / "inbox"
    summary = DemoSummary(home=home, start=story.start, until=until)
    summary.events = dict.fromkeys(SOURCES, 0)
    summary.ready_months = {
        u.name: None if u.ready_month is None else story.month_start(u.ready_month)
        for u in story.units
    }
    # alerts.yaml names nodes of the bundled tree, so it comes only with the bundled strategy; its
    # channels stay off until CX_WEBHOOK_URL (or an SMTP URL) is set (README "Alerts")
    bundled_strategy = not (home / "strategy.yaml").exists()
    bundled = {
        "strategy.yaml": lambda: demo_strategy(scale),
        "sources.yaml": lambda: (EXAMPLES_DIR / "sources.yaml").read_bytes(),
        "alerts.yaml": lambda: (EXAMPLES_DIR / "alerts.yaml").read_bytes(),
    }
    for name, content in bundled.items():
        target = home / name
        if name == "alerts.yaml" and not bundled_strategy:
            continue
        if not target.exists() and (EXAMPLES_DIR / name).is_file():
            with atomic_path(target) as part:
                part.write_bytes(content())
            summary.files.append(target)

    log.info(
        f"demo: {story.months} months {story.start:%Y-%m}..{until:%Y-%m-%d}, "
        f"{len(story.units)} units, scale {scale:g}, seed {seed} -> {inbox}"
    )
    pending_updates: list[tuple] = []  # Delighted updates not yet sent (epoch, id, line)
    pending_actions: list[tuple] = []  # feedback actions not yet taken
    pending_responses: list[tuple] = []  # follow-up responses not yet given (see followups)
    for month in range(story.months):
        first = story.month_start(month)
        last = min(add_months(first, 1) - timedelta(days=1), until)
        tag = f"{first:%Y-%m}"
        counts = _write_month_responses(
            story, seed, month, first, last, inbox, summary,
            pending_updates, pending_actions, pending_responses,
        )  # fmt: skip
        for source, name, rows, bom in (
            ("upsell", f"opportunities_{tag}.csv", upsell_rows(story, seed, month), True),
            ("revenue", f"revenue_{tag}.csv", revenue_rows(story, seed, month), False),
            ("cost", f"cost_{tag}.csv", cost_rows(story, seed, month), False),
            ("employee_pulse", f"pulse_{tag}.csv", pulse_rows(story, seed, month), False),
            ("readiness", f"readiness_{tag}.csv", readiness_rows(story, seed, month), False),
        ):
            if source == "readiness" and not rows:
                continue
            header = SALESFORCE_COLUMNS if source == "upsell" else CSV_HEADERS[source]
            path = inbox / source / name
            land_csv(path, header, rows, bom=bom)
            summary.files.append(path)
            summary.events[source] += len(rows)
            counts[source] = len(rows)
            if source == "revenue" and (r := restatement(story)) and r[0] == month:
                summary.flaws.append(
                    PlantedFlaw(
                        "revenue",
                        path,
                        None,
                        f"restates {story.month_start(r[1]):%Y-%m} for {r[2].name} "
                        "(a later file replaces the earlier row)",
                    )
                )
        log.info(
            f"  {tag} ({month + 1}/{story.months}): "
            + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        )

    save_state(
        inbox,
        story,
        seed,
        last_day=until,
        pending_updates=pending_updates,
        pending_actions=pending_actions,
        pending_responses=pending_responses,
        keep_if_ahead=True,
    )
    summary.files.sort()
    log.info(f"demo: {summary.total_events:,} events in {len(summary.files)} files")
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
    pending_responses: list[tuple],
) -> dict[str, int]:
    """Stream one month of NPS, CES and feedback actions, a day at a time, into their files."""
    tag = f"{first:%Y-%m}"
    nps_path = inbox / "nps" / f"nps_export_{tag}.csv"
    ces_path = inbox / "ces" / f"delighted_{tag}.jsonl"
    act_path = inbox / "feedback_actions" / f"actions_{tag}.csv"
    flaws = nps_flaw_rows(story, seed, month)
    for action in orphan_actions(story, seed, month):
        heapq.heappush(pending_actions, action)
        summary.flaws.append(
            PlantedFlaw("feedback_actions", act_path, None, f"orphan action for {action[1]}")
        )
    counts = {"nps": 0, "ces": 0, "feedback_actions": 0}
    with (
        landing(nps_path, bom=True) as nps_fh,
        landing(ces_path) as ces_fh,
        landing(act_path) as act_fh,
    ):
        nps_w, act_w = writer(nps_fh), writer(act_fh)
        qualtrics.write_header(nps_w)
        act_w.writerow(CSV_HEADERS["feedback_actions"])
        for day in days(first, last):
            end = day_epoch(day) + 86400
            nps, actions, nps_followups = nps_day(story, seed, day)
            created, updates, ces_actions, ces_followups = ces_day(story, seed, day)
            for f in nps_followups + ces_followups:
                heapq.heappush(pending_responses, f)
            due_responses = pop_until(pending_responses, end)
            followed = [(e, r) for e, _, source, r in due_responses if source == "nps"]
            rows = nps.rows
            todays = [f for f in flaws if day_epoch(day) <= f[0] < end]
            if todays or followed:
                # follow-ups and planted rows go where their time puts them, after real responses
                # of that second
                keyed = [(int(e), 0, r, "") for e, r in zip(nps.epochs.tolist(), rows, strict=True)]
                keyed += [(int(e), 0, list(r), "") for e, r in followed]
                keyed += [(e, 1, r, what) for e, r, what in todays]
                keyed.sort(key=lambda k: (k[0], k[1]))  # stable: the day's own rows first
                rows = [k[2] for k in keyed]
                for pos, k in enumerate(keyed):
                    if k[1]:
                        row_number = 4 + counts["nps"] + pos
                        summary.flaws.append(PlantedFlaw("nps", nps_path, row_number, k[3]))
            nps_w.writerows(rows)
            counts["nps"] += len(rows)

            for u in updates:
                heapq.heappush(pending_updates, u)
            told = [(e, i, line) for e, i, source, line in due_responses if source == "ces"]
            lines = sorted(created + pop_until(pending_updates, end) + told)
            ces_fh.writelines(line + "\n" for _, _, line in lines)
            counts["ces"] += len(lines)

            for a in actions + ces_actions:
                heapq.heappush(pending_actions, a)
            due = pop_until(pending_actions, end)
            act_w.writerows(action_rows(due))
            counts["feedback_actions"] += len(due)
    summary.files += [nps_path, ces_path, act_path]
    for source, n in counts.items():
        summary.events[source] += n

    if month == flaw_month(story, 1) and "Support" in [u.name for u in story.units]:
        summary.flaws.append(
            PlantedFlaw("ces", ces_path, None, "unit spelled 'Customer Support' (an alias)")
        )
    if month == flaw_month(story, 3):
        copy = nps_path.with_name(f"nps_export_{tag} (1).csv")
        land_copy(nps_path, copy)
        summary.files.append(copy)
        summary.flaws.append(
            PlantedFlaw("nps", copy, None, f"the same bytes as {nps_path.name} (duplicate export)")
        )
    return counts
