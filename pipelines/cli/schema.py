"""`outcomeloop schema`: JSON Schemas for strategy.yaml, sources.yaml and alerts.yaml, for editors.

The schemas come from the same pydantic models that load the files, so an editor (VS Code's YAML
extension, or any yaml-language-server client) completes keys and flags typos with the rules
`outcomeloop check` applies to each field. Rules that span fields (a tree's ids unique, a measure
named by a node defined) stay with `outcomeloop check`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from metrics.config import settings
from metrics.store.files import atomic_write

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schemas() -> dict[str, dict]:
    """File name -> JSON Schema, one per configuration file."""
    from metrics.sources import SourcesConfig
    from metrics.strategy import Strategy
    from pipelines.alerts.config import AlertsConfig

    return {
        "strategy.schema.json": _with_dialect(Strategy.model_json_schema()),
        "sources.schema.json": _with_dialect(SourcesConfig.model_json_schema()),
        "alerts.schema.json": _with_dialect(AlertsConfig.model_json_schema()),
    }


def _with_dialect(schema: dict) -> dict:
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def write_schemas(folder: Path) -> list[Path]:
    """Write every schema into `folder` (created if missing); returns the paths written."""
    written = []
    for name, schema in schemas().items():
        path = folder / name
        atomic_write(path, json.dumps(schema, indent=2) + "\n")
        written.append(path)
    return written


def cmd_schema(args: argparse.Namespace) -> int:
    folder = Path(args.out).expanduser().resolve() if args.out else settings().home / "schemas"
    paths = write_schemas(folder)
    for path in paths:
        print(path)
    print(
        "VS Code (YAML extension): make this the first line of strategy.yaml "
        f"(and likewise for sources.yaml and alerts.yaml): # yaml-language-server: $schema={paths[0]}"
    )
    return 0
