"""Pure helpers that say how a number is read: display formats, contact masking, period SQL."""

from __future__ import annotations

import typing
from datetime import date, datetime

import duckdb
import pytest

from metrics.display import NUMBER_FORMATS, default_format, resolve_format
from metrics.periods import period_start_sql
from metrics.privacy import mask_contacts
from metrics.strategy import Measure


@pytest.mark.parametrize(
    ("kind", "fmt"),
    [
        ("nps", "signed"),
        ("sum", "currency"),
        ("sum_ratio", "currency"),
        ("share", "percent"),
        ("ratio", "number"),  # what the publish step has always stored for a ratio
        ("mean", "number"),
        ("employee_health", "number"),
        (None, "number"),
    ],
)
def test_default_format_by_kind(kind, fmt):
    assert default_format(kind) == fmt


@pytest.mark.parametrize(
    ("fmt", "kind", "resolved"),
    [
        ("percent", "ratio", "percent"),  # the strategy's own format wins
        ("number", "nps", "number"),
        (None, "ratio", "number"),
        (None, "nps", "signed"),
        ("bogus", "share", "percent"),  # an unknown format falls back to the kind's
    ],
)
def test_resolve_format(fmt, kind, resolved):
    assert resolve_format(fmt, kind) == resolved


def test_the_formats_a_strategy_may_name_are_the_formats_the_dashboard_knows():
    allowed = typing.get_args(Measure.model_fields["format"].annotation)
    assert {a for arg in allowed for a in (typing.get_args(arg) or (arg,))} - {type(None)} == set(
        NUMBER_FORMATS
    )


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("a@b.co and +1 (555) 123-4567", "[e-mail hidden] and [phone hidden]"),
        ("ring 0170 1234567, not 0170 12", "ring [phone hidden], not 0170 12"),  # 6 digits stay
        ("ticket 2025-03-20 re order 4711", "ticket 2025-03-20 re order 4711"),
        ("", ""),
    ],
)
def test_mask_contacts_hides_every_address_and_number(text, masked):
    assert mask_contacts(text) == masked


@pytest.mark.parametrize(
    ("at", "period", "zone", "start"),
    [
        # 23:30 UTC on 31 March is 01:30 on 1 April in Berlin (CEST, +2)
        (datetime(2025, 3, 31, 23, 30), "month", "Europe/Berlin", date(2025, 4, 1)),
        (datetime(2025, 3, 31, 23, 30), "month", "UTC", date(2025, 3, 1)),
        (datetime(2025, 3, 31, 23, 30), "quarter", "Europe/Berlin", date(2025, 4, 1)),
        (datetime(2025, 3, 31, 23, 30), "quarter", "UTC", date(2025, 1, 1)),
        # Sunday 30 March 22:30 UTC is Monday 00:30 in Berlin (DST began that night)
        (datetime(2025, 3, 30, 22, 30), "week", "Europe/Berlin", date(2025, 3, 31)),
        (datetime(2025, 3, 30, 22, 30), "week", "UTC", date(2025, 3, 24)),
        # 03:00 UTC on New Year's Day is still 31 December in New York (EST, -5)
        (datetime(2025, 1, 1, 3, 0), "month", "America/New_York", date(2024, 12, 1)),
    ],
)
def test_period_start_sql_buckets_in_the_strategys_zone(at, period, zone, start):
    sql = period_start_sql("responded at", period, zone)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'Asia/Tokyo'")  # the session's zone must not matter
        got = con.execute(f'SELECT {sql} FROM (SELECT ?::TIMESTAMP AS "responded at")', [at])
        assert got.fetchone()[0] == start
    finally:
        con.close()


def test_period_start_sql_rejects_an_unknown_period_and_quotes_the_zone():
    with pytest.raises(ValueError, match="unknown period 'day'"):
        period_start_sql("responded_at", "day", "UTC")
    assert "'Europe/O''Brien'" in period_start_sql("responded_at", "month", "Europe/O'Brien")
