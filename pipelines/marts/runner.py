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
from pipelines import changes
from pipelines.marts.engines import Engine
from pipelines.marts.registry import MARTS, Mart, MartInputs, Recomputed, Touch, by_name


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


def strategy_signature(strategy: Strategy) -> str:
    """What a mart's rows depend on besides the data: the strategy and the code."""
    from hashlib import sha256

    digest = sha256(strategy.model_dump_json().encode()).hexdigest()
    return f"{digest}:{changes.code_digest()}"


class _Increments:
    """Which marts this step recomputes a period at a time, and which periods (see
    registry.Partition and pipelines.changes); everything else is recomputed whole."""

    def __init__(self, engine: Engine, strategy: Strategy, specs: dict[str, Mart], full: bool):
        self.engine, self.strategy, self.specs, self.full = engine, strategy, specs, full
        self.con = engine.con
        self.signature = strategy_signature(strategy)
        self.ledger = self.con.execute(
            "SELECT source, file_path, sha256 FROM ops.file_ledger WHERE status = 'loaded'"
        ).fetchall()
        #: whole marts read by a partitioned mart: their changed periods are worth a diff
        self.diffed = {
            r for m in specs.values() if m.partition for r in m.reads if not specs[r].partition
        }

    def parts(self, mart: Mart) -> list[str] | None:
        """The periods to recompute (sorted text), or None to recompute the mart whole."""
        if mart.partition is None or self.full or not getattr(self.engine, "incremental", False):
            return None
        consumer = f"mart:{mart.name}"
        sig, versions = changes.signature(self.con, consumer)
        if sig != self.signature or not _has_mart(self.con, mart.name):
            return None
        delta = changes.event_changes(self.con, consumer)
        if delta is None:
            return None
        parts: set[str] = set()
        for upstream in mart.reads:
            changed = changes.mart_changes_since(self.con, upstream, versions.get(upstream, 0))
            if changed is None:
                return None
            parts |= changed
        if mart.partition.touched is not None:
            touch = Touch(delta, self.strategy, f"marts.{mart.name}")
            rows = self.con.execute(
                f"SELECT DISTINCT CAST(period AS VARCHAR) FROM ({mart.partition.touched(touch)}) "
                "WHERE period IS NOT NULL"
            ).fetchall()
            parts |= {p for (p,) in rows}
        return sorted(parts)

    def recorder(self, mart: Mart):
        """What the mart's write calls inside its transaction: log the write (and the periods it
        changed, None = all), and record what the mart is now current with."""

        def record(changed: set[str] | None) -> None:
            changes.log_mart_write(self.con, mart.name, changed)
            versions = {r: changes.mart_version(self.con, r) for r in mart.reads}
            changes.commit(self.con, f"mart:{mart.name}", self.signature, self.ledger, versions)

        return record


def _has_mart(con, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'marts' AND table_name = ?",
            [name],
        ).fetchall()
    )


def run_marts(
    engine: Engine,
    strategy: Strategy,
    now: datetime,
    names: Collection[str] | None = None,
    checks: Collection[tuple[str, str]] | None = None,
    marts: Iterable[Mart] = MARTS,
    *,
    full: bool = False,
) -> StepOutcome:
    """Compute `names` (default: every mart) with the `checks` (mart, check) selected (default:
    all).

    A mart that declares a partition recomputes only the periods changed since its last build
    (its table stays otherwise); `full` recomputes every mart whole (the `full_refresh` job,
    `reload`). A selected check whose mart is not computed runs on the mart's current table,
    after the computed marts (so it compares that table with the marts just written).
    """
    specs = by_name(marts)
    inputs = MartInputs(engine, strategy, now, specs)
    increments = _Increments(engine, strategy, specs, full)
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
            parts = increments.parts(mart)
            record = increments.recorder(mart)
            if parts is None:
                diff_on = "period_start" if mart.name in increments.diffed else None
                rows = engine.write(mart.name, mart.compute(inputs), diff_on=diff_on, record=record)
            else:
                partition = mart.partition
                assert partition is not None
                mart_inputs = inputs
                if partition.narrow is not None and parts:
                    narrowed = partition.narrow(inputs.events, Recomputed(strategy, parts))
                    mart_inputs = inputs.narrowed(narrowed)
                rows = engine.write_parts(
                    mart.name, mart.compute(mart_inputs), partition, strategy, parts, record=record
                )
            metadata = {"dagster/row_count": rows, **mart.metadata(engine.con)}
            metadata["recomputed"] = "all" if parts is None else f"{len(parts)} period(s)"
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
