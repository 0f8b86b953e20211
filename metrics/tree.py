"""The outcome tree of a strategy: nodes from the output at the root to measures at the leaves,
each measured node with the path its measure should take (baseline, milestones, target).

A node's rules are field validators reading the keys before them (`info.data`), so a mistake deep in
`children` does not hide a mistake in the node's own baseline or target. A node names its measure
by id; the ids of the file being validated come in the validation context (`MEASURE_IDS`, set by
`metrics.strategy.validate_strategy`). A tree built in code has no such context and may be partial
(one node without a measure, for a formula's test).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from metrics.problems import ConfigModel, Findings, Loc, problem, suggest
from metrics.schemas import ALL_UNITS

#: Validation context key: the measure ids of the file being validated.
MEASURE_IDS = "measure_ids"


def file_measures(info: ValidationInfo) -> list[str] | None:
    """The measure ids of the file being validated; None for a model built in code."""
    return (info.context or {}).get(MEASURE_IDS)


class Point(ConfigModel):
    """A value the measure should have at a date (a baseline, a milestone, a target)."""

    value: float = Field(description="The measure's value at that date.")
    date: Annotated[date, Field(description="The day, written YYYY-MM-DD.")]

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise problem(f"{value} is not a finite number")
        return value


class UnitTargets(ConfigModel):
    """The path one unit's measure should take: from its baseline through milestones to its target."""

    baseline: Point = Field(description="Where the unit started.")
    target: Point = Field(description="Where the unit should be, and by when.")
    milestones: list[Point] = Field(
        default_factory=list, description="Points on the way, in date order."
    )


class Node(ConfigModel):
    """A node of the outcome tree: the output (revenue) at the root, outcomes, measures at leaves."""

    id: str = Field(description="Unique name of the node.")
    label: str | None = Field(None, description="The name the dashboard shows.")
    measure: str | None = Field(None, description="The id of the measure that tracks this node.")
    strand: Literal["what", "how"] | None = Field(
        None, description="what (customers) or how (the people strand)."
    )
    weight: float = Field(1.0, description="Relative importance among its siblings.")
    promise: str | None = Field(None, description="The promise to customers, in their words.")
    direction: Literal["up", "down"] | None = Field(
        None, description="Which way is better (down for a cost)."
    )
    baseline: Point | None = Field(
        None, validate_default=True, description="Where the measure started."
    )
    target: Point | None = Field(
        None, validate_default=True, description="Where the measure should be, and by when."
    )
    milestones: list[Point] = Field(
        default_factory=list, description="Points on the way, in date order."
    )
    by_unit: dict[str, UnitTargets] = Field(
        default_factory=dict, description="Unit name -> that unit's own baseline and target."
    )
    children: list[Node] = Field(default_factory=list, description="The nodes this one rolls up.")

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

    @field_validator("measure")
    @classmethod
    def _known_measure(cls, measure: str | None, info: ValidationInfo) -> str | None:
        ids = file_measures(info)
        if measure is not None and ids is not None and measure not in ids:
            hint = suggest(measure, ids, "measures", "define it under measures:")
            raise problem(f"unknown measure {measure!r}", hint)
        return measure

    @field_validator("weight")
    @classmethod
    def _usable_weight(cls, weight: float) -> float:
        if not math.isfinite(weight):
            raise problem(f"weight {weight} is not a finite number")
        if weight < 0:
            raise problem(
                f"weight {weight:g} is negative",
                "weights are relative importance among siblings: use 0 or more",
            )
        return weight

    @field_validator("baseline", "target")
    @classmethod
    def _plan_of_a_measure(cls, point: Point | None, info: ValidationInfo) -> Point | None:
        if not _names_a_measure(info):
            return point
        key = info.field_name
        if point is None:
            raise problem(
                f"a node with a measure needs a {key}",
                f"add {key}: {{value: ..., date: YYYY-MM-DD}}",
            )
        if key == "target":
            found = Findings()
            _check_target(found, info.data.get("baseline"), point, info.data.get("direction"))
            found.raise_any()
        return point

    @field_validator("milestones")
    @classmethod
    def _milestones_in_order(cls, milestones: list[Point], info: ValidationInfo) -> list[Point]:
        if _names_a_measure(info):
            found = Findings()
            _check_milestones(found, info.data.get("baseline"), info.data.get("target"), milestones)
            found.raise_any()
        return milestones

    @field_validator("by_unit")
    @classmethod
    def _unit_plans(cls, by_unit: dict[str, UnitTargets], info: ValidationInfo):
        if not _names_a_measure(info):
            if by_unit:
                raise problem(
                    "by_unit sets targets for a measure, but this node has no measure",
                    "move by_unit to the child node that has the measure",
                )
            return by_unit
        found = Findings()
        for unit, plan in by_unit.items():
            if str(unit).strip().lower() == ALL_UNITS:
                found.add(
                    (unit,),
                    "'all' is reserved for the whole organisation",
                    "the node's own baseline and target apply to 'all'; name a unit here",
                )
                continue
            _check_target(
                found, plan.baseline, plan.target, info.data.get("direction"), (unit, "target")
            )
            _check_milestones(
                found, plan.baseline, plan.target, plan.milestones, (unit, "milestones")
            )
        found.raise_any()
        return by_unit

    @field_validator("children")
    @classmethod
    def _some_weight(cls, children: list[Node], info: ValidationInfo) -> list[Node]:
        if children and not any(child.weight for child in children):
            raise problem(
                f"the weights of the children of {info.data.get('id')!r} are all zero",
                "give at least one child a positive weight (weights are relative importance)",
            )
        return children

    @model_validator(mode="after")
    def _measure_or_children(self, info: ValidationInfo) -> Node:
        in_file = file_measures(info) is not None
        if in_file and self.measure is None and not self.children:
            raise problem(
                f"node {self.id!r} has neither a measure nor children",
                "give it measure: <id> with a baseline and target, or children",
            )
        return self


