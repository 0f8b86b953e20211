"""The `outcomeloop` command line: `main.py` parses and dispatches, `commands.py` holds check,
run, reload and demo, `instance.py` the Dagster instance, `dev.py` the two-process supervisor,
`report.py` the run summary and status table, `schema.py` the editors' JSON Schemas.

The entry points other code and the tests use are importable from here.
"""

from pipelines.cli.commands import materialize_all
from pipelines.cli.instance import prepare_instance, release_dead_runs
from pipelines.cli.main import build_parser, main

__all__ = ["build_parser", "main", "materialize_all", "prepare_instance", "release_dead_runs"]
