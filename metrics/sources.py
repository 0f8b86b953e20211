"""Where each source's files come from and how their fields map onto the canonical columns.

`sources.yaml` (docs/sources.md) is written by the data engineer who knows the exports: which
tool produced them (`format`), which field holds each canonical column (`columns`), which records
count at all (`where`), and in which time zone zone-less timestamps were written. This module loads
it into a validated model; `validate_sources` collects EVERY problem at once, each with its YAML path
and a hint (a did-you-mean where a spelling is close), so `outcomeloop check` can show them all.
Rules that depend on the source (its columns, the ces-only `scale`) read the source's name from the
validation context (`validate_entries`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Literal, get_args

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from metrics.problems import (
    ENTRY,
    ConfigFileError,
    ConfigModel,
    Findings,
    Problem,
    did_you_mean,
    in_document_order,
    known_timezone,
    problem,
    problems_from,
    read_yaml_file,
    validate_entries,
)
from metrics.problems import valid_timezone as valid_timezone  # re-exported for the adapters
from metrics.schemas import ALL_UNITS, SOURCES

Format = Literal["csv", "parquet", "jsonl", "qualtrics", "delighted", "salesforce"]
FORMATS = get_args(Format)

#: How many hours a source may go without a new file before the dashboard calls it stale, when
#: sources.yaml is silent. Surveys and actions flow daily; the pulse survey, upsell and finance
#: arrive monthly (35-40 days leave room for a late close); readiness is assessed quarterly.
DEFAULT_FRESHNESS_HOURS: dict[str, float] = {
    "nps": 48,
    "ces": 48,
    "feedback_actions": 48,
    "employee_pulse": 24 * 35,
    "upsell": 24 * 35,
    "revenue": 24 * 40,
    "cost": 24 * 40,
    "readiness": 24 * 100,
}

DEFAULT_CES_SCALE = (1.0, 7.0)
DECIMAL_MARKS = (".", ",")
DEFAULT_EXPANSION_TYPES = ("Existing Customer - Upgrade",)


class SourcesError(ConfigFileError):
    """`sources.yaml` is invalid; `problems` lists every problem found."""

    what = "the sources file"


class SourceConfig(ConfigModel):
    """How one source's landed files are read (one entry under `sources:`)."""

    unknown_key: ClassVar[str] = "unknown key"
    known_keys: ClassVar[str] = "the settings are {keys}"

    format: Format = Field("csv", description="The tool that wrote the files.")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Canonical column -> field in the file (a dotted path inside JSON); "
        "unmapped columns keep their name.",
    )
    where: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Raw field (before mapping) -> the values a record must have to count; "
        "other records are filtered.",
    )
    timezone: str = Field(
        "UTC",
        description="The zone of timestamps written without one (Qualtrics files may name theirs).",
    )
    delimiter: str | None = Field(
        None, description="CSV field delimiter; sniffed from the header line when not given."
    )
    scale: tuple[float, float] = Field(
        DEFAULT_CES_SCALE,
        description="ces only: the [low, high] of the survey's scale; scores outside it are "
        "quarantined.",
    )
    expansion_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXPANSION_TYPES),
        description="salesforce only: the opportunity Type values that count as growth from "
        "existing customers.",
    )
    freshness_hours: float | None = Field(
        None,
        description="Hours without a new file before the dashboard flags the source as stale "
        "(default: by source).",
    )
    unit: str | None = Field(
        None,
        description="A constant unit for exports that have no unit column (instead of "
        "columns.unit).",
    )
    decimal: str = Field(
        ".", description='The decimal separator of numbers in the files: "." or ",".'
    )
    thousands: str | None = Field(
        None, description='The thousands separator of numbers in the files, e.g. "." or " ".'
    )
    date_format: str | None = Field(
        None,
        description='strftime pattern of dates (and timestamps) in the files, e.g. "%d.%m.%Y"; '
        "ISO dates are read as well.",
    )

    @model_validator(mode="before")
    @classmethod
    def _a_mapping(cls, entry: object) -> object:
        if entry is None:
            return {}
        if not isinstance(entry, dict):
            raise problem("expected a mapping such as {format: csv}")
        return entry

    @field_validator("format", mode="before")
    @classmethod
    def _known_format(cls, fmt: object) -> object:
        if fmt not in FORMATS:
            close = did_you_mean(fmt, FORMATS)
            choices = f"one of {', '.join(FORMATS)}"
            raise problem(f"unknown format {fmt!r}", f"{close} {choices}" if close else choices)
        return fmt

    @field_validator("columns", mode="before")
    @classmethod
    def _known_columns(cls, columns: object, info: ValidationInfo) -> object:
        name = (info.context or {}).get(ENTRY)
        schema = SOURCES.get(name) if isinstance(name, str) else None
        if schema is None or not isinstance(columns, dict):
            return columns
        found = Findings()
        known = schema.column_names + tuple(c.name for c in schema.extra)
        for column, field in columns.items():
            if column not in known:
                hint = did_you_mean(column, known) or f"{name} has columns {', '.join(known)}"
                found.add((column,), f"{name} has no column {column!r}", hint)
            elif not isinstance(field, str) or not field.strip():
                found.add((column,), "needs the name of a field in the file")
        found.raise_any()
        return columns

    @field_validator("where", mode="before")
    @classmethod
    def _values_as_lists_of_text(cls, where: object) -> object:
        """Friendly shapes: `where: {f: value}` means `[value]`; YAML numbers in `where` are text."""
        if not isinstance(where, dict):
            return where
        return {
            field: [_text(v) for v in (values if isinstance(values, list) else [values])]
            for field, values in where.items()
        }

    @field_validator("timezone", mode="before")
    @classmethod
    def _known_zone(cls, zone: object) -> object:
        return known_timezone(zone, otherwise="an IANA zone such as Europe/Berlin or UTC")

    @field_validator("delimiter", mode="before")
    @classmethod
    def _one_character(cls, delimiter: object) -> object:
        if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
            raise problem(f"expected one character, got {delimiter!r}", 'e.g. ";"')
        return delimiter

    @field_validator("scale", mode="before")
    @classmethod
    def _ces_scale(cls, scale: object, info: ValidationInfo) -> object:
        if (info.context or {}).get(ENTRY, "ces") != "ces":
            raise problem("scale applies to the ces source only")
        if (
            isinstance(scale, list)
            and len(scale) == 2
            and all(isinstance(v, int | float) for v in scale)
            and scale[0] >= scale[1]
        ):
            raise problem(f"low must be below high, got {scale}", "e.g. [1, 7]")
        return scale

    @field_validator("expansion_types", mode="before")
    @classmethod
    def _salesforce_only(cls, types: object, info: ValidationInfo) -> object:
        if info.data.get("format") != "salesforce":
            raise problem("expansion_types applies to format salesforce only")
        return types

    @field_validator("unit", mode="before")
    @classmethod
    def _constant_unit(cls, unit: object, info: ValidationInfo) -> object:
        if unit is None:
            return unit
        if not isinstance(unit, str) or not unit.strip():
            raise problem("needs a unit name", "e.g. unit: Sales")
        if unit.strip().lower() == ALL_UNITS:
            raise problem(f"{ALL_UNITS!r} is reserved for the whole organisation")
        if "unit" in (info.data.get("columns") or {}):
            raise problem(
                "is given together with columns.unit",
                "keep one: columns.unit reads the unit from a field, unit: names one for every row",
            )
        return unit.strip()

    @field_validator("decimal", mode="before")
    @classmethod
    def _decimal_mark(cls, mark: object, info: ValidationInfo) -> object:
        _text_numbers_only("decimal", info)
        if mark not in DECIMAL_MARKS:
            raise problem(f'expected "." or ",", got {mark!r}', 'e.g. decimal: ","')
        return mark

    @field_validator("thousands", mode="before")
    @classmethod
    def _thousands_mark(cls, mark: object, info: ValidationInfo) -> object:
        if mark is None:
            return mark
        _text_numbers_only("thousands", info)
        if not isinstance(mark, str) or len(mark) != 1 or mark.isalnum():
            raise problem(f'expected one character such as "." or " ", got {mark!r}')
        if mark == info.data.get("decimal", "."):
            raise problem(
                f"{mark!r} is also the decimal separator",
                'e.g. decimal: "," with thousands: "."',
            )
        return mark

    @field_validator("date_format", mode="before")
    @classmethod
    def _strftime_pattern(cls, fmt: object) -> object:
        if fmt is None:
            return fmt
        if not isinstance(fmt, str) or not _is_date_pattern(fmt):
            raise problem(
                f"{fmt!r} is not a strftime pattern of a date",
                'e.g. "%d.%m.%Y" for 01.06.2022, "%m/%d/%Y" for 06/01/2022',
            )
        return fmt

    @field_validator("freshness_hours")
    @classmethod
    def _positive_hours(cls, hours: float | None) -> float | None:
        if hours is not None and hours <= 0:
            raise problem("must be greater than 0")
        return hours


