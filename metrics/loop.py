"""Closing the loop: who acted, why it happened, was the customer told, and did they come back happier?

Acting on feedback is only worth it when the customer notices. Each feedback item learns from its
actions who owns it, the root cause found and when the customer was told what was done (a closing
action type); and from the same account's next response of the same survey, the follow-up, whether
the customer recovered (the follow-up is not itself a detractor / high-effort response). The
difference between the recovery rate of items acted upon before the follow-up and of the others is
the loop's measured effect (DESIGN.md "Contract v2 / Closing the loop").

Everything here is an Ibis expression, so DuckDB and Spark compute the same tables.
"""

from __future__ import annotations

import ibis

from metrics.engine import (
    EventTables,
    empty_table,
    is_empty_stand_in,
    require_columns,
    with_all_units,
)
from metrics.measures import wilson_bounds
from metrics.periods import period_start
from metrics.stats import Z_SIGNIFICANT
from metrics.strategy import Strategy

#: The columns closing the loop adds to marts.feedback_items (after `status`).
ITEM_LOOP_COLUMNS = {
    "owner": "string",
    "root_cause": "string",
    "closed_with_customer_at": "timestamp",
    "followup_response_id": "string",
    "followup_at": "timestamp",
    "followup_score": "float64",
    "recovered": "boolean",
}

OUTCOMES_SCHEMA = ibis.schema(
    {
        "unit": "string",
        "period_start": "date",
        "acted": "boolean",
        "followed_up": "int64",
        "recovered": "int64",
        "recovery_rate": "float64",
        "ci_low": "float64",
        "ci_high": "float64",
    }
)

ROOT_CAUSES_SCHEMA = ibis.schema(
    {
        "unit": "string",
        "period_start": "date",
        "root_cause": "string",
        "items": "int64",
        "share": "float64",
    }
)

#: The surveys whose responses are feedback items and follow-ups.
SURVEYS = ("nps", "ces")


def text(value: ibis.Value) -> ibis.StringValue:
    """Free text as the loop reads it: trimmed, and NULL when nothing is left ('' = NULL)."""
    return value.cast("string").strip().nullif("")


def item_cutoff(source: ibis.StringValue, strategy: Strategy) -> ibis.FloatingValue:
    """The score at or below which a response of `source` is a feedback item."""
    loop = strategy.feedback_loop
    return ibis.cases(
        (source == "nps", ibis.literal(float(loop.nps_detractor_max))),
        else_=ibis.literal(float(loop.ces_high_effort_max)),
    )


def _optional(t: ibis.Table, name: str) -> ibis.Value:
    return t[name] if name in t.columns else ibis.null("string")


def with_actions(items: ibis.Table, events: EventTables, strategy: Strategy) -> ibis.Table:
    """`items` (feedback_id, received_at, ...) with first_action_at, owner, root_cause and
    closed_with_customer_at from their actions: the feedback_actions rows for the id at or after
    received_at, ordered by (action_at, action_type).

    owner: the first action's (NULL when blank); root_cause: the last non-blank one;
    closed_with_customer_at: the earliest action of a closing type.
    """
    actions = events.get("feedback_actions")
    if actions is None:
        return items.mutate(
            first_action_at=ibis.null("timestamp"),
            owner=ibis.null("string"),
            root_cause=ibis.null("string"),
            closed_with_customer_at=ibis.null("timestamp"),
        )
    require_columns(
        actions, "feedback_actions", ["feedback_id", "action_at", "action_type"], "feedback"
    )
    acts = actions.select(
        a_id=actions.feedback_id.cast("string"),
        a_at=actions.action_at.cast("timestamp"),
        # A NULL type sorts as '' so both engines order it alike (DuckDB and Spark differ on NULLs).
        a_type=actions.action_type.cast("string").fill_null(""),
        a_owner=text(_optional(actions, "owner")),
        a_cause=text(_optional(actions, "root_cause")),
    )
    acts = acts.filter(acts.a_id.notnull(), acts.a_at.notnull())
    keys = items.select(k_id=items.feedback_id, k_at=items.received_at).distinct()
    j = keys.join(acts, [keys.k_id == acts.a_id, acts.a_at >= keys.k_at])
    item = [j.k_id, j.k_at]
    first = ibis.row_number().over(group_by=item, order_by=[j.a_at, j.a_type])
    # The latest action among those with a root cause (the others form their own partition).
    latest_cause = ibis.row_number().over(
        group_by=[*item, j.a_cause.isnull()], order_by=[ibis.desc(j.a_at), ibis.desc(j.a_type)]
    )
    j = j.mutate(first=first, latest_cause=latest_cause)
    closing = [t.strip() for t in strategy.feedback_loop.closing_action_types]
    per_item = j.group_by(["k_id", "k_at"]).aggregate(
        first_action_at=j.a_at.min(),
        owner=ibis.cases((j.first == 0, j.a_owner), else_=ibis.null("string")).max(),
        root_cause=ibis.cases(
            ((j.latest_cause == 0) & j.a_cause.notnull(), j.a_cause), else_=ibis.null("string")
        ).max(),
        closed_with_customer_at=ibis.cases(
            (j.a_type.strip().isin(closing), j.a_at), else_=ibis.null("timestamp")
        ).min(),
    )
    out = items.left_join(
        per_item, [items.feedback_id == per_item.k_id, items.received_at == per_item.k_at]
    )
    return out.drop("k_id", "k_at")


