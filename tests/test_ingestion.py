"""Ingestion end to end: landed files -> ledger, quarantine and keyed events in DuckDB.

Real exports (tests/fixtures/samples) and hand-made ones (tests/fixtures/ingest, see its README)
are copied into a temporary inbox, loaded with `ingest_files`, and the warehouse is checked for
hand-computed values. Every loaded file also satisfies the accounting invariant: each record is
exactly one of loaded, filtered or quarantined.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from metrics.sources import SourcesConfig, validate_sources
from metrics.store.warehouse import connect, ensure_schema
from pipelines.ingestion import (
    FileOutcome,
    forward_logs,
    ingest_files,
    landed_files,
    orphan_actions,
    record_refused,
    reload_source,
    scan_inbox,
)

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = FIXTURES / "samples"
INGEST = FIXTURES / "ingest"
NOW = datetime(2025, 12, 1, 12, 0, 0)
DIMENSIONS = ["leadership", "culture", "process", "data", "people"]


@pytest.fixture
def con(tmp_path: Path):
    con = connect(tmp_path / "warehouse.duckdb", memory_limit="1GB", threads=2)
    ensure_schema(con)
    try:
        yield con
    finally:
        con.close()


def config(raw: dict | None = None) -> SourcesConfig:
    cfg, problems = validate_sources(raw or {})
    assert not problems, problems
    assert cfg is not None
    return cfg


def land(tmp_path: Path, source: str, *files: Path | tuple[str, bytes | str]) -> list[Path]:
    """Copy fixtures (or write (name, content) pairs) into inbox/<source>/, oldest first."""
    inbox = tmp_path / "inbox" / source
    inbox.mkdir(parents=True, exist_ok=True)
    out = []
    for i, item in enumerate(files):
        if isinstance(item, tuple):
            name, content = item
            target = inbox / name
            if isinstance(content, str):
                target.write_text(content, encoding="utf-8")
            else:
                target.write_bytes(content)
        else:
            target = inbox / item.name
            shutil.copyfile(item, target)
        os.utime(target, (1_700_000_000 + i, 1_700_000_000 + i))  # landing order = list order
        out.append(target)
    return out


def ingest(con, source: str, files: list[Path], cfg: SourcesConfig | None = None):
    return ingest_files(con, source, files, cfg or config(), dimensions=DIMENSIONS, now=NOW)


def rows(con, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def assert_accounted(outcome: FileOutcome, records: int) -> None:
    """Every record of the file is exactly one of loaded, filtered, quarantined."""
    assert outcome.status == "loaded", outcome.error
    total = outcome.rows_loaded + outcome.rows_filtered + outcome.rows_quarantined
    assert total == records


def counts(con) -> tuple:
    return rows(
        con,
        "SELECT (SELECT count(*) FROM ops.file_ledger), (SELECT count(*) FROM ops.quarantine), "
        "(SELECT count(*) FROM events.nps), (SELECT count(*) FROM events.ces), "
        "(SELECT count(*) FROM events.revenue)",
    )[0]


# --- the real samples ----------------------------------------------------------------------------


def test_qualtrics_sample_loads_its_one_response(con, tmp_path):
    files = land(tmp_path, "nps", SAMPLES / "qualtrics" / "qualtRics_sample.csv")
    cfg = config(
        {
            "sources": {
                "nps": {
                    "format": "qualtrics",
                    "columns": {"score": "Q1", "unit": "UserLanguage", "comment": "Q2"},
                }
            }
        }
    )
    [outcome] = ingest(con, "nps", files, cfg)
    assert_accounted(outcome, 1)
    assert outcome.rows_loaded == 1
    assert rows(
        con, "SELECT response_id, responded_at, unit, score, comment, row_number FROM events.nps"
    ) == [("R_2YPOQ602ER1jkf1", datetime(2017, 7, 18, 8, 28, 48), "DE", 2, "Hello World!", 4)]


def test_qualtrics_legacy_sample_loads(con, tmp_path):
    files = land(tmp_path, "nps", SAMPLES / "qualtrics" / "qualtRics_sample_legacy.csv")
    cfg = config(
        {"sources": {"nps": {"format": "qualtrics", "columns": {"score": "Q1", "unit": "Name"}}}}
    )
    [outcome] = ingest(con, "nps", files, cfg)
    assert_accounted(outcome, 1)
    # ids V1..V10 are named in row 2 (ResponseID, Name, Status, EndDate, ...); data from row 3
    assert rows(
        con, "SELECT response_id, responded_at, unit, score, row_number FROM events.nps"
    ) == [("R_2YPOQ602ER1jkf1", datetime(2017, 7, 18, 8, 28, 48), "Anonym", 2, 3)]


def test_salesforce_export_yields_exactly_the_won_upgrades(con, tmp_path):
    sample = SAMPLES / "salesforce" / "opportunity_export.csv"
    with open(sample, encoding="utf-8-sig", newline="") as fh:
        records = list(csv.DictReader(fh))
    expected = {
        r["Id"]: (float(r["Amount"]), date.fromisoformat(r["CloseDate"]), r["AccountId"])
        for r in records
        if (r["IsWon"] in ("1", "true") or r["StageName"] == "Closed Won")
        and r["Type"] == "Existing Customer - Upgrade"
    }
    assert len(expected) == 42  # the sample's count, for the record
    files = land(tmp_path, "upsell", sample)
    cfg = config({"sources": {"upsell": {"format": "salesforce", "columns": {"unit": "OwnerId"}}}})
    [outcome] = ingest(con, "upsell", files, cfg)
    assert_accounted(outcome, len(records))
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (42, 0)
    got = {
        oid: (amount, closed, account)
        for oid, amount, closed, account in rows(
            con, "SELECT opportunity_id, amount, closed_at, account_id FROM events.upsell"
        )
    }
    assert got == expected


# --- Qualtrics -----------------------------------------------------------------------------------

DENVER_CFG = {
    "sources": {
        "nps": {
            "format": "qualtrics",
            "columns": {
                "unit": "BusinessUnit",
                "score": "Q1",
                "comment": "Q2",
                "account_id": "AccountId",
            },
            "where": {"DistributionChannel": ["email", "anonymous"]},
        }
    },
    "unit_aliases": {"Customer Support": "Support"},
}


def test_qualtrics_row3_time_zone_moves_a_march_evening_into_april_utc(con, tmp_path):
    files = land(tmp_path, "nps", INGEST / "qualtrics_denver.csv")
    [outcome] = ingest(con, "nps", files, config(DENVER_CFG))
    assert rows(con, "SELECT responded_at FROM events.nps WHERE response_id = 'R_den1'") == [
        (datetime(2025, 4, 1, 2, 0),)  # 20:00 MDT (UTC-6) on 31 March
    ]
    # winter time: 10:00 MST (UTC-7)
    assert rows(con, "SELECT responded_at FROM events.nps WHERE response_id = 'R_den6'") == [
        (datetime(2025, 1, 15, 17, 0),)
    ]


def test_qualtrics_previews_tests_spam_and_unanswered_are_filtered_and_counted(con, tmp_path):
    files = land(tmp_path, "nps", INGEST / "qualtrics_denver.csv")
    [outcome] = ingest(con, "nps", files, config(DENVER_CFG))
    assert_accounted(outcome, 11)
    # status 1, 2, 8, 17 + the unanswered score + DistributionChannel "social" = 6 filtered
    assert (outcome.rows_loaded, outcome.rows_filtered, outcome.rows_quarantined) == (4, 6, 1)
    assert rows(
        con,
        "SELECT response_id, unit, score, account_id, row_number FROM events.nps ORDER BY row_number",
    ) == [
        ("R_den1", "Sales", 9, "A1", 4),
        ("R_den6", "Support", 3, "A6", 9),  # imported (4)
        ("R_den7", "Support", 7, None, 10),  # offline (16), Finished = 0 with a score
        ("R_den11", "Support", 10, None, 14),  # EX (32); "Customer Support" via unit_aliases
    ]
    assert rows(con, "SELECT row_number, reason FROM ops.quarantine") == [
        (13, "score '11' is outside 0..10 (field Q1)")
    ]
    # the record with a quoted newline in its comment keeps it
    assert rows(con, "SELECT comment FROM events.nps WHERE response_id = 'R_den11'") == [
        ("multi\nline",)
    ]


def test_qualtrics_label_export_and_nps_group_column(con, tmp_path):
    files = land(tmp_path, "nps", INGEST / "qualtrics_labels.csv")
    cfg = config(
        {
            "sources": {
                "nps": {
                    "format": "qualtrics",
                    # mapped to the group column: the 0..10 score column Q1 is read instead
                    "columns": {"unit": "Team", "score": "Q1_NPS_GROUP"},
                    "timezone": "Europe/Berlin",
                }
            }
        }
    )
    [outcome] = ingest(con, "nps", files, cfg)
    assert_accounted(outcome, 6)
    assert (outcome.rows_loaded, outcome.rows_filtered) == (3, 3)
    assert rows(
        con, "SELECT response_id, responded_at, unit, score FROM events.nps ORDER BY response_id"
    ) == [
        ("R_l1", datetime(2025, 6, 30, 21, 30), "Sales", 10),  # CEST (UTC+2), no zone in row 3
        ("R_l4", datetime(2025, 6, 11, 8, 0), "Support", 0),
        ("R_l6", datetime(2025, 6, 13, 8, 0), "Support", 7),  # Finished = False still counts
    ]


# --- Delighted -----------------------------------------------------------------------------------

DELIGHTED_CFG = {
    "sources": {
        "ces": {
            "format": "delighted",
            "columns": {"unit": "person_properties.Unit"},
            "where": {"survey_type": ["ces"]},
            "scale": [1, 7],
        }
    },
    "unit_aliases": {"Customer Support": "Support"},
}


def test_delighted_update_in_a_later_file_replaces_the_created_response(con, tmp_path):
    files = land(
        tmp_path, "ces", INGEST / "delighted_created.jsonl", INGEST / "delighted_updated.jsonl"
    )
    first, second = ingest(con, "ces", files, config(DELIGHTED_CFG))
    assert_accounted(first, 4)
    # d2 is an nps response (filtered by where), d3 scored 9 on a 1..7 scale (quarantined)
    assert (first.rows_loaded, first.rows_filtered, first.rows_quarantined) == (2, 1, 1)
    assert_accounted(second, 1)
    assert rows(
        con,
        "SELECT response_id, responded_at, unit, score, comment, account_id, updated_at, row_number "
        "FROM events.ces ORDER BY response_id",
    ) == [
        (
            "d1",
            datetime(2025, 4, 1, 0, 0),
            "Support",
            5.0,
            "Sorted quickly in the end",
            "p1",
            datetime(2025, 4, 1, 1, 0),
            1,
        ),
        ("d4", datetime(2025, 4, 2, 9, 30), "Support", 6.0, "Easy", "p4", None, 4),
    ]
    assert rows(con, "SELECT row_number, reason FROM ops.quarantine") == [
        (3, "score '9' is outside 1..7")
    ]


def test_delighted_older_version_arriving_later_does_not_replace_the_newer(con, tmp_path):
    created = (INGEST / "delighted_created.jsonl").read_text().splitlines()[0]
    files = land(
        tmp_path,
        "ces",
        INGEST / "delighted_updated.jsonl",  # the update lands first ...
        ("late_created.jsonl", created + "\n"),  # ... the created event (no updated_at) later
    )
    first, second = ingest(con, "ces", files, config(DELIGHTED_CFG))
    assert (second.rows_loaded, second.rows_filtered) == (0, 1)
    assert rows(con, "SELECT response_id, score, comment FROM events.ces") == [
        ("d1", 5.0, "Sorted quickly in the end")
    ]


def test_delighted_created_and_updated_in_one_file_keep_the_latest(con, tmp_path):
    text = (INGEST / "delighted_updated.jsonl").read_text() + (
        INGEST / "delighted_created.jsonl"
    ).read_text().splitlines()[0]
    files = land(tmp_path, "ces", ("both.jsonl", text))
    [outcome] = ingest(con, "ces", files, config(DELIGHTED_CFG))
    assert_accounted(outcome, 2)
    assert (outcome.rows_loaded, outcome.rows_filtered) == (1, 1)
    assert rows(con, "SELECT response_id, score, row_number FROM events.ces") == [("d1", 5.0, 1)]


def test_delighted_api_list_with_person_objects_and_iso_times(con, tmp_path):
    files = land(tmp_path, "ces", INGEST / "delighted_list.json")
    [outcome] = ingest(con, "ces", files, config(DELIGHTED_CFG))
    assert_accounted(outcome, 2)
    assert rows(
        con, "SELECT response_id, responded_at, account_id, unit, score, comment FROM events.ces"
    ) == [("a1", datetime(2025, 4, 3, 12, 0), "p7", "Sales", 7.0, "Very easy")]
    # a2 has no person_properties: its unit is empty
    [(row_number, record, reason)] = rows(
        con, "SELECT row_number, record, reason FROM ops.quarantine"
    )
    assert (row_number, reason) == (2, "unit is empty (field person_properties.Unit)")
    assert json.loads(record)["id"] == "a2"


def test_invalid_json_is_rejected(con, tmp_path):
    files = land(tmp_path, "ces", ("broken.jsonl", '{"id": "x1", "score": \n'))
    [outcome] = ingest(con, "ces", files, config(DELIGHTED_CFG))
    assert outcome.status == "rejected"
    assert "broken.jsonl" in outcome.error and "JSON" in outcome.error


# --- Salesforce report export --------------------------------------------------------------------


def test_salesforce_report_export_ignores_footer_lines(con, tmp_path):
    files = land(tmp_path, "upsell", INGEST / "salesforce_report.csv")
    cfg = config(
        {"sources": {"upsell": {"format": "salesforce", "columns": {"unit": "Business Unit"}}}}
    )
    [outcome] = ingest(con, "upsell", files, cfg)
    # 5 opportunities; Grand Totals, the totals line, Confidential and Copyright are no records
    assert_accounted(outcome, 5)
    assert (outcome.rows_loaded, outcome.rows_filtered, outcome.rows_quarantined) == (2, 3, 0)
    assert rows(
        con,
        "SELECT opportunity_id, closed_at, unit, amount, account_id, row_number FROM events.upsell "
        "ORDER BY opportunity_id",
    ) == [
        ("0061", date(2024, 6, 14), "Sales", 12500.0, "Acme", 2),
        ("0064", date(2024, 7, 2), "Support", 1200.5, "Umbrella", 5),
    ]


# --- bad input -----------------------------------------------------------------------------------


def test_binary_file_is_rejected_and_the_other_files_still_load(con, tmp_path):
    files = land(
        tmp_path,
        "revenue",
        ("export.xlsx", b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 8),
        INGEST / "revenue_2025-03.csv",
    )
    bad, good = ingest(con, "revenue", files)
    assert bad.status == "rejected"
    assert "export.xlsx" in bad.error and "binary" in bad.error
    assert_accounted(good, 3)
    assert rows(con, "SELECT count(*) FROM events.revenue") == [(3,)]
    assert rows(con, "SELECT status FROM ops.file_ledger ORDER BY status") == [
        ("loaded",),
        ("rejected",),
    ]


def test_csv_missing_the_score_column_is_rejected_naming_it(con, tmp_path):
    files = land(tmp_path, "nps", INGEST / "nps_missing_score.csv")
    [outcome] = ingest(con, "nps", files)
    assert outcome.status == "rejected"
    assert "nps_missing_score.csv" in outcome.error
    assert "lacks required column(s) score" in outcome.error
    [(status, error)] = rows(con, "SELECT status, error FROM ops.file_ledger")
    assert status == "rejected" and error == outcome.error
    assert rows(con, "SELECT count(*) FROM events.nps") == [(0,)]


def test_bad_values_are_quarantined_with_distinct_reasons(con, tmp_path):
    files = land(tmp_path, "nps", INGEST / "nps_bad_values.csv")
    [outcome] = ingest(con, "nps", files)
    assert_accounted(outcome, 7)
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (2, 5)
    assert rows(con, "SELECT row_number, reason FROM ops.quarantine ORDER BY row_number") == [
        (3, "score '11' is outside 0..10"),
        (4, "score 'ten' is not a whole number"),
        (5, "score '-1' is outside 0..10"),
        (6, "unit is empty"),
        (7, "responded_at '31/02/2025' is not a timestamp"),
    ]
    record = json.loads(rows(con, "SELECT record FROM ops.quarantine WHERE row_number = 4")[0][0])
    assert record == {
        "response_id": "R3",
        "responded_at": "2025-03-02 12:00:00",
        "unit": "Sales",
        "score": "ten",
        "comment": None,
    }
    # the offset is honoured and the unit trimmed
    assert rows(
        con, "SELECT response_id, responded_at, unit, score FROM events.nps ORDER BY 1"
    ) == [
        ("R1", datetime(2025, 3, 2, 10, 0), "Sales", 9),
        ("R7", datetime(2025, 3, 3, 7, 0), "Support", 0),
    ]


def test_the_same_file_under_another_name_is_a_duplicate(con, tmp_path):
    files = land(tmp_path, "revenue", INGEST / "revenue_2025-03.csv")
    ingest(con, "revenue", files)
    before = counts(con)
    copy = land(tmp_path, "revenue", ("revenue copy.csv", files[0].read_bytes()))
    [outcome] = ingest(con, "revenue", copy)
    assert outcome.status == "duplicate"
    assert "revenue_2025-03.csv" in outcome.error
    after = counts(con)
    assert after[0] == before[0] + 1  # the duplicate's ledger row
    assert after[1:] == before[1:]
    # judged once per path: another run adds no second duplicate row
    assert ingest(con, "revenue", landed_files(tmp_path / "inbox" / "revenue")) == []
    assert counts(con) == after


def test_ingesting_the_same_inbox_twice_changes_nothing(con, tmp_path):
    land(tmp_path, "nps", INGEST / "nps_bad_values.csv", INGEST / "nps_missing_score.csv")
    inbox = tmp_path / "inbox" / "nps"
    first = ingest(con, "nps", landed_files(inbox))
    assert [o.status for o in first] == ["loaded", "rejected"]
    snapshot = (
        counts(con),
        rows(con, "SELECT * FROM events.nps ORDER BY response_id"),
        rows(con, "SELECT * FROM ops.file_ledger ORDER BY file_path"),
    )
    assert ingest(con, "nps", landed_files(inbox)) == []
    assert snapshot == (
        counts(con),
        rows(con, "SELECT * FROM events.nps ORDER BY response_id"),
        rows(con, "SELECT * FROM ops.file_ledger ORDER BY file_path"),
    )


def test_an_unchanged_file_is_recognised_by_path_size_and_mtime_without_being_read(con, tmp_path):
    [path] = land(tmp_path, "revenue", INGEST / "revenue_2025-03.csv")
    [first] = ingest(con, "revenue", [path])
    assert first.status == "loaded"
    stat = path.stat()
    assert rows(con, "SELECT size_bytes, mtime_ns FROM ops.file_ledger") == [
        (stat.st_size, stat.st_mtime_ns)
    ]
    before = rows(con, "SELECT * FROM events.revenue ORDER BY ALL")
    # Other bytes of the same size under the same mtime: a run that read the file would judge
    # new content (load it or reject it); an unchanged (path, size, mtime) is not read at all.
    original = path.read_bytes()
    path.write_bytes(original.replace(b"Sales", b"Salez"))
    assert path.stat().st_size == stat.st_size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert ingest(con, "revenue", [path]) == []
    assert rows(con, "SELECT * FROM events.revenue ORDER BY ALL") == before


def test_a_touched_file_is_hashed_once_and_its_new_mtime_remembered(con, tmp_path):
    [path] = land(tmp_path, "revenue", INGEST / "revenue_2025-03.csv")
    ingest(con, "revenue", [path])
    os.utime(path, (1_800_000_000, 1_800_000_000))  # touched: same bytes, new mtime
    assert ingest(con, "revenue", [path]) == []  # hashed: already judged, nothing loaded
    assert rows(con, "SELECT count(*), max(mtime_ns) FROM ops.file_ledger") == [
        (1, 1_800_000_000 * 10**9)
    ]


def test_a_renamed_copy_with_the_same_mtime_is_still_a_duplicate(con, tmp_path):
    [path] = land(tmp_path, "revenue", INGEST / "revenue_2025-03.csv")
    ingest(con, "revenue", [path])
    copy = path.with_name("renamed.csv")
    shutil.copy2(path, copy)  # same bytes, size and mtime under another name
    [outcome] = ingest(con, "revenue", [copy])
    assert outcome.status == "duplicate" and outcome.rows_loaded == 0


def test_a_ledger_without_mtimes_is_migrated_and_its_files_still_judged_once(tmp_path):
    path = tmp_path / "w.duckdb"
    old = duckdb.connect(str(path))
    old.execute("CREATE SCHEMA ops")
    old.execute(
        "CREATE TABLE ops.file_ledger (file_path VARCHAR, source VARCHAR, sha256 VARCHAR, "
        "size_bytes BIGINT, rows_loaded BIGINT, rows_filtered BIGINT, rows_quarantined BIGINT, "
        "status VARCHAR, error VARCHAR, loaded_at TIMESTAMP)"
    )
    old.close()
    con = connect(path)
    try:
        ensure_schema(con)
        [file] = land(tmp_path, "revenue", INGEST / "revenue_2025-03.csv")
        [outcome] = ingest(con, "revenue", [file])
        assert outcome.status == "loaded" and outcome.mtime_ns == file.stat().st_mtime_ns
        con.execute("UPDATE ops.file_ledger SET mtime_ns = NULL")  # as judged before the column
        assert ingest(con, "revenue", [file]) == []  # hashed, recognised, mtime filled in
        assert rows(con, "SELECT mtime_ns FROM ops.file_ledger") == [(file.stat().st_mtime_ns,)]
    finally:
        con.close()


def test_max_file_mb_rejects_a_large_file_without_reading_it(con, tmp_path):
    files = land(tmp_path, "revenue", ("huge.csv", "period,unit,amount\n" + "x" * 2_000_000))
    cfg = config({"max_file_mb": 1})
    [outcome] = ingest(con, "revenue", files, cfg)
    assert outcome.status == "rejected"
    assert "huge.csv" in outcome.error and "max_file_mb" in outcome.error
    assert outcome.sha256 == ""  # not even hashed
    assert ingest(con, "revenue", files, cfg) == []  # judged once


def test_unreadable_encoding_is_recovered_as_latin1(con, tmp_path):
    text = "period,unit,amount\n2025-03-01,Zürich,100\n".encode("latin-1")
    files = land(tmp_path, "revenue", ("latin1.csv", text))
    [outcome] = ingest(con, "revenue", files)
    assert_accounted(outcome, 1)
    assert rows(con, "SELECT unit FROM events.revenue") == [("Zürich",)]


NPS_TWO_ROWS = (
    "response_id,responded_at,unit,score,comment\n"
    "R1,2025-03-01,Sales,9,“fine”\n"
    "R2,2025-03-01,Sales,11,\n"
)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("n.csv", NPS_TWO_ROWS.encode()),
        ("n.csv", NPS_TWO_ROWS.encode("cp1252")),  # read through a UTF-8 copy
        (
            "n.jsonl",
            '{"response_id": "R1", "responded_at": "2025-03-01", "unit": "Sales", "score": 9, '
            '"comment": "“fine”"}\n'
            '{"response_id": "R2", "responded_at": "2025-03-01", "unit": "Sales", "score": 11}\n',
        ),
    ],
)
def test_an_inbox_under_a_folder_named_with_an_apostrophe_loads(con, tmp_path, name, content):
    """Paths reach DuckDB as parameters, never inside SQL text: a home such as O'Brien works."""
    [path] = land(tmp_path / "O'Brien", "nps", (name, content))
    cfg = config({"sources": {"nps": {"format": "jsonl"}}} if name.endswith(".jsonl") else {})
    [outcome] = ingest(con, "nps", [path], cfg)
    assert_accounted(outcome, 2)
    assert (outcome.file_path, outcome.rows_loaded, outcome.rows_quarantined) == (str(path), 1, 1)
    assert rows(con, "SELECT response_id, comment, file_path FROM events.nps") == [
        ("R1", "“fine”", str(path))
    ]
    assert rows(con, "SELECT file_path FROM ops.quarantine") == [(str(path),)]
    assert rows(con, "SELECT file_path, status FROM ops.file_ledger") == [(str(path), "loaded")]


