"""The Dagster instance on PostgreSQL: runs, events and sensor cursors in the database.

The `postgres` test starts a real, throw-away PostgreSQL server (its own data directory, a free
port, its socket in a temporary folder) and always stops it. It skips with the reason when the
server binaries, dagster-postgres, or (as root) a non-root user to run the server are missing.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import yaml

from metrics.config import REPO_ROOT, ConfigError, settings
from pipelines.cli import prepare_instance

PG_USER = "outcomeloop"


# --- the instance file (no server needed) --------------------------------------------------------


def test_pg_url_puts_every_instance_store_in_postgres(tmp_path):
    cfg = settings(
        {
            "OUTCOMELOOP_HOME": str(tmp_path),
            "OUTCOMELOOP_PG_URL": "postgresql+psycopg2://u@h/dagster",
        }
    )
    config = yaml.safe_load((prepare_instance(cfg) / "dagster.yaml").read_text())
    # dagster-postgres 0.29: one `storage.postgres` block for runs, events and schedules; the URL
    # itself stays in the environment, never in the file.
    assert config["storage"] == {"postgres": {"postgres_url": {"env": "OUTCOMELOOP_PG_URL"}}}
    assert config["run_retries"] == {"enabled": True, "max_retries": 2}
    assert config["concurrency"]["pools"]["default_limit"] == 1


def test_sqlite_stays_the_default_and_postgres_can_be_switched_on_later(tmp_path):
    target = prepare_instance(settings({"OUTCOMELOOP_HOME": str(tmp_path)})) / "dagster.yaml"
    assert "storage" not in yaml.safe_load(target.read_text())
    cfg = settings(
        {
            "OUTCOMELOOP_HOME": str(tmp_path),
            "OUTCOMELOOP_PG_URL": "postgresql+psycopg2://u@h/dagster",
        }
    )
    prepare_instance(cfg)
    prepare_instance(cfg)  # idempotent: one storage block, not two
    text = target.read_text()
    assert text.count("storage:") == 1
    assert yaml.safe_load(text)["storage"]["postgres"]["postgres_url"] == {
        "env": "OUTCOMELOOP_PG_URL"
    }


def test_a_pg_url_whose_driver_is_missing_fails_with_the_fix(tmp_path):
    import importlib.util

    if importlib.util.find_spec("pg8000") is not None:
        pytest.skip("pg8000 is installed here, so its URL is valid")
    cfg = settings(
        {"OUTCOMELOOP_HOME": str(tmp_path), "OUTCOMELOOP_PG_URL": "postgresql+pg8000://u@h/d"}
    )
    with pytest.raises(ConfigError, match=r"needs the 'pg8000' module.*postgresql\+psycopg2://"):
        prepare_instance(cfg)
    cfg = settings({"OUTCOMELOOP_HOME": str(tmp_path), "OUTCOMELOOP_PG_URL": "mysql://u@h/d"})
    with pytest.raises(ConfigError, match="needs PostgreSQL"):
        prepare_instance(cfg)


# --- a real server -------------------------------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    # Debian keeps the server binaries off the PATH, one folder per major version.
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL server with an empty `dagster` database; stopped and removed after."""
    pytest.importorskip("dagster_postgres", reason="dagster-postgres is not installed")
    psycopg2 = pytest.importorskip("psycopg2", reason="psycopg2 is not installed")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        )
    run_as: dict = {}
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run the server as")
        run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    # Not under pytest's tmp_path: its parents are private to root, the server user must enter.
    root = Path(tempfile.mkdtemp(prefix="outcomeloop-pg-"))
    if run_as:
        os.chown(root, run_as["user"], run_as["group"])
    data, port = root / "data", _free_port()

    def as_server_user(*args: str) -> None:
        done = subprocess.run(list(args), capture_output=True, text=True, cwd=root, **run_as)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    started = False
    try:
        as_server_user(
            initdb, "-D", str(data), "-U", PG_USER, "-A", "trust", "-E", "UTF8", "--no-sync"
        )
        as_server_user(
            pg_ctl, "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60", "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start",
        )  # fmt: skip
        started = True
        admin = psycopg2.connect(host="127.0.0.1", port=port, user=PG_USER, dbname="postgres")
        try:
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute("CREATE DATABASE dagster")
        finally:
            admin.close()
        # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; dagster-postgres brings psycopg2.
        yield f"postgresql+psycopg2://{PG_USER}@127.0.0.1:{port}/dagster"
    finally:
        if started:
            as_server_user(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg2

    con = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        with con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        con.close()


@pytest.mark.postgres
def test_whole_graph_runs_on_a_postgres_instance(postgres_url, home, monkeypatch):
    import dagster as dg

    from pipelines import demo
    from pipelines.cli import materialize_all
    from pipelines.defs.sensors import inbox_sensor

    demo.generate(home, months=2, scale=0.02, until=date(2026, 6, 30))
    monkeypatch.setenv("OUTCOMELOOP_PG_URL", postgres_url)

    result = materialize_all(settings())
    assert result.success
    assert (home / "serving" / "current.duckdb").is_file()

    # The run, its events and the marts' materializations are in PostgreSQL (no SQLite files).
    assert _query(postgres_url, "SELECT status FROM runs WHERE run_id = %s", (result.run_id,)) == [
        ("SUCCESS",)
    ]
    materialized = {
        row[0]
        for row in _query(
            postgres_url,
            "SELECT asset_key FROM event_logs WHERE run_id = %s "
            "AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (result.run_id,),
        )
    }
    assert '["measure_values"]' in materialized and '["nps_events"]' in materialized
    assert not list((home / "dagster").glob("**/*.db"))

    # The inbox sensor's cursor, evaluated against this inbox and stored through the instance by
    # Dagster's own CLI (the call the UI's "set cursor" makes), is found in PostgreSQL.
    instance = dg.DagsterInstance.get()
    try:
        evaluation = inbox_sensor(dg.build_sensor_context(instance=instance))
    finally:
        instance.dispose()
    cursor = evaluation.cursor
    assert json.loads(cursor)["nps"]["listing"] is not None  # the landed nps files are in it
    dagster_cli = Path(sys.executable).with_name("dagster")
    subprocess.run(
        [str(dagster_cli), "sensor", "cursor", "inbox_sensor", "--set", cursor,
         "-m", "pipelines.definitions"],
        check=True, capture_output=True, cwd=REPO_ROOT, env=dict(os.environ),
    )  # fmt: skip
    stored = [
        dg.deserialize_value(body)
        for (body,) in _query(postgres_url, "SELECT instigator_body FROM instigators")
    ]
    sensors = {s.instigator_name: s for s in stored}
    assert sensors["inbox_sensor"].instigator_data.cursor == cursor
