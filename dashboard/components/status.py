"""Status colours and words: every page shows an "at risk" node in the same amber, same words.

A status is never colour alone: each label carries a shape and its words ("● At risk"), so it reads
in print, for colour-blind readers and in a CSV download.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from metrics.gates import gate_streak

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


def gate_state(gates: Any, unit: str, period: date | None = None) -> dict[str, Any]:
    """A unit's readiness gate at a period (default: its latest) as pages show it: ready, since
    (the start of the current streak, `metrics.gates.gate_streak`), score, blocking
    dimensions and its label."""
    streak = gate_streak(gates, unit, period)
    return {
        "ready": streak.ready,
        "since": streak.since,
        "score": streak.score,
        "blocking": streak.blocking,
        "label": gate_label(streak.ready),
    }


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
    # alert deliveries (the data-health page's alert log)
    f"{DOT} Sent": GREEN,
    f"{CIRCLE} Pending": AMBER,
    f"{DOT} Failed": RED,
    f"{CIRCLE} Recorded": GREY,
}
# Longest prefix first, so "● Not ready" is not taken for "● Not ..." of another label.
_PREFIXES = sorted(LABEL_COLORS, key=len, reverse=True)


def label_color(text: Any) -> str:
    """CSS for a table cell holding one of the labels above: its colour, in bold; else nothing."""
    if not isinstance(text, str):
        return ""
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            return f"color: {LABEL_COLORS[prefix]}; font-weight: 600"
    return ""