# --- CSV dialects --------------------------------------------------------------------------------


def test_csv_with_bom_semicolons_crlf_and_a_quoted_newline(con, tmp_path):
    content = (
        "\ufeffresponse_id;responded_at;unit;score;comment\r\n"
        "R1;2025-03-01 10:00:00;Sales;9;plain\r\n"
        'R2;2025-03-01 11:00:00;Sales;3;"two\r\nlines; with a semicolon"\r\n'
        "R3;2025-03-01 12:00:00;Sales;99;after the multi-line record\r\n"
    ).encode()
    files = land(tmp_path, "nps", ("excel_export.csv", content))
    [outcome] = ingest(con, "nps", files)
    assert_accounted(outcome, 3)
    assert rows(
        con, "SELECT response_id, score, comment, row_number FROM events.nps ORDER BY 1"
    ) == [("R1", 9, "plain", 2), ("R2", 3, "two\r\nlines; with a semicolon", 3)]
    # the record after the quoted newline is spreadsheet row 4, not 5
    assert rows(con, "SELECT row_number, reason FROM ops.quarantine") == [
        (4, "score '99' is outside 0..10")
    ]


def test_short_rows_are_padded_and_quarantined_not_fatal(con, tmp_path):
    content = "period,unit,amount\n2025-03-01,Sales,100\n2025-03-01,Support\n"
    files = land(tmp_path, "revenue", ("short.csv", content))
    [outcome] = ingest(con, "revenue", files)
    assert_accounted(outcome, 2)
    assert rows(con, "SELECT row_number, reason FROM ops.quarantine") == [(3, "amount is empty")]


