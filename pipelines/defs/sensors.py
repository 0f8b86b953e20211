"""Sensors: a file landing in `inbox/<source>/` starts that source's ingestion by itself.

The cursor keeps, per source, the largest file mtime seen, the names at that mtime, and a digest of
the whole listing (name, size, mtime) — never the wall clock — so a file copied in with an old
mtime (`cp -p`) under a new name is still picked up. A file with a fresh mtime gets a second look
SETTLE_SECONDS later in the same tick; one still being written (its size changed since the last
look) waits for the next tick. `.part` and hidden files are never listed
(pipelines.ingestion.landed_files).
"""

import hashlib
import json
import time
from pathlib import Path

import dagster as dg

from metrics.config import ConfigError, settings
from metrics.schemas import SOURCES
from pipelines.defs.ingest import asset_key
from pipelines.marts.registry import MART_NAMES

#: What a landed file moves: every mart, the published snapshot and the alerts after it.
DOWNSTREAM = (
    *(dg.AssetKey(name) for name in MART_NAMES),
    dg.AssetKey("serving"),
    dg.AssetKey("alerts"),
)

#: A file untouched for this long is complete even if we have not seen it on an earlier tick.
SETTLE_SECONDS = 2.0
SENSOR_INTERVAL_SECONDS = 5
#: The inbox is looked at more often: its tick (listing a few hundred names) is cheap, and the
#: wait for it is most of a landing's way to the dashboard once the run itself is small.
INBOX_INTERVAL_SECONDS = 2

#: The wall clock a tick judges freshness by (seconds since the epoch); tests pin it.
clock = time.time
#: How a tick waits before its second look at files it saw still fresh; tests replace it.
pause = time.sleep


def _listing(folder: Path) -> list[tuple[str, int, int]]:
    from pipelines.ingestion import landed_files

    out = []
    for path in landed_files(folder):
        try:
            st = path.stat()
        except FileNotFoundError:  # removed between listing and stat
            continue
        out.append((path.name, st.st_size, st.st_mtime_ns))
    return sorted(out)


def evaluate_inbox(inbox: Path, cursor: dict, now: float) -> tuple[list[str], dict]:
    """Pure core of the sensor: which sources have new, complete files, and the next cursor."""
    requests: list[str] = []
    next_cursor: dict = {}
    for source in SOURCES:
        state = cursor.get(source, {})
        pending: dict[str, int] = state.get("pending", {})
        settled, still_writing = [], {}
        for name, size, mtime_ns in _listing(inbox / source):
            fresh = now - mtime_ns / 1e9 < SETTLE_SECONDS
            settled_before = mtime_ns == state.get("mtime") and name in state.get("names", ())
            if fresh and pending.get(name) != size and not settled_before:
                still_writing[name] = size
            else:
                settled.append((name, size, mtime_ns))
        digest = hashlib.sha256(json.dumps(settled).encode()).hexdigest()
        max_mtime = max((m for _, _, m in settled), default=state.get("mtime", 0))
        names = sorted(n for n, _, m in settled if m == max_mtime)
        if settled and digest != state.get("listing"):
            requests.append(source)
        next_cursor[source] = {
            "mtime": max_mtime,
            "names": names,
            "listing": digest if settled else state.get("listing"),
            "pending": still_writing,
        }
    return requests, next_cursor


@dg.sensor(
    name="inbox_sensor",
    minimum_interval_seconds=INBOX_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    asset_selection=dg.AssetSelection.groups("ingest", "marts", "serving"),
    description=(
        "Starts ingestion of the sources with a new, complete file in their inbox folder, and the "
        "marts and snapshot after them, in one run."
    ),
)
def inbox_sensor(context: dg.SensorEvaluationContext):
    try:
        cfg = settings()
    except ConfigError as exc:
        return dg.SkipReason(str(exc))
    cursor = json.loads(context.cursor) if context.cursor else {}
    sources, next_cursor = evaluate_inbox(cfg.inbox, cursor, clock())
    if any(state["pending"] for state in next_cursor.values()):
        # A file seen with a fresh mtime gets a second look once it would have settled, in this
        # tick: Dagster runs sensors at most every 5 s, and waiting for the next tick would add
        # that to a landing's way to the dashboard. A file still growing stays pending.
        pause(SETTLE_SECONDS)
        more, next_cursor = evaluate_inbox(cfg.inbox, next_cursor, clock())
        sources = [s for s in SOURCES if s in sources or s in more]
    requests = []
    if sources:
        # One run per tick: the sources with new files, then every mart and the snapshot in the
        # same run, so a landed file reaches the dashboard without waiting for further ticks
        # (declarative automation sees the marts handled and does not run them again).
        listing = "".join(next_cursor[s]["listing"][:8] for s in sources)
        requests.append(
            dg.RunRequest(
                run_key=f"{'+'.join(sources)}-{listing}",
                asset_selection=[*(asset_key(s) for s in sources), *DOWNSTREAM],
                tags={"outcomeloop/trigger": "inbox", "outcomeloop/sources": ",".join(sources)},
            )
        )
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(next_cursor, sort_keys=True))


@dg.sensor(
    name="strategy_sensor",
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    asset_selection=dg.AssetSelection.assets("strategy"),
    description="Re-validates the strategy (and so recomputes the marts) when strategy.yaml changes.",
)
def strategy_sensor(context: dg.SensorEvaluationContext):
    try:
        cfg = settings()
        digest = hashlib.sha256(cfg.strategy_path.read_bytes()).hexdigest()
    except (ConfigError, OSError) as exc:
        return dg.SkipReason(f"strategy file not readable: {exc}")
    if digest == context.cursor:
        return dg.SensorResult(run_requests=[], cursor=digest)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"strategy-{digest[:16]}",
                asset_selection=[dg.AssetKey("strategy")],
                tags={"outcomeloop/trigger": "strategy"},
            )
        ],
        cursor=digest,
    )
