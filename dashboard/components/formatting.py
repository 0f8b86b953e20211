"""Numbers, periods and times as people read them: NPS as a signed whole number, money compact.

Which format a measure uses is decided in `metrics.display` (the publish step stores it in
`serving.measures.format`); how each format looks on screen is decided here, once.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from metrics.display import resolve_format
from metrics.schemas import ALL_UNITS


def is_missing(value: Any) -> bool:
    """None, NaN or NaT: a cell with nothing to show."""
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        pass
    try:
        return bool(value != value)  # NaT is the one value not equal to itself here
    except (TypeError, ValueError):
        return False


def unit_name(unit: str) -> str:
    """A unit as people call it: the pooled `all` row is the whole organisation."""
    return "Whole organisation" if unit == ALL_UNITS else unit


def measure_info(measures: Any, measure: Any) -> dict[str, Any]:
    """What showing one measure needs from serving.measures (indexed by measure): label, kind,
    format, min_n, anonymity and source; neutral defaults for a node without a measure."""
    if measure is None or is_missing(measure) or measure not in measures.index:
        return {"label": None, "kind": None, "format": None, "min_n": 0, "anonymity": False}
    row = measures.loc[measure]
    return {
        "label": row.get("label"),
        "kind": row.get("kind"),
        "format": row.get("format"),
        "min_n": row.get("min_n"),
        "anonymity": bool(row.get("anonymity")),
        "source": row.get("source"),
    }


def format_value(value: Any, fmt: str | None = "number", kind: str | None = None) -> str:
    """A measure value as people read it.

    currency: compact money without a symbol (the strategy names no currency): 810.0K, 1.00M, 4.20;
    signed: NPS as a signed whole number (+24, -5, 0); percent: 34.2% (a `ratio` is a fraction and
    is multiplied by 100, a `share` is already 0..100); employee health: 62.5/100; else 5.10.
    """
    if is_missing(value):
        return "–"
    v = float(value)
    fmt = resolve_format(fmt, kind)
    if fmt == "currency":
        size = abs(v)
        if size >= 1e9:
            return f"{v / 1e9:,.2f}B"
        if size >= 1e6:
            return f"{v / 1e6:,.2f}M"
        if size >= 1e4:
            return f"{v / 1e3:,.1f}K"
        return f"{v:,.2f}"
    if fmt == "signed":
        rounded = round(v)
        return f"+{rounded}" if rounded > 0 else str(rounded)
    if fmt == "percent":
        return f"{v * 100 if kind == 'ratio' else v:.1f}%"
    if kind == "employee_health":
        return f"{v:.1f}/100"
    if abs(v) >= 1e4:
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def format_interval(low: Any, high: Any, fmt: str | None, kind: str | None = None) -> str:
    if is_missing(low) or is_missing(high):
        return ""
    return f"{format_value(low, fmt, kind)} to {format_value(high, fmt, kind)}"


def format_share(part: Any, whole: Any) -> str:
    """'67%' of a count, or '–' when there is nothing to share out."""
    if is_missing(part) or is_missing(whole) or float(whole) == 0:
        return "–"
    return f"{100 * float(part) / float(whole):.0f}%"


def format_progress(progress: Any) -> str:
    return "–" if is_missing(progress) else f"{100 * float(progress):.0f}%"


def format_count(value: Any) -> str:
    return "0" if is_missing(value) else f"{int(value):,}"


def plural(count: int, one: str, many: str) -> str:
    """'1 item is' / '3 items are': a count with the right words."""
    return f"{count:,} {one if count == 1 else many}"


def format_hours(hours: Any) -> str:
    if is_missing(hours):
        return "–"
    h = float(hours)
    return f"{h:.0f} h" if h < 72 else f"{h / 24:.1f} days"


def suppressed_text(n: Any, min_n: Any, anonymity: bool = False, note: str | None = None) -> str:
    """Why a value is not shown, in words."""
    if anonymity:
        return f"Hidden to protect anonymity: fewer than {int(min_n or 0)} responses"
    if not is_missing(n) and not is_missing(min_n) and int(min_n or 0) > 0:
        return f"Hidden: too few responses ({int(n)} of the {int(min_n)} needed)"
    return f"Hidden: too few responses{f' ({note})' if note else ''}"


# --- periods and times -------------------------------------------------------------------------


def format_period(period: date | datetime | None, kind: str = "month") -> str:
    """A period's name: 'Mar 2025' (month), '2025 Q1' (quarter), 'Week of 2025-03-03' (week)."""
    if period is None:
        return "–"
    if isinstance(period, datetime):
        period = period.date()
    if kind == "quarter":
        return f"{period.year} Q{(period.month - 1) // 3 + 1}"
    if kind == "week":
        return f"Week of {period.isoformat()}"
    return period.strftime("%b %Y")


def period_axis(kind: str = "month", periods: int = 0) -> dict[str, Any]:
    """Plotly x-axis settings that label periods ('Mar 2025'), not every week; a long monthly
    history is labelled every quarter."""
    if kind == "week":
        return {"tickformat": "%d %b %Y"}
    months = 3 if kind == "quarter" or periods > 12 else 1
    return {"dtick": f"M{months}", "tickformat": "%b %Y"}


def _zone(tz: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_timestamp(ts: datetime | None, tz: str | None = "UTC") -> str:
    """A stored (naive UTC) timestamp in the strategy's zone: '2025-03-20 09:30 UTC'."""
    if ts is None or ts != ts:  # NaT
        return "–"
    zone = _zone(tz)
    aware = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
    return f"{aware.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


def format_age(then: datetime | None, now: datetime | None = None) -> str:
    """How long ago a (naive UTC) time was: 'just now', '5 min ago', '3 h ago', '2 days ago'."""
    if then is None or then != then:  # NaT
        return "never"
    now = now or datetime.now(UTC).replace(tzinfo=None)
    if then.tzinfo is not None:
        then = then.astimezone(UTC).replace(tzinfo=None)
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def age_is_old(then: datetime | None, hours: float = 24) -> bool:
    if then is None or then != then:  # NaT
        return True
    now = datetime.now(UTC).replace(tzinfo=None)
    return now - then > timedelta(hours=hours)


def percent_trend_layout(fig: Any, yaxis_title: str, kind: str, periods: int) -> None:
    """The layout every percent-over-periods chart shares (0-105% axis, legend on top)."""
    fig.update_layout(
        height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10}, yaxis_title=yaxis_title,
        yaxis_range=[0, 105], legend={"orientation": "h", "y": 1.15}, hovermode="x unified",
        xaxis=period_axis(kind, periods),
    )  # fmt: skip