def test_parquet_with_mapping_and_zone(con, tmp_path):
    path = tmp_path / "export.parquet"
    con.execute(
        f"""COPY (SELECT * FROM (VALUES ('X1', TIMESTAMP '2025-03-31 22:30:00', 'Sales', 8),
                                        ('X2', TIMESTAMP '2025-03-01 10:00:00', 'Sales', 12))
                  t(rid, ts, team, nps)) TO '{path}' (FORMAT parquet)"""
    )
    files = land(tmp_path, "nps", path)
    cfg = config(
        {
            "sources": {
                "nps": {
                    "format": "parquet",
                    "columns": {
                        "response_id": "rid",
                        "responded_at": "ts",
                        "unit": "team",
                        "score": "nps",
                    },
                    "timezone": "Asia/Tokyo",
                }
            }
        }
    )
    [outcome] = ingest(con, "nps", files, cfg)
    assert_accounted(outcome, 2)
    assert rows(con, "SELECT response_id, responded_at, score, row_number FROM events.nps") == [
        ("X1", datetime(2025, 3, 31, 13, 30), 8, 1)
    ]
    assert rows(con, "SELECT row_number, reason FROM ops.quarantine") == [
        (2, "score '12' is outside 0..10 (field nps)")
    ]


# --- keys, restatements, reload ------------------------------------------------------------------


