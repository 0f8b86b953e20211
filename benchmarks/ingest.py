"""Ingestion against DuckDB's own raw load of the same file.

The project's ingestion does much more than `CREATE TABLE AS SELECT * FROM read_csv(...)`: it
hashes the file for the ledger, validates every field into a typed staging table, quarantines bad
rows with their reason, de-duplicates by key and writes the file and its ledger row in one
transaction. The ratio says what that care costs over the engine's raw speed on the same bytes.

Peak memory is measured in a child process (its own `ru_maxrss`, reaped with `os.wait4`), so the
benchmark's own memory never leaks into the figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from metrics.config import REPO_ROOT
from metrics.sources import SourceConfig, SourcesConfig, load_sources
from metrics.store.warehouse import connect, ensure_schema

#: The canonical NPS columns, in the order DESIGN.md lists them.
CANONICAL_COLUMNS = ("response_id", "responded_at", "unit", "score", "account_id", "comment")
#: The memory limit the pipeline's resource gives DuckDB (pipelines.defs.resources).
MEMORY_LIMIT = "4GB"

Say = Callable[[str], None]


# --- the files ----------------------------------------------------------------------------------


def write_canonical_csv(qualtrics: Path, target: Path) -> int:
    """The responses of a Qualtrics export as a plain canonical CSV (one header row, UTC times,
    canonical column names); returns its rows. Survey previews are left out, as any export from
    a survey tool would; malformed scores and missing units stay in, so quarantine has work."""
    target.parent.mkdir(parents=True, exist_ok=True)
    utc = "timezone('UTC', timezone('America/New_York', CAST(RecordedDate AS TIMESTAMP)))"
    con = duckdb.connect(":memory:")
    try:
        con.execute(
            f"""COPY (
                SELECT ResponseId AS response_id,
                       strftime({utc}, '%Y-%m-%d %H:%M:%S') AS responded_at,
                       BusinessUnit AS unit, Q1 AS score, AccountId AS account_id, Q2 AS comment
                FROM read_csv('{qualtrics}', header = true, all_varchar = true)
                WHERE DistributionChannel IN ('email', 'anonymous')
            ) TO '{target}' (HEADER, DELIMITER ',')"""
        )
        return con.execute(
            f"SELECT count(*) FROM read_csv('{target}', header = true, all_varchar = true)"
        ).fetchone()[0]
    finally:
        con.close()


def write_qualtrics_export(inbox_nps: Path, target: Path) -> int:
    """Every monthly Qualtrics export of the demo as ONE export (three header rows, then every
    data row); the duplicate copy the demo plants is left out. Returns the data rows written."""
    exports = sorted(p for p in inbox_nps.glob("*.csv") if " (" not in p.name)
    if not exports:
        raise FileNotFoundError(f"no Qualtrics exports in {inbox_nps}; run the demo first")
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with target.open("w", encoding="utf-8", newline="") as out:
        for i, path in enumerate(exports):
            with path.open(encoding="utf-8-sig", newline="") as fh:
                lines = iter(fh)
                header = [next(lines) for _ in range(3)]
                if i == 0:
                    out.writelines(header)
                for line in lines:
                    out.write(line)
                    rows += 1
    return rows


def new_qualtrics_export(source: Path, target: Path, tag: str, limit: int) -> tuple[Path, int]:
    """A small Qualtrics export the pipeline has never seen: the last `limit` responses of
    `source` under fresh ids. Written under a hidden name (the inbox ignores it) and returned with
    its row count; the caller lands it with `os.replace(hidden, target)`."""
    with source.open(encoding="utf-8-sig", newline="") as fh:
        records = list(csv.reader(fh))
    header, data = records[:3], records[3:][-limit:]
    id_col = header[0].index("ResponseId")
    for i, row in enumerate(data):
        row[id_col] = f"R_{tag}{i:07d}"
    hidden = target.with_name(f".{target.name}")
    with hidden.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(header + data)
    return hidden, len(data)


# --- one load each way --------------------------------------------------------------------------


def _fresh(db: Path) -> None:
    for p in (db, db.with_name(db.name + ".wal")):
        p.unlink(missing_ok=True)


def project_load(csv_path: Path, db: Path, sources: SourcesConfig):
    """The project's ingestion of one file into a fresh warehouse: seconds and its FileOutcome."""
    from pipelines.ingestion import ingest_files

    _fresh(db)
    started = time.perf_counter()
    con = connect(db, memory_limit=MEMORY_LIMIT)
    try:
        ensure_schema(con)
        outcomes = ingest_files(
            con,
            "nps",
            [csv_path],
            sources,
            dimensions=[],
            now=datetime.now(UTC).replace(tzinfo=None),
        )
    finally:
        con.close()
    seconds = time.perf_counter() - started
    if len(outcomes) != 1 or outcomes[0].status != "loaded":
        raise RuntimeError(f"ingestion of {csv_path} did not load: {outcomes}")
    return seconds, outcomes[0]


def raw_load(csv_path: Path, db: Path) -> float:
    """DuckDB's raw load of the same file into a fresh database: the engine's own speed.

    Every column is read as text (`all_varchar`), as the project's adapters read it before typing
    and validating: with type sniffing instead, a file whose one malformed score lies beyond
    DuckDB's 20,480-row sample cannot be loaded raw at all (scale 10 of the demo has one)."""
    _fresh(db)
    started = time.perf_counter()
    con = duckdb.connect(str(db))
    try:
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv_path}', all_varchar = true)")
    finally:
        con.close()
    return time.perf_counter() - started


def canonical_sources() -> SourcesConfig:
    """A plain canonical CSV: no mapping, no filter."""
    return SourcesConfig(sources={"nps": SourceConfig(format="csv")})


