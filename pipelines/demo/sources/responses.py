"""One day of survey responses, NPS (Qualtrics) and CES (Delighted), shared by the history and
`live`: both tell a day from the same draws, so `live` continues exactly the story the history
would have told.

Each unit's volume follows its profile, the season and the weekday; its scores follow the story
(NPS and the share of easy CES answers rise once the unit has passed its gate). Detractors and
high-effort answers come with the feedback actions they will get, and some with the same
account's follow-up response weeks later (`followups`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from pipelines.demo import draws
from pipelines.demo.formats import delighted, qualtrics
from pipelines.demo.formats.salesforce import account_id
from pipelines.demo.sources.actions import plan_actions
from pipelines.demo.sources.followups import followup_scores, plan_followups
from pipelines.demo.story import Story
from pipelines.demo.text import CES_COMMENTS, CSAT_COMMENTS, NPS_COMMENTS, NPS_UNIT_DETRACTOR
from pipelines.demo.times import avoid_fall_back_hour, new_york

_LANGUAGES = ("EN", "DE", "FR", "ES")
_LANGUAGE_P = np.array([0.85, 0.06, 0.05, 0.04])
_PLANS = ("Starter", "Growth", "Enterprise")


@dataclass
class NpsDay:
    """The NPS responses recorded on one day, as Qualtrics rows in time order."""

    epochs: np.ndarray  # RecordedDate, UTC epoch seconds, sorted
    rows: list[list[str]]  # Qualtrics rows in that order


def nps_day(story: Story, seed: int, day: date) -> tuple[NpsDay, list[tuple], list[tuple]]:
    """The NPS responses recorded on `day`, the feedback actions they will get, and the follow-up
    responses of their detractors (epoch, original id, "nps", Qualtrics row)."""
    rng = draws.rng(seed, "nps", day.toordinal())
    month = story.month_index(day)
    t_parts, unit_parts, score_parts = [], [], []
    for u in story.units:
        n = int(rng.poisson(draws.daily_rate(u.profile.nps, day, story.scale)))
        t_parts.append(draws.times_in_day(rng, day, n))
        unit_parts.append(np.full(n, u.index))
        p = draws.nps_distribution(story.nps_target(u, month))
        score_parts.append(rng.choice(11, size=n, p=p))
    t = avoid_fall_back_hour(np.concatenate(t_parts).astype(np.int64))
    unit = np.concatenate(unit_parts).astype(np.int64)
    score = np.concatenate(score_parts).astype(np.int64)
    order = np.lexsort((unit, t))
    t, unit, score = t[order], unit[order], score[order]
    n = t.size

    ids = qualtrics.response_ids(rng, n)
    duration = np.clip(rng.lognormal(5.0, 0.6, size=n), 25, 3600).astype(np.int64)
    anonymous = rng.random(n) < 0.15
    language = rng.choice(len(_LANGUAGES), size=n, p=_LANGUAGE_P)
    respondents = story.respondents_per_unit
    account = unit * respondents + rng.integers(0, respondents, size=n)
    ip = rng.integers(1, 255, size=(n, 4))
    detractor, promoter = score <= 6, score >= 9
    with_comment = rng.random(n) < np.where(detractor, 0.6, np.where(promoter, 0.45, 0.35))
    comments = {k: draws.pick(rng, bank, n) for k, bank in NPS_COMMENTS.items()}
    # A detractor writes about their unit's own trouble half the time (nine in ten during an
    # outage); drawn after everything else, so the other draws stay as they were.
    own_comments = {u: draws.pick(rng, bank, n) for u, bank in NPS_UNIT_DETRACTOR.items()}
    own_draw = rng.random(n)

    recorded = new_york(t)
    started = new_york(t - duration)
    names = [u.name for u in story.units]
    rows = []
    own_share = {u.name: 0.9 if story.in_outage(u, month) else 0.5 for u in story.units}
    for i in range(n):
        s = int(score[i])
        kind = "detractor" if s <= 6 else ("promoter" if s >= 9 else "passive")
        name = names[int(unit[i])]
        comment = comments[kind][i]
        if kind == "detractor" and name in own_comments and own_draw[i] < own_share[name]:
            comment = own_comments[name][i]
        rows.append(
            qualtrics.response_row(
                started=started[i],
                recorded=recorded[i],
                status="0",
                ip="{}.{}.{}.{}".format(*ip[i].tolist()),
                duration=int(duration[i]),
                response_id=ids[i],
                channel="anonymous" if anonymous[i] else "email",
                language=_LANGUAGES[int(language[i])],
                group=qualtrics.nps_group(s),
                score=str(s),
                comment=comment if with_comment[i] else "",
                unit=name,
                account="" if anonymous[i] else account_id(int(account[i])),
            )
        )
    actions, in_time = plan_actions(
        draws.rng(seed, "nps_actions", day.toordinal()), story, month, ids, t, unit, detractor
    )
    frng = draws.rng(seed, "nps_followups", day.toordinal())
    plan = plan_followups(frng, t, detractor, ~anonymous, in_time)
    k = plan.index.size
    f_score = followup_scores(frng, plan.recovered, bad=(0, 6), good=(7, 10))
    f_ids = qualtrics.response_ids(frng, k)
    f_duration = np.clip(frng.lognormal(5.0, 0.6, size=k), 25, 3600).astype(np.int64)
    f_t = avoid_fall_back_hour(plan.t)
    f_comments = {kind: draws.pick(frng, bank, k) for kind, bank in NPS_COMMENTS.items()}
    f_recorded, f_started = new_york(f_t), new_york(f_t - f_duration)
    followups = []
    for j, i in enumerate(plan.index.tolist()):
        s = int(f_score[j])
        kind = "detractor" if s <= 6 else ("promoter" if s >= 9 else "passive")
        row = qualtrics.response_row(
            started=f_started[j],
            recorded=f_recorded[j],
            status="0",
            ip="{}.{}.{}.{}".format(*ip[i].tolist()),
            duration=int(f_duration[j]),
            response_id=f_ids[j],
            channel="email",
            language=_LANGUAGES[int(language[i])],
            group=qualtrics.nps_group(s),
            score=str(s),
            comment=f_comments[kind][j] if with_comment[i] else "",
            unit=names[int(unit[i])],
            account=account_id(int(account[i])),
        )
        followups.append((int(f_t[j]), ids[i], "nps", row))
    actions += _followup_actions(story, frng, f_ids, f_t, unit[plan.index], f_score <= 6)
    return NpsDay(t, rows), actions, followups


def _followup_actions(
    story: Story,
    rng: np.random.Generator,
    ids: list[str],
    t: np.ndarray,
    unit: np.ndarray,
    is_item: np.ndarray,
) -> list[tuple]:
    """The actions on follow-ups that are bad news again (they get no follow-up of their own)."""
    if not ids:
        return []
    months = np.array([story.month_index(datetime.fromtimestamp(int(x), UTC).date()) for x in t])
    actions, _ = plan_actions(rng, story, months, ids, t, unit, is_item)
    return actions


def ces_day(
    story: Story, seed: int, day: date
) -> tuple[list[tuple], list[tuple], list[tuple], list[tuple]]:
    """Delighted webhook events for the CES (and a few CSAT) responses created on `day`.

    Returns (created events, later `survey_response.updated` events, feedback actions, follow-up
    responses), events as (epoch, response id, JSON line), follow-ups as (epoch, original id,
    "ces", JSON line). About a quarter of responses get their comment in an update
    minutes to days later, as Delighted sends it when the customer adds a comment.
    """
    rng = draws.rng(seed, "ces", day.toordinal())
    month = story.month_index(day)
    t_parts, unit_parts, score_parts, csat_parts = [], [], [], []
    for u in story.units:
        n = int(rng.poisson(draws.daily_rate(u.profile.ces, day, story.scale)))
        h = story.easy_share(u, month)
        csat = rng.random(n) < 0.02  # a CSAT survey on the same account: filtered by `where`
        ces = rng.choice(7, size=n, p=(1 - h) * draws.CES_HARD + h * draws.CES_EASY) + 1
        t_parts.append(draws.times_in_day(rng, day, n))
        unit_parts.append(np.full(n, u.index))
        score_parts.append(np.where(csat, rng.choice(5, size=n, p=draws.CSAT) + 1, ces))
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
    respondents = story.respondents_per_unit
    account = unit * respondents + rng.integers(0, respondents, size=n)
    person = account * 8 + rng.integers(0, 8, size=n)
    updated = rng.random(n) < 0.25
    comment_now = ~updated & (rng.random(n) < 0.3)
    no_updated_at = ~updated & (rng.random(n) < 0.1)
    delay = 600 + np.minimum(rng.exponential(10 * 3600, size=n), 4 * 86400).astype(np.int64)
    hard, easy = score <= 3, score >= 5
    comments = {k: draws.pick(rng, bank, n) for k, bank in CES_COMMENTS.items()}
    csat_comments = draws.pick(rng, CSAT_COMMENTS, n)
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
        response = delighted.response(
            response_id=ids[i],
            person=int(person[i]),
            account_index=int(account[i]),
            survey_type="csat" if csat[i] else "ces",
            score=int(score[i]),
            comment=comment if comment_now[i] else None,
            created_at=ti,
            updated_at=None if no_updated_at[i] else ti,
            unit=unit_label,
            account=account_id(int(account[i])),
            plan=_PLANS[int(plan[i])],
        )
        created.append((ti, ids[i], delighted.created(response)))
        if updated[i]:
            tu = ti + int(delay[i])
            updates.append((tu, ids[i], delighted.updated(response, comment, tu)))
    items = ~csat & hard
    actions, in_time = plan_actions(
        draws.rng(seed, "ces_actions", day.toordinal()), story, month, ids, t, unit, items
    )
    frng = draws.rng(seed, "ces_followups", day.toordinal())
    fplan = plan_followups(frng, t, items, np.ones(n, bool), in_time)
    f_score = followup_scores(frng, fplan.recovered, bad=(1, 3), good=(4, 7))
    # Numbered after the day's own responses, from the same day's block: unique, never like R_.
    f_ids = [str(int(ids[i]) + 500_000) for i in fplan.index.tolist()]
    followups = []
    for j, i in enumerate(fplan.index.tolist()):
        u = story.units[int(unit[i])]
        ti = int(fplan.t[j])
        f_month = story.month_index(datetime.fromtimestamp(ti, UTC).date())
        f_unit = "Customer Support" if u.name == "Support" and f_month == alias_month else u.name
        response = delighted.response(
            response_id=f_ids[j],
            person=int(person[i]),
            account_index=int(account[i]),
            survey_type="ces",
            score=int(f_score[j]),
            comment=None,
            created_at=ti,
            updated_at=ti,
            unit=f_unit,
            account=account_id(int(account[i])),
            plan=_PLANS[int(plan[i])],
        )
        followups.append((ti, ids[i], "ces", delighted.created(response)))
    actions += _followup_actions(story, frng, f_ids, fplan.t, unit[fplan.index], f_score <= 3)
    return created, updates, actions, followups