def test_a_revenue_restatement_in_a_later_file_replaces_the_month(con, tmp_path):
    files = land(
        tmp_path, "revenue", INGEST / "revenue_2025-03.csv", INGEST / "revenue_2025-03_restated.csv"
    )
    first, second = ingest(con, "revenue", files)
    assert_accounted(first, 3)
    assert_accounted(second, 1)
    assert rows(
        con, "SELECT period, unit, amount, file_path FROM events.revenue ORDER BY 1, 2"
    ) == [
        (date(2025, 2, 1), "Sales", 90000.0, str(files[0])),  # '2025-02' = the month
        (date(2025, 3, 1), "Sales", 110000.0, str(files[1])),
        (date(2025, 3, 1), "Support", 50000.0, str(files[0])),
    ]


def test_two_rows_with_one_key_in_one_file_keep_the_last(con, tmp_path):
    content = "period,unit,amount\n2025-03-01,Sales,1\n2025-03-01,Sales,2\n"
    files = land(tmp_path, "revenue", ("twice.csv", content))
    [outcome] = ingest(con, "revenue", files)
    assert_accounted(outcome, 2)
    assert (outcome.rows_loaded, outcome.rows_filtered) == (1, 1)
    assert rows(con, "SELECT amount, row_number FROM events.revenue") == [(2.0, 3)]


