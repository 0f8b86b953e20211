"""Where each source's files come from and how their fields map onto the canonical columns.

`sources.yaml` (DESIGN.md "Sources") is written by the data engineer who knows the exports: which
tool produced them (`format`), which field holds each canonical column (`columns`), which records
count at all (`where`), and in which time zone zone-less timestamps were written. This module loads
it into a validated model; `validate_sources` collects EVERY problem at once, each with its YAML path
and a hint (a did-you-mean where a spelling is close), so `outcomeloop check` can show them all.
"""

from __future__ import annotations

import difflib
import zoneinfo
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from metrics.schemas import ALL_UNITS, SOURCES
from metrics.strategy import ConfigFileError, Problem, read_yaml_file

FORMATS = ("csv", "parquet", "jsonl", "qualtrics", "delighted", "salesforce")

#: How many hours a source may go without a new file before the dashboard calls it stale. Surveys
#: and actions flow daily; finance and readiness arrive monthly (40 days leaves room for a late close).
DEFAULT_FRESHNESS_HOURS: dict[str, float] = {
    "nps": 48,
    "ces": 48,
    "feedback_actions": 48,
    "employee_pulse": 24 * 40,
    "upsell": 24 * 7,
    "revenue": 24 * 40,
    "cost": 24 * 40,
    "readiness": 24 * 40,
}

DEFAULT_CES_SCALE = (1.0, 7.0)
DEFAULT_EXPANSION_TYPES = ("Existing Customer - Upgrade",)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    """How one source's landed files are read (one entry under `sources:`)."""

    format: Literal["csv", "parquet", "jsonl", "qualtrics", "delighted", "salesforce"] = "csv"
    #: canonical column -> field in the file (a dotted path inside JSON); unmapped = same name
    columns: dict[str, str] = Field(default_factory=dict)
    #: raw field (before mapping) -> the values a record must have to count; others are filtered
    where: dict[str, list[str]] = Field(default_factory=dict)
    #: the zone of timestamps written without one (Qualtrics files may name their own zone)
    timezone: str = "UTC"
    #: CSV field delimiter; sniffed from the header line when not given
    delimiter: str | None = None
    #: ces only: the [low, high] of the survey's scale; scores outside it are quarantined
    scale: tuple[float, float] = DEFAULT_CES_SCALE
    #: salesforce only: the opportunity `Type` values that count as growth from existing customers
    expansion_types: list[str] = Field(default_factory=lambda: list(DEFAULT_EXPANSION_TYPES))
    #: how stale the source may get before the dashboard flags it (default: by source)
    freshness_hours: float | None = None


class SourcesConfig(_Strict):
    """The whole `sources.yaml`: per-source reading rules plus unit spellings and a size limit."""

    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    #: another spelling of a unit -> the unit's name (applied after trimming white space)
    unit_aliases: dict[str, str] = Field(default_factory=dict)
    #: files larger than this are rejected without being read
    max_file_mb: float = 500

    def source(self, name: str) -> SourceConfig:
        """The entry for `name`, or the default (csv with canonical column names) when absent."""
        return self.sources.get(name) or SourceConfig()

    def freshness_hours(self, name: str) -> float:
        """Hours without a new file after which `name` counts as stale on the dashboard."""
        configured = self.source(name).freshness_hours
        return configured if configured is not None else DEFAULT_FRESHNESS_HOURS.get(name, 48)


class SourcesError(ConfigFileError):
    """`sources.yaml` is invalid; `problems` lists every problem found."""

    what = "the sources file"


def load_sources(path: Path | str) -> SourcesConfig:
    """Read and validate `sources.yaml`; raise SourcesError listing every problem."""
    raw = read_yaml_file(path, SourcesError, "sources", parse=yaml.safe_load)
    config, problems = validate_sources(raw)
    if problems:
        raise SourcesError(path, problems)
    assert config is not None
    return config


