"""Own data in ten minutes: what a data engineer meets first with real exports.

sources.yaml's `unit`, `decimal`, `thousands` and `date_format`; inbox entries no source reads;
the dry-run preview of `outcomeloop check`; the mapping digest per judged file and the reload
hint; reading failures that name their line and likely cause; and `outcomeloop run`'s exit codes
and short output.
"""

from __future__ import annotations

import csv
import os
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from metrics.sources import SourcesConfig, validate_sources
from metrics.store.warehouse import connect, ensure_schema
from pipelines.cli.main import main
from pipelines.ingestion import ingest_files, unread_entries
from pipelines.ingestion.inbox import NOT_IN_FOLDER, SUB_FOLDER, UNKNOWN_FOLDER
from pipelines.ingestion.preview import changed_mappings, preview_file

SAMPLES = Path(__file__).parent / "fixtures" / "samples"
NOW = datetime(2025, 12, 1, 12, 0, 0)
DIMENSIONS = ["leadership", "culture", "process", "data", "people"]


def config(raw: dict) -> SourcesConfig:
    cfg, problems = validate_sources(raw)
    assert not problems, problems
    assert cfg is not None
    return cfg


@pytest.fixture
def con(tmp_path: Path):
    con = connect(tmp_path / "warehouse.duckdb", memory_limit="1GB", threads=2)
    ensure_schema(con)
    try:
        yield con
    finally:
        con.close()


def land(folder: Path, name: str, text: str, newline: str = "\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8", newline=newline)
    return path


# --- sources.yaml: the new keys and their messages ------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "path", "message"),
    [
        ({"unit": "Sales", "columns": {"unit": "Region"}}, "sources.revenue.unit",
         "is given together with columns.unit"),
        ({"unit": "all"}, "sources.revenue.unit", "'all' is reserved for the whole organisation"),
        ({"decimal": ";"}, "sources.revenue.decimal", "expected \".\" or \",\", got ';'"),
        ({"decimal": ",", "thousands": ","}, "sources.revenue.thousands",
         "',' is also the decimal separator"),
        ({"date_format": "%d.%m"}, "sources.revenue.date_format",
         "'%d.%m' is not a strftime pattern of a date"),
        ({"format": "parquet", "decimal": ","}, "sources.revenue.decimal",
         "decimal applies to csv, qualtrics, salesforce exports, not parquet"),
    ],
)  # fmt: skip
def test_new_keys_are_validated_with_their_yaml_path(entry, path, message):
    cfg, problems = validate_sources({"sources": {"revenue": entry}})
    assert cfg is None
    assert [(p.path, p.message) for p in problems] == [(path, message)]


def test_a_decimal_comma_day_first_export_loads_with_its_locale(tmp_path, con):
    text = (
        "Periode;Einheit;Betrag\n"
        "01.06.2022;Vertrieb;1.234,50\n"
        "15.07.2022;Vertrieb;12,00\n"
        "2022-08-01;Vertrieb;3\n"  # ISO dates are read as well
    )
    path = land(tmp_path / "inbox" / "revenue", "umsatz.csv", text)
    columns = {"period": "Periode", "unit": "Einheit", "amount": "Betrag"}
    local = config(
        {
            "sources": {
                "revenue": {
                    "columns": columns,
                    "decimal": ",",
                    "thousands": ".",
                    "date_format": "%d.%m.%Y",
                }
            }
        }
    )
    [outcome] = ingest_files(con, "revenue", [path], local, dimensions=DIMENSIONS, now=NOW)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_quarantined) == ("loaded", 3, 0)
    rows = con.execute("SELECT period, unit, amount FROM events.revenue ORDER BY period").fetchall()
    assert rows == [
        (date(2022, 6, 1), "Vertrieb", 1234.5),
        (date(2022, 7, 15), "Vertrieb", 12.0),
        (date(2022, 8, 1), "Vertrieb", 3.0),
    ]