def test_unit_aliases_apply_after_trimming_and_all_is_reserved(con, tmp_path):
    content = (
        "period,unit,amount\n"
        "2025-03-01,  Customer Support ,10\n"
        "2025-03-01,Support,5\n"
        "2025-04-01,All,7\n"
    )
    files = land(tmp_path, "revenue", ("aliases.csv", content))
    cfg = config({"unit_aliases": {"Customer Support": "Support"}})
    [outcome] = ingest(con, "revenue", files, cfg)
    assert_accounted(outcome, 3)
    # both spellings are one unit, so the key (period, unit) keeps the later row
    assert rows(con, "SELECT period, unit, amount FROM events.revenue") == [
        (date(2025, 3, 1), "Support", 5.0)
    ]
    [(reason,)] = rows(con, "SELECT reason FROM ops.quarantine")
    assert reason.startswith("unit 'All' is reserved for the whole organisation")


def test_reload_source_after_a_mapping_fix(con, tmp_path):
    files = land(tmp_path, "nps", INGEST / "qualtrics_denver.csv")
    land(tmp_path, "revenue", INGEST / "revenue_2025-03.csv")
    ingest(con, "revenue", landed_files(tmp_path / "inbox" / "revenue"))
    wrong = config({"sources": {"nps": {"format": "qualtrics", "columns": {"unit": "Team"}}}})
    [outcome] = ingest(con, "nps", files, wrong)
    assert outcome.status == "rejected" and "unit (mapped to 'Team')" in outcome.error
    # re-running with the fixed mapping alone does nothing: the file was judged ...
    assert ingest(con, "nps", files, config(DENVER_CFG)) == []
    # ... reload forgets the source and judges its files again; revenue is untouched
    revenue_before = rows(con, "SELECT * FROM ops.file_ledger WHERE source = 'revenue'")
    [outcome] = reload_source(con, "nps", files, config(DENVER_CFG), dimensions=DIMENSIONS, now=NOW)
    assert (outcome.status, outcome.rows_loaded) == ("loaded", 4)
    assert rows(con, "SELECT status FROM ops.file_ledger WHERE source = 'nps'") == [("loaded",)]
    assert rows(con, "SELECT * FROM ops.file_ledger WHERE source = 'revenue'") == revenue_before
    assert rows(con, "SELECT count(*) FROM events.revenue") == [(3,)]
    assert rows(con, "SELECT count(*) FROM events.nps") == [(4,)]


