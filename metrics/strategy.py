"""The strategy: the outcome tree to revenue, its measures, the readiness gate and the feedback loop.

`strategy.yaml` is the specification a leadership team writes (DESIGN.md "strategy.yaml"). This
module loads it into a validated model; `validate_strategy` collects EVERY problem at once, each with
its YAML path and a hint, so `outcomeloop check` can show them all: typos and wrong types (found by
the pydantic model) together with the rules that span several fields (found on the raw document).
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from metrics.schemas import ALL_UNITS, SOURCES

MEASURE_KINDS = ("nps", "mean", "share", "sum", "sum_ratio", "ratio", "employee_health")
PERIODS = ("month", "quarter", "week")

#: Kinds that read one numeric `field` of their source's events.
_FIELD_KINDS = ("nps", "mean", "share", "sum", "sum_ratio")
_NUMERIC_TYPES = ("INTEGER", "BIGINT", "DOUBLE")
#: Readiness scores run from 1 (not started) to 5 (embedded in how the unit works).
READINESS_SCALE = (1.0, 5.0)
#: Containers nested deeper than this are refused (a real strategy is a handful of levels deep).
MAX_DEPTH = 100


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Point(_Strict):
    """A value the measure should have at a date (a baseline, a milestone, a target)."""

    value: float
    date: date


class UnitTargets(_Strict):
    """The path one unit's measure should take: from its baseline through milestones to its target."""

    baseline: Point
    target: Point
    milestones: list[Point] = Field(default_factory=list)


class Measure(_Strict):
    """How one number is computed from a source's events (DESIGN.md "Measure kinds")."""

    kind: Literal["nps", "mean", "share", "sum", "sum_ratio", "ratio", "employee_health"]
    source: str | None = None
    field: str = "score"
    min_n: int = 0
    anonymity: bool = False
    band: tuple[float, float] | None = None  # share: the inclusive [low, high] that counts
    per: str | None = None  # sum_ratio: the denominator column
    numerator: str | None = None  # ratio: measure ids
    denominator: str | None = None
    label: str | None = None
    format: Literal["number", "currency", "percent", "signed"] | None = None


class Node(_Strict):
    """A node of the outcome tree: the output (revenue) at the root, outcomes, measures at leaves."""

    id: str
    label: str | None = None
    measure: str | None = None
    strand: Literal["what", "how"] | None = None
    weight: float = 1.0
    promise: str | None = None
    direction: Literal["up", "down"] | None = None
    baseline: Point | None = None
    target: Point | None = None
    milestones: list[Point] = Field(default_factory=list)
    by_unit: dict[str, UnitTargets] = Field(default_factory=dict)
    children: list[Node] = Field(default_factory=list)

    def walk(self, parent: Node | None = None):
        """Yield (node, parent) depth-first, root first."""
        yield self, parent
        for child in self.children:
            yield from child.walk(self)

    def targets_for(self, unit: str = ALL_UNITS) -> UnitTargets | None:
        """The baseline, milestones and target that apply to `unit`: the node's own for the whole
        organisation (`all`), the `by_unit` entry for a named unit, None when there are none."""
        if unit == ALL_UNITS:
            if self.baseline is None or self.target is None:
                return None
            return UnitTargets(
                baseline=self.baseline, target=self.target, milestones=list(self.milestones)
            )
        return self.by_unit.get(unit)


class Context(_Strict):
    """Who we are: shown on the dashboard beside the tree, so the numbers keep their purpose."""

    target_customers: str | None = None
    value_proposition: str | None = None
    brand: str | None = None
    business_goals: list[str] = Field(default_factory=list)


class Readiness(_Strict):
    """The internal assessment a unit must pass before its customer feedback loop counts."""

    dimensions: list[str] = Field(
        default_factory=lambda: ["leadership", "culture", "process", "data", "people"]
    )
    threshold: float = 3.5
    floor: float = 2.5
    min_assessors: int = 2


