"""Reliability: a killed process, two writers at once and a reader during runs lose nothing.

What is guaranteed (docs/reliability.md) and proved here with exact counts:
- a file loads in ONE transaction together with its ledger row, so a process SIGKILLed at any
  point of a load leaves no trace of that file, and the next run gives exactly what a clean run on
  a fresh home gives (events, ledger, quarantine);
- a killed `outcomeloop run` does not keep the warehouse pool's slot: the next run releases it;
- a killed publish leaves the published snapshot untouched and its temp file does no harm;
- two runs that want to write at once are serialized (pool + lock retry), with no lock error;
- the published snapshot stays readable from another process while 20 ingestion runs publish;
- `outcomeloop run` beside a process holding the warehouse says that it waits, then succeeds;
- an invalid strategy.yaml / sources.yaml is reported with its YAML path, never a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from metrics.config import REPO_ROOT, settings
from metrics.sources import SourcesConfig, load_sources, validate_sources
from metrics.store.files import file_sha256
from metrics.store.warehouse import connect, ensure_schema, query_snapshot
from metrics.strategy import load_strategy
from pipelines.ingestion import ingest_files, landed_files, ledger
from pipelines.publish import publish_snapshot
from pipelines.snapshot_parts import read_manifest

FIXTURE = Path(__file__).parent / "fixtures" / "pipeline"
OUTCOMELOOP = [sys.executable, "-m", "pipelines.cli"]

BIG_ROWS = 300_000
SMALL_ROWS = 50
#: rows of the big file with score 11 (outside 0..10): every 1000th row, offset 7 -> 300
BIG_BAD = BIG_ROWS // 1000


def _sources() -> SourcesConfig:
    cfg, problems = validate_sources({})
    assert not problems and cfg is not None
    return cfg


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTCOMELOOP_", "DAGSTER_"))}
    return {**env, "OUTCOMELOOP_HOME": str(home), "PYTHONPATH": str(REPO_ROOT), **extra}


def _write_nps(path: Path, rows: int, *, score_offset: int = 0, bad_every: int = 1000) -> None:
    """A canonical NPS export: response ids r0.., scores cycling 0..10, every `bad_every`-th row
    (offset 7) scored 11 (quarantined)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("response_id,responded_at,unit,score,account_id,comment\n")
        for i in range(rows):
            score = 11 if i % bad_every == 7 else (i + score_offset) % 11
            fh.write(
                f"r{i},2025-02-{1 + i % 28:02d} 10:00:00,U{i % 5},{score},a{i % 977},comment {i}\n"
            )


def _land_crash_inbox(home: Path) -> tuple[Path, Path]:
    """small.csv (50 rows, keys r0..r49, one bad score) lands first; big.csv (300k rows) restates
    r0..r49 with other scores, so a half-applied big file would show in the small file's keys."""
    inbox = home / "inbox" / "nps"
    small, big = inbox / "small.csv", inbox / "big.csv"
    _write_nps(small, SMALL_ROWS, score_offset=5, bad_every=SMALL_ROWS)  # row r7 is bad
    _write_nps(big, BIG_ROWS)
    os.utime(small, (1_700_000_000, 1_700_000_000))
    os.utime(big, (1_700_000_100, 1_700_000_100))
    return small, big


def _ingest_inbox(warehouse: Path, home: Path, now: datetime) -> None:
    with duckdb_connection(warehouse) as con:
        ingest_files(
            con,
            "nps",
            landed_files(home / "inbox" / "nps"),
            _sources(),
            dimensions=[],
            now=now,
        )


class duckdb_connection:  # noqa: N801 - reads like the context manager it is
    def __init__(self, path: Path, read_only: bool = False):
        self.path, self.read_only = path, read_only

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self.con = connect(self.path, read_only=self.read_only, wait_seconds=30)
        if not self.read_only:
            ensure_schema(self.con)
        return self.con

    def __exit__(self, *exc) -> None:
        self.con.close()


def _state(warehouse: Path) -> dict:
    """Everything a run leaves in the warehouse for the nps source, independent of the home."""
    with duckdb_connection(warehouse, read_only=True) as con:
        events = con.execute(
            "SELECT count(*), count(DISTINCT response_id), sum(score), "
            "count(*) FILTER (WHERE file_path LIKE '%big.csv'), sum(row_number) FROM events.nps"
        ).fetchone()
        ledger = [
            (Path(f).name, *rest)
            for f, *rest in con.execute(
                "SELECT file_path, status, sha256, rows_loaded, rows_filtered, rows_quarantined "
                "FROM ops.file_ledger ORDER BY file_path"
            ).fetchall()
        ]
        quarantine = con.execute(
            "SELECT count(*), count(DISTINCT (file_path, row_number)), sum(row_number) "
            "FROM ops.quarantine"
        ).fetchone()
    return {"events": events, "ledger": ledger, "quarantine": quarantine}


