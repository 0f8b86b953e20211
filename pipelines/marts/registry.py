"""Every mart, declared once: what it means, what it reads, how it is computed and checked.

The Dagster asset and check specs (pipelines/defs/marts.py), the order a step computes the marts
in, which marts a failed check stops, the marts that move with the clock alone (the
`clock_refresh` job) and what a landed file refreshes (the inbox sensor) are all derived from
`MARTS` below; adding a mart means adding one entry here.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

import duckdb
import ibis
import pyarrow as pa

from metrics import changes, feedback, loop, measures, progress, readiness, themes
from metrics.engine import EventTables
from metrics.periods import next_period_start, period_start, period_start_sql
from metrics.schemas import SOURCES
from metrics.store.sql import literal
from metrics.strategy import Strategy
from metrics.themes import THEME_SOURCES
from pipelines.changes import EventChanges
from pipelines.marts import checks
from pipelines.marts.engines import Engine


class MartInputs:
    """What a mart's formula reads: the events, the strategy, the run's time and earlier marts."""

    def __init__(
        self, engine: Engine, strategy: Strategy, now: datetime, marts: Mapping[str, Mart]
    ) -> None:
        self.engine, self.strategy, self.now, self._marts = engine, strategy, now, marts

    @cached_property
    def events(self) -> EventTables:
        return self.engine.event_tables()

    def mart(self, name: str) -> ibis.Table:
        """An earlier mart as an Ibis input of this one's expression."""
        return self.engine.mart_input(name, lambda: self._marts[name].compute(self))

    def table(self, name: str) -> pa.Table:
        """An earlier mart's table as written, for a formula in plain Python."""
        return self.engine.read(name)

    def narrowed(self, events: EventTables) -> MartInputs:
        """The same inputs over other events (a partitioned mart recomputing some periods)."""
        inputs = MartInputs(self.engine, self.strategy, self.now, self._marts)
        inputs.__dict__["events"] = events  # the cached property, set
        return inputs


@dataclass(frozen=True)
class MartCheck:
    """A blocking check on a mart's table: (connection, strategy) -> (passed, metadata)."""

    name: str
    description: str
    run: Callable[[duckdb.DuckDBPyConnection, Strategy], checks.CheckOutcome]


@dataclass(frozen=True)
class Touch:
    """What a partitioned mart's `touched` query may use: the events changed since its last
    build (pipelines.changes.EventChanges), the strategy, and SQL for the period of a column."""

    changes: EventChanges
    strategy: Strategy
    table: str  # marts.<name>, as it stands before this build

    def period(self, column: str) -> str:
        """SQL: the start (DATE) of the strategy's period a naive-UTC TIMESTAMP column falls in."""
        return period_start_sql(column, self.strategy.period, self.strategy.timezone)


def near_range(part: str, strategy: Strategy) -> tuple[datetime, datetime]:
    """[from, until) of naive-UTC times that holds every event of the period starting `part`
    (YYYY-MM-DD) in the strategy's zone: its days, widened by a day on each side."""
    start = date.fromisoformat(part)
    end = next_period_start(start, strategy.period)
    return (
        datetime.combine(start, datetime.min.time()) - timedelta(days=1),
        datetime.combine(end, datetime.min.time()) + timedelta(days=1),
    )


def near(column: ibis.Value, strategy: Strategy, parts: Sequence[str]) -> ibis.Value:
    """`column` (naive UTC) within a day of one of the periods `parts`: a range filter DuckDB
    prunes row groups with, before an exact period test."""
    ranges = [(column >= lo) & (column < hi) for lo, hi in (near_range(p, strategy) for p in parts)]
    return functools.reduce(operator.or_, ranges)


@dataclass(frozen=True)
class Recomputed:
    """The periods a partial build recomputes, as filters on a naive-UTC timestamp column."""

    strategy: Strategy
    parts: Sequence[str]

    def near(self, column: ibis.Value) -> ibis.Value:
        """`column` within a day of one of the periods (see `near`)."""
        return near(column, self.strategy, self.parts)

    def since(self, column: ibis.Value) -> ibis.Value:
        """`column` no earlier than a day before the first of the periods: what may come after
        an event of theirs."""
        return column >= min(near_range(p, self.strategy)[0] for p in self.parts)


