"""The month's business results: upsell (Salesforce opportunities), revenue and cost to serve.

They follow the customer measures: upgrades win more often and grow larger once a unit's
customers are happier (after the upsell lag), revenue grows with them (after the revenue lag), and
staff cost falls where customer effort falls (fewer repeat contacts to handle). One revenue file
restates an earlier month, as finance does when it books a late invoice.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from pipelines.demo import draws
from pipelines.demo.formats import salesforce
from pipelines.demo.story import ACCOUNTS_PER_UNIT, Story, UnitStory
from pipelines.demo.text import LEAD_SOURCES, OPPORTUNITY_DESCRIPTIONS, OPPORTUNITY_NAMES
from pipelines.demo.times import add_months

#: Opportunity types and how often each occurs; the first (an upgrade) is the upsell.
_TYPES = (
    "Existing Customer - Upgrade",
    "New Customer",
    "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
)
_TYPE_P = [0.5, 0.3, 0.12, 0.08]
_OPEN_STAGES = ["Prospecting", "Qualification", "Negotiation/Review"]


def upsell_rows(story: Story, seed: int, month: int) -> list[list[str]]:
    """Salesforce opportunities closing in `month`, sorted by close date and id. Upgrades of
    existing customers win more often and grow a little larger once the unit's customers are
    happier (with a lag); those closing after the timeline's end are still open."""
    rng = draws.rng(seed, "upsell", month, story.start.toordinal())
    first = story.month_start(month)
    last = add_months(first, 1) - timedelta(days=1)
    serial0 = (first.year * 12 + first.month) * 100_000
    rows = []
    serial = 0
    for u in story.units:
        n = int(rng.poisson(u.profile.opportunities * story.scale))
        g = story.customer_progress(u, month - story.upsell_lag)
        kind = rng.choice(len(_TYPES), size=n, p=_TYPE_P)
        win_p = np.where(kind == 0, 0.33 + 0.22 * g, 0.35)
        won = rng.random(n) < win_p
        amount = np.round(rng.lognormal(9.0, 0.45, size=n) * np.where(kind == 0, 1 + 0.15 * g, 1))
        close_day = rng.integers(1, last.day + 1, size=n)
        age = rng.integers(20, 120, size=n)
        pick_name = rng.integers(0, len(OPPORTUNITY_NAMES), size=n)
        pick_desc = rng.integers(0, len(OPPORTUNITY_DESCRIPTIONS), size=n)
        pick_source = rng.integers(0, len(LEAD_SOURCES), size=n)
        account = u.index * ACCOUNTS_PER_UNIT + rng.integers(0, ACCOUNTS_PER_UNIT, size=n)
        owner = rng.integers(0, 4, size=n)
        open_stage = rng.choice(_OPEN_STAGES, size=n)
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
            owner_id = salesforce.user_id(1000 + u.index * 4 + int(owner[i]))
            quarter = (close.month - 1) // 3 + 1
            rows.append(
                salesforce.opportunity_row(
                    Id=salesforce.opportunity_id(serial0 + serial),
                    AccountId=salesforce.account_id(int(account[i])),
                    Name=OPPORTUNITY_NAMES[int(pick_name[i])],
                    Description=OPPORTUNITY_DESCRIPTIONS[int(pick_desc[i])],
                    StageName=stage,
                    Amount=f"{amt:.0f}",
                    Probability=str(prob),
                    ExpectedRevenue=f"{amt * prob / 100:.1f}".removesuffix(".0"),
                    CloseDate=close.isoformat(),
                    Type=_TYPES[int(kind[i])],
                    LeadSource=LEAD_SOURCES[int(pick_source[i])],
                    IsClosed="1" if closed else "",
                    IsWon=is_won,
                    ForecastCategory=forecast,
                    ForecastCategoryName=forecast,
                    OwnerId=owner_id,
                    CreatedDate=salesforce.stamp(created),
                    CreatedById=owner_id,
                    LastModifiedDate=salesforce.stamp(modified),
                    LastModifiedById=owner_id,
                    SystemModstamp=salesforce.stamp(modified),
                    FiscalQuarter=str(quarter),
                    FiscalYear=str(close.year),
                    Fiscal=f"{close.year} {quarter}",
                    Business_Unit__c=u.name,
                )
            )
            serial += 1
    close_date = salesforce.SALESFORCE_COLUMNS.index("CloseDate")
    rows.sort(key=lambda r: (r[close_date], r[0]))
    return rows


def _revenue_amount(story: Story, seed: int, unit: UnitStory, month: int) -> float:
    """Monthly revenue: slow organic growth, plus up to 12% more once happier customers stay and
    buy more (after the revenue lag), plus a little noise. It grows with the scale like every
    other volume (ten times the customers buy ten times as much), so upsell's share of revenue
    and the targets tell the same story at every scale."""
    rng = draws.rng(seed, "finance", month, unit.index, story.start.toordinal())
    g = story.customer_progress(unit, month - story.revenue_lag)
    season = 1 + 0.03 * math.sin(2 * math.pi * (story.month_start(month).month - 1) / 12)
    noise = 1 + rng.normal(0, 0.01)
    base = unit.profile.revenue * story.scale
    return base * (1 + 0.003 * month) * (1 + 0.12 * g) * season * noise


def revenue_rows(story: Story, seed: int, month: int) -> list[list[str]]:
    """Each unit's revenue for `month`, plus the restated earlier month in the file that holds it."""
    period = story.month_start(month)
    rows = [
        [period.isoformat(), u.name, f"{_revenue_amount(story, seed, u, month):.2f}"]
        for u in story.units
    ]
    restated = restatement(story)
    if restated is not None and restated[0] == month:
        # Finance booked a late invoice: this file restates an earlier month for one unit.
        _, earlier, unit = restated
        amount = _revenue_amount(story, seed, unit, earlier) * 1.031
        rows.append([story.month_start(earlier).isoformat(), unit.name, f"{amount:.2f}"])
    return sorted(rows)


def restatement(story: Story) -> tuple[int, int, UnitStory] | None:
    """(month whose file restates, month restated, unit) or None when the timeline is too short."""
    if story.months < 4:
        return None
    unit = story.units[1] if len(story.units) > 1 else story.units[0]
    return story.months - 2, story.months - 4, unit


def cost_rows(story: Story, seed: int, month: int) -> list[list[str]]:
    """Cost to serve: staff cost falls as customer effort falls (fewer repeat contacts to handle),
    tooling stays, training peaks in the months before the unit's gate opens. Contacts and cost
    both grow with the scale, so the cost per contact is the same at every scale."""
    rng = draws.rng(seed, "finance", month, 10_000, story.start.toordinal())
    period = story.month_start(month).isoformat()
    rows = []
    for u in story.units:
        g = story.customer_progress(u, month)
        volume = u.profile.contacts * story.scale
        contacts = max(1, round(volume * (1 + rng.normal(0, 0.04))))
        total = volume * 14.0
        staff = total * 0.78 * (1 - 0.32 * g) * (1 + rng.normal(0, 0.02))
        tooling = total * 0.15
        before_gate = u.ready_month is not None and u.ready_month - 2 <= month <= u.ready_month
        training = total * 0.07 * (1.4 if before_gate else 1.0)
        rows.append([period, u.name, f"{staff:.2f}", str(contacts), "support_staff"])
        rows.append([period, u.name, f"{tooling:.2f}", "", "tooling"])
        rows.append([period, u.name, f"{training:.2f}", "", "training"])
    return sorted(rows, key=lambda r: (r[0], r[1], r[4]))