def _clean_run_state(tmp_path: Path, now: datetime) -> dict:
    fresh = tmp_path / "fresh"
    _land_crash_inbox(fresh)
    _ingest_inbox(fresh / "warehouse.duckdb", fresh, now)
    return _state(fresh / "warehouse.duckdb")


# --- crash safety ---------------------------------------------------------------------------------

#: Runs the real loader over inbox/nps and freezes at a point the test names, inside the load of
#: the big file, writing a marker file; the test then SIGKILLs it.
CRASH_SCRIPT = r"""
import sys, time
from datetime import datetime
from pathlib import Path

from metrics.sources import validate_sources
from metrics.store.warehouse import connect, ensure_schema
from pipelines.ingestion import ingest_files, landed_files, ledger, staging, upsert

home, point, marker, now = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4]

def freeze_after(module, name, is_big):
    original = getattr(module, name)
    def hooked(*args, **kwargs):
        result = original(*args, **kwargs)
        if is_big(args, result):
            marker.write_text(name)
            time.sleep(600)  # the test kills us here
        return result
    setattr(module, name, hooked)

if point == "staged":  # parsed and validated into the temp table, nothing written yet
    freeze_after(staging, "stage_file", lambda a, r: r.records > 1000)
elif point == "applied":  # inside the transaction: keys deleted, events and quarantine inserted
    freeze_after(upsert, "apply_staged", lambda a, r: a[3].records > 1000)
elif point == "ledger":  # inside the transaction: the ledger row written, COMMIT not yet run
    freeze_after(
        ledger, "write_ledger", lambda a, r: a[1].status == "loaded" and a[1].rows_loaded > 1000
    )

cfg, _ = validate_sources({})
con = connect(home / "warehouse.duckdb")
ensure_schema(con)
ingest_files(con, "nps", landed_files(home / "inbox" / "nps"), cfg, dimensions=[],
             now=datetime.fromisoformat(now))
marker.write_text("finished without freezing")
"""


def _start_and_freeze(cmd: list[str], marker: Path, env: dict, timeout: float = 120):
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            pytest.fail(f"the process ended before reaching the kill point:\n{out[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the process never reached the kill point")
        time.sleep(0.02)
    return proc


def _sigkill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    if proc.stdout:
        proc.stdout.close()


@pytest.mark.parametrize("point", ["staged", "applied", "ledger"])
def test_sigkill_mid_load_leaves_no_trace_and_the_rerun_equals_a_clean_run(
    home, clock, tmp_path, point
):
    _land_crash_inbox(home)
    warehouse = home / "warehouse.duckdb"
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT)
    marker = tmp_path / "marker"

    proc = _start_and_freeze(
        [sys.executable, str(script), str(home), point, str(marker), clock.isoformat()],
        marker,
        _env(home),
    )
    assert marker.read_text() in {"stage_file", "apply_staged", "write_ledger"}
    _sigkill(proc)

    # After the kill: the small file (committed before) is whole; of the big file nothing at all,
    # not even the deletion of the small file's keys it was about to restate.
    after = _state(warehouse)
    small_sha = file_sha256(home / "inbox" / "nps" / "small.csv")
    assert after["ledger"] == [("small.csv", "loaded", small_sha, 49, 0, 1)]
    # small: 50 rows r0..r49, r7 scored 11 (quarantined); scores (i + 5) % 11
    small_scores = sum((i + 5) % 11 for i in range(SMALL_ROWS) if i != 7)
    small_row_numbers = sum(i + 2 for i in range(SMALL_ROWS) if i != 7)
    assert after["events"] == (49, 49, small_scores, 0, small_row_numbers)
    assert after["quarantine"] == (1, 1, 9)  # r7 is on spreadsheet row 9

    # The next run loads the big file once; the result is exactly a clean run's.
    _ingest_inbox(warehouse, home, clock)
    again = _state(warehouse)
    clean = _clean_run_state(tmp_path, clock)
    assert again == clean
    # and by hand: big restates r0..r49, so 300000 - 300 bad events; r7 of small stays quarantined
    big_scores = sum(i % 11 for i in range(BIG_ROWS) if i % 1000 != 7)
    assert again["events"][:4] == (BIG_ROWS - BIG_BAD, BIG_ROWS - BIG_BAD, big_scores, 299_700)
    assert [row[:2] for row in again["ledger"]] == [("big.csv", "loaded"), ("small.csv", "loaded")]
    big_row = next(r for r in again["ledger"] if r[0] == "big.csv")
    assert big_row[3:] == (BIG_ROWS - BIG_BAD, 0, BIG_BAD)
    assert again["quarantine"][:2] == (BIG_BAD + 1, BIG_BAD + 1)