# --- the other sources' rules --------------------------------------------------------------------


def test_readiness_unknown_dimension_and_score_range(con, tmp_path):
    files = land(tmp_path, "readiness", INGEST / "readiness.csv")
    [outcome] = ingest(con, "readiness", files)
    assert_accounted(outcome, 5)
    assert rows(
        con, "SELECT assessed_at, unit, dimension, score FROM events.readiness ORDER BY unit, 3"
    ) == [
        (date(2025, 3, 10), "Sales", "culture", 3.0),  # spelled "Culture"
        (date(2025, 3, 10), "Sales", "leadership", 4.0),
        (date(2025, 3, 10), "Support", "data", 2.5),  # a timestamp for a date keeps its date
    ]
    assert rows(con, "SELECT row_number, reason FROM ops.quarantine ORDER BY 1") == [
        (4, "dimension 'vibes' is not one of the strategy's readiness dimensions "
            "(leadership, culture, process, data, people)"),
        (5, "score '6' is outside 1..5"),
    ]  # fmt: skip


def test_feedback_action_for_an_unknown_response_is_loaded_and_reported(con, tmp_path):
    land(tmp_path, "nps", INGEST / "nps_bad_values.csv")
    ingest(con, "nps", landed_files(tmp_path / "inbox" / "nps"))
    files = land(tmp_path, "feedback_actions", INGEST / "feedback_actions.csv")
    [outcome] = ingest(con, "feedback_actions", files)
    assert_accounted(outcome, 2)
    assert outcome.rows_loaded == 2
    assert orphan_actions(con) == [("R_unknown", datetime(2025, 3, 4, 8, 0), "emailed")]


