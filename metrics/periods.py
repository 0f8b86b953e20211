"""Reporting periods: which month (quarter, week) an event belongs to, in the strategy's zone.

Events carry UTC wall-clock timestamps (naive) or plain dates. A timestamp is first moved into the
strategy's time zone, so a response sent on 31 March at 23:30 UTC counts for April in Berlin; a
date (a revenue month, an opportunity's close date, an assessment day) is never shifted. Weeks
start on Monday. A period is named by its first day (`period_start`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import ibis

from metrics.engine import from_utc_timestamp
from metrics.store.sql import identifier, literal
from metrics.strategy import Strategy

_TRUNCATE_UNIT = {"month": "M", "quarter": "Q", "week": "W"}
_UTC_NAMES = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "GMT", "Etc/GMT"}


def period_start(expr: ibis.Value, strategy: Strategy) -> ibis.DateValue:
    """The first day (DATE) of the period an event falls in, bucketed in the strategy's zone.

    TIMESTAMP columns hold UTC wall-clock times and are converted to `strategy.timezone` first;
    DATE columns are truncated as they are.
    """
    unit = _TRUNCATE_UNIT[strategy.period]
    dtype = expr.type()
    if dtype.is_timestamp():
        if strategy.timezone not in _UTC_NAMES:
            expr = from_utc_timestamp(expr, strategy.timezone)
        return expr.truncate(unit).cast("date")
    if dtype.is_date():
        return expr.truncate(unit).cast("date")
    raise TypeError(
        f"period_start needs a TIMESTAMP or DATE column, got {dtype} "
        f"(column {expr.get_name() if hasattr(expr, 'get_name') else expr!r})"
    )


def truncate_date(day: date, period: str) -> date:
    """The first day of the period (`month`, `quarter` or `week`) that contains `day`."""
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    if period == "week":
        return day - timedelta(days=day.weekday())  # Monday
    raise ValueError(f"unknown period {period!r}; expected one of {list(_TRUNCATE_UNIT)}")


def next_period_start(start: date, period: str) -> date:
    """The first day of the period after the one that starts on `start`."""
    if period == "week":
        return start + timedelta(days=7)
    months = 3 if period == "quarter" else 1
    if period not in ("month", "quarter"):
        raise ValueError(f"unknown period {period!r}; expected one of {list(_TRUNCATE_UNIT)}")
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_end(start: date, period: str) -> date:
    """The last day (inclusive) of the period that starts on `start`."""
    return next_period_start(start, period) - timedelta(days=1)


def local_date(now: datetime, timezone: str) -> date:
    """The calendar day `now` falls on in `timezone` (a naive `now` is read as UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(ZoneInfo(timezone)).date()


def period_spine(first: date, now: datetime, strategy: Strategy) -> list[date]:
    """Every period start from the period containing `first` through the one containing `now`.

    `now` is the run's time (naive = UTC), placed in the strategy's zone. Empty when `first` lies
    after `now`'s period.
    """
    start = truncate_date(first, strategy.period)
    last = truncate_date(local_date(now, strategy.timezone), strategy.period)
    spine: list[date] = []
    while start <= last:
        spine.append(start)
        start = next_period_start(start, strategy.period)
    return spine


def utc_naive(now: datetime) -> datetime:
    """`now` as a naive UTC wall-clock time, comparable with the events' timestamps."""
    if now.tzinfo is None:
        return now
    return now.astimezone(UTC).replace(tzinfo=None)


_SQL_TRUNCATE_UNIT = {"month": "month", "quarter": "quarter", "week": "week"}


def period_start_sql(column: str, period: str, timezone: str) -> str:
    """DuckDB SQL for the first day (DATE) of the period a naive-UTC TIMESTAMP column falls in,
    bucketed in `timezone`: the same rule as `period_start`, for statements written as SQL text.

    `column` is quoted as an identifier and `timezone` as a literal, so neither can change the
    statement; an unknown `period` is an error, not a silent month.
    """
    if period not in _SQL_TRUNCATE_UNIT:
        raise ValueError(f"unknown period {period!r}; expected one of {list(_SQL_TRUNCATE_UNIT)}")
    utc = f"timezone('UTC', CAST({identifier(column)} AS TIMESTAMP))"
    local = f"timezone({literal(timezone)}, {utc})"
    return f"CAST(date_trunc({literal(_SQL_TRUNCATE_UNIT[period])}, {local}) AS DATE)"