@dataclass(frozen=True)
class Partition:
    """How a mart is recomputed a period at a time, keeping the periods nothing touched.

    A mart may declare one only when each of its rows belongs to one period (`column`) and
    depends on nothing but its inputs in the periods `touched` returns for a change, plus the
    changed periods of the marts it reads (the runner adds those). A mart without one is
    recomputed whole on every run, which is always correct: declare one only for a large mart,
    and let the equality property test (tests/test_incremental.py) check the declaration.
    """

    #: The mart's column that places a row in a period.
    column: str
    #: True: `column` is a naive-UTC timestamp, bucketed into the strategy's period in its zone;
    #: False: it already holds the period's first day.
    bucketed: bool = False
    #: SQL selecting the periods (one DATE column) a change since the last build touches beyond
    #: the changed periods of the marts it reads; None: only those.
    touched: Callable[[Touch], str] | None = None
    #: When recomputing some periods: the events narrowed to what those periods' rows can read
    #: (given those periods as filters of a timestamp column); None: all events.
    narrow: Callable[[EventTables, Recomputed], EventTables] | None = None

    def sql(self, strategy: Strategy) -> str:
        """SQL over the mart's columns: its period, as text (`YYYY-MM-DD`)."""
        if self.bucketed:
            return f"CAST({period_start_sql(self.column, strategy.period, strategy.timezone)} AS VARCHAR)"
        return f'CAST(CAST("{self.column}" AS DATE) AS VARCHAR)'

    def sql_selects(self, strategy: Strategy, parts: Sequence[str]) -> str:
        """SQL over the mart's columns: the row is in one of `parts` (see `selects`)."""
        exact = f"{self.sql(strategy)} IN ({', '.join(literal(p) for p in parts)})"
        if not self.bucketed:
            return exact
        ranges = " OR ".join(
            f'("{self.column}" >= {literal(str(lo))}::TIMESTAMP AND '
            f'"{self.column}" < {literal(str(hi))}::TIMESTAMP)'
            for lo, hi in (near_range(p, strategy) for p in parts)
        )
        return f"({ranges}) AND {exact}"

    def expr(self, table: ibis.Table, strategy: Strategy) -> ibis.StringValue:
        """The same period as an Ibis expression over the mart's expression."""
        column = table[self.column]
        return (period_start(column, strategy) if self.bucketed else column.cast("date")).cast(
            "string"
        )

    def selects(self, table: ibis.Table, strategy: Strategy, parts: Sequence[str]) -> ibis.Value:
        """The rows of `parts`: the exact period, after a range of the raw column that DuckDB
        prunes row groups with (the period's days widened by a day for any zone), so recomputing
        a few periods does not bucket every event of the history in the strategy's zone."""
        exact = self.expr(table, strategy).isin(list(parts))
        if not self.bucketed:
            return exact
        return near(table[self.column], strategy, parts) & exact


@dataclass(frozen=True)
class Mart:
    """One mart (`marts.<name>`) and everything the pipeline needs to know about it."""

    name: str
    description: str
    #: Its expression (or Arrow table) from the inputs.
    compute: Callable[[MartInputs], ibis.Table | pa.Table]
    #: What the Dagster UI shows beside the row count, queried from the written table.
    metadata: Callable[[duckdb.DuckDBPyConnection], dict]
    #: The sources whose events it reads.
    sources: tuple[str, ...] = ()
    #: The other marts it reads (computed before it, in the same step).
    reads: tuple[str, ...] = ()
    #: It reads the run's time ("now"), so time alone changes it.
    reads_clock: bool = False
    checks: tuple[MartCheck, ...] = ()
    #: Recomputed a period at a time when set (see Partition); whole when None.
    partition: Partition | None = None


# --- each mart's formula and metadata -------------------------------------------------------------


def _span(con: duckdb.DuckDBPyConnection, table: str) -> dict:
    [(lo, hi)] = con.execute(
        f"SELECT min(period_start), max(period_start) FROM marts.{table}"
    ).fetchall()
    return {"first_period": str(lo) if lo else "none", "last_period": str(hi) if hi else "none"}


def _measure_values(inputs: MartInputs) -> ibis.Table:
    return measures.measure_values(inputs.events, inputs.strategy)


def _measure_values_metadata(con: duckdb.DuckDBPyConnection) -> dict:
    [(suppressed,)] = con.execute(
        "SELECT count(*) FILTER (WHERE suppressed) FROM marts.measure_values"
    ).fetchall()
    return {"suppressed_cells": suppressed, **_span(con, "measure_values")}


def _measure_changes(inputs: MartInputs) -> ibis.Table:
    return changes.measure_changes(inputs.events, inputs.strategy)


def _measure_changes_metadata(con: duckdb.DuckDBPyConnection) -> dict:
    [(significant,)] = con.execute(
        "SELECT count(*) FILTER (WHERE significant) FROM marts.measure_changes"
    ).fetchall()
    return {"significant_changes": significant, **_span(con, "measure_changes")}


