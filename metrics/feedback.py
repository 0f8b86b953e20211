"""The customer feedback loop: was each piece of bad news acted upon, and in time?

Every NPS detractor and every high-effort CES response becomes a feedback item with a deadline
(`sla_hours`). An item counts in the loop only when its unit's readiness gate was open in the
period the response arrived; otherwise it is `held_not_ready` for good, so a unit is never credited
(or blamed) for feedback it was not yet equipped to act on (DESIGN.md "Feedback items").
"""

from __future__ import annotations

from datetime import datetime

import ibis

from metrics.engine import EventTables, empty_table, is_empty_stand_in, require_columns
from metrics.loop import ITEM_LOOP_COLUMNS, with_actions, with_followups
from metrics.periods import period_start, utc_naive
from metrics.strategy import Strategy

ITEMS_SCHEMA = ibis.schema(
    {
        "feedback_id": "string",
        "source": "string",
        "unit": "string",
        "account_id": "string",
        "received_at": "timestamp",
        "score": "float64",
        "comment": "string",
        "in_loop": "boolean",
        "due_at": "timestamp",
        "first_action_at": "timestamp",
        "hours_to_action": "float64",
        "status": "string",
        **ITEM_LOOP_COLUMNS,
    }
)

LOOP_SCHEMA = ibis.schema(
    {
        "unit": "string",
        "period_start": "date",
        "items": "int64",
        "in_loop": "int64",
        "acted": "int64",
        "acted_within_sla": "int64",
        "acted_late": "int64",
        "overdue": "int64",
        "open": "int64",
        "held_not_ready": "int64",
        "median_hours_to_action": "float64",
        "closed_with_customer": "int64",
    }
)

#: Item statuses, from best to worst; `held_not_ready` items are outside the loop.
STATUSES = ("acted", "acted_late", "overdue", "open", "held_not_ready")

_NULL_TS = ibis.null("timestamp")


def _responses(events: EventTables, strategy: Strategy) -> ibis.Table | None:
    """Detractor (nps) and high-effort (ces) responses as feedback items, before the gate."""
    cutoffs = {
        "nps": strategy.feedback_loop.nps_detractor_max,
        "ces": strategy.feedback_loop.ces_high_effort_max,
    }
    parts = []
    for source, cutoff in cutoffs.items():
        t = events.get(source)
        if t is None:
            continue
        require_columns(
            t, source, ["response_id", "responded_at", "unit", "score"], "feedback items"
        )

        def optional(name: str, t: ibis.Table = t) -> ibis.StringValue:
            return (t[name] if name in t.columns else ibis.null()).cast("string")

        part = t.filter(t.score.notnull(), t.score <= cutoff, t.unit.notnull()).select(
            feedback_id=t.response_id.cast("string"),
            source=ibis.literal(source, type="string"),
            unit=t.unit.cast("string"),
            account_id=optional("account_id"),
            received_at=t.responded_at.cast("timestamp"),
            score=t.score.cast("float64"),
            comment=optional("comment"),
        )
        parts.append(part)
    if not parts:
        return None
    return ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]


