"""What every format adapter produces and shares: the `Plan` of how to read one file.

A plan is a DuckDB relation over the file plus one SQL expression per canonical column; the
rules module turns it into the one set-based pass that types, validates and stages every record.
Values that come from a user (paths, field names, allowed values, zones) reach the SQL as
parameters collected by `Params`, never as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metrics.schemas import SourceSchema
from metrics.sources import SourceConfig

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
    #: the export's locale (sources.yaml `decimal`, `thousands`, `date_format`)
    decimal: str = "."
    thousands: str | None = None
    date_format: str | None = None
    #: things worth a line in the log (time zone found in the file, encoding fallback, ...)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReadOptions:
    """Reader settings the loader may retry with when the first attempt fails."""

    encoding: str = "utf-8"
    null_padding: bool = False


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


def lookup(ids: list[str], names: list[str], wanted: str) -> str | None:
    """The DuckDB column answering to `wanted`: exact id first, then a unique case-blind match."""
    if wanted in ids:
        return names[ids.index(wanted)]
    folded = [i for i, x in enumerate(ids) if x.strip().casefold() == wanted.strip().casefold()]
    return names[folded[0]] if len(folded) == 1 else None


def wanted_columns(schema: SourceSchema, cfg: SourceConfig) -> list[str]:
    """The columns an adapter looks for in the file: the canonical ones, then extras such as
    updated_at; a column the configuration gives as a constant (`unit:`) is not looked for."""
    constant = set(constants(cfg))
    names = list(schema.column_names) + [c.name for c in schema.extra]
    return [n for n in names if n not in constant]


def constants(cfg: SourceConfig) -> dict[str, str]:
    """Canonical columns whose value sources.yaml gives for every row (`unit: Sales`)."""
    return {"unit": cfg.unit} if cfg.unit is not None else {}


def apply_settings(plan: Plan, cfg: SourceConfig, params: Params) -> Plan:
    """What sources.yaml says beyond the mapping, on a plan an adapter made: the constant
    columns and the export's locale."""
    for column, value in constants(cfg).items():
        plan.fields[column] = params(value)
        plan.field_names[column] = f"{column}: {value} in sources.yaml"
    plan.decimal, plan.thousands, plan.date_format = cfg.decimal, cfg.thousands, cfg.date_format
    return plan


def in_list(params: Params, values: Iterable[Any]) -> str:
    """`$p1, $p2, ...` for an SQL `IN (...)` over trimmed values (`NULL` when there are none)."""
    values = [str(v).strip() for v in values]
    return ", ".join(params(v) for v in values) if values else "NULL"


def where_filter(
    value_sql: str, raw_field: str, allowed: Sequence[str], params: Params
) -> tuple[str, str]:
    """The filter of one `where:` rule: records whose field is not an allowed value."""
    return (
        f"NOT coalesce(trim({value_sql}) IN ({in_list(params, allowed)}), false)",
        f"where: {raw_field} not in [{', '.join(allowed)}]",
    )


def preview(names: Iterable[str], limit: int = 30) -> str:
    """A file's column names for a message, cut after `limit`."""
    names = list(names)
    text = ", ".join(names[:limit])
    return text + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def lacks_columns(path: Path, missing: list[str], detail: str) -> FileRejected:
    """The rejection of a file that lacks required columns, naming them and `detail`."""
    return FileRejected(f"{path}: lacks required column(s) {', '.join(missing)}{detail}")