def test_without_the_locale_the_same_export_is_quarantined(tmp_path, con):
    path = land(
        tmp_path / "inbox" / "revenue", "umsatz.csv", "period;unit;amount\n01.06.2022;A;1.234,50\n"
    )
    [outcome] = ingest_files(
        con, "revenue", [path], config({"sources": {"revenue": {}}}), dimensions=DIMENSIONS, now=NOW
    )
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (0, 1)
    [(reason,)] = con.execute("SELECT reason FROM ops.quarantine").fetchall()
    assert reason == "period '01.06.2022' is not a date"


def test_a_constant_unit_and_day_first_timestamps_in_a_zone(tmp_path, con):
    text = "response_id,responded_at,score\nr1,01.06.2022 14:30,9\nr2,02.06.2022 08:15:30,3\n"
    path = land(tmp_path / "inbox" / "nps", "nps.csv", text)
    cfg = config(
        {
            "sources": {
                "nps": {"unit": "Sales", "date_format": "%d.%m.%Y", "timezone": "Europe/Berlin"}
            }
        }
    )
    [outcome] = ingest_files(con, "nps", [path], cfg, dimensions=DIMENSIONS, now=NOW)
    assert outcome.rows_loaded == 2
    rows = con.execute(
        "SELECT response_id, responded_at, unit FROM events.nps ORDER BY 1"
    ).fetchall()
    # Berlin is UTC+2 in June: stored as UTC
    assert rows == [
        ("r1", datetime(2022, 6, 1, 12, 30), "Sales"),
        ("r2", datetime(2022, 6, 2, 6, 15, 30), "Sales"),
    ]


# --- the inbox: what no source reads --------------------------------------------------------------


def test_unknown_folders_and_stray_files_are_listed(tmp_path):
    inbox = tmp_path / "inbox"
    for folder in ("NPS", "surveys", "nps/2025", "revenue", ".cache"):
        (inbox / folder).mkdir(parents=True)
    (inbox / "stray.csv").write_text("x\n")
    (inbox / "stray.csv.part").write_text("x\n")  # still being written: not data yet
    found = [(e.path.relative_to(inbox).as_posix(), e.reason, e.hint) for e in unread_entries(
        inbox, ("nps", "ces", "revenue")
    )]  # fmt: skip
    assert found == [
        ("NPS", UNKNOWN_FOLDER, "rename it to 'nps'"),
        ("nps/2025", SUB_FOLDER, ""),
        ("stray.csv", NOT_IN_FOLDER, "move it into inbox/<source>/"),
        ("surveys", UNKNOWN_FOLDER, "the sources are nps, ces, revenue"),
    ]
    assert UNKNOWN_FOLDER == "not read: unknown source folder"
    assert NOT_IN_FOLDER == "not read: not in a source folder"


# --- check's preview and the mapping digest -------------------------------------------------------


def test_preview_counts_what_a_run_would_do_and_writes_nothing(tmp_path):
    text = "period,unit,amount\n2025-01-01,A,10\n2025-02-01,A,-5\n2025-03-01,all,1\n2025-04,B,2\n"
    path = land(tmp_path / "inbox" / "revenue", "revenue.csv", text)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    preview = preview_file(
        "revenue", path, config({"sources": {"revenue": {}}}), dimensions=DIMENSIONS, now=NOW
    )
    assert (preview.records, preview.load, preview.filtered, preview.quarantined) == (4, 3, 0, 1)
    assert preview.columns == {"period": "period", "unit": "unit", "amount": "amount"}
    assert preview.reasons == [
        ("unit 'all' is reserved for the whole organisation; rename it or map it under "
         "unit_aliases", 1)
    ]  # fmt: skip
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written anywhere


def test_preview_of_a_file_that_lacks_a_mapped_column(tmp_path):
    path = land(tmp_path / "inbox" / "revenue", "r.csv", "month,team,amount\n2025-01-01,A,1\n")
    cfg = config({"sources": {"revenue": {"columns": {"period": "Month"}}}})
    preview = preview_file("revenue", path, cfg, dimensions=DIMENSIONS, now=NOW)
    assert preview.rejected is not None
    assert "lacks required column(s) unit" in preview.rejected
    assert preview.rejected.endswith(
        "after fixing sources.yaml, `outcomeloop reload revenue` judges it again (a corrected "
        "export landed as a new file is read by the next run)"
    )
    # a mapping spelled with another case still finds the field; unit is what is missing
    assert "period" not in preview.rejected.split("lacks required column(s)")[1].split(";")[0]