def validate_sources(raw: object) -> tuple[SourcesConfig | None, list[Problem]]:
    """Validate a parsed YAML document. Returns the model (None when invalid) and every problem.

    Never raises: an empty file is an empty configuration, anything else wrong is a Problem.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return None, [Problem("<root>", "expected a mapping with a `sources:` key")]
    raw = _coerce(raw)
    problems = _semantic_problems(raw)
    try:
        config = SourcesConfig.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc))
        config = None
    problems = _dedupe(problems)
    return (config if not problems else None), problems


# --- helpers -------------------------------------------------------------------------------------


def _coerce(raw: dict) -> dict:
    """Friendly shapes: `where: {f: value}` means `[value]`; YAML numbers in `where` are text."""
    out = dict(raw)
    sources = out.get("sources")
    if not isinstance(sources, dict):
        return out
    fixed: dict[Any, Any] = {}
    for name, entry in sources.items():
        if entry is None:
            entry = {}
        if isinstance(entry, dict) and isinstance(entry.get("where"), dict):
            where = {
                field: [_text(v) for v in (values if isinstance(values, list) else [values])]
                for field, values in entry["where"].items()
            }
            entry = {**entry, "where": where}
        fixed[name] = entry
    out["sources"] = fixed
    return out


def _text(value: object) -> object:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


def _did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def valid_timezone(name: str) -> bool:
    """True when `name` is an IANA time zone this machine knows (for example `Europe/Berlin`)."""
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


_SOURCE_KEYS = tuple(SourceConfig.model_fields)
_TOP_KEYS = tuple(SourcesConfig.model_fields)


def _semantic_problems(raw: dict) -> list[Problem]:
    """The rules with good messages: unknown keys, sources, formats, columns, zones, options."""
    problems: list[Problem] = []
    for key in raw:
        if key not in _TOP_KEYS:
            hint = _did_you_mean(key, _TOP_KEYS) or f"the top-level keys are {', '.join(_TOP_KEYS)}"
            problems.append(Problem(str(key), "unknown key", hint))
    sources = raw.get("sources", {})
    if sources is None:
        sources = {}
    if not isinstance(sources, dict):
        problems.append(Problem("sources", "expected a mapping of source name -> settings"))
        sources = {}
    for name, entry in sources.items():
        path = f"sources.{name}"
        if name not in SOURCES:
            hint = _did_you_mean(name, SOURCES) or f"the sources are {', '.join(SOURCES)}"
            problems.append(Problem(path, f"unknown source {name!r}", hint))
        if not isinstance(entry, dict):
            problems.append(Problem(path, "expected a mapping such as {format: csv}"))
            continue
        problems.extend(_entry_problems(path, str(name), entry))
    aliases = raw.get("unit_aliases") or {}
    if isinstance(aliases, dict):
        for spelling, unit in aliases.items():
            if not isinstance(unit, str) or not unit.strip():
                problems.append(Problem(f"unit_aliases.{spelling}", "needs a unit name"))
            elif unit.strip().lower() == ALL_UNITS:
                problems.append(
                    Problem(
                        f"unit_aliases.{spelling}",
                        f"{ALL_UNITS!r} is reserved for the whole organisation",
                        "map the spelling onto a real unit",
                    )
                )
    size = raw.get("max_file_mb")
    if isinstance(size, int | float) and not isinstance(size, bool) and size <= 0:
        problems.append(Problem("max_file_mb", "must be greater than 0"))
    return problems


def _entry_problems(path: str, name: str, entry: dict) -> list[Problem]:
    problems: list[Problem] = []
    for key in entry:
        if key not in _SOURCE_KEYS:
            hint = _did_you_mean(key, _SOURCE_KEYS) or f"the settings are {', '.join(_SOURCE_KEYS)}"
            problems.append(Problem(f"{path}.{key}", "unknown key", hint))
    fmt = entry.get("format", "csv")
    if fmt not in FORMATS:
        hint = _did_you_mean(str(fmt), FORMATS)
        hint = f"{hint} " if hint else ""
        problems.append(
            Problem(
                f"{path}.format", f"unknown format {fmt!r}", f"{hint}one of {', '.join(FORMATS)}"
            )
        )
    columns = entry.get("columns") or {}
    if isinstance(columns, dict) and name in SOURCES:
        schema = SOURCES[name]
        known = schema.column_names + tuple(c.name for c in schema.extra)
        for col, field in columns.items():
            if col not in known:
                hint = _did_you_mean(col, known) or f"{name} has columns {', '.join(known)}"
                problems.append(
                    Problem(f"{path}.columns.{col}", f"{name} has no column {col!r}", hint)
                )
            if not isinstance(field, str) or not field.strip():
                problems.append(
                    Problem(f"{path}.columns.{col}", "needs the name of a field in the file")
                )
    tz = entry.get("timezone", "UTC")
    if not isinstance(tz, str) or not valid_timezone(tz):
        hint = _did_you_mean(str(tz), _zones()) or "an IANA zone such as Europe/Berlin or UTC"
        problems.append(Problem(f"{path}.timezone", f"unknown time zone {tz!r}", hint))
    delimiter = entry.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        problems.append(
            Problem(f"{path}.delimiter", f"expected one character, got {delimiter!r}", 'e.g. ";"')
        )
    if "scale" in entry:
        scale = entry["scale"]
        if name != "ces":
            problems.append(Problem(f"{path}.scale", "scale applies to the ces source only"))
        elif (
            isinstance(scale, list)
            and len(scale) == 2
            and all(isinstance(v, int | float) for v in scale)
            and scale[0] >= scale[1]
        ):
            problems.append(
                Problem(f"{path}.scale", f"low must be below high, got {scale}", "e.g. [1, 7]")
            )
    if "expansion_types" in entry and fmt != "salesforce":
        problems.append(
            Problem(f"{path}.expansion_types", "expansion_types applies to format salesforce only")
        )
    freshness = entry.get("freshness_hours")
    if isinstance(freshness, int | float) and not isinstance(freshness, bool) and freshness <= 0:
        problems.append(Problem(f"{path}.freshness_hours", "must be greater than 0"))
    return problems


def _pydantic_problems(exc: ValidationError) -> list[Problem]:
    """Type errors pydantic finds (a number where a list belongs, ...), with YAML paths."""
    problems = []
    for err in exc.errors():
        kind = err["type"]
        loc = err["loc"]
        # covered with better words by _semantic_problems
        if kind == "extra_forbidden" or (kind == "literal_error" and loc and loc[-1] == "format"):
            continue
        problems.append(Problem(_yaml_path(loc), err["msg"]))
    return problems


def _yaml_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for p in problems:
        if p.path in seen:
            continue
        seen.add(p.path)
        out.append(p)
    return out