def test_cost_rules(con, tmp_path):
    files = land(tmp_path, "cost", INGEST / "cost.csv")
    [outcome] = ingest(con, "cost", files)
    assert_accounted(outcome, 4)
    assert rows(
        con, "SELECT unit, amount, contacts, category FROM events.cost ORDER BY category"
    ) == [("Support", 12000.0, 400.0, "staff"), ("Support", 3000.0, None, "tools")]
    assert rows(con, "SELECT row_number, reason FROM ops.quarantine ORDER BY 1") == [
        (4, "amount '-5' is below 0"),
        (5, "contacts '0' is not above 0"),
    ]


def test_employee_pulse_rules(con, tmp_path):
    files = land(tmp_path, "employee_pulse", INGEST / "employee_pulse.csv")
    [outcome] = ingest(con, "employee_pulse", files)
    assert_accounted(outcome, 5)
    assert rows(
        con, "SELECT response_id, enps_score, wellbeing FROM events.employee_pulse ORDER BY 1"
    ) == [("E1", 9, 4.0), ("E2", None, 3.5)]
    assert rows(con, "SELECT row_number, reason FROM ops.quarantine ORDER BY 1") == [
        (4, "neither enps_score nor wellbeing is given"),
        (5, "enps_score '12' is outside 0..10"),
        (6, "wellbeing '6' is outside 1..5"),
    ]


def test_a_source_without_an_entry_reads_canonical_csv_and_dates_are_not_shifted(con, tmp_path):
    content = "opportunity_id,closed_at,unit,amount\nO1,2025-03-31,Sales,10\n"
    files = land(tmp_path, "upsell", ("plain.csv", content))
    cfg = config({"sources": {"nps": {"format": "qualtrics"}}, "max_file_mb": 10})
    [outcome] = ingest(con, "upsell", files, cfg)
    assert_accounted(outcome, 1)
    assert rows(con, "SELECT closed_at FROM events.upsell") == [(date(2025, 3, 31),)]


def test_unknown_source_is_a_programming_error(con):
    with pytest.raises(ValueError, match="unknown source 'nsp'"):
        ingest(con, "nsp", [])


def test_a_failing_load_rolls_back_and_records_the_file(con, tmp_path):
    files = land(tmp_path, "revenue", INGEST / "revenue_2025-03.csv")
    # sabotage the events table so the INSERT fails inside the transaction
    con.execute("DROP TABLE events.revenue")
    con.execute("CREATE TABLE events.revenue (period DATE)")
    [outcome] = ingest(con, "revenue", files)
    assert outcome.status == "rejected" and "load failed" in outcome.error
    assert rows(con, "SELECT count(*) FROM events.revenue") == [(0,)]
    assert rows(con, "SELECT status FROM ops.file_ledger") == [("rejected",)]
    with pytest.raises(duckdb.CatalogException):
        con.execute("SELECT * FROM __ingest_stage")  # the staging table is gone


