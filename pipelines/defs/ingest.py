"""Ingestion assets: one per source, loading new files from `inbox/<source>/` into `events.<source>`.

Each file is judged once per content hash, in one transaction with its ledger row; bad rows go to
`ops.quarantine` with their reason (pipelines.ingestion does the work; these assets are thin).
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from metrics.schemas import SOURCES, SourceSchema
from metrics.store.sql import literal
from pipelines.defs.resources import WAREHOUSE_POOL, OutcomeLoopResource
from pipelines.marts.engines import engine_for
from pipelines.progress import progress

INGEST_GROUP = "ingest"

#: Score ranges the blocking checks hold the events tables to (the adapters quarantine the rest).
SCORE_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "nps": {"score": (0, 10)},
    "employee_pulse": {"enps_score": (0, 10), "wellbeing": (1, 5)},
    "readiness": {"score": (1, 5)},
}


def asset_key(source: str) -> dg.AssetKey:
    return dg.AssetKey(f"{source}_events")


def step_line(source: str, outcomes: list, events: int) -> str:
    """The step's one line on the terminal: what the new files became."""
    if not outcomes:
        return f"ingest {source:17} nothing new ({events:,} events)"
    counts = {s: sum(o.status == s for o in outcomes) for s in ("loaded", "duplicate", "rejected")}
    files = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    rows = (
        f"{sum(o.rows_loaded for o in outcomes):,} rows loaded, "
        f"{sum(o.rows_filtered for o in outcomes):,} filtered, "
        f"{sum(o.rows_quarantined for o in outcomes):,} quarantined"
    )
    return f"ingest {source:17} {len(outcomes)} file(s): {files}; {rows} ({events:,} events)"


def _check_specs(source: str) -> list[dg.AssetCheckSpec]:
    key = asset_key(source)
    specs = [
        dg.AssetCheckSpec(
            "keys_unique",
            asset=key,
            blocking=True,
            description="one event per key (the keys of the rows loaded in the run)",
        ),
        dg.AssetCheckSpec(
            "no_future_timestamps",
            asset=key,
            blocking=True,
            description="no event loaded in the run more than a day in the future",
        ),
    ]
    if source in SCORE_RANGES or source == "ces":
        specs.append(
            dg.AssetCheckSpec(
                "scores_in_range",
                asset=key,
                blocking=True,
                description="scores of the rows loaded in the run within their ranges",
            )
        )
    return specs


def _run_checks(
    con, schema: SourceSchema, ces_scale: tuple[float, float], loaded: list[str]
) -> list:
    """The blocking checks over the rows the files `loaded` in this run brought (and, for key
    uniqueness, every row sharing a key with them). Rows loaded earlier passed these checks in
    the run that loaded them, and a run that loads nothing leaves the table as it was, so a
    landing's checks cost what it brings, not the size of the history."""
    table = f'events."{schema.name}"'
    scope = f"file_path IN ({', '.join(literal(f) for f in loaded)})" if loaded else "false"
    key_cols = ", ".join(f'"{c}"' for c in schema.key)
    same_key = " AND ".join(f'n."{c}" IS NOT DISTINCT FROM e."{c}"' for c in schema.key)
    dupes = 0
    if loaded:
        dupes = con.execute(
            f"SELECT count(*) FROM (SELECT {key_cols} FROM {table} e WHERE EXISTS "
            f"(SELECT 1 FROM {table} n WHERE {scope} AND {same_key}) "
            f"GROUP BY ALL HAVING count(*) > 1)"
        ).fetchall()[0][0]
    [(checked,)] = con.execute(f"SELECT count(*) FROM {table} WHERE {scope}").fetchall()
    results = [
        dg.AssetCheckResult(
            check_name="keys_unique",
            passed=dupes == 0,
            metadata={
                "duplicate_keys": dupes,
                "key": ", ".join(schema.key),
                "rows_checked": checked,
            },
        )
    ]
    horizon = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    [(future,)] = con.execute(
        f'SELECT count(*) FROM {table} WHERE {scope} AND CAST("{schema.time_column}" AS '
        "TIMESTAMP) > ?",
        [horizon],
    ).fetchall()
    results.append(
        dg.AssetCheckResult(
            check_name="no_future_timestamps",
            passed=future == 0,
            metadata={"future_rows": future, "rows_checked": checked},
        )
    )
    ranges = dict(SCORE_RANGES.get(schema.name, {}))
    if schema.name == "ces":
        ranges["score"] = ces_scale
    if ranges:
        where = " OR ".join(
            f'"{col}" NOT BETWEEN {lo} AND {hi}' for col, (lo, hi) in ranges.items()
        )
        [(bad,)] = con.execute(
            f"SELECT count(*) FROM {table} WHERE {scope} AND ({where})"
        ).fetchall()
        results.append(
            dg.AssetCheckResult(
                check_name="scores_in_range",
                passed=bad == 0,
                metadata={"out_of_range": bad, "ranges": str(ranges), "rows_checked": checked},
            )
        )
    return results


