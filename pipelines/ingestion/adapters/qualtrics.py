"""Qualtrics CSV exports: extra header rows, the export's own time zone, previews and spam.

Format facts (see tests/fixtures/samples/README.md): the "Data Table" export has row 1 column ids,
row 2 labels, row 3 `{"ImportId": ...}` JSON that may name the export's `timeZone`; data from
row 4. The legacy export has two header rows (`V1..V10` ids whose meaning is in row 2). `Status`
codes or labels tell previews, tests and spam from responses.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from metrics.sources import valid_timezone
from metrics.store.sql import identifier
from pipelines.ingestion.adapters.delimited import CsvDraft, CsvFlavour, head_records
from pipelines.ingestion.adapters.plan import FileRejected, in_list

#: Qualtrics `Status` values that are not responses: previews (1, 17), tests (2), spam (8, 9, 12, 40),
#: as codes and as the words a label export writes. Normal (0), imported (4), offline (16),
#: EX (32) and EX offline (48) are kept, as are values not listed here.
QUALTRICS_NOT_RESPONSES = (
    "1",
    "2",
    "8",
    "9",
    "12",
    "17",
    "40",
    "survey preview",
    "preview",
    "survey test",
    "test",
    "spam",
    "preview spam",
    "survey preview spam",
    "imported spam",
    "offline preview",
    "offline survey preview",
    "ex spam",
)

QUALTRICS_DEFAULTS: dict[str, tuple[str, ...]] = {
    "response_id": ("ResponseId", "ResponseID", "_recordId"),
    "responded_at": ("RecordedDate", "EndDate"),
}

#: Sources whose "unanswered" survey question makes a Qualtrics row a non-response (filtered).
QUALTRICS_ANSWERS: dict[str, tuple[str, ...]] = {
    "nps": ("score",),
    "ces": ("score",),
    "employee_pulse": ("enps_score", "wellbeing"),
}

#: A label export writes the choice text, e.g. "10 - Extremely likely": keep the number.
_CHOICE_NUMBER = (
    "CASE WHEN regexp_matches({v}, '^\\d+\\s*[-–]\\s') "
    "THEN regexp_extract({v}, '^(\\d+)', 1) ELSE {v} END"
)


def header_rows(
    path: Path, names: list[str], encoding: str, delimiter: str
) -> tuple[list[str], int, dict[str, str]]:
    """Column ids, how many header records follow row 1, and time zones named in row 3."""
    head = head_records(path, 4, encoding=encoding, delimiter=delimiter)
    if not head:
        raise FileRejected(f"{path}: the file has no header row")
    row1 = [c.lstrip("\ufeff") for c in head[0]]
    row2 = head[1] if len(head) > 1 else []
    row3 = head[2] if len(head) > 2 else []
    ids = list(names)
    zones: dict[str, str] = {}
    if row3 and any(c.startswith('{"ImportId"') for c in row3):
        header_records = 2
        for i, cell in enumerate(row3):
            if '"timeZone"' in cell and i < len(ids):
                try:
                    zone = json.loads(cell).get("timeZone")
                except (json.JSONDecodeError, AttributeError):
                    continue
                if zone:
                    zones[ids[i]] = str(zone)
    elif row1[:2] == ["V1", "V2"]:
        # legacy export: V1..V10 are named by their label in row 2 (ResponseID, Status, ...)
        header_records = 1
        for i, cell in enumerate(row1):
            if re.fullmatch(r"V\d+", cell) and i < len(row2) and i < len(ids):
                ids[i] = row2[i]
    else:
        # only the id row: the data starts right below it unless row 2 does not look like data
        rid = next((i for i, c in enumerate(row1) if c in QUALTRICS_DEFAULTS["response_id"]), None)
        looks_like_data = rid is not None and rid < len(row2) and row2[rid].startswith("R_")
        header_records = 0 if looks_like_data or not row2 else 1
    return ids, header_records, zones


class Qualtrics(CsvFlavour):
    """A Qualtrics survey export (Data Table or legacy)."""

    what = "a Qualtrics CSV export"
    defaults = QUALTRICS_DEFAULTS
    requires_delimiter = True

    def read_headers(self, draft: CsvDraft) -> None:
        draft.ids, draft.plan.header_records, draft.zones = header_rows(
            draft.path, draft.names, draft.encoding, draft.delimiter
        )

    def candidates(self, column: str, explicit: str | None) -> tuple[str, ...]:
        if explicit is not None and explicit.endswith("_NPS_GROUP"):
            # the group (1/2/3 or Detractor/Passive/Promoter) is derived; read the 0..10 score
            return (explicit[: -len("_NPS_GROUP")], explicit)
        return super().candidates(column, explicit)

    def add_rules(self, draft: CsvDraft) -> None:
        plan = draft.plan
        status = draft.lookup("Status")
        if status is not None:
            plan.filters.append(
                (
                    f"lower(trim({identifier(status)})) IN "
                    f"({in_list(draft.params, QUALTRICS_NOT_RESPONSES)})",
                    "Qualtrics Status is a survey preview, test or spam",
                )
            )
        answers = [c for c in QUALTRICS_ANSWERS.get(draft.schema.name, ()) if c in plan.fields]
        if answers:
            cond = " AND ".join(f"NULLIF(trim({plan.fields[c]}), '') IS NULL" for c in answers)
            plan.filters.append((cond, f"{' and '.join(answers)} not answered"))
        for col in ("score", "enps_score", "wellbeing"):
            if col in plan.fields:
                plan.cleaners[col] = _CHOICE_NUMBER

    def settle_timezone(self, draft: CsvDraft) -> None:
        if not draft.zones:
            return
        ts_field = draft.plan.field_names.get("responded_at")
        zone = draft.zones.get(ts_field or "") or next(iter(draft.zones.values()))
        zone = "UTC" if zone in ("Z", "z", "GMT") else zone
        if not valid_timezone(zone):
            raise FileRejected(
                f"{draft.path}: row 3 names the time zone {zone!r}, which is not known"
            )
        draft.plan.timezone = zone
        draft.plan.notes.append(f"timestamps are in {zone} (row 3 of the export)")


QUALTRICS = Qualtrics()