def feedback_items(
    events: EventTables, strategy: Strategy, gates: ibis.Table, now: datetime | ibis.Value
) -> ibis.Table:
    """marts.feedback_items: every detractor / high-effort response with its loop status.

    `gates` is `readiness_gates(...)`; `now` is the run's time (naive = UTC), which decides
    whether an unanswered item is `overdue` or still `open`. It may also be a timestamp
    expression, read when the SQL runs.
    """
    items = _responses(events, strategy)
    if items is None:
        return empty_table(ITEMS_SCHEMA)

    # In the loop when the unit's gate was open in the period the response arrived.
    items = items.mutate(period_start=period_start(items.received_at, strategy))
    open_gates = gates.filter(gates.ready).select(g_unit=gates.unit, g_period=gates.period_start)
    items = items.left_join(
        open_gates,
        [items.unit == open_gates.g_unit, items.period_start == open_gates.g_period],
    )
    items = items.mutate(in_loop=items.g_unit.notnull()).drop("g_unit", "g_period")

    # The actions at or after the response (an earlier one belongs to something else) and the
    # account's follow-up, for every item, held or not (metrics.loop).
    items = with_followups(with_actions(items, events, strategy), events, strategy)

    sla_seconds = int(round(strategy.feedback_loop.sla_hours * 3600))
    due_at = items.received_at + ibis.interval(seconds=sla_seconds)
    acted_at = items.first_action_at
    now_ts = now if isinstance(now, ibis.Value) else ibis.literal(utc_naive(now), type="timestamp")
    status = ibis.cases(
        (~items.in_loop, ibis.literal("held_not_ready")),
        (acted_at.notnull() & (acted_at <= due_at), ibis.literal("acted")),
        (acted_at.notnull(), ibis.literal("acted_late")),
        (now_ts > due_at, ibis.literal("overdue")),
        else_=ibis.literal("open"),
    )
    hours = (acted_at.epoch_seconds() - items.received_at.epoch_seconds()).cast("float64") / 3600.0
    return items.select(
        feedback_id=items.feedback_id,
        source=items.source,
        unit=items.unit,
        account_id=items.account_id,
        received_at=items.received_at,
        score=items.score,
        comment=items.comment,
        in_loop=items.in_loop.cast("boolean"),
        due_at=ibis.cases((items.in_loop, due_at), else_=_NULL_TS).cast("timestamp"),
        first_action_at=acted_at.cast("timestamp"),
        hours_to_action=ibis.cases((items.in_loop, hours), else_=ibis.null("float64")).cast(
            "float64"
        ),
        status=status.cast("string"),
        **{name: items[name].cast(dtype) for name, dtype in ITEM_LOOP_COLUMNS.items()},
    )


def feedback_loop(items: ibis.Table, gates: ibis.Table, strategy: Strategy) -> ibis.Table:
    """marts.feedback_loop: per unit and period of arrival, how the loop did.

    A row for every unit and period in `gates` (zero counts when no feedback arrived): items,
    in_loop, acted (on time or late), acted_within_sla, acted_late, overdue, open,
    held_not_ready, the median hours from response to first action, and closed_with_customer
    (in-loop items whose customer was told what was done).
    """
    if is_empty_stand_in(gates):
        return empty_table(LOOP_SCHEMA)
    it = items.mutate(period_start=period_start(items.received_at, strategy))

    def count(condition: ibis.BooleanValue) -> ibis.IntegerValue:
        return ibis.cases((condition, 1), else_=0).sum()

    acted = it.in_loop & it.first_action_at.notnull()
    counts = it.group_by(["unit", "period_start"]).aggregate(
        items=it.count(),
        in_loop=count(it.in_loop),
        acted=count(acted),
        acted_within_sla=count(it.status == "acted"),
        acted_late=count(it.status == "acted_late"),
        overdue=count(it.status == "overdue"),
        open=count(it.status == "open"),
        held_not_ready=count(it.status == "held_not_ready"),
        median_hours_to_action=ibis.cases((acted, it.hours_to_action)).median(),
        closed_with_customer=count(it.in_loop & it.closed_with_customer_at.notnull()),
    )
    counts = counts.rename(c_unit="unit", c_period="period_start")
    grid = gates.select("unit", "period_start")
    j = grid.left_join(counts, [grid.unit == counts.c_unit, grid.period_start == counts.c_period])
    # Counts are 0, never NULL, where nothing arrived (closed_with_customer included).
    return j.select(
        unit=j.unit.cast("string"),
        period_start=j.period_start.cast("date"),
        **{
            name: j[name].fill_null(0).cast("int64") if dtype.is_integer() else j[name].cast(dtype)
            for name, dtype in LOOP_SCHEMA.items()
            if name not in ("unit", "period_start")
        },
    )
