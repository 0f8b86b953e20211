"""Contact details customers write into comments never leave the pipeline in the snapshot: every
column of every published table is free of them, while the warehouse keeps the raw text."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from metrics.config import settings
from metrics.privacy import EMAIL_MASK, PHONE_MASK
from pipelines.cli import materialize_all

#: The contact details planted in the case's comments, notes and a quarantined row.
CONTACTS = ("jane.doe@example.com", "+49 170 1234567", "0151-2345678", "x.y@corp.example.org")


def _plant_contacts(home: Path) -> None:
    """The pipeline fixture, its comments rewritten to hold e-mail addresses and phone numbers:
    r1 and r3 load, r6 (score 11) is quarantined with its comment in the raw record."""
    path = home / "inbox" / "nps" / "nps_2025-03.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    comments = {
        "r1": "Great, mail me at jane.doe@example.com",
        "r3": "Slow answer. Call +49 170 1234567 (after 5)",
        "r6": "reach me on 0151-2345678 or x.y@corp.example.org",
    }
    for row in rows:
        row["comment"] = comments.get(row["response_id"], row["comment"])
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    actions = home / "inbox" / "feedback_actions" / "actions_2025-03.csv"
    text = actions.read_text().replace(
        "r3,2025-03-06 09:00:00,called_back,ann,,",
        "r3,2025-03-06 09:00:00,called_back,ann,,called jane.doe@example.com back",
    )
    actions.write_text(text)


def _text_cells(path: Path) -> list[tuple[str, str]]:
    """(table.column, text) for every non-NULL cell of every column of every table, as text."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "ORDER BY ALL"
        ).fetchall()
        cells = []
        for schema, table, column in columns:
            values = con.execute(
                f'SELECT CAST("{column}" AS VARCHAR) FROM "{schema}"."{table}" '
                f'WHERE "{column}" IS NOT NULL'
            ).fetchall()
            cells += [(f"{schema}.{table}.{column}", v) for (v,) in values]
        return cells
    finally:
        con.close()


@pytest.fixture
def published(pipeline_home: Path) -> Path:
    _plant_contacts(pipeline_home)
    assert materialize_all(settings()).success
    return pipeline_home


def test_the_snapshot_holds_no_contact_details_in_any_table(published: Path):
    cells = _text_cells(published / "serving" / "current.duckdb")
    assert len({name.rsplit(".", 1)[0] for name, _ in cells}) >= 10  # every table was read
    leaks = [(name, text) for name, text in cells for c in CONTACTS if c in text]
    assert leaks == []
    comments = {
        text for name, text in cells if name == "serving.responses.comment" and "hidden" in text
    }
    assert comments == {
        f"Great, mail me at {EMAIL_MASK}",
        f"Slow answer. Call {PHONE_MASK} (after 5)",
    }
    quarantined = [t for n, t in cells if n == "ops.quarantine.record" and "reach me" in t]
    assert len(quarantined) == 1
    assert f"reach me on {PHONE_MASK} or {EMAIL_MASK}" in quarantined[0]


def test_the_warehouse_keeps_the_raw_text(published: Path):
    cells = _text_cells(published / "warehouse.duckdb")
    found = {c for _, text in cells for c in CONTACTS if c in text}
    assert found == set(CONTACTS)
    raw = {t for n, t in cells if n == "events.nps.comment"}
    assert "Great, mail me at jane.doe@example.com" in raw
