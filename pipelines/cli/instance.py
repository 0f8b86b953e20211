"""The persistent Dagster instance under $OUTCOMELOOP_HOME/dagster, as the command line uses it.

`outcomeloop run` materializes in-process on the same instance that `dagster dev` serves, so the
warehouse concurrency pool applies to both. This module seeds the instance's dagster.yaml from the
repository's template, serializes its first opening across processes, and releases the runs of
`outcomeloop run` processes that died holding the warehouse pool's slot.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock

from metrics.config import DAGSTER_YAML_TEMPLATE, ConfigError, Settings
from metrics.store.files import atomic_write

if TYPE_CHECKING:
    import dagster as dg

log = logging.getLogger(__name__)

#: The instance's storage on PostgreSQL (dagster-postgres): runs, event log (with the concurrency
#: pools' slots) and schedules/sensors (their cursors) in one database. The URL stays in the
#: environment, never in the file.
POSTGRES_STORAGE = """
# PostgreSQL for runs, events, pools and sensor cursors (OUTCOMELOOP_PG_URL was set when this
# instance was prepared; remove this block to go back to SQLite).
storage:
  postgres:
    postgres_url:
      env: OUTCOMELOOP_PG_URL
"""

#: Tags naming the process that runs an in-process materialization, so a later run can tell that
#: it died (SIGKILL, OOM killer, power loss) while holding the warehouse pool's slot.
PID_TAG = "outcomeloop/pid"
HOST_TAG = "outcomeloop/host"


def check_pg_driver(url: str) -> None:
    """Fail early, with the fix, when SQLAlchemy would pick a PostgreSQL driver that is missing.

    SQLAlchemy 2.1 maps a plain `postgresql://` URL to psycopg 3, while dagster-postgres installs
    psycopg2; `postgresql+psycopg2://...` names the installed driver.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
        driver = parsed.get_dialect().driver
    except ArgumentError as exc:  # also an unknown dialect or driver name
        raise ConfigError(
            "OUTCOMELOOP_PG_URL is not a database URL; expected "
            "postgresql+psycopg2://user:password@host:5432/dagster"
        ) from exc
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(
            f"OUTCOMELOOP_PG_URL names a {parsed.get_backend_name()!r} database; the Dagster "
            "instance needs PostgreSQL: postgresql+psycopg2://user:password@host:5432/dagster"
        )
    if importlib.util.find_spec(driver) is None:
        raise ConfigError(
            f"OUTCOMELOOP_PG_URL ({parsed.render_as_string(hide_password=True)}) needs the "
            f"{driver!r} module, which is not installed; write the URL as "
            "postgresql+psycopg2://... (dagster-postgres installs psycopg2: "
            "pip install 'outcomeloop[postgres]')"
        )


def prepare_instance(cfg: Settings) -> Path:
    """Seed $OUTCOMELOOP_HOME/dagster from the repo's dagster.yaml and point DAGSTER_HOME at it.

    With OUTCOMELOOP_PG_URL set, the instance stores everything in PostgreSQL (also when the
    copy already exists without a `storage:` section, so switching on PostgreSQL later works);
    run retries and the warehouse pool come from the template either way. The file is replaced
    whole or not at all, since another process may be reading it.
    """
    home = cfg.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    existing = target.read_text() if target.exists() else None
    text = existing if existing is not None else DAGSTER_YAML_TEMPLATE.read_text()
    if cfg.pg_url:
        check_pg_driver(cfg.pg_url)
        if not any(line.startswith("storage:") for line in text.splitlines()):
            text = text.rstrip("\n") + "\n" + POSTGRES_STORAGE
    if text != existing:
        atomic_write(target, text)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["OUTCOMELOOP_HOME"] = str(cfg.home)
    return home


@contextmanager
def instance_lock(dagster_home: Path) -> Iterator[None]:
    """Serialize opening the Dagster instance across processes on this host.

    On a fresh DAGSTER_HOME, two `outcomeloop run`s starting together would both create the SQLite
    tables and one would fail ("UNIQUE constraint failed: alembic_version"). filelock falls back
    to a soft lock on file systems without flock.
    """
    dagster_home.mkdir(parents=True, exist_ok=True)
    with FileLock(dagster_home / ".instance-init.lock"):
        yield


@contextmanager
def open_instance(cfg: Settings) -> Iterator[dg.DagsterInstance]:
    """`with open_instance(cfg) as instance:` the prepared persistent instance, with the runs of
    dead `outcomeloop run` processes released; disposed of on exit."""
    import dagster as dg

    with instance_lock(cfg.dagster_home):
        prepare_instance(cfg)
        instance = dg.DagsterInstance.get()
    try:
        release_dead_runs(instance)
        yield instance
    finally:
        instance.dispose()


def process_tags() -> dict[str, str]:
    """The run tags that let a later `outcomeloop run` tell whether this process died."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def release_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the runs of `outcomeloop run` processes on this machine that died mid-run, and free
    the warehouse pool slots they held.

    A killed in-process run never reaches a terminal state by itself, so its slot in the
    `warehouse` pool stays claimed and every later run (also `dagster dev`'s) would wait for it
    forever. Nothing is lost by failing it: each file loads in one transaction with its ledger
    row, so the dead run's half-loaded file was rolled back and the next run loads it again.
    Returns the ids of the runs released.
    """
    import dagster as dg

    host = socket.gethostname()
    unfinished = [
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
    ]
    released = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=unfinished)):
        pid, run_host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
        if run_host != host or not pid or not pid.isdigit() or _alive(int(pid)):
            continue
        instance.report_run_failed(
            run, message=f"the process running it (pid {pid}) died; released by a later run"
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
        log.info("released run %s: its process (pid %s) had died mid-run", run.run_id[:8], pid)
    return released
