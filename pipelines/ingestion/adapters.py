"""Format adapters: how each tool's export is read, as raw text fields in file order.

An adapter does not judge values; it answers "where in this file is each canonical column, which
records are not responses at all, and in which zone were the timestamps written". The answer is a
`Plan`: a DuckDB relation over the file (`read_csv`, `read_parquet`, `read_json_objects`) plus one SQL
expression per canonical column. `pipelines.ingestion.rules` turns a plan into the one set-based SQL
pass that types, validates and stages every record. No Python loop ever touches a data row; only the
first few header records of a CSV are read in Python (to sniff its delimiter and, for Qualtrics, to
read its extra header rows).

Format facts (see tests/fixtures/samples/README.md):
- Qualtrics "Data Table" CSV: row 1 column ids, row 2 labels, row 3 `{"ImportId": ...}` JSON that may
  name the export's `timeZone`; data from row 4. The legacy export has two header rows (`V1..V10`
  ids whose meaning is in row 2). `Status` codes/labels tell previews, tests and spam from responses.
- Delighted: response objects (array, JSONL, API list) or webhook events wrapping one in
  `event_data`; epoch-second `created_at`/`updated_at`; `person` is an id or an object with `id`.
- Salesforce: data exports (API names, `IsWon` 1/empty) or report exports (labels, footer lines).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from metrics.schemas import SOURCES, SourceSchema
from metrics.sources import SourceConfig, valid_timezone

#: Sniffed when the configuration does not name a delimiter.
DELIMITERS = (",", ";", "\t", "|")

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

SALESFORCE_DEFAULTS: dict[str, tuple[str, ...]] = {
    "opportunity_id": ("Id", "Opportunity ID", "Opportunity Id"),
    "closed_at": ("CloseDate", "Close Date"),
    "amount": ("Amount",),
    "account_id": ("AccountId", "Account ID", "Account Id", "Account Name"),
}
SALESFORCE_WON = ("IsWon", "Won")
SALESFORCE_STAGE = ("StageName", "Stage")
SALESFORCE_TYPE = ("Type", "Opportunity Type")
#: Lines a Salesforce report export appends after its records; they and what follows are no records.
SALESFORCE_FOOTER = r"^\s*(Grand Totals \(|Confidential Information|Copyright )"

DELIGHTED_DEFAULTS: dict[str, str] = {
    "response_id": "id",
    "responded_at": "created_at",
    "score": "score",
    "comment": "comment",
    "updated_at": "updated_at",
}

#: Sources whose "unanswered" survey question makes a Qualtrics row a non-response (filtered).
QUALTRICS_ANSWERS: dict[str, tuple[str, ...]] = {
    "nps": ("score",),
    "ces": ("score",),
    "employee_pulse": ("enps_score", "wellbeing"),
}

HEADER_ROW = "(header row)"
REPORT_FOOTER = "(report footer)"
#: Filter markers for lines that are not records at all: they are not counted anywhere.
NOT_RECORDS = (HEADER_ROW, REPORT_FOOTER)


class FileRejected(Exception):
    """The file as a whole cannot be loaded; the message names the file and what is wrong."""


class Params:
    """Collects values for a DuckDB statement: `p(value)` returns a `$name` placeholder.

    Everything that comes from a user (paths, field names, allowed values, aliases, zones) goes
    through here, never into the SQL text.
    """

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"

    def used(self, sql: str) -> dict[str, Any]:
        """The values `sql` refers to (DuckDB refuses parameters a statement does not use)."""
        names = set(re.findall(r"\$(p\d+)\b", sql))
        return {k: v for k, v in self.values.items() if k in names}


def ident(name: str) -> str:
    """A quoted SQL identifier (a column name from a file header may contain anything)."""
    return '"' + str(name).replace('"', '""') + '"'


@dataclass
class Plan:
    """How to read one file's records: the relation, and a raw VARCHAR expression per column."""

    file: Path
    format: str
    #: SQL relation yielding the file's records in file order (rowid of the staged table = position)
    relation: str
    #: canonical column (and `updated_at`) -> SQL expression of its raw text value
    fields: dict[str, str]
    #: canonical column -> the file's field name, for messages ("score 'x' (field Q1) ...")
    field_names: dict[str, str]
    #: (SQL boolean: this record is excluded on purpose, reason) in order; counted as filtered
    filters: list[tuple[str, str]]
    #: SQL expression of the raw record as JSON text (evaluated for quarantined rows only)
    record: str
    #: spreadsheet row of the first record (2 below a one-line header; 1 for JSON and Parquet)
    first_row: int
    #: leading records that are header rows, not data (Qualtrics rows 2 and 3)
    header_records: int = 0
    #: SQL boolean marking the first line of a report footer (Salesforce report exports)
    footer: str | None = None
    #: zone of timestamps written without one
    timezone: str = "UTC"
    #: timestamps may be Unix epoch seconds (JSON exports)
    epoch_seconds: bool = False
    #: extra strptime formats tried for date columns after ISO (Salesforce report locale)
    date_formats: tuple[str, ...] = ()
    #: SQL pre-cleaning per canonical column (e.g. "10 - Extremely likely" -> "10")
    cleaners: dict[str, str] = field(default_factory=dict)
    #: things worth a line in the log (time zone found in the file, encoding fallback, ...)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReadOptions:
    """Reader settings the loader may retry with when the first attempt fails."""

    encoding: str = "utf-8"
    null_padding: bool = False


