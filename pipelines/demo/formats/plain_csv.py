"""Plain CSV, the format of finance, HR pulse, readiness assessments and feedback actions.

Comma-separated, quoted only where a value needs it (a comma, a quote, a line break), one `\\n` per
record, as Qualtrics and most tools write CSV.
"""

from __future__ import annotations

import csv
from typing import TextIO

#: The canonical columns of each plain CSV source.
CSV_HEADERS = {
    "revenue": ("period", "unit", "amount"),
    "cost": ("period", "unit", "amount", "contacts", "category"),
    "employee_pulse": ("response_id", "responded_at", "unit", "enps_score", "wellbeing"),
    "readiness": ("assessed_at", "unit", "dimension", "score", "assessor_id"),
    "feedback_actions": ("feedback_id", "action_at", "action_type", "owner", "root_cause", "note"),
}


def writer(fh: TextIO) -> csv.writer:
    """A CSV writer with minimal quoting and `\\n` line ends."""
    return csv.writer(fh, lineterminator="\n")
