"""One step's marts: computed in the registry's order on one engine, each followed by its checks.

A mart whose blocking check fails, or whose computation raises, stops the marts that read it
(directly or through another mart): they keep their previous tables. Marts that do not read it
are still computed and reported, so one broken formula does not freeze the whole dashboard.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from metrics.strategy import Strategy
from pipelines.marts.engines import Engine
from pipelines.marts.registry import MARTS, Mart, MartInputs, by_name


def run_now() -> datetime:
    """The run's time ("now"), UTC-naive, passed explicitly into the time-dependent formulas."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class CheckResult:
    """One blocking check's verdict on a mart's table."""

    mart: str
    name: str
    passed: bool
    metadata: dict


@dataclass
class MartResult:
    """What computing one mart produced: its row count and metadata, and its checks."""

    name: str
    metadata: dict
    checks: list[CheckResult] = field(default_factory=list)
    materialized: bool = True  # False: only checks ran, on the mart's current table

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass
class StepOutcome:
    """A step's results in registry order, the marts it did not recompute and why, and the
    error to raise once the results are reported (None when every mart was computed)."""

    results: list[MartResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    error: BaseException | None = None


def _run_checks(
    engine: Engine, strategy: Strategy, mart: Mart, selected: Collection[tuple[str, str]] | None
) -> list[CheckResult]:
    results = []
    for check in mart.checks:
        if selected is None or (mart.name, check.name) in selected:
            passed, metadata = check.run(engine.con, strategy)
            results.append(CheckResult(mart.name, check.name, bool(passed), metadata))
    return results


def run_marts(
    engine: Engine,
    strategy: Strategy,
    now: datetime,
    names: Collection[str] | None = None,
    checks: Collection[tuple[str, str]] | None = None,
    marts: Iterable[Mart] = MARTS,
) -> StepOutcome:
    """Compute `names` (default: every mart) with the `checks` (mart, check) selected (default:
    all).

    A selected check whose mart is not computed runs on the mart's current table, after the
    computed marts (so it compares that table with the marts just written).
    """
    specs = by_name(marts)
    inputs = MartInputs(engine, strategy, now, specs)
    step = StepOutcome()
    failed_checks: set[str] = set()
    errors: list[BaseException] = []
    not_computed: set[str] = set()  # failed, errored or skipped: what reads them must wait
    for mart in specs.values():
        if names is not None and mart.name not in names:
            continue
        blocked = not_computed.intersection(mart.reads)
        if blocked:
            not_computed.add(mart.name)
            if blocked & failed_checks:
                step.skipped[mart.name] = f"a blocking check of {sorted(blocked)} failed"
            else:
                step.skipped[mart.name] = f"{sorted(blocked)} could not be computed"
            continue
        try:
            started = time.perf_counter()
            rows = engine.write(mart.name, mart.compute(inputs))
            metadata = {"dagster/row_count": rows, **mart.metadata(engine.con)}
            metadata["seconds"] = round(time.perf_counter() - started, 4)
            result = MartResult(mart.name, metadata, _run_checks(engine, strategy, mart, checks))
        except Exception as exc:  # the marts that do not read this one still go ahead
            errors.append(exc)
            not_computed.add(mart.name)
            continue
        step.results.append(result)
        if not result.passed:
            failed_checks.add(mart.name)
            not_computed.add(mart.name)

    computed = {r.name for r in step.results} | not_computed
    check_only = {mart for mart, _ in checks or ()} - computed - set(names or ())
    for name in (n for n in specs if n in check_only) if not errors else ():
        mart_checks = _run_checks(engine, strategy, specs[name], checks)
        step.results.append(MartResult(name, {}, mart_checks, materialized=False))
    step.results.sort(key=lambda r: list(specs).index(r.name))
    if errors:
        step.error = errors[0]
        for other in {repr(e): e for e in errors[1:]}.values():
            if repr(other) != repr(step.error):
                step.error.add_note(f"another mart failed too: {other!r}")
    return step
