"""Dates and moments as the exports write them.

Moments are whole UTC epoch seconds in numpy arrays (the generators draw them by the thousand).
Qualtrics writes them as New York wall-clock text, HR and ticketing tools as ISO 8601 UTC; the
New York conversion goes through the IANA time-zone database (zoneinfo, via pandas), not rules
written here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

#: The time zone the Qualtrics survey is exported in.
NEW_YORK = ZoneInfo("America/New_York")
_EPOCH = date(1970, 1, 1)


def add_months(d: date, n: int) -> date:
    """The first day of the month `n` months after (or before) the month holding `d`."""
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def day_epoch(d: date) -> int:
    """UTC midnight at the start of `d`, in epoch seconds."""
    return (d - _EPOCH).days * 86400


def days(first: date, last: date) -> Iterator[date]:
    """Every day from `first` to `last`, both included."""
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)


def iso_utc(epochs: np.ndarray) -> list[str]:
    """ISO 8601 UTC timestamps with a Z, as HR and ticketing tools export them."""
    text = np.datetime_as_string(np.asarray(epochs, dtype="datetime64[s]"), unit="s")
    return [s + "Z" for s in text.tolist()]


def _new_york_wall_clock(epochs: np.ndarray) -> pd.DatetimeIndex:
    """UTC epoch seconds as naive New York wall-clock times."""
    utc = pd.DatetimeIndex(np.asarray(epochs, dtype="datetime64[s]"), tz="UTC")
    return utc.tz_convert(NEW_YORK).tz_localize(None)


def new_york(epochs: np.ndarray) -> list[str]:
    """UTC epoch seconds as New York wall-clock text (`2025-03-04 10:22:13`), as Qualtrics writes
    dates for a survey exported in America/New_York."""
    local = _new_york_wall_clock(epochs).to_numpy(dtype="datetime64[s]")
    return [s.replace("T", " ") for s in np.datetime_as_string(local, unit="s").tolist()]


def avoid_fall_back_hour(epochs: np.ndarray) -> np.ndarray:
    """Move responses two hours later when they fall in the New York hour that repeats as clocks
    fall back, so every local timestamp in the export maps back to exactly one UTC instant."""
    if not epochs.size:
        return epochs
    local = _new_york_wall_clock(epochs)
    repeated = np.asarray(local.tz_localize(NEW_YORK, ambiguous="NaT").isna())
    return np.where(repeated, epochs + 7200, epochs)
