"""Write the tables in docs/ that the code defines, so the reference cannot drift from it.

    .venv/bin/python docs/make_reference.py     # rewrites the generated blocks in docs/*.md

Each generated block sits between `<!-- BEGIN generated: NAME -->` and `<!-- END generated: NAME -->`
in a Markdown file; everything around it is written by hand. tests/test_docs.py fails when a
block differs from what this script writes (run it after changing a schema or a config model).
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

from metrics.schemas import SOURCES  # noqa: E402
from metrics.sources import DEFAULT_FRESHNESS_HOURS, SourceConfig, SourcesConfig  # noqa: E402
from metrics.strategy import Strategy  # noqa: E402
from pipelines.ingestion.adapters.jsonl import DELIGHTED_DEFAULTS  # noqa: E402
from pipelines.ingestion.adapters.qualtrics import QUALTRICS_DEFAULTS  # noqa: E402
from pipelines.ingestion.adapters.salesforce import SALESFORCE_DEFAULTS  # noqa: E402
from pipelines.ingestion.rules import RANGES  # noqa: E402


def sources_table() -> str:
    """Every source: its columns (required in bold, with the events column's type), its key."""
    rows = [
        "| source | columns (required in **bold**; type in `events.<source>`) | event key "
        "| period from | stale after (default) |",
        "|---|---|---|---|---|",
    ]
    for schema in SOURCES.values():
        cols = ", ".join(
            (f"**{c.name}**" if c.required else c.name) + f" `{c.type}`" for c in schema.columns
        )
        extra = "".join(f"; adapters also keep {c.name} `{c.type}`" for c in schema.extra)
        hours = DEFAULT_FRESHNESS_HOURS.get(schema.name, 48)
        rows.append(
            f"| `{schema.name}` | {cols}{extra} | {', '.join(schema.key)} | "
            f"{schema.time_column} | {hours:g} h |"
        )
    return "\n".join(rows)


def ranges_table() -> str:
    """The value ranges the rules enforce (ces' score: the configured `scale`)."""
    rows = ["| source | column | allowed |", "|---|---|---|"]
    for (source, column), (low, high) in RANGES.items():
        allowed = f"{low:g}..{high:g}" if high is not None else f">= {low:g}"
        rows.append(f"| `{source}` | {column} | {allowed} |")
    rows.append("| `ces` | score | within `scale` (default 1..7) |")
    rows.append("| `cost` | contacts | > 0 when present |")
    return "\n".join(rows)


def adapter_defaults() -> str:
    """The fields each tool's adapter tries, in order, for a column sources.yaml does not map."""
    rows = ["| format | canonical column | fields tried, in order |", "|---|---|---|"]
    delighted = {column: (name,) for column, name in DELIGHTED_DEFAULTS.items()}
    delighted["account_id"] = ("person", "person.id")
    for fmt, defaults in (
        ("qualtrics", QUALTRICS_DEFAULTS),
        ("salesforce", SALESFORCE_DEFAULTS),
        ("delighted", delighted),
    ):
        for column, names in defaults.items():
            rows.append(f"| `{fmt}` | {column} | {', '.join(f'`{n}`' for n in names)} |")
    return "\n".join(rows)


def _type(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in get_args(annotation))
    if origin in (Union, types.UnionType):
        parts = [a for a in get_args(annotation) if a is not type(None)]
        return " or ".join(_type(a) for a in parts)
    if origin in (list, tuple):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        return f"list of {_type(args[0])}" if args else "list"
    if origin is dict:
        key, value = get_args(annotation)
        return f"mapping {_type(key)} -> {_type(value)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        return "" if isinstance(value, BaseModel) else f"`{value}`"
    if field.default is None or field.default is PydanticUndefined:
        return ""
    value = list(field.default) if isinstance(field.default, tuple) else field.default
    return f"`{value}`"


def keys_table(model: type[BaseModel], prefix: str = "", nested: bool = True) -> str:
    """One row per key of a configuration model (and of the models inside it): its path, what it
    takes, its default, and what it means (the model's own description)."""
    rows = ["| key | takes | default | meaning |", "|---|---|---|---|"]
    rows += _key_rows(model, prefix, nested, seen=set())
    return "\n".join(rows)


def _key_rows(model: type[BaseModel], prefix: str, nested: bool, seen: set) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        rows.append(
            f"| `{path}` | {_type(field.annotation)} | {_default(field)} | "
            f"{field.description or ''} |"
        )
        if not nested:
            continue
        inner, suffix = _inner_model(field.annotation)
        if inner is not None and inner not in seen:
            rows += _key_rows(inner, f"{path}{suffix}.", nested, seen | {inner})
    return rows


def _inner_model(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The model a field holds, and how its path continues (`.`, `.<key>`, `[]`)."""
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    if origin is dict:
        inner, _ = _inner_model(get_args(annotation)[1])
        return inner, ".<name>"
    if origin is list:
        inner, _ = _inner_model(get_args(annotation)[0])
        return inner, "[]"
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            inner, suffix = _inner_model(arg)
            if inner is not None:
                return inner, suffix
    return None, ""


#: (file in docs/, block name) -> what writes it.
BLOCKS: dict[tuple[str, str], Callable[[], str]] = {
    ("sources.md", "sources"): sources_table,
    ("sources.md", "ranges"): ranges_table,
    ("sources.md", "adapter-defaults"): adapter_defaults,
    ("sources.md", "source-keys"): lambda: keys_table(SourceConfig, "sources.<source>."),
    ("sources.md", "top-level-keys"): lambda: keys_table(SourcesConfig, nested=False),
    ("strategy.md", "strategy-keys"): lambda: keys_table(Strategy),
}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- BEGIN generated: {re.escape(name)} -->\n)(.*?)(<!-- END generated: "
        rf"{re.escape(name)} -->)",
        re.DOTALL,
    )


def render(text: str, name: str, content: str) -> str:
    """`text` with the block `name` holding `content`; an error when the block is missing."""
    pattern = _pattern(name)
    if not pattern.search(text):
        raise ValueError(f"no generated block {name!r}")
    return pattern.sub(lambda m: m.group(1) + content + "\n" + m.group(3), text)


def rendered() -> dict[Path, str]:
    """Every docs file with a generated block, as this script would write it."""
    out: dict[Path, str] = {}
    for (file, name), make in BLOCKS.items():
        path = DOCS / file
        out[path] = render(out.get(path, path.read_text(encoding="utf-8")), name, make())
    return out


if __name__ == "__main__":
    for path, text in rendered().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