def _next_responses(events: EventTables) -> ibis.Table | None:
    """Per survey, account and response time: the account's next response strictly later.

    Responses of one account at the same instant are one step (the smallest response_id as text
    stands for them), so `lead` over the steps gives, for every response, the smallest
    (responded_at, response_id) strictly after it, in any unit and period.
    """
    parts = []
    for source in SURVEYS:
        t = events.get(source)
        if t is None or "account_id" not in t.columns:
            continue
        r = t.select(
            n_source=ibis.literal(source, type="string"),
            n_account=text(t.account_id),
            n_at=t.responded_at.cast("timestamp"),
            n_id=t.response_id.cast("string"),
            n_score=t.score.cast("float64"),
        )
        r = r.filter(r.n_account.notnull(), r.n_at.notnull(), r.n_id.notnull())
        rank = ibis.row_number().over(group_by=[r.n_account, r.n_at], order_by=r.n_id)
        r = r.mutate(rank=rank)
        r = r.filter(r.rank == 0).drop("rank")
        w = ibis.window(group_by=r.n_account, order_by=r.n_at)
        parts.append(
            r.select(
                "n_source",
                "n_account",
                "n_at",
                followup_response_id=r.n_id.lead().over(w),
                followup_at=r.n_at.lead().over(w),
                followup_score=r.n_score.lead().over(w),
            )
        )
    if not parts:
        return None
    return ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]


def with_followups(items: ibis.Table, events: EventTables, strategy: Strategy) -> ibis.Table:
    """`items` with the follow-up (followup_response_id, followup_at, followup_score) and
    `recovered`: the same source's next response of the same non-blank account_id after
    received_at; recovered when it is not itself a feedback item. NULL without one."""
    nexts = _next_responses(events)
    if nexts is None:
        out = items.mutate(
            followup_response_id=ibis.null("string"),
            followup_at=ibis.null("timestamp"),
            followup_score=ibis.null("float64"),
        )
    else:
        out = items.left_join(
            nexts,
            [
                items.source == nexts.n_source,
                text(items.account_id) == nexts.n_account,
                items.received_at == nexts.n_at,
            ],
        ).drop("n_source", "n_account", "n_at")
    recovered = ibis.cases(
        (out.followup_at.notnull(), out.followup_score > item_cutoff(out.source, strategy)),
        else_=ibis.null("boolean"),
    )
    return out.mutate(recovered=recovered)


def _arrivals(items: ibis.Table, strategy: Strategy) -> ibis.Table:
    """The in-loop items (held ones never count) with their period of arrival."""
    it = items.filter(items.in_loop)
    return it.mutate(period_start=period_start(it.received_at, strategy))


def loop_outcomes(items: ibis.Table, strategy: Strategy) -> ibis.Table:
    """marts.loop_outcomes: the recovery rate of in-loop items acted upon before their follow-up
    against the others, per unit (and `all`) and period of arrival, with Wilson 95% intervals.

    acted = first_action_at <= followup_at, whatever the SLA. Only items with a follow-up count;
    nps and ces items are pooled, each recovered against its own source's threshold.
    """
    if is_empty_stand_in(items):
        return empty_table(OUTCOMES_SCHEMA)
    it = _arrivals(items, strategy)
    it = it.filter(it.followup_at.notnull())
    acted = ibis.cases(
        (it.first_action_at.notnull() & (it.first_action_at <= it.followup_at), True),
        else_=False,
    )
    it = it.mutate(acted=acted, hit=ibis.cases((it.recovered, 1), else_=0))
    cells = with_all_units(
        it, ["period_start", "acted"], followed_up=it.count(), recovered=it.hit.sum()
    )
    rate, low, high = wilson_bounds(cells.recovered, cells.followed_up, Z_SIGNIFICANT)
    return cells.select(
        unit=cells.unit.cast("string"),
        period_start=cells.period_start.cast("date"),
        acted=cells.acted.cast("boolean"),
        followed_up=cells.followed_up.cast("int64"),
        recovered=cells.recovered.cast("int64"),
        recovery_rate=rate.cast("float64"),
        ci_low=low.cast("float64"),
        ci_high=high.cast("float64"),
    )


def root_causes(items: ibis.Table, strategy: Strategy) -> ibis.Table:
    """marts.root_causes: how often each root cause was found, per unit (and `all`) and period of
    arrival, and its share of the in-loop items with any root cause there (the outer loop)."""
    if is_empty_stand_in(items):
        return empty_table(ROOT_CAUSES_SCHEMA)
    it = _arrivals(items, strategy)
    it = it.mutate(root_cause=text(it.root_cause))
    it = it.filter(it.root_cause.notnull())
    cells = with_all_units(it, ["period_start", "root_cause"], items=it.count())
    with_cause = cells.items.sum().over(group_by=[cells.unit, cells.period_start])
    return cells.select(
        unit=cells.unit.cast("string"),
        period_start=cells.period_start.cast("date"),
        root_cause=cells.root_cause.cast("string"),
        items=cells.items.cast("int64"),
        share=(cells.items.cast("float64") / with_cause.cast("float64")).cast("float64"),
    )