def plan_file(
    con: duckdb.DuckDBPyConnection,
    source: str,
    path: Path,
    cfg: SourceConfig,
    params: Params,
    *,
    raw_table: str,
    options: ReadOptions = ReadOptions(),
) -> Plan:
    """Work out how to read `path` for `source` under `cfg`; raise FileRejected if it cannot be."""
    schema = SOURCES[source]
    fmt = cfg.format
    if fmt in ("csv", "qualtrics", "salesforce"):
        return _plan_csv(con, schema, path, cfg, params, options)
    if fmt == "parquet":
        return _plan_parquet(con, schema, path, cfg, params)
    return _plan_json(con, schema, path, cfg, params, raw_table)


# --- CSV family ----------------------------------------------------------------------------------


def text_encoding(path: Path, what: str) -> str:
    """The encoding to read a text export with; binary files are rejected with a clear message."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in head:
        raise FileRejected(f"{path}: this is a binary file, not {what} text; nothing was read")
    if not head.strip():
        raise FileRejected(f"{path}: the file is empty")
    return "utf-8"


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


#: DuckDB's CSV reader splits a file into buffers of this size (16 x its 2 MiB line limit) and
#: parses them in parallel: a smaller file is parsed by one thread.
_DEFAULT_CSV_BUFFER = 32 * 1024 * 1024
#: The buffer used for files under that size, so that they are parsed by every core too.
_SMALL_CSV_BUFFER = 2 * 1024 * 1024


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


def _plan_csv(
    con: duckdb.DuckDBPyConnection,
    schema: SourceSchema,
    path: Path,
    cfg: SourceConfig,
    params: Params,
    options: ReadOptions,
) -> Plan:
    fmt = cfg.format
    what = {"qualtrics": "a Qualtrics CSV export", "salesforce": "a Salesforce CSV export"}.get(
        fmt, "CSV"
    )
    encoding = options.encoding
    if encoding == "utf-8":
        encoding = text_encoding(path, what)
    delimiter = cfg.delimiter or sniff_delimiter(_first_line(path, encoding))
    # a report export ends with one-field footer lines; elsewhere short rows are retried padded
    null_padding = options.null_padding or fmt == "salesforce"
    options = (
        f"{params(str(path))}, header = true, all_varchar = true, "
        f"delim = {params(delimiter)}, quote = '\"', escape = '\"', "
        f"encoding = {params(encoding)}, null_padding = {str(null_padding).lower()}"
    )
    # Sniff once: the dialect DuckDB detects (line ending, comment, leading rows to skip) and the
    # column names are handed to the read itself, so parsing the whole file does not sniff again.
    sniff = f"SELECT NewLineDelimiter, Comment, SkipRows, Columns FROM sniff_csv({options})"
    sniffed = con.execute(sniff, params.used(sniff)).fetchone()
    assert sniffed is not None
    new_line, comment, skip, detected = sniffed
    names = [str(c["name"]) for c in detected]
    relation = (
        f"read_csv({options}, auto_detect = false, new_line = {params(new_line)}, "
        f"comment = {params('' if comment == '(empty)' else comment)}, skip = {int(skip)}, "
        f"columns = {params(dict.fromkeys(names, 'VARCHAR'))}"
        # DuckDB's parallel reader cannot pad short rows when a quoted value holds a newline
        + (", parallel = false)" if null_padding else f"{_buffer_option(path)})")
    )
    if len(names) == 1 and delimiter not in _first_line(path, encoding) and fmt != "csv":
        raise FileRejected(f"{path}: not {what}: its first line has no {delimiter!r} delimiter")

    notes: list[str] = []
    if encoding != "utf-8":
        notes.append(f"read as {encoding}")
    ids = list(names)  # the id each DuckDB column answers to
    header_records = 0
    zones: dict[str, str] = {}
    if fmt == "qualtrics":
        ids, header_records, zones = _qualtrics_headers(path, names, encoding, delimiter)

    def lookup(name: str) -> str | None:
        return _lookup(ids, names, name)

    fields: dict[str, str] = {}
    field_names: dict[str, str] = {}
    missing: list[str] = []
    defaults = {"qualtrics": QUALTRICS_DEFAULTS, "salesforce": SALESFORCE_DEFAULTS}.get(fmt, {})
    for col in _wanted_columns(schema):
        explicit = cfg.columns.get(col)
        if explicit is not None:
            wanted: tuple[str, ...] = (explicit,)
            if fmt == "qualtrics" and explicit.endswith("_NPS_GROUP"):
                # the group (1/2/3 or Detractor/Passive/Promoter) is derived; read the 0..10 score
                wanted = (explicit[: -len("_NPS_GROUP")], explicit)
        else:
            wanted = (*defaults.get(col, ()), col)
        found = next((c for c in (lookup(w) for w in wanted) if c is not None), None)
        if found is None:
            if col in schema.required:
                label = f"{col} (mapped to {explicit!r})" if explicit else col
                missing.append(label)
            elif explicit:
                notes.append(f"mapped column {col} -> {explicit!r} is not in the file; left empty")
            continue
        fields[col] = ident(found)
        field_names[col] = ids[names.index(found)]

    filters: list[tuple[str, str]] = []
    footer = None
    date_formats: tuple[str, ...] = ()
    cleaners: dict[str, str] = {}
    if fmt == "qualtrics":
        status = lookup("Status")
        if status is not None:
            filters.append(
                (
                    f"lower(trim({ident(status)})) IN ({_in_list(params, QUALTRICS_NOT_RESPONSES)})",
                    "Qualtrics Status is a survey preview, test or spam",
                )
            )
        answers = [c for c in QUALTRICS_ANSWERS.get(schema.name, ()) if c in fields]
        if answers:
            cond = " AND ".join(f"NULLIF(trim({fields[c]}), '') IS NULL" for c in answers)
            filters.append((cond, f"{' and '.join(answers)} not answered"))
        for col in ("score", "enps_score", "wellbeing"):
            if col in fields:
                # a label export writes the choice text, e.g. "10 - Extremely likely"
                cleaners[col] = (
                    "CASE WHEN regexp_matches({v}, '^\\d+\\s*[-–]\\s') "
                    "THEN regexp_extract({v}, '^(\\d+)', 1) ELSE {v} END"
                )
    elif fmt == "salesforce":
        won, stage, type_ = (
            _first_found(lookup, names)
            for names in (SALESFORCE_WON, SALESFORCE_STAGE, SALESFORCE_TYPE)
        )
        if won is None and stage is None:
            missing.append("IsWon or StageName (to tell won opportunities)")
        else:
            parts = []
            if won is not None:
                parts.append(f"lower(trim({ident(won)})) IN ('1', 'true')")
            if stage is not None:
                parts.append(f"lower(trim({ident(stage)})) = 'closed won'")
            filters.append((f"NOT coalesce({' OR '.join(parts)}, false)", "not a won opportunity"))
        if cfg.expansion_types:
            if type_ is None:
                missing.append("Type (to tell expansion opportunities)")
            else:
                filters.append(
                    (
                        f"NOT coalesce(trim({ident(type_)}) IN "
                        f"({_in_list(params, cfg.expansion_types)}), false)",
                        "Type is not an expansion type (" + ", ".join(cfg.expansion_types) + ")",
                    )
                )
        footer = f"coalesce(regexp_matches({ident(names[0])}, '{SALESFORCE_FOOTER}'), false)"
        date_formats = ("%m/%d/%Y",)  # report exports in a US locale
        cleaners["amount"] = (
            "regexp_replace(trim({v}), '^[A-Z]{3}\\s+|[$€£,]', '', 'g')"  # "USD 1,200.00"
        )

    for raw_field, allowed in cfg.where.items():
        col = lookup(raw_field)
        if col is None:
            missing.append(f"{raw_field} (named under where:)")
            continue
        filters.append(
            (
                f"NOT coalesce(trim({ident(col)}) IN ({_in_list(params, allowed)}), false)",
                f"where: {raw_field} not in [{', '.join(allowed)}]",
            )
        )

    if missing:
        raise FileRejected(
            f"{path}: lacks required column(s) {', '.join(missing)}; "
            f"its columns are: {_preview(i for i in ids if i)}"
        )

    timezone = cfg.timezone
    if fmt == "qualtrics" and zones:
        ts_field = field_names.get("responded_at")
        zone = zones.get(ts_field or "") or next(iter(zones.values()))
        zone = "UTC" if zone in ("Z", "z", "GMT") else zone
        if not valid_timezone(zone):
            raise FileRejected(f"{path}: row 3 names the time zone {zone!r}, which is not known")
        timezone = zone
        notes.append(f"timestamps are in {zone} (row 3 of the export)")

    record = (
        "json_object("
        + ", ".join(f"{params(i or n)}, {ident(n)}" for i, n in zip(ids, names, strict=True))
        + ")"
    )
    return Plan(
        file=path,
        format=fmt,
        relation=relation,
        fields=fields,
        field_names=field_names,
        filters=filters,
        record=record,
        first_row=2,
        header_records=header_records,
        footer=footer,
        timezone=timezone,
        date_formats=date_formats,
        cleaners=cleaners,
        notes=notes,
    )


def _qualtrics_headers(
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


def _lookup(ids: list[str], names: list[str], wanted: str) -> str | None:
    """The DuckDB column answering to `wanted`: exact id first, then a unique case-blind match."""
    if wanted in ids:
        return names[ids.index(wanted)]
    folded = [i for i, x in enumerate(ids) if x.strip().casefold() == wanted.strip().casefold()]
    return names[folded[0]] if len(folded) == 1 else None


def _first_found(lookup: Any, candidates: tuple[str, ...]) -> str | None:
    """The column of the first candidate name the file has (API name first, then report label)."""
    return next((c for c in map(lookup, candidates) if c is not None), None)


def _wanted_columns(schema: SourceSchema) -> list[str]:
    return list(schema.column_names) + [c.name for c in schema.extra]


def _in_list(params: Params, values: Any) -> str:
    values = [str(v).strip() for v in values]
    return ", ".join(params(v) for v in values) if values else "NULL"


def _preview(names: Any, limit: int = 30) -> str:
    names = list(names)
    text = ", ".join(names[:limit])
    return text + (f", ... ({len(names)} in all)" if len(names) > limit else "")


# --- Parquet -------------------------------------------------------------------------------------


def _plan_parquet(
    con: duckdb.DuckDBPyConnection,
    schema: SourceSchema,
    path: Path,
    cfg: SourceConfig,
    params: Params,
) -> Plan:
    relation = f"read_parquet({params(str(path))})"
    names = [
        r[0]
        for r in con.execute(f"DESCRIBE SELECT * FROM {relation}", params.used(relation)).fetchall()
    ]

    def expr(name: str) -> str | None:
        col = _lookup(names, names, name)
        if col is not None:
            return f"CAST({ident(col)} AS VARCHAR)"
        head, _, rest = name.partition(".")
        col = _lookup(names, names, head)
        if col is not None and rest:  # a field inside a struct column
            return (
                f"CAST({'.'.join([ident(col)] + [ident(p) for p in rest.split('.')])} AS VARCHAR)"
            )
        return None

    fields, field_names, missing, notes = {}, {}, [], []
    for col in _wanted_columns(schema):
        wanted = cfg.columns.get(col, col)
        found = expr(wanted)
        if found is None:
            if col in schema.required:
                missing.append(col if wanted == col else f"{col} (mapped to {wanted!r})")
            continue
        fields[col], field_names[col] = found, wanted
    filters = []
    for raw_field, allowed in cfg.where.items():
        found = expr(raw_field)
        if found is None:
            missing.append(f"{raw_field} (named under where:)")
            continue
        cond = f"NOT coalesce(trim({found}) IN ({_in_list(params, allowed)}), false)"
        filters.append((cond, f"where: {raw_field} not in [{', '.join(allowed)}]"))
    if missing:
        raise FileRejected(
            f"{path}: lacks required column(s) {', '.join(missing)}; "
            f"its columns are: {_preview(names)}"
        )
    record = "json_object(" + ", ".join(f"{params(n)}, {ident(n)}" for n in names) + ")"
    return Plan(
        file=path,
        format="parquet",
        relation=relation,
        fields=fields,
        field_names=field_names,
        filters=filters,
        record=record,
        first_row=1,
        timezone=cfg.timezone,
        epoch_seconds=True,
        notes=notes,
    )


# --- JSON (jsonl, delighted) ---------------------------------------------------------------------


def json_path(dotted: str) -> str:
    """`person_properties.Unit` -> `$."person_properties"."Unit"` (keys may hold spaces)."""
    return "$." + ".".join('"' + p.replace('"', '\\"') + '"' for p in dotted.split("."))


def _plan_json(
    con: duckdb.DuckDBPyConnection,
    schema: SourceSchema,
    path: Path,
    cfg: SourceConfig,
    params: Params,
    raw_table: str,
) -> Plan:
    text_encoding(path, "JSON")
    # Materialise the objects once: presence checks and staging both read them.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {raw_table} AS "
        f"SELECT json AS __json FROM read_json_objects($path, format = 'auto')",
        {"path": str(path)},
    )
    delighted = cfg.format == "delighted"
    # webhook events carry the response in event_data; everything else is the response itself
    obj = (
        "CASE WHEN json_type(__json, '$.event_data') = 'OBJECT' "
        "THEN json_extract(__json, '$.event_data') ELSE __json END"
        if delighted
        else "__json"
    )
    relation = f"(SELECT __json, {obj} AS __obj FROM {raw_table})"

    def get(dotted: str) -> str:
        return f"json_extract_string(__obj, {params(json_path(dotted))})"

    fields: dict[str, str] = {}
    field_names: dict[str, str] = {}
    for col in _wanted_columns(schema):
        explicit = cfg.columns.get(col)
        if explicit is None and delighted and col == "account_id":
            # `person` is an id, or an object with an id when the API call expanded it
            fields[col] = (
                "CASE WHEN json_type(__obj, '$.person') = 'OBJECT' "
                "THEN json_extract_string(__obj, '$.person.id') "
                "ELSE json_extract_string(__obj, '$.person') END"
            )
            field_names[col] = "person"
            continue
        dotted = explicit or (DELIGHTED_DEFAULTS.get(col, col) if delighted else col)
        fields[col], field_names[col] = get(dotted), dotted

    # A required field that no record carries is a mapping problem, not a thousand bad rows.
    required = [c for c in schema.required if c in fields]
    sql = f"SELECT count(*), {', '.join(f'count({fields[c]})' for c in required)} FROM {relation}"
    counts = con.execute(sql, params.used(sql)).fetchone()
    assert counts is not None
    total = counts[0]
    if total == 0:
        raise FileRejected(f"{path}: holds no JSON objects")
    missing = [
        c if field_names[c] == c else f"{c} (mapped to {field_names[c]!r})"
        for c, n in zip(required, counts[1:], strict=True)
        if n == 0
    ]
    if missing:
        raise FileRejected(
            f"{path}: lacks required column(s) {', '.join(missing)}: no record has that field"
        )
    filters = []
    for raw_field, allowed in cfg.where.items():
        cond = f"NOT coalesce(trim({get(raw_field)}) IN ({_in_list(params, allowed)}), false)"
        filters.append((cond, f"where: {raw_field} not in [{', '.join(allowed)}]"))
    return Plan(
        file=path,
        format=cfg.format,
        relation=relation,
        fields=fields,
        field_names=field_names,
        filters=filters,
        record="CAST(__json AS VARCHAR)",
        first_row=1,
        timezone=cfg.timezone,
        epoch_seconds=True,
        notes=[],
    )
