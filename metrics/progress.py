"""Progress up the outcome tree: how far each outcome has come toward its target, against how far
it should have come by now (DESIGN.md "Semantics": progress, expected progress, roll-up, status).

Leadership reads the result as the outcome tree: revenue at the root, the outcomes that drive it,
the measures at the leaves. Every node says where it stands (progress, 0 = at baseline, 1 = target
reached), where the plan says it should stand at the end of the period (expected progress), and
what that means (status). `outcome_progress` builds `marts.outcome_progress` from
`marts.measure_values`; the small helpers below are the formulas, shared with the dashboard.

The tree has a handful of nodes and a few dozen periods, so this is plain Python over a small
Arrow table; the event-scale work happened in the measures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import pyarrow as pa

from metrics import periods
from metrics.schemas import ALL_UNITS
from metrics.strategy import Node, Strategy, UnitTargets

#: `marts.outcome_progress`, in column order (DESIGN.md "Warehouse tables").
OUTCOME_PROGRESS_SCHEMA = pa.schema(
    [
        ("node", pa.string()),
        ("parent", pa.string()),
        ("unit", pa.string()),
        ("period_start", pa.date32()),
        ("measure", pa.string()),
        ("value", pa.float64()),
        ("ci_low", pa.float64()),
        ("ci_high", pa.float64()),
        ("n", pa.int64()),
        ("baseline", pa.float64()),
        ("target", pa.float64()),
        ("expected_progress", pa.float64()),
        ("progress", pa.float64()),
        ("children_progress", pa.float64()),
        ("status", pa.string()),
        ("weight", pa.float64()),
    ]
)

#: The columns of `marts.measure_values` this module reads.
MEASURE_VALUES_COLUMNS = (
    "measure",
    "unit",
    "period_start",
    "value",
    "n",
    "ci_low",
    "ci_high",
    "suppressed",
)

ON_TRACK, AT_RISK, OFF_TRACK, INSUFFICIENT_DATA = (
    "on_track",
    "at_risk",
    "off_track",
    "insufficient_data",
)
STATUSES = (ON_TRACK, AT_RISK, OFF_TRACK, INSUFFICIENT_DATA)

# Progress differences are fractions; a band edge such as "behind by exactly 0.05" must count as
# inside the band even when floating point lands a hair above it.
_EPSILON = 1e-9


class _Targets(Protocol):
    baseline: Any
    target: Any
    milestones: Any


class _StatusBands(Protocol):
    tolerance: float
    at_risk_band: float


def period_end(period_start: date, period: str) -> date:
    """The last day of the period that contains `period_start` (weeks run Monday to Sunday): the
    day on which a period's expected progress is read. The calendar rules live in metrics.periods."""
    start = periods.truncate_date(_as_date(period_start), period)
    return periods.period_end(start, period)


def expected_value(node_or_unit_targets: _Targets, on: date) -> float:
    """The value the plan expects on day `on`: a straight line from the baseline through each
    milestone to the target (in days). Before the baseline date it is the baseline, after the
    target date the target."""
    points = _plan(node_or_unit_targets)
    on = _as_date(on)
    if on <= points[0][0]:
        return points[0][1]
    for (d0, v0), (d1, v1) in zip(points, points[1:], strict=False):
        if on <= d1:
            return v0 + (v1 - v0) * (on - d0).days / (d1 - d0).days
    return points[-1][1]


def expected_progress(node_or_unit_targets: _Targets, on: date) -> float:
    """How far along from baseline to target the plan expects the measure to be on day `on`,
    0..1 (a milestone's progress is its value's progress)."""
    targets = node_or_unit_targets
    result = progress(expected_value(targets, on), targets.baseline.value, targets.target.value)
    if result is None:
        raise ValueError("the target equals the baseline, so there is no way to make progress")
    return result