class FeedbackLoop(_Strict):
    """Which responses become feedback items, and how fast someone must act on them."""

    sla_hours: float = 48
    nps_detractor_max: float = 6
    ces_high_effort_max: float = 3


class Status(_Strict):
    """How far behind the time-phased expectation a node may be before it is at risk / off track."""

    tolerance: float = 0.05
    at_risk_band: float = 0.15


class Privacy(_Strict):
    """What the dashboard masks in free-text comments (on by default)."""

    mask_contacts: bool = True


class Strategy(_Strict):
    name: str
    timezone: str = "UTC"
    period: Literal["month", "quarter", "week"] = "month"
    context: Context = Field(default_factory=Context)
    measures: dict[str, Measure]
    tree: Node
    readiness: Readiness = Field(default_factory=Readiness)
    feedback_loop: FeedbackLoop = Field(default_factory=FeedbackLoop)
    status: Status = Field(default_factory=Status)
    privacy: Privacy = Field(default_factory=Privacy)

    def nodes(self) -> list[tuple[Node, Node | None]]:
        return list(self.tree.walk())


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


class StrategyError(ConfigFileError):
    """The strategy file is invalid; `problems` lists every problem found."""

    what = "the strategy"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------------
# Loading


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps an impossible date (2025-13-01) as text instead of raising, so the
    validation can name the path where it is."""


def _timestamp_or_text(loader: _Loader, node: yaml.Node) -> Any:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


def parse_strategy_yaml(text: str) -> object:
    """Parse YAML text the way `load_strategy` does (raises yaml.YAMLError when it is not YAML)."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects


def read_yaml_file(
    path: Path | str,
    error: type[ConfigFileError],
    label: str,
    parse: Callable[[str], object] = parse_strategy_yaml,
) -> object:
    """The parsed document of a YAML configuration file, or `error` with one clear Problem (a
    missing file, text that is not UTF-8, broken YAML, absurd nesting) — never a traceback."""
    path = Path(path)
    if not path.is_file():
        raise error(path, [Problem("<file>", f"{label} file {path} does not exist")])
    try:
        return parse(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        problem = Problem("<file>", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        raise error(path, [problem]) from exc
    except yaml.YAMLError as exc:
        problem = Problem("<file>", f"not valid YAML: {exc}", "check indentation and quoting")
        raise error(path, [problem]) from exc
    except RecursionError as exc:
        problem = Problem("<file>", f"nested more than {MAX_DEPTH} levels deep")
        raise error(path, [problem]) from exc


def load_strategy(path: Path) -> Strategy:
    """Read and validate `strategy.yaml`; raise StrategyError listing every problem."""
    raw = read_yaml_file(path, StrategyError, "strategy")
    strategy, problems = validate_strategy(raw)
    if problems:
        raise StrategyError(path, problems)
    assert strategy is not None
    return strategy


def validate_strategy(raw: object) -> tuple[Strategy | None, list[Problem]]:
    """Validate a parsed YAML document. Returns the model (None when invalid) and every problem.

    Structural problems (unknown keys, wrong types, missing keys) come from the pydantic model;
    the rules that span fields (unknown measure ids, dates, weights, ...) run on the raw document,
    defensively, so a file with mistakes of both kinds hears about all of them at once.
    """
    if raw is None:
        return None, [
            Problem("<root>", "the strategy file is empty", "start from examples/strategy.yaml")
        ]
    if not isinstance(raw, dict):
        return None, [
            Problem(
                "<root>",
                f"the strategy must be a mapping (name:, measures:, tree:, ...), not {_a(raw)}",
                "start from examples/strategy.yaml",
            )
        ]
    cycles: list[Problem] = []
    cut: set[str] = set()
    acyclic = _decycle(raw, "", [], cycles, cut, 0)
    structural = _structural_problems(acyclic)
    taken = {p.path for p in cycles + structural}
    semantic = [p for p in _semantic_problems(acyclic, cut) if p.path not in taken]
    problems = _in_document_order(_unique(cycles + structural + semantic), raw)
    if problems:
        return None, problems
    return Strategy.model_validate(acyclic), []


def semantic_problems(strategy: Strategy) -> list[Problem]:
    """The cross-field rules on an already built model (for code that constructs one directly)."""
    return _semantic_problems(strategy.model_dump(mode="python"), set())


# --------------------------------------------------------------------------------------------------
# Structure: cycles and the pydantic model


def _decycle(
    value: Any, path: str, stack: list[int], problems: list[Problem], cut: set[str], depth: int
) -> Any:
    """A copy of the document without recursive references (a YAML alias pointing at one of its
    own ancestors), which would otherwise make any walk over the tree run forever."""
    if not isinstance(value, dict | list):
        return value
    if depth > MAX_DEPTH:
        problems.append(Problem(path, f"nested more than {MAX_DEPTH} levels deep"))
        return None
    stack.append(id(value))
    try:
        if isinstance(value, dict):
            out: dict = {}
            for key, item in value.items():
                sub = _join(path, key)
                if isinstance(item, dict | list) and id(item) in stack:
                    problems.append(_cycle_problem(sub))
                    cut.add(path)
                    continue
                out[key] = _decycle(item, sub, stack, problems, cut, depth + 1)
            return out
        items = []
        for i, item in enumerate(value):
            sub = f"{path}[{i}]"
            if isinstance(item, dict | list) and id(item) in stack:
                problems.append(_cycle_problem(sub))
                cut.add(path)
                continue
            items.append(_decycle(item, sub, stack, problems, cut, depth + 1))
        return items
    finally:
        stack.pop()


def _cycle_problem(path: str) -> Problem:
    return Problem(
        path,
        "this refers back to a node that contains it (a cycle made with a YAML alias)",
        "an outcome tree cannot contain itself: write the child out instead of using *alias",
    )


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _yaml_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


#: (model, field) -> (model of the value, how many location parts a dict key / list index adds).
_NESTED: dict[tuple[type[BaseModel], str], tuple[type[BaseModel], int]] = {
    (Strategy, "context"): (Context, 0),
    (Strategy, "measures"): (Measure, 1),
    (Strategy, "tree"): (Node, 0),
    (Strategy, "readiness"): (Readiness, 0),
    (Strategy, "feedback_loop"): (FeedbackLoop, 0),
    (Strategy, "status"): (Status, 0),
    (Strategy, "privacy"): (Privacy, 0),
    (Node, "baseline"): (Point, 0),
    (Node, "target"): (Point, 0),
    (Node, "milestones"): (Point, 1),
    (Node, "by_unit"): (UnitTargets, 1),
    (Node, "children"): (Node, 1),
    (UnitTargets, "baseline"): (Point, 0),
    (UnitTargets, "target"): (Point, 0),
    (UnitTargets, "milestones"): (Point, 1),
}


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The model class whose mapping sits at `loc` (to list the keys it knows)."""
    model: type[BaseModel] = Strategy
    i = 0
    while i < len(loc):
        nested = _NESTED.get((model, loc[i]))
        if nested is None:
            return None
        model, skip = nested
        i += 1 + skip
    return model


def _structural_problems(raw: dict) -> list[Problem]:
    try:
        Strategy.model_validate(raw)
    except ValidationError as exc:
        return [p for err in exc.errors() if (p := _from_pydantic(err)) is not None]
    return []


def _from_pydantic(err: Any) -> Problem | None:
    loc, kind, given = tuple(err["loc"]), err["type"], err.get("input")
    path = _yaml_path(loc)
    if kind == "recursion_loop":  # reported by _decycle already
        return None
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = list(model.model_fields) if model else []
        return Problem(path, f"unknown key {loc[-1]!r}", _suggest(str(loc[-1]), known, "keys"))
    if kind == "missing":
        return Problem(path, f"missing required key {loc[-1]!r}", f"add {loc[-1]}: ...")
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        what = f"unknown {loc[-1]}" if isinstance(loc[-1], str) else "not allowed"
        return Problem(path, f"{what} {given!r}", _suggest(str(given), allowed, "values"))
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return Problem(path, f"expected a mapping (key: value lines), got {_a(given)}")
    if kind in ("list_type", "tuple_type"):
        return Problem(path, f"expected a list ([a, b] or - lines), got {_a(given)}")
    if kind.startswith("date"):
        return Problem(
            path, f"not a date: {_show(given)}", "write dates as YYYY-MM-DD, without a time"
        )
    return Problem(path, f"{err['msg']} (got {_show(given)})")


def _suggest(given: str, known: list[str], what: str, otherwise: str = "remove it") -> str:
    close = difflib.get_close_matches(given, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"known {what}: {', '.join(known)}" if known else otherwise


def _a(value: object) -> str:
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


def _in_document_order(problems: list[Problem], raw: dict) -> list[Problem]:
    """Group problems by the top-level section they are in, in the order the file has them."""
    order = {str(key): i for i, key in enumerate(raw)}

    def section(problem: Problem) -> int:
        return order.get(re.split(r"[.\[]", problem.path, maxsplit=1)[0], len(order))

    return sorted(problems, key=section)


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            out.append(p)
    return out


# --------------------------------------------------------------------------------------------------
# Semantics: rules across fields, checked on the raw document (every value may be of a wrong type;
# wrong types were reported by the model, so such values are skipped here)

_FLOAT = TypeAdapter(float)
_INT = TypeAdapter(int)
_DATE = TypeAdapter(date)


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return _FLOAT.validate_python(value)
    except ValidationError:
        return None


def _integer(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return _INT.validate_python(value)
    except ValidationError:
        return None


def _day(value: object) -> date | None:
    if value is None:
        return None
    try:
        return _DATE.validate_python(value)
    except ValidationError:
        return None


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


@dataclass
class _Tree:
    measure_ids: list[str]
    cut: set[str]
    ids: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _semantic_problems(raw: dict, cut: set[str]) -> list[Problem]:
    measures = _mapping(raw.get("measures"))
    problems = _timezone_problems(raw.get("timezone"))
    problems += _measure_problems(measures)
    tree = _Tree(measure_ids=[str(k) for k in measures], cut=cut)
    _check_node(raw.get("tree"), "tree", tree)
    problems += tree.problems
    problems += _readiness_problems(_mapping(raw.get("readiness")))
    problems += _feedback_loop_problems(_mapping(raw.get("feedback_loop")))
    problems += _status_problems(_mapping(raw.get("status")))
    return problems


def _timezone_problems(tz: object) -> list[Problem]:
    if not isinstance(tz, str):
        return []
    try:
        ZoneInfo(tz)
        return []
    except (ZoneInfoNotFoundError, ValueError, OSError):
        close = difflib.get_close_matches(tz, sorted(available_timezones()), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "use an IANA name such as Europe/Berlin"
        return [Problem("timezone", f"unknown time zone {tz!r}", hint)]


def _measure_problems(measures: dict) -> list[Problem]:
    problems: list[Problem] = []
    ids = [str(k) for k in measures]
    for mid, m in measures.items():
        if not isinstance(m, dict):
            continue
        p = f"measures.{mid}"
        kind = m.get("kind")
        if kind not in MEASURE_KINDS:
            continue  # reported by the model (missing or unknown kind)
        if kind == "ratio":
            for side, part in (("numerator", "top"), ("denominator", "bottom")):
                ref = m.get(side)
                if ref is None:
                    problems.append(
                        Problem(
                            f"{p}.{side}",
                            f"a ratio measure needs a {side} (the measure on the {part})",
                            f"add {side}: <measure id>, one of {', '.join(ids)}",
                        )
                    )
                elif ref == mid:
                    problems.append(
                        Problem(f"{p}.{side}", "a ratio cannot divide by or into itself")
                    )
                elif isinstance(ref, str) and ref not in measures:
                    hint = _suggest(ref, ids, "measures", "define it under measures:")
                    problems.append(Problem(f"{p}.{side}", f"unknown measure {ref!r}", hint))
            continue
        source = m.get("source")
        if source is None:
            problems.append(
                Problem(
                    f"{p}.source",
                    f"a {kind} measure needs a source",
                    f"add source: one of {', '.join(SOURCES)}",
                )
            )
        elif isinstance(source, str) and source not in SOURCES:
            hint = _suggest(source, list(SOURCES), "sources")
            problems.append(Problem(f"{p}.source", f"unknown source {source!r}", hint))
        elif isinstance(source, str):
            problems += _column_problems(m, p, kind, source)
        if kind == "share":
            band = m.get("band")
            if band is None:
                problems.append(
                    Problem(
                        f"{p}.band",
                        "a share measure needs the band of values that count",
                        "add band: [low, high], e.g. [5, 7]",
                    )
                )
            elif isinstance(band, list | tuple) and len(band) == 2:
                low, high = _number(band[0]), _number(band[1])
                if low is not None and high is not None and low > high:
                    problems.append(
                        Problem(
                            f"{p}.band",
                            f"band [{low:g}, {high:g}] is out of order",
                            f"write it as [low, high]: [{high:g}, {low:g}]",
                        )
                    )
        if kind == "sum_ratio" and m.get("per") is None:
            problems.append(
                Problem(
                    f"{p}.per",
                    "a sum_ratio measure needs the column it divides by",
                    "add per: <column>, e.g. per: contacts",
                )
            )
        min_n = _integer(m.get("min_n"))
        if min_n is not None and min_n < 0:
            problems.append(Problem(f"{p}.min_n", f"min_n {min_n} is negative", "use 0 or more"))
    return problems


def _column_problems(m: dict, p: str, kind: str, source: str) -> list[Problem]:
    """`field` and `per` must be numeric columns of the measure's source."""
    numeric = [c.name for c in SOURCES[source].columns if c.type in _NUMERIC_TYPES]
    problems = []
    column = m.get("field", "score")
    if kind in _FIELD_KINDS and isinstance(column, str) and column not in numeric:
        default = "" if "field" in m else "the default "
        problems.append(
            Problem(
                f"{p}.field",
                f"{default}field {column!r} is not a numeric column of source {source!r}",
                f"set field: one of {', '.join(numeric)}",
            )
        )
    per = m.get("per")
    if kind == "sum_ratio" and isinstance(per, str) and per not in numeric:
        problems.append(
            Problem(
                f"{p}.per",
                f"{per!r} is not a numeric column of source {source!r}",
                f"use one of {', '.join(numeric)}",
            )
        )
    return problems


def _check_node(node: object, path: str, tree: _Tree) -> None:
    if not isinstance(node, dict):
        return  # reported by the model
    nid = node.get("id")
    if isinstance(nid, str):
        if nid in tree.ids:
            tree.problems.append(
                Problem(
                    f"{path}.id",
                    f"duplicate node id {nid!r} (already used at {tree.ids[nid]})",
                    "give every node its own id; a YAML *alias repeats a whole node",
                )
            )
        else:
            tree.ids[nid] = path
    measure = node.get("measure")
    children = node.get("children")
    has_children = (isinstance(children, list) and bool(children)) or f"{path}.children" in tree.cut
    direction = node.get("direction")
    by_unit = node.get("by_unit")
    if measure is None and not has_children:
        tree.problems.append(
            Problem(
                path,
                f"node {nid!r} has neither a measure nor children",
                "give it measure: <id> with a baseline and target, or children",
            )
        )
    if isinstance(measure, str):
        if measure not in tree.measure_ids:
            hint = _suggest(measure, tree.measure_ids, "measures", "define it under measures:")
            tree.problems.append(Problem(f"{path}.measure", f"unknown measure {measure!r}", hint))
        tree.problems.extend(_target_problems(node, path, direction, "node"))
        for unit, targets in _mapping(by_unit).items():
            unit_path = f"{path}.by_unit.{unit}"
            if str(unit).strip().lower() == ALL_UNITS:
                tree.problems.append(
                    Problem(
                        unit_path,
                        "'all' is reserved for the whole organisation",
                        "the node's own baseline and target apply to 'all'; name a unit here",
                    )
                )
            elif isinstance(targets, dict):
                tree.problems.extend(_target_problems(targets, unit_path, direction, "unit"))
    elif measure is None and isinstance(by_unit, dict) and by_unit:
        tree.problems.append(
            Problem(
                f"{path}.by_unit",
                "by_unit sets targets for a measure, but this node has no measure",
                "move by_unit to the child node that has the measure",
            )
        )
    if not isinstance(children, list):
        return
    weights: list[float | None] = []
    for i, child in enumerate(children):
        child_path = f"{path}.children[{i}]"
        if isinstance(child, dict):
            weights.append(_weight(child, child_path, tree))
        _check_node(child, child_path, tree)
    if weights and None not in weights and sum(weights) == 0:  # type: ignore[arg-type]
        tree.problems.append(
            Problem(
                f"{path}.children",
                f"the weights of the children of {nid!r} are all zero",
                "give at least one child a positive weight (weights are relative importance)",
            )
        )


def _weight(child: dict, path: str, tree: _Tree) -> float | None:
    """The child's weight when it is usable (None when it is wrong and reported)."""
    if "weight" not in child:
        return 1.0
    weight = _number(child["weight"])
    if weight is None:
        return None
    if not math.isfinite(weight):
        tree.problems.append(Problem(f"{path}.weight", f"weight {weight} is not a finite number"))
        return None
    if weight < 0:
        tree.problems.append(
            Problem(
                f"{path}.weight",
                f"weight {weight:g} is negative",
                "weights are relative importance among siblings: use 0 or more",
            )
        )
        return None
    return weight


def _point(raw: object) -> tuple[float | None, date | None]:
    raw = _mapping(raw)
    return _number(raw.get("value")), _day(raw.get("date"))


def _target_problems(obj: dict, path: str, direction: object, owner: str) -> list[Problem]:
    """Baseline, target and milestones of a measure node or of one unit's entry in by_unit."""
    problems = []
    for key in ("baseline", "target"):
        if obj.get(key) is None:
            problems.append(
                Problem(
                    f"{path}.{key}",
                    f"a {owner} with a measure needs a {key}",
                    f"add {key}: {{value: ..., date: YYYY-MM-DD}}",
                )
            )
    b_value, b_date = _point(obj.get("baseline"))
    t_value, t_date = _point(obj.get("target"))
    for key, value in (("baseline", b_value), ("target", t_value)):
        if value is not None and not math.isfinite(value):
            problems.append(Problem(f"{path}.{key}.value", f"{value} is not a finite number"))
    if b_value is not None and t_value is not None and math.isfinite(b_value - t_value):
        if t_value == b_value:
            problems.append(
                Problem(
                    f"{path}.target.value",
                    f"the target equals the baseline ({b_value:g}), so progress cannot be measured",
                    "set the value the measure should reach",
                )
            )
        elif direction in ("up", "down") and (t_value < b_value) != (direction == "down"):
            way = "below" if t_value < b_value else "above"
            problems.append(
                Problem(
                    f"{path}.target.value",
                    f"the target ({t_value:g}) is {way} the baseline ({b_value:g}), "
                    f"but direction is {direction}",
                    "swap baseline and target, or correct direction",
                )
            )
    if b_date is not None and t_date is not None and t_date <= b_date:
        problems.append(
            Problem(
                f"{path}.target.date",
                f"the target date {t_date} is not after the baseline date {b_date}",
                "a target lies after its baseline; check the year",
            )
        )
    milestones = obj.get("milestones")
    if not isinstance(milestones, list):
        return problems
    previous: date | None = None
    for i, milestone in enumerate(milestones):
        m_value, m_date = _point(milestone)
        m_path = f"{path}.milestones[{i}]"
        if m_value is not None and not math.isfinite(m_value):
            problems.append(Problem(f"{m_path}.value", f"{m_value} is not a finite number"))
        if m_date is None:
            continue
        order_hint = "list milestones in date order, strictly between baseline and target"
        if b_date is not None and m_date <= b_date:
            message = f"milestone date {m_date} is not after the baseline date {b_date}"
        elif t_date is not None and m_date >= t_date:
            message = f"milestone date {m_date} is not before the target date {t_date}"
        elif previous is not None and m_date <= previous:
            message = f"milestone date {m_date} is not after the previous milestone's {previous}"
        else:
            message = ""
        if message:
            problems.append(Problem(f"{m_path}.date", message, order_hint))
        previous = m_date
    return problems


def _readiness_problems(readiness: dict) -> list[Problem]:
    problems = []
    low, high = READINESS_SCALE
    limits = {"threshold": 3.5, "floor": 2.5}
    for key, default in list(limits.items()):
        value = _number(readiness.get(key, default))
        limits[key] = value  # type: ignore[assignment]
        if value is not None and not low <= value <= high:
            problems.append(
                Problem(
                    f"readiness.{key}",
                    f"{key} {value:g} is outside the {low:g}..{high:g} scale of readiness scores",
                    "scores run from 1 (not started) to 5 (embedded), e.g. threshold 3.5",
                )
            )
    threshold, floor = limits["threshold"], limits["floor"]
    if (
        threshold is not None
        and floor is not None
        and low <= threshold <= high
        and low <= floor <= high
        and floor > threshold
    ):
        problems.append(
            Problem(
                "readiness.floor",
                f"the floor ({floor:g}) is above the threshold ({threshold:g})",
                "the floor is each dimension's minimum, at most the threshold",
            )
        )
    min_assessors = _integer(readiness.get("min_assessors"))
    if min_assessors is not None and min_assessors < 1:
        problems.append(
            Problem(
                "readiness.min_assessors",
                f"min_assessors {min_assessors} is below 1",
                "at least one assessor must score a unit",
            )
        )
    dimensions = readiness.get("dimensions")
    if isinstance(dimensions, list):
        if not dimensions:
            problems.append(
                Problem(
                    "readiness.dimensions", "no dimensions to assess", "e.g. [leadership, data]"
                )
            )
        seen: set[object] = set()
        for i, dim in enumerate(dimensions):
            if isinstance(dim, str) and dim in seen:
                problems.append(
                    Problem(f"readiness.dimensions[{i}]", f"dimension {dim!r} is listed twice")
                )
            if isinstance(dim, str):
                seen.add(dim)
    return problems


def _feedback_loop_problems(loop: dict) -> list[Problem]:
    problems = []
    sla = _number(loop.get("sla_hours"))
    if sla is not None and not sla > 0:
        problems.append(
            Problem("feedback_loop.sla_hours", f"sla_hours {sla:g} must be above 0", "e.g. 48")
        )
    nps_max = _number(loop.get("nps_detractor_max"))
    if nps_max is not None and not 0 <= nps_max <= 10:
        problems.append(
            Problem(
                "feedback_loop.nps_detractor_max",
                f"{nps_max:g} is outside the 0..10 NPS scale",
                "detractors score 0..6, so 6 is usual",
            )
        )
    return problems


def _status_problems(status: dict) -> list[Problem]:
    problems = []
    values = {}
    for key, default in (("tolerance", 0.05), ("at_risk_band", 0.15)):
        value = _number(status.get(key, default))
        values[key] = value
        if value is not None and not 0 <= value <= 1:
            problems.append(
                Problem(
                    f"status.{key}",
                    f"{key} {value:g} is outside 0..1 (a share of the way to the target)",
                    "e.g. tolerance 0.05, at_risk_band 0.15",
                )
            )
    tolerance, band = values["tolerance"], values["at_risk_band"]
    if tolerance is not None and band is not None and tolerance > band:
        problems.append(
            Problem(
                "status.tolerance",
                f"tolerance ({tolerance:g}) is larger than at_risk_band ({band:g})",
                "on track must be a narrower band than at risk",
            )
        )
    return problems