def test_a_changed_mapping_names_the_files_judged_under_the_old_one(tmp_path, con):
    path = land(tmp_path / "inbox" / "revenue", "r.csv", "period,unit,amount\n2025-01-01,A,1\n")
    old = config({"sources": {"revenue": {}}, "unit_aliases": {"a": "A"}})
    ingest_files(con, "revenue", [path], old, dimensions=DIMENSIONS, now=NOW)
    ledger = [
        dict(zip(("source", "file_path", "status", "mapping_digest"), row, strict=True))
        for row in con.execute(
            "SELECT source, file_path, status, mapping_digest FROM ops.file_ledger"
        ).fetchall()
    ]
    assert ledger[0]["mapping_digest"] == old.mapping_digest("revenue")
    assert changed_mappings(ledger, old) == {}
    # the same entry written differently is the same mapping; a new alias is not
    same = config({"sources": {"revenue": {"format": "csv"}}, "unit_aliases": {"a": "A"}})
    assert changed_mappings(ledger, same) == {}
    new = config({"sources": {"revenue": {}}, "unit_aliases": {"a": "A", "b": "B"}})
    assert changed_mappings(ledger, new) == {"revenue": [os.path.abspath(path)]}
    # rows from before digests were kept are never flagged
    assert changed_mappings([{**ledger[0], "mapping_digest": None}], new) == {}


# --- reading failures: the line and the likely cause ----------------------------------------------


def _salesforce_report(path: Path, newline_after_records: str) -> int:
    """A Salesforce report export (labels, US dates, footer) of the real sample's first 40
    opportunities; returns how many of them are won upgrades."""
    with open(SAMPLES / "salesforce" / "opportunity_export.csv", encoding="utf-8-sig") as fh:
        records = list(csv.DictReader(fh))[:40]
    lines = ['"Opportunity ID","Account Name","Stage","Amount","Close Date","Type"']
    for r in records:
        y, m, d = r["CloseDate"][:10].split("-")
        fields = [r["Id"], r["AccountId"], r["StageName"], r["Amount"],
                  f"{int(m)}/{int(d)}/{y}", r["Type"]]  # fmt: skip
        lines.append(",".join(f'"{f}"' for f in fields))
    footer = [
        "",
        '"Grand Totals (40 records)"',
        "",
        '"Confidential Information - Do Not Distribute"',
        '"Copyright (c) 2000-2024 salesforce.com, inc. All rights reserved."',
    ]
    text = "\r\n".join(lines) + "\r\n" + newline_after_records.join(footer) + "\r\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())
    return sum(r["IsWon"] == "1" and r["Type"] == "Existing Customer - Upgrade" for r in records)


@pytest.mark.parametrize("footer_newline", ["\r\n", "\n"], ids=["crlf", "mixed"])
def test_a_salesforce_report_export_with_its_footer_loads(tmp_path, con, footer_newline):
    path = tmp_path / "inbox" / "upsell" / "report.csv"
    won = _salesforce_report(path, footer_newline)
    cfg = config({"sources": {"upsell": {"format": "salesforce", "unit": "Sales"}}})
    [outcome] = ingest_files(con, "upsell", [path], cfg, dimensions=DIMENSIONS, now=NOW)
    assert outcome.status == "loaded", outcome.error
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (won, 0)
    assert outcome.rows_loaded + outcome.rows_filtered == 40  # the footer is no record


def test_a_file_that_does_not_parse_names_its_line_and_the_likely_cause(tmp_path, con):
    path = land(tmp_path / "inbox" / "upsell", "bad.csv", 'a;b;c\n1;2;3\n4;5\n"x;y\n')
    cfg = config({"sources": {"upsell": {"format": "salesforce"}}})
    [outcome] = ingest_files(con, "upsell", [path], cfg, dimensions=DIMENSIONS, now=NOW)
    assert outcome.status == "rejected"
    assert outcome.error == (
        f"{path}: cannot be read as a Salesforce CSV export: line 3 has 2 field(s) where the "
        "header has 3: '4;5'; likely a line cut short, or a wrong delimiter (set `delimiter:`); "
        "after fixing sources.yaml, `outcomeloop reload upsell` judges it again (a corrected "
        "export landed as a new file is read by the next run)"
    )
    assert "search space" not in outcome.error


