"""CSV exports: encoding, delimiter and dialect found once, then one `read_csv` over the file.

Plain CSV, Qualtrics and Salesforce exports share this reader; what sets a tool's export apart
(extra header rows, its default column names, records that are no responses) is a `CsvFlavour`.
Only the first few records are read in Python (to sniff the delimiter and read header rows); the
data itself is parsed by DuckDB.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from metrics.schemas import SourceSchema
from metrics.sources import SourceConfig
from metrics.store.sql import identifier
from pipelines.ingestion.adapters.plan import (
    FileRejected,
    Params,
    Plan,
    ReadOptions,
    lacks_columns,
    lookup,
    preview,
    text_encoding,
    wanted_columns,
    where_filter,
)

#: Sniffed when the configuration does not name a delimiter.
DELIMITERS = (",", ";", "\t", "|")

#: DuckDB's CSV reader splits a file into buffers of this size (16 x its 2 MiB line limit) and
#: parses them in parallel: a smaller file is parsed by one thread.
_DEFAULT_CSV_BUFFER = 32 * 1024 * 1024
#: The buffer used for files under that size, so that they are parsed by every core too.
_SMALL_CSV_BUFFER = 2 * 1024 * 1024


def head_records(path: Path, n: int, *, encoding: str, delimiter: str) -> list[list[str]]:
    """The first `n` records of a CSV (quoted newlines respected), read in Python: headers only."""
    py_encoding = "utf-8-sig" if encoding == "utf-8" else encoding
    with open(path, encoding=py_encoding, errors="replace", newline="") as fh:
        text = fh.read(1 << 20)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    out = []
    try:
        for record in reader:
            out.append(record)
            if len(out) >= n:
                break
    except csv.Error:
        pass
    return out


def sniff_delimiter(line: str) -> str:
    """The candidate delimiter seen most often outside quotes in a header line (default ',')."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _first_line(path: Path, encoding: str) -> str:
    py_encoding = "utf-8-sig" if encoding == "utf-8" else encoding
    with open(path, encoding=py_encoding, errors="replace", newline="") as fh:
        return fh.readline(1 << 20)


def _buffer_option(path: Path) -> str:
    """`, buffer_size = ...` for a file DuckDB would otherwise parse with one thread ('' if none).

    Only how the work is split changes (records and their order are the same): a file of a few
    megabytes, such as a month of survey responses, is read twice as fast on two cores."""
    try:
        size = path.stat().st_size
    except OSError:
        return ""
    if _SMALL_CSV_BUFFER < size < _DEFAULT_CSV_BUFFER:
        return f", buffer_size = {_SMALL_CSV_BUFFER}"
    return ""


#: How much of a file the diagnosis of a reading failure looks at.
_DIAGNOSIS_BYTES = 64 * 1024 * 1024


def diagnose_csv(path: Path, encoding: str, delimiter: str) -> str:
    """Why a delimited file does not parse, in words ending in the line that shows it: the first
    record whose number of fields differs from the header's, and its likely cause."""
    py_encoding = "utf-8-sig" if encoding == "utf-8" else encoding
    try:
        with open(path, encoding=py_encoding, errors="strict", newline="") as fh:
            text = fh.read(_DIAGNOSIS_BYTES)
    except UnicodeDecodeError as exc:
        return (
            f"byte {exc.start} is not {encoding} text; likely cause: the file is in another "
            "encoding (export it as UTF-8)"
        )
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader, [])
        for record in reader:
            if record == [] or len(record) == len(header):
                continue
            line = reader.line_num
            shown = delimiter.join(record)[:120]
            if len(header) == 1:
                cause = (
                    f"the header has no {delimiter!r}: the delimiter is likely another one "
                    "(set `delimiter:` in sources.yaml)"
                )
            elif len(record) == 1:
                cause = (
                    "a line with one field is likely a report footer (totals, a "
                    "confidentiality notice) or a note after the records"
                )
            elif len(record) < len(header):
                cause = "likely a line cut short, or a wrong delimiter (set `delimiter:`)"
            else:
                cause = (
                    "likely an unquoted delimiter inside a value, or a wrong delimiter "
                    "(set `delimiter:` in sources.yaml)"
                )
            return (
                f"line {line} has {len(record)} field(s) where the header has {len(header)}: "
                f"{shown!r}; {cause}"
            )
    except csv.Error as exc:
        return f"line {reader.line_num}: {exc}; likely cause: an unclosed quote"
    return (
        f"DuckDB could not detect its dialect (header: {len(header)} field(s) split by "
        f"{delimiter!r}); likely causes: a wrong delimiter or mixed line endings"
    )


