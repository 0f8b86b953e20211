"""Problems in a YAML configuration file, found all at once and named by their place in the file.

`strategy.yaml` and `sources.yaml` (and the files to come) are written by hand, so a mistake must
read like a reviewer's note: where it is (`tree.children[0].weight`), what is wrong, and how to fix
it (a did-you-mean where a spelling is close). This module holds what every such file shares:

- `read_yaml_file`: the parsed document, or one Problem for a missing file, text that is not UTF-8,
  broken YAML or absurd nesting; never a traceback.
- `ConfigModel`: the base of every configuration model (unknown keys are mistakes, values frozen).
- `problem` / `Findings`: how a pydantic validator reports one problem at its key, or several at
  keys below it, so one run reports every problem in the file.
- `validate_entries`: validates each entry of a mapping knowing its key (a source's name, a
  measure's id), since rules such as "scale applies to the ces source only" depend on it.
- `problems_from`: pydantic's ValidationError turned into Problems with YAML paths.
- `valid_timezone` / `known_timezone`: the time-zone check, with the closest zone as a hint.
"""

from __future__ import annotations

import difflib
import re
import types
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

#: Nesting deeper than this is refused (a real configuration is a handful of levels deep).
MAX_DEPTH = 100

#: The pydantic error type of the problems our validators raise (message and hint in its context).
PROBLEM = "config_problem"
#: Validation context keys set by `validate_entries`: the entry's key and all keys of its mapping.
ENTRY = "entry"
SIBLINGS = "siblings"

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a YAML file: where (a dotted path such as `tree.children[0].weight`),
    what, and how to fix it."""

    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class ConfigFileError(Exception):
    """A YAML configuration file is invalid; `problems` lists every problem found."""

    what = "the configuration"

    def __init__(self, source: Path | str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in {self.what}\n{lines}")


class ConfigModel(BaseModel):
    """Base of the configuration models: a key the model does not know is a mistake (most often a
    misspelling), and a loaded configuration is never changed in place."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: How an unknown key is reported: the message, and the hint when no known key is close.
    unknown_key: ClassVar[str] = "unknown key {key!r}"
    known_keys: ClassVar[str] = "known keys: {keys}"


# --- reading -------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps an impossible date (2025-13-01) as text instead of raising, so the
    validation can name the path where it is."""


def _timestamp_or_text(loader: _Loader, node: yaml.Node) -> Any:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


def parse_yaml(text: str) -> object:
    """Parse YAML text the way `read_yaml_file` does (raises yaml.YAMLError when it is not YAML)."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects


def read_yaml_file(path: Path | str, error: type[ConfigFileError], label: str) -> object:
    """The parsed document of a YAML configuration file, or `error` with one clear Problem (a
    missing file, text that is not UTF-8, broken YAML, absurd nesting) — never a traceback."""
    path = Path(path)
    if not path.is_file():
        raise error(path, [Problem("<file>", f"{label} file {path} does not exist")])
    try:
        return parse_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        problem = Problem("<file>", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        raise error(path, [problem]) from exc
    except yaml.YAMLError as exc:
        problem = Problem("<file>", f"not valid YAML: {exc}", "check indentation and quoting")
        raise error(path, [problem]) from exc
    except RecursionError as exc:
        problem = Problem("<file>", f"nested more than {MAX_DEPTH} levels deep")
        raise error(path, [problem]) from exc


# --- suggestions and time zones ------------------------------------------------------------------


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """ "did you mean 'x'?" for the closest choice, or "" when none is close."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def suggest(word: object, known: list[str], what: str, otherwise: str = "remove it") -> str:
    """A did-you-mean, else the list of known `what`, else `otherwise`."""
    if hint := did_you_mean(word, known):
        return hint
    return f"known {what}: {', '.join(known)}" if known else otherwise


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def valid_timezone(name: object) -> bool:
    """True when `name` is an IANA time zone this machine knows (for example `Europe/Berlin`)."""
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def known_timezone(name: object, otherwise: str) -> Any:
    """`name` when it is a known time zone; else a problem whose hint is the closest zone (or
    `otherwise`). For a validator of a `timezone` key."""
    if not valid_timezone(name):
        raise problem(f"unknown time zone {name!r}", did_you_mean(name, _zones()) or otherwise)
    return name


# --- reporting from validators -------------------------------------------------------------------


def problem(message: str, hint: str = "") -> PydanticCustomError:
    """`raise problem(...)` in a validator: one problem at the key being validated."""
    return PydanticCustomError(PROBLEM, "{message}", {"message": message, "hint": hint})


class Findings:
    """Problems one validator found at locations below its key, raised together by `raise_any`
    (pydantic adds the key's own location in front of each)."""

    def __init__(self) -> None:
        self._details: list[InitErrorDetails] = []

    def add(self, loc: Loc, message: str, hint: str = "") -> None:
        self._details.append(InitErrorDetails(type=problem(message, hint), loc=loc, input=None))

    def absorb(self, error: ValidationError, prefix: Loc) -> None:
        """Take over the errors of a nested validation, at `prefix` + their own locations."""
        for err in error.errors(include_url=False):
            kind: str | PydanticCustomError = err["type"]
            detail = InitErrorDetails(type=kind, loc=(*prefix, *err["loc"]), input=err["input"])
            if kind == PROBLEM:
                detail["type"] = problem(err["msg"], err.get("ctx", {}).get("hint", ""))
            elif "ctx" in err:
                detail["ctx"] = err["ctx"]
            self._details.append(detail)

    def raise_any(self) -> None:
        if self._details:
            raise ValidationError.from_exception_data("configuration", self._details)


def validate_entries(
    model: type[M],
    entries: dict,
    info: ValidationInfo,
    check_key: Callable[[Any], tuple[str, str] | None] | None = None,
) -> dict[Any, M]:
    """Validate every entry of a mapping as `model`, with the entry's key (`ENTRY`) and all keys of
    the mapping (`SIBLINGS`) in the validation context; report every entry's problems at once.
    `check_key` returns (message, hint) for a key that is wrong in itself."""
    found, out = Findings(), {}
    keys = [str(key) for key in entries]
    for key, entry in entries.items():
        if check_key is not None and (wrong := check_key(key)) is not None:
            found.add((key,), *wrong)
        context = {**(info.context or {}), ENTRY: key, SIBLINGS: keys}
        try:
            out[key] = model.model_validate(entry, context=context)
        except ValidationError as exc:
            found.absorb(exc, (key,))
    found.raise_any()
    return out


# --- from pydantic errors to Problems ------------------------------------------------------------


def problems_from(error: ValidationError, root: type[BaseModel]) -> list[Problem]:
    """Every error of validating `root`, as Problems with YAML paths and hints: one per path, the
    first found (a rule's own words come before pydantic's about the same key)."""
    problems: dict[str, Problem] = {}
    for err in error.errors(include_url=False):
        found = _problem(err, root)
        problems.setdefault(found.path, found)
    return list(problems.values())


def _problem(err: Any, root: type[BaseModel]) -> Problem:
    loc, kind, given = tuple(err["loc"]), err["type"], err.get("input")
    path = yaml_path(loc)
    if kind == PROBLEM:
        return Problem(path, err["msg"], err.get("ctx", {}).get("hint", ""))
    if kind == "recursion_loop":
        return Problem(
            path,
            "this refers back to a node that contains it (a cycle made with a YAML alias)",
            "an outcome tree cannot contain itself: write the child out instead of using *alias",
        )
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1]) or ConfigModel
        known = list(model.model_fields)
        listed = model.known_keys.format(keys=", ".join(known)) if known else "remove it"
        message = model.unknown_key.format(key=loc[-1])
        return Problem(path, message, did_you_mean(loc[-1], known) or listed)
    if kind == "missing":
        return Problem(path, f"missing required key {loc[-1]!r}", f"add {loc[-1]}: ...")
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        what = f"unknown {loc[-1]}" if isinstance(loc[-1], str) else "not allowed"
        return Problem(path, f"{what} {given!r}", suggest(given, allowed, "values"))
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return Problem(path, f"expected a mapping (key: value lines), got {describe(given)}")
    if kind in ("list_type", "tuple_type"):
        return Problem(path, f"expected a list ([a, b] or - lines), got {describe(given)}")
    if kind.startswith("date"):
        return Problem(
            path, f"not a date: {_show(given)}", "write dates as YYYY-MM-DD, without a time"
        )
    return Problem(path, f"{err['msg']} (got {_show(given)})")


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model whose mapping sits at `loc` below `root` (to list the keys it knows), found by
    following the fields' types: a model's field by name, a list's item, a mapping's value."""
    annotation: Any = root
    for part in loc:
        model = _model_in(annotation)
        if model is not None:
            field = model.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            annotation = field.annotation
        elif args := [a for a in get_args(annotation) if a is not type(None)]:
            annotation = args[-1]
        else:
            return None
    return _model_in(annotation)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    options = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else ()
    for option in (annotation, *options):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
    return None


def yaml_path(loc: Loc) -> str:
    """`('tree', 'children', 0, 'weight')` -> `tree.children[0].weight` (`<root>` when empty)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


def describe(value: object) -> str:
    """What a value is, in the words of a YAML author: "a list", "text ('x')", "a number (4)"."""
    if value is None:
        return "nothing"
    names = {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}
    for typ, name in names.items():
        if isinstance(value, typ):
            return f"{name} ({_show(value)})" if typ in (str, bool) else name
    if isinstance(value, int | float):
        return f"a number ({value})"
    return f"a {type(value).__name__}"


def _show(value: object) -> str:
    text = str(value) if isinstance(value, date) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def in_document_order(problems: list[Problem], raw: dict) -> list[Problem]:
    """Group problems by the top-level section they are in, in the order the file has them."""
    order = {str(key): i for i, key in enumerate(raw)}

    def section(problem: Problem) -> int:
        return order.get(re.split(r"[.\[]", problem.path, maxsplit=1)[0], len(order))

    return sorted(problems, key=section)
