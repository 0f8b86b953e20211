"""Parquet exports: typed columns read as text, fields inside struct columns by dotted path."""

from __future__ import annotations

from pathlib import Path

import duckdb

from metrics.schemas import SourceSchema
from metrics.sources import SourceConfig
from metrics.store.sql import identifier
from pipelines.ingestion.adapters.plan import (
    Params,
    Plan,
    lacks_columns,
    lookup,
    preview,
    wanted_columns,
    where_filter,
)


def plan_parquet(
    con: duckdb.DuckDBPyConnection,
    schema: SourceSchema,
    path: Path,
    cfg: SourceConfig,
    params: Params,
) -> Plan:
    """Plan the read of a Parquet file: each canonical column cast to text, as in a CSV."""
    relation = f"read_parquet({params(str(path))})"
    names = [
        r[0]
        for r in con.execute(f"DESCRIBE SELECT * FROM {relation}", params.used(relation)).fetchall()
    ]

    def expr(name: str) -> str | None:
        col = lookup(names, names, name)
        if col is not None:
            return f"CAST({identifier(col)} AS VARCHAR)"
        head, _, rest = name.partition(".")
        col = lookup(names, names, head)
        if col is not None and rest:  # a field inside a struct column
            path_sql = ".".join([identifier(col)] + [identifier(p) for p in rest.split(".")])
            return f"CAST({path_sql} AS VARCHAR)"
        return None

    fields, field_names, missing = {}, {}, []
    for col in wanted_columns(schema, cfg):
        wanted = cfg.columns.get(col, col)
        found = expr(wanted)
        if found is None:
            if col in schema.required:
                missing.append(col if wanted == col else f"{col} (mapped to {wanted!r})")
            continue
        fields[col], field_names[col] = found, wanted
    filters = []
    for raw_field, allowed in cfg.where.items():
        found = expr(raw_field)
        if found is None:
            missing.append(f"{raw_field} (named under where:)")
            continue
        filters.append(where_filter(found, raw_field, allowed, params))
    if missing:
        raise lacks_columns(path, missing, f"; its columns are: {preview(names)}")
    record = "json_object(" + ", ".join(f"{params(n)}, {identifier(n)}" for n in names) + ")"
    return Plan(
        file=path,
        format="parquet",
        relation=relation,
        fields=fields,
        field_names=field_names,
        filters=filters,
        record=record,
        first_row=1,
        timezone=cfg.timezone,
        epoch_seconds=True,
    )