@dataclass
class CsvDraft:
    """A CSV plan under construction, handed to the flavour's hooks."""

    path: Path
    schema: SourceSchema
    cfg: SourceConfig
    params: Params
    #: the columns DuckDB found, and the id each answers to (a legacy Qualtrics export names its
    #: columns V1..V10 in row 1 and by their meaning in row 2)
    names: list[str]
    ids: list[str]
    encoding: str
    delimiter: str
    plan: Plan
    #: required columns (or rule fields) the file lacks, in the order they are reported
    missing: list[str] = field(default_factory=list)
    #: time zones the export names per column id (Qualtrics row 3)
    zones: dict[str, str] = field(default_factory=dict)

    def lookup(self, wanted: str) -> str | None:
        """The DuckDB column answering to the field name `wanted`, if the file has it."""
        return lookup(self.ids, self.names, wanted)

    def first_found(self, candidates: tuple[str, ...]) -> str | None:
        """The column of the first candidate the file has (API name first, then report label)."""
        return next((c for c in map(self.lookup, candidates) if c is not None), None)


class CsvFlavour:
    """A plain CSV file; a tool's export overrides the hooks that differ."""

    #: what the file should be, for messages ("not a Qualtrics CSV export: ...")
    what = "CSV"
    #: field names tried, in order, for a canonical column the configuration does not map
    defaults: Mapping[str, tuple[str, ...]] = {}
    #: read short rows padded from the start (not only when the first read fails)
    pads_short_rows = False
    #: a file whose first line has no delimiter is not this export at all
    requires_delimiter = False

    def read_headers(self, draft: CsvDraft) -> None:
        """Read header rows beyond the first (ids, header records, time zones) into `draft`."""

    def candidates(self, column: str, explicit: str | None) -> tuple[str, ...]:
        """The field names that may hold `column`, best first."""
        if explicit is not None:
            return (explicit,)
        return (*self.defaults.get(column, ()), column)

    def add_rules(self, draft: CsvDraft) -> None:
        """Add the export's own filters, cleaners and footer to the plan (or to draft.missing)."""

    def settle_timezone(self, draft: CsvDraft) -> None:
        """Set the zone of zone-less timestamps when the export names one itself."""


CSV = CsvFlavour()