def _names_a_measure(info: ValidationInfo) -> bool:
    """Whether the node being validated names a measure (a wrong id counts: the plan of a node
    whose measure id is misspelt is still checked)."""
    return info.data.get("measure", "<invalid>") is not None


def _check_target(
    found: Findings, baseline: Point | None, target: Point, direction: str | None, at: Loc = ()
) -> None:
    """A target differs from its baseline, lies after it, and moves the way `direction` says
    (`at`: where the target is, below the key being validated)."""
    if baseline is None:
        return
    b, t = baseline.value, target.value
    if t == b:
        found.add(
            (*at, "value"),
            f"the target equals the baseline ({b:g}), so progress cannot be measured",
            "set the value the measure should reach",
        )
    elif direction in ("up", "down") and (t < b) != (direction == "down"):
        found.add(
            (*at, "value"),
            f"the target ({t:g}) is {'below' if t < b else 'above'} the baseline ({b:g}), "
            f"but direction is {direction}",
            "swap baseline and target, or correct direction",
        )
    if target.date <= baseline.date:
        found.add(
            (*at, "date"),
            f"the target date {target.date} is not after the baseline date {baseline.date}",
            "a target lies after its baseline; check the year",
        )


def _check_milestones(
    found: Findings,
    baseline: Point | None,
    target: Point | None,
    milestones: list[Point],
    at: Loc = (),
) -> None:
    """Milestones lie in date order, strictly between the baseline and the target (`at`: where
    the list is, below the key being validated)."""
    previous: date | None = None
    for i, milestone in enumerate(milestones):
        day = milestone.date
        if baseline is not None and day <= baseline.date:
            message = f"milestone date {day} is not after the baseline date {baseline.date}"
        elif target is not None and day >= target.date:
            message = f"milestone date {day} is not before the target date {target.date}"
        elif previous is not None and day <= previous:
            message = f"milestone date {day} is not after the previous milestone's {previous}"
        else:
            message = ""
        if message:
            hint = "list milestones in date order, strictly between baseline and target"
            found.add((*at, i, "date"), message, hint)
        previous = day