def test_a_failed_ledger_write_rolls_back_the_files_events(home, clock, monkeypatch):
    """The events and the ledger row commit together: no ledger row, no events."""
    small = home / "inbox" / "nps" / "small.csv"
    _write_nps(small, SMALL_ROWS, bad_every=SMALL_ROWS)
    original = ledger.write_ledger

    def failing(con, outcome, now):
        if outcome.status == "loaded":
            raise duckdb.IOException("disk full (simulated)")
        return original(con, outcome, now)

    monkeypatch.setattr(ledger, "write_ledger", failing)
    _ingest_inbox(home / "warehouse.duckdb", home, clock)
    state = _state(home / "warehouse.duckdb")
    assert state["events"][0] == 0
    assert state["quarantine"][0] == 0
    [(name, status, _sha, loaded, filtered, quarantined)] = state["ledger"]
    assert (name, status, loaded, filtered, quarantined) == ("small.csv", "rejected", 0, 0, 0)


RUN_SCRIPT = r"""
import os, sys, time
from pathlib import Path
from pipelines.ingestion import upsert

marker = Path(sys.argv[1])
original = upsert.apply_staged
def frozen(*args, **kwargs):
    result = original(*args, **kwargs)
    marker.write_text("inside the nps transaction")
    time.sleep(600)
    return result
upsert.apply_staged = frozen

from pipelines.cli import main
sys.exit(main(["run"]))
"""