def _comment_themes(inputs: MartInputs) -> ibis.Table:
    return themes.comment_themes(inputs.events, inputs.strategy)


def _survey_periods_touched(t: Touch) -> str:
    """The periods of the changed survey responses (new and replaced versions)."""
    changed = " UNION ALL ".join(t.changes.rows_sql(s, ["responded_at"]) for s in THEME_SOURCES)
    return f"SELECT {t.period('responded_at')} AS period FROM ({changed})"


def _surveys_near(events: EventTables, periods: Recomputed) -> EventTables:
    """The survey responses near the periods recomputed (a theme cell reads its period's only)."""
    surveys = [s for s in THEME_SOURCES if s in events]
    return {
        **events,
        **{s: events[s].filter(periods.near(events[s].responded_at)) for s in surveys},
    }


def _comment_themes_metadata(con: duckdb.DuckDBPyConnection) -> dict:
    [(found,)] = con.execute("SELECT count(DISTINCT theme) FROM marts.comment_themes").fetchall()
    return {"themes_mentioned": found, **_span(con, "comment_themes")}


def _readiness(inputs: MartInputs) -> ibis.Table:
    return readiness.readiness(inputs.events, inputs.strategy)


def _readiness_metadata(con: duckdb.DuckDBPyConnection) -> dict:
    [(units,)] = con.execute("SELECT count(DISTINCT unit) FROM marts.readiness").fetchall()
    return {"units": units}


def _readiness_gates(inputs: MartInputs) -> ibis.Table:
    return readiness.readiness_gates(inputs.events, inputs.strategy, inputs.now)


def _readiness_gates_metadata(con: duckdb.DuckDBPyConnection) -> dict:
    [(ready,)] = con.execute(
        "SELECT count(*) FILTER (WHERE ready AND period_start = (SELECT max(period_start) "
        "FROM marts.readiness_gates)) FROM marts.readiness_gates"
    ).fetchall()
    return {"units_ready_now": ready, **_span(con, "readiness_gates")}


def _feedback_items(inputs: MartInputs) -> ibis.Table:
    gates = inputs.mart("readiness_gates")
    return feedback.feedback_items(inputs.events, inputs.strategy, gates, inputs.now)


def _feedback_items_metadata(con: duckdb.DuckDBPyConnection) -> dict:
    by_status = con.execute(
        "SELECT status, count(*) FROM marts.feedback_items GROUP BY status ORDER BY status"
    ).fetchall()
    return {f"status_{status}": n for status, n in by_status}


def _feedback_items_touched(t: Touch) -> str:
    """The periods of arrival a change touches: those of changed responses (new and replaced
    versions), of the items whose actions changed, of the items still open (time alone turns them
    overdue), and of the items whose follow-up a changed response may be or may have been: the
    account's earlier items of that source without a follow-up or with one no earlier than the
    changed response (a replaced version is a changed response too, so the items it followed up
    are found by it). Changed gates are added by the runner."""
    columns = ["responded_at", "account_id"]
    responses = " UNION ALL ".join(
        f"SELECT '{s}' AS source, * FROM ({t.changes.rows_sql(s, columns)})" for s in loop.SURVEYS
    )
    actions = t.changes.rows_sql("feedback_actions", ["feedback_id"])
    arrival = t.period("received_at")
    # One query per reason, so each is a filter or a join DuckDB plans on its own (an OR of them
    # took ten times as long at 2.3M items).
    return f"""
        WITH changed AS ({responses})
        SELECT {t.period("responded_at")} AS period FROM changed
        UNION SELECT {arrival} FROM {t.table} WHERE status = 'open'
        UNION SELECT {arrival} FROM {t.table}
        WHERE feedback_id IN (SELECT feedback_id FROM ({actions}))
        UNION SELECT {arrival} FROM {t.table} AS item JOIN changed
        ON changed.account_id = item.account_id AND changed.source = item.source
           AND changed.responded_at > item.received_at
           AND (item.followup_at IS NULL OR item.followup_at >= changed.responded_at)"""


def _feedback_items_narrow(events: EventTables, periods: Recomputed) -> EventTables:
    """An item's actions are those with its id, and its follow-up is a later response: only the
    responses from the first period recomputed on are read (a follow-up may be in any later
    period), and only the actions of responses near the periods recomputed."""
    surveys = [s for s in loop.SURVEYS if s in events]
    narrowed = {s: events[s].filter(periods.since(events[s].responded_at)) for s in surveys}
    actions = events.get("feedback_actions")
    if actions is None or not surveys:
        return {**events, **narrowed}
    ids = [
        events[s]
        .filter(periods.near(events[s].responded_at))
        .select(id=events[s].response_id.cast("string"))
        for s in surveys
    ]
    keep = ibis.union(*ids, distinct=False) if len(ids) > 1 else ids[0]
    return {
        **events,
        **narrowed,
        "feedback_actions": actions.filter(actions.feedback_id.isin(keep.id)),
    }