class SourcesConfig(ConfigModel):
    """The whole `sources.yaml`: per-source reading rules plus unit spellings and a size limit."""

    unknown_key: ClassVar[str] = "unknown key"
    known_keys: ClassVar[str] = "the top-level keys are {keys}"

    sources: dict[str, SourceConfig] = Field(
        default_factory=dict,
        description="Canonical source name (the folder under inbox/) -> how its files are read.",
        json_schema_extra={"propertyNames": {"enum": list(SOURCES)}},
    )
    unit_aliases: dict[str, str] = Field(
        default_factory=dict,
        description="Another spelling of a unit -> the unit's name (after trimming white space).",
    )
    max_file_mb: float = Field(500, description="Larger files are rejected without being read.")

    def source(self, name: str) -> SourceConfig:
        """The entry for `name`, or the default (csv with canonical column names) when absent."""
        return self.sources.get(name) or SourceConfig()

    def mapping_digest(self, name: str) -> str:
        """A short fingerprint of everything in this file that decides how `name`'s files are
        judged (its entry and the unit spellings): the ledger keeps it per file, so a changed
        mapping shows which files were judged under an older one."""
        # Settings left at their defaults are left out, so a key added to this model later (with
        # a default) does not make every file look judged under another mapping.
        mapping = {
            "source": self.source(name).model_dump(mode="json", exclude_defaults=True),
            "unit_aliases": self.unit_aliases,
        }
        text = json.dumps(mapping, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def freshness_hours(self, name: str) -> float:
        """Hours without a new file after which `name` counts as stale on the dashboard."""
        configured = self.source(name).freshness_hours
        return configured if configured is not None else DEFAULT_FRESHNESS_HOURS.get(name, 48)

    @field_validator("sources", mode="before")
    @classmethod
    def _each_source(cls, sources: object, info: ValidationInfo) -> object:
        if sources is None:
            return {}
        if not isinstance(sources, dict):
            raise problem("expected a mapping of source name -> settings")
        return validate_entries(SourceConfig, sources, info, check_key=_unknown_source)

    @field_validator("unit_aliases", mode="before")
    @classmethod
    def _real_units(cls, aliases: object) -> object:
        if not isinstance(aliases, dict):
            return aliases
        found = Findings()
        for spelling, unit in aliases.items():
            if not isinstance(unit, str) or not unit.strip():
                found.add((spelling,), "needs a unit name")
            elif unit.strip().lower() == ALL_UNITS:
                found.add(
                    (spelling,),
                    f"{ALL_UNITS!r} is reserved for the whole organisation",
                    "map the spelling onto a real unit",
                )
        found.raise_any()
        return aliases

    @field_validator("max_file_mb")
    @classmethod
    def _positive_size(cls, size: float) -> float:
        if size <= 0:
            raise problem("must be greater than 0")
        return size


def _unknown_source(name: object) -> tuple[str, str] | None:
    if name in SOURCES:
        return None
    same = [s for s in SOURCES if isinstance(name, str) and s == name.strip().lower()]
    if same:
        return f"unknown source {name!r}", f"source names are lower case: {same[0]!r}"
    return f"unknown source {name!r}", did_you_mean(name, SOURCES) or (
        f"the sources are {', '.join(SOURCES)}"
    )


#: The formats whose numbers are text written in a locale (Parquet and JSON carry typed numbers).
TEXT_NUMBER_FORMATS = ("csv", "qualtrics", "salesforce")


def _text_numbers_only(key: str, info: ValidationInfo) -> None:
    fmt = info.data.get("format", "csv")
    if fmt not in TEXT_NUMBER_FORMATS:
        raise problem(
            f"{key} applies to {', '.join(TEXT_NUMBER_FORMATS)} exports, not {fmt}",
            f"{fmt} files carry typed numbers; remove {key}",
        )


def _is_date_pattern(fmt: str) -> bool:
    """A pattern that writes a day, month and year and reads back the same date."""
    if not all(d in fmt for d in ("%d", "%m")) and "%b" not in fmt and "%j" not in fmt:
        return False
    if "%Y" not in fmt and "%y" not in fmt:
        return False
    sample = datetime(2022, 6, 13, 14, 30, 5)
    try:
        return datetime.strptime(sample.strftime(fmt), fmt).date() == sample.date()
    except ValueError:
        return False


def _text(value: object) -> object:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


def load_sources(path: Path | str) -> SourcesConfig:
    """Read and validate `sources.yaml`; raise SourcesError listing every problem."""
    raw = read_yaml_file(path, SourcesError, "sources")
    config, problems = validate_sources(raw)
    if config is None:
        raise SourcesError(path, problems)
    return config


def validate_sources(raw: object) -> tuple[SourcesConfig | None, list[Problem]]:
    """Validate a parsed YAML document. Returns the model (None when invalid) and every problem.

    Never raises: an empty file is an empty configuration, anything else wrong is a Problem.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return None, [Problem("<root>", "expected a mapping with a `sources:` key")]
    try:
        return SourcesConfig.model_validate(raw), []
    except ValidationError as exc:
        return None, in_document_order(problems_from(exc, SourcesConfig), raw)