def plan_csv(
    con: duckdb.DuckDBPyConnection,
    schema: SourceSchema,
    path: Path,
    cfg: SourceConfig,
    params: Params,
    options: ReadOptions,
    flavour: CsvFlavour,
) -> Plan:
    """Plan the read of a delimited export: sniff it once, map its columns, add its rules."""
    encoding = options.encoding
    if encoding == "utf-8":
        encoding = text_encoding(path, flavour.what)
    delimiter = cfg.delimiter or sniff_delimiter(_first_line(path, encoding))
    # a report export ends with one-field footer lines; elsewhere short rows are retried padded
    null_padding = options.null_padding or flavour.pads_short_rows
    reader = (
        f"{params(str(path))}, header = true, all_varchar = true, "
        f"delim = {params(delimiter)}, quote = '\"', escape = '\"', "
        f"encoding = {params(encoding)}, null_padding = {str(null_padding).lower()}"
    )
    # Sniff once: the dialect DuckDB detects (line ending, comment, leading rows to skip) and the
    # column names are handed to the read itself, so parsing the whole file does not sniff again.
    sniff = f"SELECT NewLineDelimiter, Comment, SkipRows, Columns FROM sniff_csv({reader})"
    lenient = False
    try:
        sniffed = con.execute(sniff, params.used(sniff)).fetchone()
    except duckdb.Error as exc:
        if "sniff" not in str(exc).lower():
            raise
        # A line that breaks the file's pattern (a report footer after a blank line, mixed line
        # endings) fails DuckDB's strict dialect detection; the lenient parser reads such files.
        reader += ", strict_mode = false"
        sniff = f"SELECT NewLineDelimiter, Comment, SkipRows, Columns FROM sniff_csv({reader})"
        try:
            sniffed = con.execute(sniff, params.used(sniff)).fetchone()
        except duckdb.Error:
            if not null_padding:
                raise  # the caller retries with short rows padded, then asks again
            raise FileRejected(
                f"{path}: cannot be read as {flavour.what}: "
                f"{diagnose_csv(path, encoding, delimiter)}"
            ) from exc
        lenient = True
    assert sniffed is not None
    new_line, comment, skip, detected = sniffed
    names = [str(c["name"]) for c in detected]
    relation = (
        f"read_csv({reader}, auto_detect = false, new_line = {params(new_line)}, "
        f"comment = {params('' if comment == '(empty)' else comment)}, skip = {int(skip)}, "
        f"columns = {params(dict.fromkeys(names, 'VARCHAR'))}"
        # DuckDB's parallel reader cannot pad short rows when a quoted value holds a newline
        + (", parallel = false)" if null_padding else f"{_buffer_option(path)})")
    )
    if (
        len(names) == 1
        and delimiter not in _first_line(path, encoding)
        and flavour.requires_delimiter
    ):
        raise FileRejected(
            f"{path}: not {flavour.what}: its first line has no {delimiter!r} delimiter"
        )

    plan = Plan(
        file=path,
        format=cfg.format,
        relation=relation,
        fields={},
        field_names={},
        filters=[],
        record="",
        first_row=2,
        timezone=cfg.timezone,
    )
    if encoding != "utf-8":
        plan.notes.append(f"read as {encoding}")
    if lenient:
        plan.notes.append(
            f"read with DuckDB's lenient parser: {diagnose_csv(path, encoding, delimiter)}"
        )
    draft = CsvDraft(path, schema, cfg, params, names, list(names), encoding, delimiter, plan)
    flavour.read_headers(draft)

    for col in wanted_columns(schema, cfg):
        explicit = cfg.columns.get(col)
        found = draft.first_found(flavour.candidates(col, explicit))
        if found is None:
            if col in schema.required:
                label = f"{col} (mapped to {explicit!r})" if explicit else col
                draft.missing.append(label)
            elif explicit:
                plan.notes.append(
                    f"mapped column {col} -> {explicit!r} is not in the file; left empty"
                )
            continue
        plan.fields[col] = identifier(found)
        plan.field_names[col] = draft.ids[names.index(found)]

    flavour.add_rules(draft)
    for raw_field, allowed in cfg.where.items():
        col = draft.lookup(raw_field)
        if col is None:
            draft.missing.append(f"{raw_field} (named under where:)")
            continue
        plan.filters.append(where_filter(identifier(col), raw_field, allowed, params))
    if draft.missing:
        columns = preview(i for i in draft.ids if i)
        raise lacks_columns(path, draft.missing, f"; its columns are: {columns}")
    flavour.settle_timezone(draft)

    plan.record = (
        "json_object("
        + ", ".join(
            f"{params(i or n)}, {identifier(n)}" for i, n in zip(draft.ids, names, strict=True)
        )
        + ")"
    )
    return plan