def _feedback_loop(inputs: MartInputs) -> ibis.Table:
    items, gates = inputs.mart("feedback_items"), inputs.mart("readiness_gates")
    return feedback.feedback_loop(items, gates, inputs.strategy)


def _loop_outcomes(inputs: MartInputs) -> ibis.Table:
    return loop.loop_outcomes(inputs.mart("feedback_items"), inputs.strategy)


def _loop_outcomes_metadata(con: duckdb.DuckDBPyConnection) -> dict:
    rows = con.execute(
        "SELECT acted, sum(followed_up), sum(recovered) FROM marts.loop_outcomes "
        "WHERE unit = 'all' GROUP BY acted"
    ).fetchall()
    meta = _span(con, "loop_outcomes")
    for acted, followed_up, recovered in rows:
        key = "acted" if acted else "not_acted"
        meta[f"{key}_followed_up"] = int(followed_up)
        meta[f"{key}_recovery_rate"] = round(recovered / followed_up, 4)
    return meta


def _root_causes(inputs: MartInputs) -> ibis.Table:
    return loop.root_causes(inputs.mart("feedback_items"), inputs.strategy)


def _root_causes_metadata(con: duckdb.DuckDBPyConnection) -> dict:
    [(causes,)] = con.execute("SELECT count(DISTINCT root_cause) FROM marts.root_causes").fetchall()
    return {"root_causes": causes, **_span(con, "root_causes")}


def _outcome_progress(inputs: MartInputs) -> pa.Table:
    return progress.outcome_progress(inputs.strategy, inputs.table("measure_values"))


def _outcome_progress_metadata(con: duckdb.DuckDBPyConnection) -> dict:
    status = con.execute(
        "SELECT status, count(*) FROM marts.outcome_progress WHERE unit = 'all' AND "
        "period_start = (SELECT max(period_start) FROM marts.outcome_progress) GROUP BY 1 "
        "ORDER BY 1"
    ).fetchall()
    return {**_span(con, "outcome_progress"), **{f"latest_{k}": n for k, n in status}}