# --- outcomeloop run, status and check on one home ------------------------------------------------


def test_run_exit_codes_output_unread_entries_and_the_reload_hint(pipeline_home, capsys):
    home = pipeline_home
    land(home / "inbox" / "revenue", "broken.csv", "month,team\n2025-01,A\n")  # lacks columns
    (home / "inbox" / "NPS").mkdir()
    (home / "inbox" / "loose.csv").write_text("x\n")

    assert main(["run"]) == 3  # finished, but a file was rejected
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) < 40, out
    assert "files: 5 loaded, 0 duplicate, 1 rejected" in out
    assert any(line.startswith("REJECTED ") and "broken.csv" in line for line in lines)
    assert "`outcomeloop reload SOURCE`" in lines[-1]
    assert (
        f"not read: unknown source folder: {home / 'inbox' / 'NPS'} (rename it to 'nps')" in lines
    )
    [log_line] = [line for line in lines if line.startswith("full log: ")]
    log_file = Path(log_line.removeprefix("full log: "))
    assert log_file.parent == home / "logs"
    assert "DEBUG" in log_file.read_text()  # Dagster's own log went there
    assert "DEBUG" not in out and "dagster - " not in out

    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert f"not read: unknown source folder: {home / 'inbox' / 'NPS'} (rename it to 'nps')" in out
    assert f"not read: not in a source folder: {home / 'inbox' / 'loose.csv'}" in out
    assert "mapping changed" not in out

    sources = home / "sources.yaml"
    sources.write_text(sources.read_text().replace("nps: {format: csv}", "nps: {unit: A}"))
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "inbox: 0 landed file(s) not judged yet" in out
    assert (
        "mapping changed: 1 nps file(s) were judged under an older sources.yaml "
        "(nps_2025-03.csv); run `outcomeloop reload nps` to judge them again"
    ) in out
    assert "not read: unknown source folder" in out
    assert main(["status"]) == 0
    assert "run `outcomeloop reload nps`" in capsys.readouterr().out

    # a run that judges nothing new and rejects nothing exits 0, even with the old rejection;
    # --verbose shows Dagster's log here and writes no log file
    (home / "inbox" / "revenue" / "broken.csv").unlink()
    logs = set((home / "logs").iterdir())
    assert main(["run", "--verbose"]) == 0
    captured = capsys.readouterr()
    assert "full log:" not in captured.out
    assert "STEP_SUCCESS" in captured.out + captured.err
    assert set((home / "logs").iterdir()) == logs


def test_invalid_configuration_exits_2(pipeline_home, capsys):
    (pipeline_home / "sources.yaml").write_text("sources:\n  nps: {decimal: ';'}\n")
    assert main(["run"]) == 2
    assert "sources.nps.decimal" in capsys.readouterr().err


def test_the_bundled_examples_are_announced(home, capsys):
    assert main(["check"]) == 0
    captured = capsys.readouterr()
    assert f"note: {home} has no strategy.yaml, so the bundled example" in captured.err
    assert f"note: {home} has no sources.yaml, so the bundled example" in captured.err
    (home / "strategy.yaml").write_text(
        (Path(__file__).parent / "fixtures" / "pipeline" / "strategy.yaml").read_text()
    )
    assert main(["check"]) == 0
    err = capsys.readouterr().err
    assert "strategy.yaml" not in err and "no sources.yaml" in err


@pytest.mark.slow
def test_run_prints_under_40_lines_at_scale_1(home, capsys):
    assert main(["demo", "--months", "18", "--scale", "1", "--until", "2025-06-30"]) == 0
    capsys.readouterr()
    assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) < 40, out
    shutil.rmtree(home / "dagster", ignore_errors=True)