def test_a_killed_outcomeloop_run_does_not_block_the_next_run(pipeline_home, tmp_path):
    """SIGKILL an `outcomeloop run` inside a file's transaction: the run never ends by itself and
    holds the warehouse pool's slot, so the next run must release it (else it would wait forever),
    then load everything exactly once."""
    home = pipeline_home
    script = tmp_path / "run_and_freeze.py"
    script.write_text(RUN_SCRIPT)
    marker = tmp_path / "marker"
    env = _env(home)
    proc = _start_and_freeze([sys.executable, str(script), str(marker)], marker, env)
    _sigkill(proc)

    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        info = instance.event_log_storage.get_concurrency_info("warehouse")
        assert len(info.claimed_slots) == 1  # the dead run still holds the slot
        [dead] = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    finally:
        instance.dispose()

    done = subprocess.run(
        [*OUTCOMELOOP, "run"], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert f"released run {dead.run_id[:8]}" in done.stdout
    # 5 files; nps: 6 rows, one (score 11) quarantined
    assert "files: 5 loaded, 0 duplicate, 0 rejected" in done.stdout
    with duckdb_connection(home / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("SELECT count(*) FROM events.nps").fetchone() == (5,)
        assert con.execute("SELECT count(*) FROM ops.file_ledger").fetchone() == (5,)
        assert con.execute("SELECT count(*) FROM ops.quarantine").fetchone() == (1,)

    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots == []
    finally:
        instance.dispose()


PUBLISH_SCRIPT = r"""
import sys, time
from datetime import datetime
from pathlib import Path

from metrics.sources import load_sources
from metrics.strategy import load_strategy
from metrics.store.warehouse import connect, ensure_schema
from pipelines import publish

home, marker = Path(sys.argv[1]), Path(sys.argv[2])
original = publish._responses
def frozen(*args):
    original(*args)
    marker.write_text("half-way through the snapshot")
    time.sleep(600)
publish._responses = frozen

con = connect(home / "warehouse.duckdb")
ensure_schema(con)
publish.publish_snapshot(
    con, home / "serving" / "current.duckdb", load_strategy(home / "strategy.yaml"), "sha",
    load_sources(home / "sources.yaml"), datetime(2025, 3, 21), "http://dagster")
"""


def _publish(home: Path, built_at: datetime) -> None:
    with duckdb_connection(home / "warehouse.duckdb") as con:
        publish_snapshot(
            con,
            home / "serving" / "current.duckdb",
            load_strategy(home / "strategy.yaml"),
            file_sha256(home / "strategy.yaml"),
            load_sources(home / "sources.yaml"),
            built_at,
            "http://dagster",
        )


def _built_at(snapshot: Path) -> datetime:
    return query_snapshot(snapshot, "SELECT built_at FROM serving.meta").to_pylist()[0]["built_at"]


def test_a_killed_publish_leaves_the_snapshot_whole_and_its_temp_file_harmless(
    pipeline_home, clock, tmp_path
):
    home = pipeline_home
    _ingest_inbox(home / "warehouse.duckdb", home, clock)
    _publish(home, datetime(2025, 3, 20))
    snapshot = home / "serving" / "current.duckdb"

    script = tmp_path / "publish_and_freeze.py"
    script.write_text(PUBLISH_SCRIPT)
    marker = tmp_path / "marker"
    proc = _start_and_freeze(
        [sys.executable, str(script), str(home), str(marker)], marker, _env(home)
    )
    _sigkill(proc)

    stale = sorted(p.name for p in (home / "serving").glob(".next-*.duckdb"))
    assert len(stale) == 1  # the killed publish's half-written file
    # readers still see the last complete snapshot, the dashboard included
    assert _built_at(snapshot) == datetime(2025, 3, 20)
    from dashboard import queries

    meta = queries.current(snapshot)
    assert meta is not None and meta.built_at == datetime(2025, 3, 20)
    rows = query_snapshot(snapshot, "SELECT count(*) AS n FROM serving.responses").to_pylist()
    assert rows == [{"n": 5}]

    # the next publish works beside the stale file and replaces the snapshot
    _publish(home, datetime(2025, 3, 22))
    assert _built_at(snapshot) == datetime(2025, 3, 22)
    # a temp file untouched for an hour is a dead publish's: the next publish removes it
    for path in (home / "serving").glob(".next-*"):
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    _publish(home, datetime(2025, 3, 23))
    assert sorted(p.name for p in (home / "serving").iterdir()) == ["current.duckdb", "parts"]
    assert _built_at(snapshot) == datetime(2025, 3, 23)
    # the parts the killed publish wrote are named by no snapshot: gone once an hour old
    parts = home / "serving" / "parts"
    for path in parts.rglob("*.parquet"):
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    _publish(home, datetime(2025, 3, 24))
    named = {f for table in read_manifest(parts).values() for f in table.values()}
    assert {str(p.resolve()) for p in parts.rglob("*.parquet")} == named


# --- concurrency ----------------------------------------------------------------------------------


#: `outcomeloop run`, logging when each asset holds the warehouse open (one JSON line each).
LOGGED_RUN_SCRIPT = r"""
import json, os, sys, time
from contextlib import contextmanager
from pathlib import Path

from pipelines.defs.resources import OutcomeLoopResource

log = Path(sys.argv[1])
original = OutcomeLoopResource.connect

@contextmanager
def logged(self, *args, **kwargs):
    with original(self, *args, **kwargs) as con:
        opened = time.time()
        try:
            yield con
        finally:
            with log.open("a") as fh:
                fh.write(json.dumps([os.getpid(), opened, time.time()]) + "\n")

OutcomeLoopResource.connect = logged
from pipelines.cli import main
sys.exit(main(["run"]))
"""


def test_two_runs_that_want_to_write_at_once_are_serialized(pipeline_home, tmp_path):
    home = pipeline_home
    env = _env(home)
    script, log = tmp_path / "logged_run.py", tmp_path / "connections.jsonl"
    script.write_text(LOGGED_RUN_SCRIPT)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(log)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        outputs.append((proc.returncode, out.decode(), err.decode()))
    for code, out, err in outputs:
        assert code == 0, out + err[-3000:]
        assert "Traceback" not in out + err
        for lock_error in ("Could not set lock", "Conflicting lock", "WarehouseBusy"):
            assert lock_error not in out + err

    # Every step of both runs opened the warehouse (8 ingestion + the marts + serving = 10 each),
    # the two runs were under way at the same time, and no two of them held it at once.
    held = sorted(tuple(json.loads(line)) for line in log.read_text().splitlines())
    by_pid: dict[int, list[tuple[float, float]]] = {}
    for pid, opened, closed in held:
        by_pid.setdefault(pid, []).append((opened, closed))
    assert sorted(len(v) for v in by_pid.values()) == [10, 10]
    (a_first, a_last), (b_first, b_last) = sorted(
        (min(o for o, _ in v), max(c for _, c in v)) for v in by_pid.values()
    )
    assert b_first < a_last  # they competed for the warehouse
    windows = sorted((opened, closed) for _, opened, closed in held)
    for (_, closed), (opened_next, _) in zip(windows, windows[1:], strict=False):
        assert opened_next >= closed

    # Between them, every file was loaded exactly once (whichever run got there first).
    loaded = sum(int(_field(out, "files:", "loaded")) for _, out, _ in outputs)
    rows = sum(int(_field(out, "rows:", "loaded")) for _, out, _ in outputs)
    assert loaded == 5  # nps, revenue, upsell, readiness, feedback_actions
    with duckdb_connection(home / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ops.file_ledger").fetchone() == (5,)
        events = con.execute(
            "SELECT (SELECT count(*) FROM events.nps) + (SELECT count(*) FROM events.revenue) "
            "+ (SELECT count(*) FROM events.upsell) + (SELECT count(*) FROM events.readiness) "
            "+ (SELECT count(*) FROM events.feedback_actions)"
        ).fetchone()[0]
        assert events == rows
        nps_all = con.execute(
            "SELECT value, n FROM marts.measure_values WHERE measure = 'nps' AND unit = 'all'"
        ).fetchall()
    assert nps_all == [(pytest.approx(20.0), 5)]  # as in tests/test_pipeline.py


def _field(text: str, prefix: str, word: str) -> str:
    line = next(line for line in text.splitlines() if line.startswith(prefix))
    parts = line.replace(",", "").split()
    return parts[parts.index(word) - 1]


READER_SCRIPT = r"""
import json, sys, time
from pathlib import Path
from metrics.store.warehouse import query_snapshot

snapshot, stop, report = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
reads, errors, seen = 0, [], set()
while not stop.exists():
    try:
        built = query_snapshot(snapshot, "SELECT built_at FROM serving.meta").to_pylist()
        n = query_snapshot(snapshot, "SELECT count(*) AS n FROM serving.responses "
                           "WHERE source = 'nps'").to_pylist()
        seen.add((str(built[0]["built_at"]), n[0]["n"]))
        reads += 1
    except Exception as exc:  # counted: the test expects none
        errors.append(f"{type(exc).__name__}: {exc}")
report.write_text(json.dumps({"reads": reads, "errors": errors, "seen": sorted(seen)}))
"""


def test_the_snapshot_stays_readable_from_another_process_during_20_ingestion_runs(
    pipeline_home, tmp_path
):
    home = pipeline_home
    from pipelines.cli import materialize_all

    cfg = settings()
    assert materialize_all(cfg).success
    snapshot = cfg.snapshot
    script, stop, report = tmp_path / "reader.py", tmp_path / "stop", tmp_path / "report.json"
    script.write_text(READER_SCRIPT)
    reader = subprocess.Popen(
        [sys.executable, str(script), str(snapshot), str(stop), str(report)], env=_env(home)
    )
    selection = [dg.AssetKey("nps_events"), dg.AssetKey("serving")]  # ingest, then publish
    try:
        for run in range(20):
            path = home / "inbox" / "nps" / f"more_{run:02d}.csv"
            path.write_text(
                "response_id,responded_at,unit,score,account_id,comment\n"
                f"x{run},2025-03-15 10:00:00,A,9,acc9,more\n"
            )
            stamp = time.time() - 60
            os.utime(path, (stamp, stamp))
            result = materialize_all(cfg, selection=selection)
            assert result.success
    finally:
        stop.touch()
        reader.wait(timeout=60)
    outcome = json.loads(report.read_text())
    assert outcome["errors"] == []
    assert outcome["reads"] >= 20
    # the reader saw several snapshots, each whole: n only ever one of 5..25
    assert {n for _, n in outcome["seen"]} <= set(range(5, 26))
    assert len(outcome["seen"]) >= 3
    final = query_snapshot(
        snapshot, "SELECT count(*) AS n FROM serving.responses WHERE source = 'nps'"
    ).to_pylist()
    assert final == [{"n": 25}]  # 5 + one response in each of the 20 files


def test_outcomeloop_run_waits_for_a_process_holding_the_warehouse_and_says_so(
    pipeline_home, tmp_path
):
    home = pipeline_home
    warehouse = home / "warehouse.duckdb"
    hold = 4.0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
            "con.execute('CREATE TABLE IF NOT EXISTS held (x INT)'); "
            "print('held', flush=True); time.sleep(float(sys.argv[2])); con.close()",
            str(warehouse),
            str(hold),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    done = subprocess.run(
        [*OUTCOMELOOP, "run"], env=_env(home), capture_output=True, text=True, timeout=240
    )
    holder.wait(timeout=30)
    holder.stdout.close()
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert (
        "waiting: warehouse.duckdb is busy in another process; waiting for it (up to 600s)"
        in done.stdout
    )
    assert time.monotonic() - started >= hold - 1.0
    assert "files: 5 loaded, 0 duplicate, 0 rejected" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


# --- configuration errors -------------------------------------------------------------------------

VALID_STRATEGY = (FIXTURE / "strategy.yaml").read_text()

BROKEN_STRATEGIES = {
    "unknown_key": (VALID_STRATEGY.replace("period: month", "periode: month"), "periode"),
    "bad_kind": (
        VALID_STRATEGY.replace("kind: nps, min_n: 1", "kind: median, min_n: 1"),
        "measures.nps",
    ),
    "threshold_off_scale": (
        VALID_STRATEGY.replace("threshold: 3.5", "threshold: 9"),
        "readiness.threshold",
    ),
    "tree_unknown_measure": (
        VALID_STRATEGY.replace("measure: nps\n", "measure: nsp\n"),
        "tree.children[0].children[0].measure",
    ),
    "not_yaml": ("name: [unclosed\n  - x: {\n", "<file>"),
    "a_list": ("- just\n- a list\n", "<root>"),
    "tabs_and_binary": ("name:\t\x00\x01\n", "<file>"),
}

BROKEN_SOURCES = {
    "unknown_source": ("sources:\n  npss: {format: csv}\n", "sources.npss"),
    "unknown_format": ("sources:\n  nps: {format: excel}\n", "sources.nps.format"),
    "bad_zone": ("sources:\n  nps: {timezone: Mars/Olympus}\n", "sources.nps.timezone"),
    "unknown_column": ("sources:\n  nps: {columns: {scroe: Q1}}\n", "sources.nps.columns.scroe"),
    "negative_limit": ("max_file_mb: -1\n", "max_file_mb"),
    "limit_not_a_number": ("max_file_mb: huge\n", "max_file_mb"),
    "where_not_a_mapping": ("sources:\n  nps: {where: [a, b]}\n", "sources.nps.where"),
    "not_yaml": ("sources: {nps: [\n", "<file>"),
}


def _check(home: Path, strategy: str, sources: str) -> subprocess.CompletedProcess:
    (home / "strategy.yaml").write_text(strategy, encoding="utf-8")
    (home / "sources.yaml").write_text(sources, encoding="utf-8")
    return subprocess.run(
        [*OUTCOMELOOP, "check", str(home / "strategy.yaml")],
        env=_env(home, OUTCOMELOOP_SOURCES=str(home / "sources.yaml")),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("case", sorted(BROKEN_STRATEGIES))
def test_outcomeloop_check_names_the_yaml_path_of_a_broken_strategy(home, case):
    text, path = BROKEN_STRATEGIES[case]
    done = _check(home, text, "sources: {}\n")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert f"FAIL {home / 'strategy.yaml'}" in done.stdout
    assert f"  - {path}" in done.stdout, done.stdout
    assert f"ok   {home / 'sources.yaml'}" in done.stdout


@pytest.mark.parametrize("case", sorted(BROKEN_SOURCES))
def test_outcomeloop_check_names_the_yaml_path_of_broken_sources(home, case):
    text, path = BROKEN_SOURCES[case]
    done = _check(home, VALID_STRATEGY, text)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert f"ok   {home / 'strategy.yaml'}" in done.stdout
    assert f"FAIL {home / 'sources.yaml'}" in done.stdout
    assert f"  - {path}" in done.stdout, done.stdout


def test_outcomeloop_run_with_broken_sources_stops_before_running_with_the_yaml_path(
    pipeline_home,
):
    home = pipeline_home
    (home / "sources.yaml").write_text("sources:\n  nps: {format: excel}\n")
    done = subprocess.run(
        [*OUTCOMELOOP, "run"], env=_env(home), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    assert "sources.nps.format" in done.stderr
    assert not (home / "warehouse.duckdb").exists()  # nothing ran, though files wait in the inbox
