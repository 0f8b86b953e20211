"""Format adapters and value parsing, one rule at a time (ingestion end to end: test_ingestion)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from metrics.sources import SourceConfig
from pipelines.ingestion.adapters import FileRejected, Params, Plan, plan_file
from pipelines.ingestion.adapters.delimited import head_records, sniff_delimiter
from pipelines.ingestion.adapters.jsonl import json_path
from pipelines.ingestion.adapters.plan import text_encoding
from pipelines.ingestion.adapters.qualtrics import header_rows
from pipelines.ingestion.rules import _date, _timestamp

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = FIXTURES / "samples"


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    yield con
    con.close()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("response_id,responded_at,unit,score", ","),
        ("response_id;responded_at;unit;score\r\n", ";"),
        ("response_id\tresponded_at\tunit", "\t"),
        ('"Opportunity, Name";Amount;Stage', ";"),  # the comma is inside quotes
        ("a|b|c", "|"),
        ("one_column", ","),
    ],
)
def test_sniff_delimiter(line, expected):
    assert sniff_delimiter(line) == expected


@pytest.mark.parametrize(
    ("dotted", "expected"),
    [
        ("score", '$."score"'),
        ("person_properties.Unit", '$."person_properties"."Unit"'),
        ("person_properties.Business Unit", '$."person_properties"."Business Unit"'),
    ],
)
def test_json_path(dotted, expected):
    assert json_path(dotted) == expected


def test_text_encoding(tmp_path):
    (tmp_path / "bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "u16").write_bytes("a,b\n1,2\n".encode("utf-16"))
    (tmp_path / "empty").write_bytes(b"  \n")
    (tmp_path / "ok").write_text("a,b\n")
    with pytest.raises(FileRejected, match="binary file, not CSV text"):
        text_encoding(tmp_path / "bin", "CSV")
    with pytest.raises(FileRejected, match="empty"):
        text_encoding(tmp_path / "empty", "CSV")
    assert text_encoding(tmp_path / "u16", "CSV") == "utf-16"
    assert text_encoding(tmp_path / "ok", "CSV") == "utf-8"


def test_head_records_respects_quoted_newlines(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text('\ufeffid,label\n1,"two\nlines"\n2,x\n', encoding="utf-8")
    assert head_records(path, 2, encoding="utf-8", delimiter=",") == [
        ["id", "label"],
        ["1", "two\nlines"],
    ]


def test_qualtrics_header_rows_of_the_real_samples():
    sample = SAMPLES / "qualtrics" / "qualtRics_sample.csv"
    names = head_records(sample, 1, encoding="utf-8", delimiter=",")[0]
    ids, header_records, zones = header_rows(sample, names, "utf-8", ",")
    assert (ids, header_records, zones) == (names, 2, {})

    legacy = SAMPLES / "qualtrics" / "qualtRics_sample_legacy.csv"
    names = ["V1", "V2", "V3", "V4", "V5", "V6", "V7", "V8", "V9", "V10", "Q1", "Q2"]
    ids, header_records, _ = header_rows(legacy, names, "utf-8", ",")
    assert header_records == 1
    assert ids[:10] == [
        "ResponseID", "ResponseSet", "Name", "ExternalDataReference", "EmailAddress",
        "IPAddress", "Status", "StartDate", "EndDate", "Finished",
    ]  # fmt: skip
    assert ids[10:] == ["Q1", "Q2"]


def test_qualtrics_row3_time_zones():
    path = FIXTURES / "ingest" / "qualtrics_denver.csv"
    names = head_records(path, 1, encoding="utf-8", delimiter=",")[0]
    _, header_records, zones = header_rows(path, names, "utf-8", ",")
    assert header_records == 2
    assert zones == {
        "StartDate": "America/Denver",
        "EndDate": "America/Denver",
        "RecordedDate": "America/Denver",
    }


def test_plan_rejects_a_missing_mapped_column_naming_file_and_mapping(con):
    sample = SAMPLES / "qualtrics" / "qualtRics_sample.csv"
    cfg = SourceConfig(format="qualtrics", columns={"score": "Q7", "unit": "UserLanguage"})
    with pytest.raises(FileRejected) as err:
        plan_file(con, "nps", sample, cfg, Params(), raw_table="r")
    assert "qualtRics_sample.csv" in str(err.value)
    assert "score (mapped to 'Q7')" in str(err.value)


def test_plan_rejects_salesforce_without_type_or_stage(con, tmp_path):
    path = tmp_path / "sf.csv"
    path.write_text("Id,CloseDate,Amount,Unit\n006,2025-01-01,10,Sales\n")
    cfg = SourceConfig(format="salesforce", columns={"unit": "Unit"})
    with pytest.raises(FileRejected, match=r"IsWon or StageName .*Type"):
        plan_file(con, "upsell", path, cfg, Params(), raw_table="r")


def _plan(timezone: str = "UTC", epoch: bool = False, date_formats: tuple = ()) -> Plan:
    return Plan(
        file=Path("x"),
        format="csv",
        relation="",
        fields={},
        field_names={},
        filters=[],
        record="NULL",
        first_row=2,
        timezone=timezone,
        epoch_seconds=epoch,
        date_formats=date_formats,
    )


def _eval(con, expr: str, params: Params, value: str):
    sql = f"SELECT {expr} FROM (SELECT CAST($v AS VARCHAR) AS r)"
    return con.execute(sql, {**params.used(sql), "v": value}).fetchone()[0]


@pytest.mark.parametrize(
    ("text", "zone", "epoch", "expected"),
    [
        ("2025-03-31 20:00:00", "America/Denver", False, datetime(2025, 4, 1, 2, 0)),
        ("2025-03-31 20:00:00", "UTC", False, datetime(2025, 3, 31, 20, 0)),
        ("2025-03-31T20:00:00Z", "America/Denver", False, datetime(2025, 3, 31, 20, 0)),
        ("2025-03-31T20:00:00+02:00", "UTC", False, datetime(2025, 3, 31, 18, 0)),
        (
            "2025-03-31T20:00:00.250-05:00",
            "Asia/Tokyo",
            False,
            datetime(2025, 4, 1, 1, 0, 0, 250000),
        ),
        ("2025-03-31 20:00", "Europe/Berlin", False, datetime(2025, 3, 31, 18, 0)),  # CEST
        ("2025-01-31 20:00", "Europe/Berlin", False, datetime(2025, 1, 31, 19, 0)),  # CET
        ("2025-03-31", "Asia/Tokyo", False, datetime(2025, 3, 30, 15, 0)),
        ("2025-03-31 20:00:00.5", "UTC", False, datetime(2025, 3, 31, 20, 0, 0, 500000)),
        ("2025-03-31 20:00:00 America/Denver", "UTC", False, datetime(2025, 4, 1, 2, 0)),
        ("1743465600", "America/Denver", True, datetime(2025, 4, 1, 0, 0)),  # epoch is UTC
        ("1743465600", "UTC", False, None),  # not for CSV
        ("31/02/2025", "UTC", False, None),
        ("2025-02-31 10:00:00", "UTC", False, None),
        ("yesterday", "UTC", True, None),
    ],
)
def test_timestamp_parsing(con, text, zone, epoch, expected):
    params = Params()
    expr = _timestamp("r", _plan(zone, epoch), params)
    assert _eval(con, expr, params, text) == expected


@pytest.mark.parametrize(
    ("text", "name", "formats", "expected"),
    [
        ("2025-03-31", "closed_at", (), date(2025, 3, 31)),
        ("2025-03-31T23:30:00-05:00", "assessed_at", (), date(2025, 3, 31)),  # never shifted
        ("2025-03-31 23:30:00", "closed_at", (), date(2025, 3, 31)),
        ("2025-03", "period", (), date(2025, 3, 1)),
        ("2025-03", "closed_at", (), None),
        ("6/14/2024", "closed_at", ("%m/%d/%Y",), date(2024, 6, 14)),
        ("14/6/2024", "closed_at", ("%m/%d/%Y",), None),
        ("March", "period", (), None),
    ],
)
def test_date_parsing(con, text, name, formats, expected):
    params = Params()
    expr = _date("r", name, _plan(date_formats=formats))
    assert _eval(con, expr, params, text) == expected


def test_params_pass_only_what_a_statement_uses():
    p = Params()
    a, b = p("x"), p("y")
    assert (a, b) == ("$p0", "$p1")
    assert p.used(f"SELECT {b}") == {"p1": "y"}
    for i in range(2, 12):
        p(i)
    assert p.used("SELECT $p1, $p11") == {"p1": "y", "p11": 11}