def build_ingest_asset(source: str) -> dg.AssetsDefinition:
    schema = SOURCES[source]

    @dg.asset(
        key=asset_key(source),
        group_name=INGEST_GROUP,
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        check_specs=_check_specs(source),
        description=(
            f"Events of the `{source}` source: every landed file in inbox/{source}/ judged once "
            f"by content hash; rows validated, bad rows quarantined with their reason, and "
            f"upserted into events.{source} by key ({', '.join(schema.key)})."
        ),
    )
    def _ingest(context: dg.AssetExecutionContext, outcomeloop: OutcomeLoopResource):
        from pipelines.ingestion import forward_logs, ingest_files, record_refused, scan_inbox

        cfg = outcomeloop.settings()
        strategy = outcomeloop.strategy()
        sources = outcomeloop.sources()
        scan = scan_inbox(cfg.inbox_for(source))
        files = scan.files
        now = datetime.now(UTC).replace(tzinfo=None)
        with outcomeloop.connect(context.log, step="ingest") as con, forward_logs(context.log):
            outcomes = record_refused(con, source, scan.refused, now=now)
            outcomes += ingest_files(
                con,
                source,
                files,
                sources,
                dimensions=list(strategy.readiness.dimensions),
                now=now,
            )
            events = con.execute(f'SELECT count(*) FROM events."{source}"').fetchone()[0]
            scale = tuple(sources.source(source).scale)
            loaded = [o.file_path for o in outcomes if o.status == "loaded"]
            checks = _run_checks(con, schema, scale, loaded)
            # With compute: spark the source's events also land in the lake as Parquet.
            lake_meta = engine_for(cfg, con).events_loaded(source)
        by_status: dict[str, int] = {}
        for o in outcomes:
            by_status[o.status] = by_status.get(o.status, 0) + 1
        rejected = [f"{o.file_path}: {o.error}" for o in outcomes if o.status == "rejected"]
        for line in rejected:
            context.log.warning(f"rejected {line}")
        progress.info("%s", step_line(source, outcomes, events))
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": events,
                "files_seen": len(files),
                "files_loaded": by_status.get("loaded", 0),
                "files_duplicate": by_status.get("duplicate", 0),
                "files_rejected": by_status.get("rejected", 0),
                "rows_loaded": sum(o.rows_loaded for o in outcomes),
                "rows_filtered": sum(o.rows_filtered for o in outcomes),
                "rows_quarantined": sum(o.rows_quarantined for o in outcomes),
                "rejected_files": dg.MetadataValue.md(
                    "\n".join(f"- {r}" for r in rejected) or "none"
                ),
                **lake_meta,
            },
            check_results=checks,
        )

    return _ingest


INGEST_ASSETS = [build_ingest_asset(source) for source in SOURCES]