def progress(value: float | None, baseline: float, target: float) -> float | None:
    """The share of the way from baseline to target that `value` has covered, clipped to 0..1:
    a regression below the baseline counts as 0, an overshoot as 1. Works the same for measures
    that should fall (cost to serve: target below baseline). None when there is no value."""
    if value is None or _is_nan(value) or target == baseline:
        return None
    return min(1.0, max(0.0, (value - baseline) / (target - baseline)))


def status(
    progress: float | None,
    expected_progress: float | None,
    expected_value: float | None,
    ci_low: float | None,
    ci_high: float | None,
    status_cfg: _StatusBands,
) -> str:
    """What leadership should conclude about a node this period.

    `insufficient_data` without progress; `on_track` when behind the expectation by at most the
    tolerance, or when the value's confidence interval contains the expected value (the data cannot
    tell that it is behind); `at_risk` when behind by at most the at-risk band; else `off_track`.
    """
    if progress is None or expected_progress is None:
        return INSUFFICIENT_DATA
    behind = expected_progress - progress
    if behind <= status_cfg.tolerance + _EPSILON:
        return ON_TRACK
    if (
        expected_value is not None
        and ci_low is not None
        and ci_high is not None
        and ci_low <= expected_value <= ci_high
    ):
        return ON_TRACK
    if behind <= status_cfg.at_risk_band + _EPSILON:
        return AT_RISK
    return OFF_TRACK


def outcome_progress(strategy: Strategy, measure_values: pa.Table) -> pa.Table:
    """`marts.outcome_progress`: every tree node for every period with data, rolled up to revenue.

    Rows for the whole organisation (`all`) exist for every node in every period that has any
    `all` measure value, so the tree is complete each period (nodes without data say
    `insufficient_data`). A node with `by_unit` targets also gets rows for those units in the
    periods where the unit has a value for the node's measure, measured against the unit's own
    baseline and target. Suppressed values count as no value, and their value and interval are
    left out here (the number of responses `n` stays, to say why).
    """
    cells = _read_measure_values(measure_values)
    order = {node.id: i for i, (node, _) in enumerate(strategy.nodes())}
    rows: list[dict] = []
    for period_start in sorted({period for (_, unit, period) in cells if unit == ALL_UNITS}):
        rows += _rows_for(strategy, ALL_UNITS, period_start, cells, lambda node: True)
    unit_periods = sorted(
        {(unit, period) for (_, unit, period) in cells if unit != ALL_UNITS},
        key=lambda up: (up[1], up[0]),
    )
    for unit, period_start in unit_periods:

        def has_row(node: Node, unit: str = unit, period_start: date = period_start) -> bool:
            return (
                unit in node.by_unit
                and node.measure is not None
                and (node.measure, unit, period_start) in cells
            )

        rows += _rows_for(strategy, unit, period_start, cells, has_row)
    rows.sort(
        key=lambda r: (r["period_start"], r["unit"] != ALL_UNITS, r["unit"], order[r["node"]])
    )
    return pa.Table.from_pylist(rows, schema=OUTCOME_PROGRESS_SCHEMA)


# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    """One `marts.measure_values` row, reduced to what progress needs."""

    value: float | None
    n: int | None
    ci_low: float | None
    ci_high: float | None
    suppressed: bool


