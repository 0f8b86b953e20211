"""The strategy: the outcome tree to revenue, its measures, the readiness gate and the feedback loop.

`strategy.yaml` is the specification a leadership team writes (docs/strategy.md). This
module loads it into a validated model; `validate_strategy` collects EVERY problem at once, each with
its YAML path and a hint, so `outcomeloop check` can show them all.

Every rule is a validator on the model it is about (the tree's in `metrics.tree`). Rules on one key
are field validators, which run even when a sibling key is wrong, so a misspelt key and the key it
should have been are reported together. A rule that refers elsewhere in the file reads the
validation context: a ratio sees its sibling measures (`validate_entries`), a node and a measure's
columns see the file's measure ids (given by `validate_strategy`). A strategy built in code lacks
that context and may be partial; `semantic_problems` checks such a model in full.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from metrics.problems import (
    ENTRY,
    MAX_DEPTH,
    SIBLINGS,
    ConfigFileError,
    ConfigModel,
    Findings,
    Problem,
    describe,
    in_document_order,
    known_timezone,
    problem,
    problems_from,
    read_yaml_file,
    suggest,
    validate_entries,
    yaml_path,
)
from metrics.schemas import SOURCES
from metrics.tree import MEASURE_IDS, Node, file_measures
from metrics.tree import Point as Point  # re-exported: the tree's models are the strategy's too
from metrics.tree import UnitTargets as UnitTargets

MeasureKind = Literal["nps", "mean", "share", "sum", "sum_ratio", "ratio", "employee_health"]
MEASURE_KINDS = get_args(MeasureKind)
Period = Literal["month", "quarter", "week"]
PERIODS = get_args(Period)

#: Kinds that read one numeric `field` of their source's events.
_FIELD_KINDS = ("nps", "mean", "share", "sum", "sum_ratio")
_NUMERIC_TYPES = ("INTEGER", "BIGINT", "DOUBLE")
#: Readiness scores run from 1 (not started) to 5 (embedded in how the unit works).
READINESS_SCALE = (1.0, 5.0)


class StrategyError(ConfigFileError):
    """The strategy file is invalid; `problems` lists every problem found."""

    what = "the strategy"


class Measure(ConfigModel):
    """How one number is computed from a source's events (docs/strategy.md, "Measure kinds")."""

    kind: MeasureKind = Field(description="How the number is computed from the events.")
    source: str | None = Field(
        None, validate_default=True, description="The source whose events it reads (not ratio)."
    )
    field: str = Field("score", description="The numeric column it reads.")
    min_n: int = Field(0, description="Cells with fewer responses are suppressed.")
    anonymity: bool = Field(False, description="Employee measure: suppressed values are hidden.")
    band: tuple[float, float] | None = Field(
        None, validate_default=True, description="share: the inclusive [low, high] that counts."
    )
    per: str | None = Field(
        None, validate_default=True, description="sum_ratio: the column it divides by."
    )
    numerator: str | None = Field(
        None, validate_default=True, description="ratio: the measure id on the top."
    )
    denominator: str | None = Field(
        None, validate_default=True, description="ratio: the measure id on the bottom."
    )
    label: str | None = Field(None, description="The name the dashboard shows.")
    format: Literal["number", "currency", "percent", "signed"] | None = Field(
        None, description="How the dashboard shows values."
    )

    @field_validator("source")
    @classmethod
    def _known_source(cls, source: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind is None or kind == "ratio":
            return source
        if source is None:
            raise problem(
                f"a {kind} measure needs a source", f"add source: one of {', '.join(SOURCES)}"
            )
        if source not in SOURCES:
            raise problem(f"unknown source {source!r}", suggest(source, list(SOURCES), "sources"))
        return source

    @field_validator("min_n")
    @classmethod
    def _not_negative(cls, min_n: int) -> int:
        if min_n < 0:
            raise problem(f"min_n {min_n} is negative", "use 0 or more")
        return min_n

    @field_validator("band")
    @classmethod
    def _band_for_share(cls, band: tuple[float, float] | None, info: ValidationInfo):
        if info.data.get("kind") != "share":
            return band
        if band is None:
            raise problem(
                "a share measure needs the band of values that count",
                "add band: [low, high], e.g. [5, 7]",
            )
        low, high = band
        if low > high:
            raise problem(
                f"band [{low:g}, {high:g}] is out of order",
                f"write it as [low, high]: [{high:g}, {low:g}]",
            )
        return band

    @field_validator("per")
    @classmethod
    def _per_for_sum_ratio(cls, per: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("kind") == "sum_ratio" and per is None:
            raise problem(
                "a sum_ratio measure needs the column it divides by",
                "add per: <column>, e.g. per: contacts",
            )
        return per

    @field_validator("numerator", "denominator")
    @classmethod
    def _ratio_sides(cls, ref: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("kind") != "ratio":
            return ref
        context = info.context or {}
        ids: list[str] = context.get(SIBLINGS, [])
        side = info.field_name
        if ref is None:
            part = "top" if side == "numerator" else "bottom"
            raise problem(
                f"a ratio measure needs a {side} (the measure on the {part})",
                f"add {side}: <measure id>, one of {', '.join(ids)}",
            )
        if ref == context.get(ENTRY):
            raise problem("a ratio cannot divide by or into itself")
        if SIBLINGS in context and ref not in ids:
            hint = suggest(ref, ids, "measures", "define it under measures:")
            raise problem(f"unknown measure {ref!r}", hint)
        return ref

    @model_validator(mode="after")
    def _numeric_columns(self, info: ValidationInfo) -> Measure:
        """`field` and `per` must be numeric columns of the measure's source (in a file; a formula's
        test may build a measure on a column the events lack, which `measure_values` reports)."""
        if file_measures(info) is None or self.source not in SOURCES:
            return self
        numeric = [c.name for c in SOURCES[self.source].columns if c.type in _NUMERIC_TYPES]
        found = Findings()
        if self.kind in _FIELD_KINDS and self.field not in numeric:
            default = "" if "field" in self.model_fields_set else "the default "
            found.add(
                ("field",),
                f"{default}field {self.field!r} is not a numeric column of source {self.source!r}",
                f"set field: one of {', '.join(numeric)}",
            )
        if self.kind == "sum_ratio" and self.per is not None and self.per not in numeric:
            found.add(
                ("per",),
                f"{self.per!r} is not a numeric column of source {self.source!r}",
                f"use one of {', '.join(numeric)}",
            )
        found.raise_any()
        return self


class Context(ConfigModel):
    """Who we are: shown on the dashboard beside the tree, so the numbers keep their purpose."""

    target_customers: str | None = Field(None, description="Who the customers are.")
    value_proposition: str | None = Field(None, description="What we promise them.")
    brand: str | None = Field(None, description="The brand in one line.")
    business_goals: list[str] = Field(default_factory=list, description="The goals, one a line.")


class Readiness(ConfigModel):
    """The internal assessment a unit must pass before its customer feedback loop counts."""

    dimensions: list[str] = Field(
        default_factory=lambda: ["leadership", "culture", "process", "data", "people"],
        description="What assessors score, each 1..5.",
    )
    threshold: float = Field(3.5, description="The unit's mean over dimensions must reach this.")
    floor: float = Field(2.5, description="No dimension may be below this.")
    min_assessors: int = Field(2, description="Distinct assessors needed to pass.")

    @field_validator("dimensions")
    @classmethod
    def _distinct(cls, dimensions: list[str]) -> list[str]:
        if not dimensions:
            raise problem("no dimensions to assess", "e.g. [leadership, data]")
        found = Findings()
        for i, dimension in enumerate(dimensions):
            if dimension in dimensions[:i]:
                found.add((i,), f"dimension {dimension!r} is listed twice")
        found.raise_any()
        return dimensions

    @field_validator("threshold", "floor")
    @classmethod
    def _on_the_scale(cls, value: float, info: ValidationInfo) -> float:
        low, high = READINESS_SCALE
        key = info.field_name
        if not low <= value <= high:
            raise problem(
                f"{key} {value:g} is outside the {low:g}..{high:g} scale of readiness scores",
                "scores run from 1 (not started) to 5 (embedded), e.g. threshold 3.5",
            )
        threshold = info.data.get("threshold")
        if key == "floor" and threshold is not None and value > threshold:
            raise problem(
                f"the floor ({value:g}) is above the threshold ({threshold:g})",
                "the floor is each dimension's minimum, at most the threshold",
            )
        return value

    @field_validator("min_assessors")
    @classmethod
    def _someone(cls, min_assessors: int) -> int:
        if min_assessors < 1:
            raise problem(
                f"min_assessors {min_assessors} is below 1",
                "at least one assessor must score a unit",
            )
        return min_assessors


class FeedbackLoop(ConfigModel):
    """Which responses become feedback items, and how fast someone must act on them."""

    sla_hours: float = Field(48, description="Hours to act on a feedback item.")
    nps_detractor_max: float = Field(6, description="NPS scores at or below this become items.")
    ces_high_effort_max: float = Field(3, description="CES scores at or below this become items.")
    closing_action_types: list[str] = Field(
        default_factory=lambda: ["customer_informed"],
        description="The action types that tell the customer what was done: an item's first such "
        "action closes the loop with the customer.",
    )
    root_causes: list[str] | None = Field(
        None,
        description="The root causes a CX team may give an action; when given, the dashboard "
        "offers them and the data-health page lists actions with any other.",
    )

    @field_validator("sla_hours")
    @classmethod
    def _positive(cls, sla: float) -> float:
        if not sla > 0:
            raise problem(f"sla_hours {sla:g} must be above 0", "e.g. 48")
        return sla

    @field_validator("nps_detractor_max")
    @classmethod
    def _nps_scale(cls, score: float) -> float:
        if not 0 <= score <= 10:
            raise problem(
                f"{score:g} is outside the 0..10 NPS scale", "detractors score 0..6, so 6 is usual"
            )
        return score

    @field_validator("closing_action_types", "root_causes")
    @classmethod
    def _named_once(cls, names: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if names is None:
            return None
        key = info.field_name
        if key == "closing_action_types" and not names:
            raise problem(
                "no closing action types: no item could ever be closed with the customer",
                "e.g. [customer_informed]",
            )
        found, seen = Findings(), set()
        for i, name in enumerate(names):
            text = name.strip()
            if not text:
                found.add((i,), "an empty name", f"give each entry of {key} a name")
            elif text in seen:
                found.add((i,), f"{text!r} is listed twice")
            seen.add(text)
        found.raise_any()
        return [name.strip() for name in names]


class Status(ConfigModel):
    """How far behind the time-phased expectation a node may be before it is at risk / off track."""

    tolerance: float = Field(0.05, description="Behind by at most this: on track.")
    at_risk_band: float = Field(0.15, description="Behind by at most this: at risk; beyond: off.")

    @field_validator("tolerance", "at_risk_band")
    @classmethod
    def _share(cls, value: float, info: ValidationInfo) -> float:
        if not 0 <= value <= 1:
            raise problem(
                f"{info.field_name} {value:g} is outside 0..1 (a share of the way to the target)",
                "e.g. tolerance 0.05, at_risk_band 0.15",
            )
        return value

    @model_validator(mode="after")
    def _narrower_than_at_risk(self) -> Status:
        if self.tolerance > self.at_risk_band:
            found = Findings()
            found.add(
                ("tolerance",),
                f"tolerance ({self.tolerance:g}) is larger than at_risk_band "
                f"({self.at_risk_band:g})",
                "on track must be a narrower band than at risk",
            )
            found.raise_any()
        return self


class Privacy(ConfigModel):
    """What the dashboard masks in free-text comments (on by default)."""

    mask_contacts: bool = Field(True, description="Hide e-mail addresses and phone numbers.")


class Strategy(ConfigModel):
    """The whole `strategy.yaml`."""

    name: str = Field(description="The strategy's name, shown on the dashboard.")
    timezone: str = Field("UTC", description="Periods are bucketed in this IANA time zone.")
    period: Period = Field("month", description="The period measures are computed for.")
    context: Context = Field(default_factory=Context, description="Who we are.")
    measures: dict[str, Measure] = Field(
        description="Measure id -> how it is computed from a source."
    )
    tree: Node = Field(description="The outcome tree: the output at the root, measures at leaves.")
    readiness: Readiness = Field(default_factory=Readiness, description="The readiness gate.")
    feedback_loop: FeedbackLoop = Field(
        default_factory=FeedbackLoop, description="Which responses become feedback items."
    )
    status: Status = Field(default_factory=Status, description="The on-track / at-risk bands.")
    privacy: Privacy = Field(default_factory=Privacy, description="What the dashboard masks.")
    themes: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Comment themes: theme -> the phrases (whole words, any case) that mention it.",
    )

    def nodes(self) -> list[tuple[Node, Node | None]]:
        return list(self.tree.walk())

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        return known_timezone(zone, otherwise="use an IANA name such as Europe/Berlin")

    @field_validator("measures", mode="before")
    @classmethod
    def _each_measure(cls, measures: object, info: ValidationInfo) -> object:
        return validate_entries(Measure, measures, info) if isinstance(measures, dict) else measures

    @field_validator("themes")
    @classmethod
    def _phrases(cls, themes: dict[str, list[str]]) -> dict[str, list[str]]:
        """Every theme has phrases, and every phrase has a letter or digit to match on."""
        found = Findings()
        for theme, phrases in themes.items():
            if not theme.strip():
                found.add((theme,), "a theme needs a name", 'e.g. "waiting times"')
            if not phrases:
                found.add(
                    (theme,),
                    f"theme {theme!r} has no phrases",
                    'list the words that mention it, e.g. [slow, "waited", "on hold"]',
                )
            for i, phrase in enumerate(phrases):
                if not any(c.isalnum() for c in phrase):
                    found.add(
                        (theme, i),
                        f"phrase {phrase!r} has no letter or digit to match",
                        "write a word or words customers use, e.g. slow",
                    )
                elif phrase in phrases[:i]:
                    found.add((theme, i), f"phrase {phrase!r} is listed twice")
        found.raise_any()
        return themes

    @field_validator("tree")
    @classmethod
    def _distinct_ids(cls, tree: Node) -> Node:
        """Every node has its own id (a YAML *alias repeats a whole node), and the tree is not
        absurdly deep."""
        found, seen = Findings(), {}
        stack: list[tuple[Node, tuple]] = [(tree, ())]
        while stack:
            node, loc = stack.pop()
            if node.id in seen:
                found.add(
                    (*loc, "id"),
                    f"duplicate node id {node.id!r} (already used at {seen[node.id]})",
                    "give every node its own id; a YAML *alias repeats a whole node",
                )
            else:
                seen[node.id] = yaml_path(("tree", *loc))
            if len(loc) > 2 * MAX_DEPTH:
                found.add(loc, f"nested more than {MAX_DEPTH} levels deep")
                continue
            children = [(child, (*loc, "children", i)) for i, child in enumerate(node.children)]
            stack.extend(reversed(children))
        found.raise_any()
        return tree


def load_strategy(path: Path | str) -> Strategy:
    """Read and validate `strategy.yaml`; raise StrategyError listing every problem."""
    raw = read_yaml_file(path, StrategyError, "strategy")
    strategy, problems = validate_strategy(raw)
    if strategy is None:
        raise StrategyError(path, problems)
    return strategy


def validate_strategy(raw: object) -> tuple[Strategy | None, list[Problem]]:
    """Validate a parsed YAML document. Returns the model (None when invalid) and every problem."""
    if raw is None:
        return None, [
            Problem("<root>", "the strategy file is empty", "start from examples/strategy.yaml")
        ]
    if not isinstance(raw, dict):
        return None, [
            Problem(
                "<root>",
                f"the strategy must be a mapping (name:, measures:, tree:, ...), not {describe(raw)}",
                "start from examples/strategy.yaml",
            )
        ]
    measures = raw.get("measures")
    ids = [str(key) for key in measures] if isinstance(measures, dict) else []
    try:
        return Strategy.model_validate(raw, context={MEASURE_IDS: ids}), []
    except ValidationError as exc:
        return None, in_document_order(problems_from(exc, Strategy), raw)


def semantic_problems(strategy: Strategy) -> list[Problem]:
    """Every problem of a model built in code, checked as if it were read from a file (the model
    alone does not check that the tree's measures exist)."""
    return validate_strategy(strategy.model_dump(exclude_unset=True))[1]
