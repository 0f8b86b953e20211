"""`outcomeloop dev`: Dagster (the event-driven loop) and the dashboard as one foreground command.

Both children run in their own process groups, so Ctrl-C (or a `kill` of this process) reaches
them as Ctrl-C reaches `dagster dev`: it shuts its daemon and webserver down cleanly; whatever is
still running after a grace period gets SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from metrics.config import DASHBOARD_APP, REPO_ROOT, WORKSPACE_YAML, settings
from pipelines.cli.instance import prepare_instance

#: Per signal, how long the children get to stop before the next, harder one.
STOP_SEQUENCE = ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, 5))


#: Hosts only this machine reaches.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def cmd_dev(args: argparse.Namespace) -> int:
    cfg = settings()
    prepare_instance(cfg)
    if args.host not in LOOPBACK:
        unguarded = "the Dagster UI" + (" and the dashboard" if cfg.access_path is None else "")
        print(
            f"warning: {unguarded} will answer anyone who reaches {args.host} without a sign-in; "
            "docs/deploy.md shows how to share them safely"
        )
    env = dict(os.environ)
    bin_dir = Path(sys.executable).parent
    dagster = shutil.which("dagster", path=str(bin_dir)) or "dagster"
    # `kill` stops both children as Ctrl-C does, also when started from a script in the
    # background (where SIGINT arrives ignored and the children would inherit that)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    dagster_cmd = [
        dagster,
        "dev",
        "-w",
        str(WORKSPACE_YAML),
        "-p",
        str(args.dagster_port),
        "-h",
        args.host,
    ]
    dashboard_cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(DASHBOARD_APP),
        "--server.port",
        str(args.dashboard_port),
        "--server.address",
        args.host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    procs = [_start(dagster_cmd, env), _start(dashboard_cmd, env)]
    shown = "localhost" if args.host in ("0.0.0.0", "127.0.0.1") else args.host
    print(f"Dagster UI:  http://{shown}:{args.dagster_port}")
    print(f"Dashboard:   http://{shown}:{args.dashboard_port}")
    print(f"DAGSTER_HOME={cfg.dagster_home}  (Ctrl-C stops both)")
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        return next(p.returncode for p in procs if p.poll() is not None) or 1
    except KeyboardInterrupt:
        print("\nstopping Dagster and the dashboard")
        return 0
    finally:
        stop(procs)


def _start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    """A child in its own session (so Ctrl-C on the terminal reaches it only through `stop`),
    with SIGINT's default action restored."""
    return subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=env, start_new_session=True, preexec_fn=_default_sigint
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def stop(procs: list[subprocess.Popen]) -> None:
    """Ctrl-C semantics for both children (dagster dev shuts its daemon and webserver down on
    SIGINT), then SIGTERM and SIGKILL for whatever is still there."""
    for sig, wait in STOP_SEQUENCE:
        alive = [p for p in procs if p.poll() is None]
        if not alive:
            return
        for p in alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, sig)
        deadline = time.monotonic() + wait
        for p in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