# --- peak memory in a child ---------------------------------------------------------------------


def _own_peak_rss_mb() -> float:
    """This process's peak resident memory (MiB) since it started.

    Linux keeps `ru_maxrss` across fork + exec, so a child started from a big parent reports the
    parent's size; VmHWM belongs to the address space the child got at exec, so it is the child's.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def child_peak_rss_mb(args: list[str], cwd: Path = REPO_ROOT) -> dict:
    """Run `python -m benchmarks.ingest <args>` as a child; what it reports, with its peak RSS."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest", *args], cwd=cwd, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"child `benchmarks.ingest {' '.join(args)}` failed: {proc.stderr[-2000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the benchmark ------------------------------------------------------------------------------


def run(inbox_nps: Path, sources_yaml: Path, work: Path, repeats: int, say: Say) -> dict:
    """Ingestion vs raw, alternating in one process, median of `repeats`; then peak RSS."""
    work.mkdir(parents=True, exist_ok=True)
    canonical = work / "nps_canonical.csv"
    qualtrics = work / "nps_qualtrics.csv"
    write_qualtrics_export(inbox_nps, qualtrics)
    rows = write_canonical_csv(qualtrics, canonical)
    mb = canonical.stat().st_size / 1024 / 1024
    say(f"ingestion: {rows:,} NPS responses, canonical CSV {mb:.1f} MB; {repeats} runs each")
    plain = canonical_sources()
    # One export of every response is far larger than the monthly files a real inbox gets (682 MB
    # at scale 100): the size limit is raised to fit it, as sources.yaml's `max_file_mb` lets a
    # user do, so the adapter is measured at every scale.
    export_mb = qualtrics.stat().st_size / 1024 / 1024
    qualtrics_cfg = SourcesConfig(
        sources={"nps": load_sources(sources_yaml).source("nps")},
        unit_aliases=load_sources(sources_yaml).unit_aliases,
        max_file_mb=max(SourcesConfig().max_file_mb, export_mb + 1),
    )
    db = work / "ingest.duckdb"
    times: dict[str, list[float]] = {"project": [], "raw": [], "qualtrics": [], "raw_qualtrics": []}
    outcome = qualtrics_outcome = qualtrics_error = None
    for i in range(repeats):
        # Alternate the order, so neither side always runs on a warmer page cache.
        order = ("raw", "project") if i % 2 == 0 else ("project", "raw")
        for what in order:
            if what == "raw":
                times["raw"].append(raw_load(canonical, db))
            else:
                seconds, outcome = project_load(canonical, db, plain)
                times["project"].append(seconds)
        if qualtrics_error is None:
            try:
                seconds, qualtrics_outcome = project_load(qualtrics, db, qualtrics_cfg)
                times["qualtrics"].append(seconds)
                times["raw_qualtrics"].append(raw_load(qualtrics, db))
            except RuntimeError as exc:  # report it, and measure the rest
                qualtrics_error = str(exc).splitlines()[0][:300]
                say(f"  the Qualtrics export did not load: {qualtrics_error}")
        say(
            f"  run {i + 1}: project {times['project'][-1]:.3f}s, raw {times['raw'][-1]:.3f}s"
            + (
                f", qualtrics {times['qualtrics'][-1]:.3f}s (raw {times['raw_qualtrics'][-1]:.3f}s)"
                if times["qualtrics"]
                else ""
            )
        )
    assert outcome is not None
    judged = outcome.rows_loaded + outcome.rows_filtered + outcome.rows_quarantined
    if judged != rows:
        raise AssertionError(f"the project's ingestion accounted for {judged:,} of {rows:,} rows")
    med = {k: statistics.median(v) if v else None for k, v in times.items()}

    say("ingestion: peak RSS in a child process")
    rss = child_peak_rss_mb(["child", str(canonical), str(db)])["peak_rss_mb"]
    baseline = child_peak_rss_mb(["baseline", str(db)])["peak_rss_mb"]
    _fresh(db)
    return {
        "rows": rows,
        "file_mb": round(mb, 2),
        "ratio": med["project"] / med["raw"],
        "rows_per_s": rows / med["project"],
        "peak_rss_mb": rss,
        "baseline_rss_mb": baseline,
        "project_s": med["project"],
        "raw_s": med["raw"],
        "loaded": outcome.rows_loaded,
        "quarantined": outcome.rows_quarantined,
        "qualtrics_s": med["qualtrics"],
        "qualtrics_raw_s": med["raw_qualtrics"],
        "qualtrics_ratio": (
            med["qualtrics"] / med["raw_qualtrics"] if med["qualtrics"] is not None else None
        ),
        "qualtrics_loaded": qualtrics_outcome.rows_loaded if qualtrics_outcome else None,
        "qualtrics_error": qualtrics_error,
        "runs": times,
    }


def _child(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.ingest")
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("child", help="one ingestion of a canonical NPS CSV into a fresh warehouse")
    p.add_argument("csv")
    p.add_argument("db")
    p = sub.add_parser("baseline", help="the same imports and an empty warehouse, no load")
    p.add_argument("db")
    args = parser.parse_args(argv)
    if args.what == "child":
        seconds, outcome = project_load(Path(args.csv), Path(args.db), canonical_sources())
        report = {"seconds": seconds, "loaded": outcome.rows_loaded}
    else:
        import pipelines.ingestion  # noqa: F401  (the same imports as the child that loads)

        db = Path(args.db)
        _fresh(db)
        con = connect(db, memory_limit=MEMORY_LIMIT)
        try:
            ensure_schema(con)
        finally:
            con.close()
        report = {}
    print(json.dumps({**report, "peak_rss_mb": _own_peak_rss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
