"""JSON exports (`jsonl`, `delighted`): one object per record, fields by dotted path.

Format facts (see tests/fixtures/samples/README.md): Delighted writes response objects (an
array, JSON Lines, or an API list) or webhook events that wrap one in `event_data`; `created_at`
and `updated_at` are epoch seconds; `person` is an id, or an object with an `id` when the API call
expanded it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from metrics.schemas import SourceSchema
from metrics.sources import SourceConfig
from pipelines.ingestion.adapters.plan import (
    FileRejected,
    Params,
    Plan,
    lacks_columns,
    text_encoding,
    wanted_columns,
    where_filter,
)

DELIGHTED_DEFAULTS: dict[str, str] = {
    "response_id": "id",
    "responded_at": "created_at",
    "score": "score",
    "comment": "comment",
    "updated_at": "updated_at",
}

#: A Delighted person as an id, or an object with an id (an expanded API call).
_DELIGHTED_PERSON = (
    "CASE WHEN json_type(__obj, '$.person') = 'OBJECT' "
    "THEN json_extract_string(__obj, '$.person.id') "
    "ELSE json_extract_string(__obj, '$.person') END"
)


def json_path(dotted: str) -> str:
    """`person_properties.Unit` -> `$."person_properties"."Unit"` (keys may hold spaces)."""
    return "$." + ".".join('"' + p.replace('"', '\\"') + '"' for p in dotted.split("."))


def plan_json(
    con: duckdb.DuckDBPyConnection,
    schema: SourceSchema,
    path: Path,
    cfg: SourceConfig,
    params: Params,
    raw_table: str,
) -> Plan:
    """Plan the read of a JSON export; its objects are materialised once in `raw_table`."""
    text_encoding(path, "JSON")
    # Materialise the objects once: presence checks and staging both read them.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {raw_table} AS "
        f"SELECT json AS __json FROM read_json_objects($path, format = 'auto')",
        {"path": str(path)},
    )
    delighted = cfg.format == "delighted"
    # webhook events carry the response in event_data; everything else is the response itself
    obj = (
        "CASE WHEN json_type(__json, '$.event_data') = 'OBJECT' "
        "THEN json_extract(__json, '$.event_data') ELSE __json END"
        if delighted
        else "__json"
    )
    relation = f"(SELECT __json, {obj} AS __obj FROM {raw_table})"

    def get(dotted: str) -> str:
        return f"json_extract_string(__obj, {params(json_path(dotted))})"

    fields: dict[str, str] = {}
    field_names: dict[str, str] = {}
    for col in wanted_columns(schema, cfg):
        explicit = cfg.columns.get(col)
        if explicit is None and delighted and col == "account_id":
            fields[col], field_names[col] = _DELIGHTED_PERSON, "person"
            continue
        dotted = explicit or (DELIGHTED_DEFAULTS.get(col, col) if delighted else col)
        fields[col], field_names[col] = get(dotted), dotted

    # A required field that no record carries is a mapping problem, not a thousand bad rows.
    required = [c for c in schema.required if c in fields]
    sql = f"SELECT count(*), {', '.join(f'count({fields[c]})' for c in required)} FROM {relation}"
    counts = con.execute(sql, params.used(sql)).fetchone()
    assert counts is not None
    if counts[0] == 0:
        raise FileRejected(f"{path}: holds no JSON objects")
    missing = [
        c if field_names[c] == c else f"{c} (mapped to {field_names[c]!r})"
        for c, n in zip(required, counts[1:], strict=True)
        if n == 0
    ]
    if missing:
        raise lacks_columns(path, missing, ": no record has that field")
    filters = [
        where_filter(get(raw_field), raw_field, allowed, params)
        for raw_field, allowed in cfg.where.items()
    ]
    return Plan(
        file=path,
        format=cfg.format,
        relation=relation,
        fields=fields,
        field_names=field_names,
        filters=filters,
        record="CAST(__json AS VARCHAR)",
        first_row=1,
        timezone=cfg.timezone,
        epoch_seconds=True,
    )