#: The marts, each after the marts it reads (the order a step computes them in).
MARTS: tuple[Mart, ...] = (
    Mart(
        "measure_values",
        "Every measure of the strategy per unit (and `all`, pooled) and period: value, n, 95% "
        "interval, and whether the cell is suppressed for too few responses.",
        compute=_measure_values,
        metadata=_measure_values_metadata,
        sources=("nps", "ces", "employee_pulse", "upsell", "revenue", "cost"),
        checks=(MartCheck("nps_in_range", "NPS values within -100..100", checks.nps_in_range),),
    ),
    Mart(
        "measure_changes",
        "Each shown measure value against the calendar period right before it: the change, its "
        "standard error, z and whether the move is significant at 95% (NULL for sums and ratios).",
        compute=_measure_changes,
        metadata=_measure_changes_metadata,
        sources=("nps", "ces", "employee_pulse", "upsell", "revenue", "cost"),
        checks=(
            MartCheck(
                "changes_add_up",
                "change = value - previous value; significant exactly when |z| >= 1.959964",
                checks.changes_add_up,
            ),
        ),
    ),
    Mart(
        "comment_themes",
        "What customers talk about: per source, unit and period, how many NPS and CES comments "
        "mention each strategy theme, how many are detractors, and the theme's pull on the NPS.",
        compute=_comment_themes,
        metadata=_comment_themes_metadata,
        sources=THEME_SOURCES,
        # every cell counts one period's responses: a landing recomputes the periods it touches
        partition=Partition("period_start", touched=_survey_periods_touched, narrow=_surveys_near),
        checks=(
            MartCheck(
                "theme_counts_in_order",
                "detractors <= mentions <= comments; share within 0..1",
                checks.theme_counts_in_order,
            ),
        ),
    ),
    Mart(
        "readiness",
        "Each unit's latest readiness score per dimension, averaged over its assessors.",
        compute=_readiness,
        metadata=_readiness_metadata,
        sources=("readiness",),
    ),
    Mart(
        "readiness_gates",
        "Per unit and period whether the unit passes its readiness gate (so its feedback loop "
        "counts), what blocks it, and since when it is ready. Runs through the current period.",
        compute=_readiness_gates,
        metadata=_readiness_gates_metadata,
        sources=tuple(SOURCES),
        reads_clock=True,
    ),
    Mart(
        "feedback_items",
        "Every detractor and high-effort response as a feedback item with its SLA deadline and "
        "status (acted, acted late, overdue, open, or held because its unit was not ready), its "
        "owner, root cause, when the customer was told, and the account's follow-up response.",
        compute=_feedback_items,
        metadata=_feedback_items_metadata,
        sources=("nps", "ces", "feedback_actions"),
        reads=("readiness_gates",),
        reads_clock=True,
        checks=(
            MartCheck("items_have_unit", "no feedback item without a unit", checks.items_have_unit),
        ),
        partition=Partition(
            "received_at",
            bucketed=True,
            touched=_feedback_items_touched,
            narrow=_feedback_items_narrow,
        ),
    ),
    Mart(
        "feedback_loop",
        "The feedback loop's health per unit and period: acted upon, within SLA, overdue, "
        "closed with the customer.",
        compute=_feedback_loop,
        metadata=lambda con: _span(con, "feedback_loop"),
        reads=("feedback_items", "readiness_gates"),
        partition=Partition("period_start"),
        checks=(
            MartCheck(
                "closed_within_in_loop",
                "closed with the customer at most the in-loop items",
                checks.closed_within_in_loop,
            ),
        ),
    ),
    Mart(
        "loop_outcomes",
        "Did acting work: per unit (and `all`) and period of arrival, the recovery rate of "
        "in-loop items acted upon before the customer's follow-up response against those not "
        "acted upon, with Wilson 95% intervals.",
        compute=_loop_outcomes,
        metadata=_loop_outcomes_metadata,
        reads=("feedback_items",),
        checks=(
            MartCheck(
                "recovered_within_followed_up",
                "recovered <= followed_up, rates and intervals in 0..1, `all` pooled",
                checks.recovered_within_followed_up,
            ),
        ),
    ),
    Mart(
        "root_causes",
        "The outer loop: per unit (and `all`) and period of arrival, how many in-loop items "
        "each root cause explains and its share of the items with a root cause.",
        compute=_root_causes,
        metadata=_root_causes_metadata,
        reads=("feedback_items",),
        checks=(
            MartCheck(
                "root_cause_shares_sum_to_one",
                "root cause shares sum to 1 per unit and period",
                checks.root_cause_shares_sum_to_one,
            ),
        ),
    ),
    Mart(
        "outcome_progress",
        "The outcome tree per period: each node's value against its baseline, target and the "
        "time-phased expectation, rolled up from the measures to revenue, with a status.",
        compute=_outcome_progress,
        metadata=_outcome_progress_metadata,
        reads=("measure_values",),
        checks=(
            MartCheck(
                "progress_in_range",
                "progress and expectation within 0..1",
                checks.progress_in_range,
            ),
            MartCheck(
                "every_node_every_period",
                "every tree node in every period",
                checks.every_node_every_period,
            ),
        ),
    ),
)


# --- derived from MARTS ---------------------------------------------------------------------------


def by_name(marts: Iterable[Mart] = MARTS) -> dict[str, Mart]:
    """name -> mart, checking that each reads only known marts listed before it."""
    seen: dict[str, Mart] = {}
    for mart in marts:
        if mart.name in seen:
            raise ValueError(f"mart {mart.name} is declared twice")
        unknown = [r for r in mart.reads if r not in seen]
        if unknown:
            raise ValueError(f"mart {mart.name}: reads {unknown} before they are declared")
        unknown_sources = sorted(set(mart.sources) - set(SOURCES))
        if unknown_sources:
            raise ValueError(f"mart {mart.name}: no source(s) {unknown_sources}")
        seen[mart.name] = mart
    return seen


def downstream(names: Iterable[str], marts: Iterable[Mart] = MARTS) -> set[str]:
    """The marts that read any of `names`, directly or through another mart."""
    start = set(names)
    found = set(start)
    for mart in by_name(marts).values():  # each after what it reads: one pass suffices
        if found.intersection(mart.reads):
            found.add(mart.name)
    return found - start


MART_NAMES: tuple[str, ...] = tuple(by_name())
_READ_CLOCK = {mart.name for mart in MARTS if mart.reads_clock}
#: The marts that move with the clock alone (a gate period begins, an item turns overdue): those
#: that read the run's time, and those that read them.
TIME_DEPENDENT_MARTS: tuple[str, ...] = tuple(
    name for name in MART_NAMES if name in _READ_CLOCK | downstream(_READ_CLOCK)
)