def _read_measure_values(table: pa.Table) -> dict[tuple[str, str, date], _Cell]:
    missing = [c for c in MEASURE_VALUES_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(
            f"measure_values lacks column(s) {', '.join(missing)}; "
            f"expected {', '.join(MEASURE_VALUES_COLUMNS)} (DESIGN.md marts.measure_values)"
        )
    cells: dict[tuple[str, str, date], _Cell] = {}
    for r in table.select(list(MEASURE_VALUES_COLUMNS)).to_pylist():
        if r["measure"] is None or r["unit"] is None or r["period_start"] is None:
            continue
        key = (r["measure"], r["unit"], _as_date(r["period_start"]))
        cells[key] = _Cell(
            value=_float(r["value"]),
            n=None if r["n"] is None else int(r["n"]),
            ci_low=_float(r["ci_low"]),
            ci_high=_float(r["ci_high"]),
            suppressed=bool(r["suppressed"]),
        )
    return cells


_Cells = dict[tuple[str, str, date], "_Cell"]


def _rows_for(
    strategy: Strategy,
    unit: str,
    period_start: date,
    cells: _Cells,
    wanted: Callable[[Node], bool],
) -> list[dict]:
    """The rows of one unit and period, children before parents so each can roll up."""
    end = period_end(period_start, strategy.period)
    rows: dict[str, dict] = {}

    def visit(node: Node, parent: Node | None) -> dict | None:
        child_rows = [(child, visit(child, node)) for child in node.children]
        if not wanted(node):
            return None
        row = _node_row(node, parent, unit, period_start, end, cells, child_rows, strategy)
        rows[node.id] = row
        return row

    visit(strategy.tree, None)
    return list(rows.values())


def _node_row(
    node: Node,
    parent: Node | None,
    unit: str,
    period_start: date,
    end: date,
    cells: _Cells,
    child_rows: list[tuple[Node, dict | None]],
    strategy: Strategy,
) -> dict:
    present = [(child.weight, row) for child, row in child_rows if row is not None]
    with_data = [(w, row) for w, row in present if row["progress"] is not None]
    row: dict[str, Any] = {
        "node": node.id,
        "parent": parent.id if parent is not None else None,
        "unit": unit,
        "period_start": period_start,
        "measure": node.measure,
        "value": None,
        "ci_low": None,
        "ci_high": None,
        "n": None,
        "baseline": None,
        "target": None,
        "children_progress": _weighted_mean((w, r["progress"]) for w, r in with_data),
        "weight": node.weight,
    }
    if node.measure is not None:
        targets = _targets(node, unit)
        row["baseline"], row["target"] = targets.baseline.value, targets.target.value
        cell = cells.get((node.measure, unit, period_start))
        if cell is not None:
            row["n"] = cell.n
            if not cell.suppressed and cell.value is not None:
                row["value"], row["ci_low"], row["ci_high"] = cell.value, cell.ci_low, cell.ci_high
        row["progress"] = progress(row["value"], row["baseline"], row["target"])
        row["expected_progress"] = expected_progress(targets, end)
        expected = expected_value(targets, end)
    else:
        # An outcome moves as its children do; with no child measured yet, expect what all expect.
        row["progress"] = row["children_progress"]
        basis = with_data or present
        row["expected_progress"] = _weighted_mean(
            (w, r["expected_progress"]) for w, r in basis if r["expected_progress"] is not None
        )
        expected = None
    row["status"] = status(
        row["progress"],
        row["expected_progress"],
        expected,
        row["ci_low"],
        row["ci_high"],
        strategy.status,
    )
    return row


def _targets(node: Node, unit: str) -> UnitTargets:
    targets = node.targets_for(unit)
    if targets is None:
        raise ValueError(
            f"node {node.id!r} has measure {node.measure!r} but no baseline and target for unit "
            f"{unit!r}; validate the strategy with metrics.strategy.load_strategy first"
        )
    return targets


def _weighted_mean(pairs: Iterable[tuple[float, float]]) -> float | None:
    pairs = list(pairs)
    total = sum(w for w, _ in pairs)
    if not pairs or total <= 0:
        return None
    return sum(w * v for w, v in pairs) / total


def _plan(targets: _Targets) -> list[tuple[date, float]]:
    if targets.baseline is None or targets.target is None:
        raise ValueError("a plan needs a baseline and a target")
    points = [targets.baseline, *targets.milestones, targets.target]
    return [(_as_date(p.date), float(p.value)) for p in points]


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _float(value: Any) -> float | None:
    if value is None or _is_nan(value):
        return None
    return float(value)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
