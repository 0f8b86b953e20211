"""What the terminal shows about the pipeline's state: a run's summary and `outcomeloop status`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from metrics.config import Settings, settings


def print_notices(cfg: Settings) -> None:
    """Say so when a configuration file comes from the bundled examples (stderr, one line each)."""
    for notice in cfg.example_notices():
        print(notice, file=sys.stderr)


#: The ingestion counts each `*_events` asset records in its materialization metadata.
FILE_AND_ROW_COUNTS = (
    "files_loaded",
    "files_duplicate",
    "files_rejected",
    "rows_loaded",
    "rows_filtered",
    "rows_quarantined",
)


@dataclass
class RunSummary:
    """What a run did, in a few lines, and whether it failed or rejected a file."""

    lines: list[str]
    failed: bool
    rejected: int


def summarize(result) -> RunSummary:
    """A few lines on what a run did, from the assets' materialization metadata: the counts,
    each rejected file with its reason (up to five), each failed step."""
    totals = dict.fromkeys(FILE_AND_ROW_COUNTS, 0)
    rejected_files: list[str] = []
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if not mat.asset_key.path[-1].endswith("_events"):
            continue
        for key in totals:
            value = mat.metadata.get(key)
            if value is not None:
                totals[key] += int(value.value)
        listed = mat.metadata.get("rejected_files")
        if listed is not None and listed.value != "none":
            rejected_files += [line[2:] for line in str(listed.value).splitlines()]
    failures = [
        f"{e.step_key}: {e.event_specific_data.error.message.strip().splitlines()[0]}"
        if e.event_specific_data and e.event_specific_data.error
        else str(e.step_key)
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]
    lines = [
        f"files: {totals['files_loaded']} loaded, {totals['files_duplicate']} duplicate, "
        f"{totals['files_rejected']} rejected",
        f"rows:  {totals['rows_loaded']} loaded, {totals['rows_filtered']} filtered, "
        f"{totals['rows_quarantined']} quarantined",
    ]
    lines += [f"REJECTED {line}" for line in rejected_files[:5]]
    if len(rejected_files) > 5:
        lines.append(f"REJECTED ... and {len(rejected_files) - 5} more (see `outcomeloop status`)")
    lines += [f"FAILED {f}" for f in failures]
    return RunSummary(lines, bool(failures) or not result.success, totals["files_rejected"])


def cmd_status(args: argparse.Namespace) -> int:
    """Where everything is, how old the snapshot is, and per source what loaded and when."""
    from metrics.store.warehouse import query_snapshot

    cfg = settings()
    print_notices(cfg)
    print(f"OUTCOMELOOP_HOME  {cfg.home}")
    print(f"strategy          {cfg.strategy_path}")
    print(f"sources           {cfg.sources_path}")
    if not cfg.snapshot.exists():
        print("snapshot          none yet: run `outcomeloop run` (or `make run`)")
        _inbox_lines(cfg)
        return 0
    meta = query_snapshot(cfg.snapshot, "SELECT * FROM serving.meta").to_pylist()[0]
    age = datetime.now(UTC).replace(tzinfo=None) - meta["built_at"]
    print(
        f"snapshot          built {meta['built_at']:%Y-%m-%d %H:%M:%S} UTC "
        f"({format_age(age.total_seconds())} ago), data through {meta['data_through']}"
    )
    print(f"alerts            {_alert_counts(cfg)}")
    rows = query_snapshot(cfg.snapshot, "SELECT * FROM serving.source_health ORDER BY source")
    header = f"{'source':17} {'files':>5} {'rejected':>8} {'events':>9} {'quarantined':>11}  last file loaded"
    print()
    print(header)
    print("-" * len(header))
    for r in rows.to_pylist():
        last = r["last_loaded_at"]
        when = f"{format_age((meta['built_at'] - last).total_seconds())} ago" if last else "never"
        flag = "  STALE" if r["stale"] else ""
        print(
            f"{r['source']:17} {r['files']:>5} {r['files_rejected']:>8} {r['events']:>9} "
            f"{r['rows_quarantined']:>11}  {when}{flag}"
        )
    _inbox_lines(cfg)
    return 0


def _inbox_lines(cfg) -> None:
    """What no source reads, and files judged under an older mapping (after the table)."""
    from metrics.sources import SourcesError, load_sources
    from pipelines.cli.commands import inbox_report

    try:
        sources_cfg = load_sources(cfg.sources_path)
    except SourcesError as exc:
        print(f"\n{exc}")
        return
    print()
    inbox_report(cfg, sources_cfg)


def _alert_counts(cfg) -> str:
    """Pending and failed alerts as the snapshot's copy of ops.alert_log holds them."""
    from metrics.store.warehouse import query_snapshot

    if cfg.alerts_path is None:
        return f"off (no {cfg.home / 'alerts.yaml'} and no OUTCOMELOOP_ALERTS)"
    try:
        counts = query_snapshot(
            cfg.snapshot,
            "SELECT count(*) FILTER (status = 'pending') AS pending, "
            "count(*) FILTER (status = 'failed') AS failed, "
            "count(*) FILTER (status = 'sent' AND attempts > 0) AS sent FROM ops.alert_log",
        ).to_pylist()[0]
    except duckdb.CatalogException:  # a snapshot published before alerts existed
        return "none logged yet"
    text = f"{counts['pending']} pending, {counts['failed']} failed, {counts['sent']} sent"
    if counts["pending"] or counts["failed"]:
        text += " (see the data-health page for the errors)"
    return text


def format_age(seconds: float) -> str:
    """A duration as a person reads it at a glance: `45s`, `12min`, `3.5h`, `2.0d`."""
    seconds = max(0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
