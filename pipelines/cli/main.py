"""`outcomeloop`: the command line for data engineers (demo, run, dev, check, status, reload,
schema, themes).

This module parses the arguments, lets the code's log lines through to the terminal and turns
the errors a user can fix into one line on stderr and exit code 2; each command's body lives in a
module beside it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from metrics.config import ConfigError
from metrics.sources import SourcesError
from metrics.strategy import StrategyError
from pipelines.alerts import AlertsError
from pipelines.cli.commands import CliError, cmd_check, cmd_demo, cmd_reload, cmd_run
from pipelines.cli.dev import cmd_dev
from pipelines.cli.report import cmd_status
from pipelines.cli.schema import cmd_schema
from pipelines.cli.terminal import terminal_logging
from pipelines.cli.themes import cmd_themes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outcomeloop",
        description="Track a customer-experience strategy's outcomes against its measures.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="write a realistic demo dataset into the inbox")
    p.add_argument("--months", type=int, default=18, help="months of history (default 18)")
    p.add_argument("--until", help="last day of the history, YYYY-MM-DD (default yesterday, UTC)")
    p.add_argument("--units", nargs="+", help="organisation units (default: five demo units)")
    p.add_argument("--scale", type=float, default=1.0, help="volume multiplier (1 = ~100k events)")
    p.add_argument("--seed", type=int, default=7, help="random seed (same seed, same bytes)")
    p.add_argument("--live", action="store_true", help="then keep dropping new days' files")
    p.add_argument("--every", type=float, default=10, help="seconds between live drops")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "run",
        help="ingest new files, recompute the marts, publish the snapshot "
        "(exit 0 done, 1 a step failed, 2 invalid configuration, 3 a file was rejected)",
    )
    p.add_argument(
        "--verbose", action="store_true", help="show Dagster's log here instead of in a file"
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("dev", help="start Dagster (event-driven loop) and the dashboard together")
    p.add_argument("--dagster-port", type=int, default=3000)
    p.add_argument("--dashboard-port", type=int, default=8501)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser(
        "check",
        help="validate strategy.yaml, sources.yaml, alerts.yaml and access.yaml, listing every "
        "problem; preview the landed files not judged yet (writes nothing)",
    )
    p.add_argument("strategy", nargs="?", help="strategy file (default: the configured one)")
    p.add_argument("--sources", help="sources file (default: the configured one)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "status", help="freshness per source, ledger and quarantine counts, snapshot age"
    )
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("reload", help="rebuild one source's events from all its landed files")
    p.add_argument("source", help="source name, e.g. nps")
    p.add_argument(
        "--verbose", action="store_true", help="show Dagster's log here instead of in a file"
    )
    p.set_defaults(func=cmd_reload)

    p = sub.add_parser(
        "schema",
        help="write JSON Schemas of strategy.yaml, sources.yaml and alerts.yaml for editors",
    )
    p.add_argument("--out", help="folder to write them to (default: $OUTCOMELOOP_HOME/schemas)")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("themes", help="help write strategy.yaml's comment themes")
    themes = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = themes.add_parser(
        "suggest", help="candidate phrases from detractor comments, printed as YAML to paste"
    )
    p.add_argument("--source", choices=["nps", "ces"], default="nps", help="default nps")
    p.add_argument("--top", type=int, default=20, help="how many phrases (default 20)")
    p.set_defaults(func=cmd_themes)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with terminal_logging():
            return args.func(args)
    except (ConfigError, CliError, StrategyError, SourcesError, AlertsError) as exc:
        print(f"outcomeloop: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `outcomeloop status | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE  # what the shell reports for a process ended by SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