def test_progress_lines_go_to_the_logger_and_are_forwarded_to_a_run_log(con, tmp_path):
    """The Dagster asset shows the ingestion's lines in its run log through `forward_logs`."""

    class Lines(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.lines: list[tuple[int, str]] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append((record.levelno, record.getMessage()))

    run_log = logging.getLogger("tests.run_log")
    run_log.setLevel(logging.INFO)
    run_log.propagate = False
    lines = Lines()
    run_log.addHandler(lines)
    files = land(tmp_path, "nps", INGEST / "nps_bad_values.csv")
    ingested = logging.getLogger("pipelines.ingestion")
    level = ingested.level
    ingested.setLevel(logging.WARNING)  # as in a process that configured no logging
    try:
        with forward_logs(run_log):
            [outcome] = ingest(con, "nps", files)
            ingest(con, "nps", land(tmp_path, "nps", ("copy.csv", files[0].read_bytes())))
        assert ingested.level == logging.WARNING  # restored
        ingest(con, "nps", files)  # outside the block: nothing forwarded
    finally:
        run_log.removeHandler(lines)
        ingested.setLevel(level)
    summary = (
        f"nps_bad_values.csv: {outcome.rows_loaded} loaded, {outcome.rows_filtered} filtered, "
        f"{outcome.rows_quarantined} quarantined of "
    )
    assert [level for level, _ in lines.lines] == [logging.INFO, logging.INFO]
    assert lines.lines[0][1].startswith(summary)
    assert lines.lines[1][1].startswith("copy.csv: duplicate: same content as ")


# --- the inbox -----------------------------------------------------------------------------------


def test_landed_files_skips_partial_and_hidden_and_refuses_escapes(tmp_path):
    inbox = tmp_path / "inbox" / "nps"
    inbox.mkdir(parents=True)
    outside = tmp_path / "secret.csv"
    outside.write_text("x")
    for i, name in enumerate(["b.csv", "a.csv", ".hidden.csv", ".~lock.a.csv#", "c.csv.part",
                              "d.tmp", "~$e.csv", "f..csv"]):  # fmt: skip
        (inbox / name).write_text("x")
        os.utime(inbox / name, (1_700_000_000 + i, 1_700_000_000 + i))
    os.utime(inbox / "a.csv", (1_700_000_000, 1_700_000_000))  # same mtime as b.csv
    (inbox / "link_out.csv").symlink_to(outside)
    (inbox / "link_in.csv").symlink_to(inbox / "a.csv")
    (inbox / "sub").mkdir()
    scan = scan_inbox(inbox)
    assert [p.name for p in scan.files[:2]] == ["a.csv", "b.csv"]  # (mtime, name)
    assert sorted(p.name for p in scan.files) == ["a.csv", "b.csv", "link_in.csv"]
    assert sorted(p.name for p, _ in scan.refused) == ["f..csv", "link_out.csv"]
    assert landed_files(inbox) == scan.files
    assert scan_inbox(tmp_path / "nowhere").files == []


def test_refused_files_are_recorded_once(con, tmp_path):
    inbox = tmp_path / "inbox" / "nps"
    inbox.mkdir(parents=True)
    (tmp_path / "secret.csv").write_text("x")
    (inbox / "link_out.csv").symlink_to(tmp_path / "secret.csv")
    scan = scan_inbox(inbox)
    [outcome] = record_refused(con, "nps", scan.refused, now=NOW)
    assert outcome.status == "rejected" and "outside the inbox" in outcome.error
    assert record_refused(con, "nps", scan.refused, now=NOW) == []


def test_events_stamped_more_than_a_day_in_the_future_are_quarantined(tmp_path):
    """A clock or export error must not reach the marts (the no_future_timestamps check holds)."""
    from datetime import datetime as _dt

    import metrics.store.warehouse as wh
    from metrics.sources import SourcesConfig

    folder = tmp_path / "inbox" / "nps"
    folder.mkdir(parents=True)
    path = folder / "n.csv"
    path.write_text(
        "response_id,responded_at,unit,score\n"
        "a,2026-01-01 10:00:00,Sales,9\n"  # the day before "now": fine
        "b,2026-01-03 09:00:00,Sales,9\n"  # 23 h after now: within a day of clock skew
        "c,2026-01-03 11:00:00,Sales,9\n"  # 25 h after now: quarantined
    )
    con = wh.connect(tmp_path / "w.duckdb")
    try:
        wh.ensure_schema(con)
        [out] = ingest_files(
            con, "nps", [path], SourcesConfig(), dimensions=[], now=_dt(2026, 1, 2, 10, 0)
        )
        assert (out.rows_loaded, out.rows_quarantined) == (2, 1)
        [(row, reason)] = con.execute("SELECT row_number, reason FROM ops.quarantine").fetchall()
        assert row == 4 and "in the future" in reason and "responded_at" in reason
    finally:
        con.close()


# --- `*.canonical.jsonl`: canonical JSON Lines in any source --------------------------------------


def test_a_canonical_jsonl_file_is_read_whatever_the_sources_format(con, tmp_path):
    """The dashboard's action files (and hand-written fix-ups) use canonical names in JSON Lines,
    even where the source's exports are Qualtrics CSV with mapped columns and a `where` filter."""
    cfg = config(
        {
            "sources": {
                "nps": {
                    "format": "qualtrics",
                    "columns": {"score": "Q5", "unit": "BusinessUnit"},
                    "where": {"DistributionChannel": ["email"]},
                    "timezone": "Europe/Berlin",
                    "decimal": ",",
                    "date_format": "%d.%m.%Y %H:%M",
                },
                "feedback_actions": {"format": "csv", "columns": {"feedback_id": "Ticket"}},
            }
        }
    )
    nps = land(
        tmp_path,
        "nps",
        (
            "fix.canonical.jsonl",
            '{"response_id": "R1", "responded_at": "2025-03-01T10:00:00", "unit": "Sales", '
            '"score": 3, "account_id": "A-1"}\n'
            '{"response_id": "R2", "responded_at": "2025-03-01T11:00:00+01:00", "unit": "Sales", '
            '"score": 11}\n',
        ),
    )
    [outcome] = ingest(con, "nps", nps, cfg)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_quarantined) == ("loaded", 1, 1)
    # A timestamp without a zone is UTC in a canonical file (not the source's Berlin).
    assert rows(con, "SELECT response_id, responded_at, score, account_id FROM events.nps") == [
        ("R1", datetime(2025, 3, 1, 10), 3, "A-1")
    ]
    actions = land(
        tmp_path,
        "feedback_actions",
        (
            "dashboard-20250302T090000-0b8f.canonical.jsonl",
            '{"feedback_id": "R1", "action_at": "2025-03-02T09:00:00+00:00", '
            '"action_type": "customer_informed", "owner": "ana", "root_cause": "billing error", '
            '"note": "Credited the invoice"}\n',
        ),
    )
    [outcome] = ingest(con, "feedback_actions", actions, cfg)
    assert (outcome.status, outcome.rows_loaded) == ("loaded", 1)
    assert rows(
        con,
        "SELECT feedback_id, action_at, action_type, owner, root_cause FROM events.feedback_actions",
    ) == [("R1", datetime(2025, 3, 2, 9), "customer_informed", "ana", "billing error")]
