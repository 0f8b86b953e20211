"""The canonical sources: their columns, types, event keys and time columns (docs/sources.md).

This is the contract between the format adapters (which map a tool's export onto these columns),
the warehouse (`events.<source>` tables) and the measures (which read them).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type of the events column: VARCHAR, TIMESTAMP, DATE, INTEGER, DOUBLE
    required: bool = False


@dataclass(frozen=True)
class SourceSchema:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    time_column: str  # the column that places an event in a period, and tells freshness
    extra: tuple[Column, ...] = ()  # columns the adapters need beyond the canonical ones

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def table_columns(self) -> tuple[Column, ...]:
        """Every column of `events.<source>`: canonical, extra, then lineage (file and row)."""
        return (
            self.columns
            + self.extra
            + (Column("file_path", "VARCHAR"), Column("row_number", "BIGINT"))
        )

    def ddl(self, schema: str = "events") -> str:
        cols = ", ".join(f'"{c.name}" {c.type}' for c in self.table_columns)
        return f'CREATE TABLE IF NOT EXISTS {schema}."{self.name}" ({cols})'


def _c(name: str, type_: str, required: bool = False) -> Column:
    return Column(name, type_, required)


_RESPONSE = (
    _c("response_id", "VARCHAR", True),
    _c("responded_at", "TIMESTAMP", True),  # UTC, naive
    _c("unit", "VARCHAR", True),
)

SOURCES: dict[str, SourceSchema] = {
    s.name: s
    for s in (
        SourceSchema(
            "nps",
            _RESPONSE
            + (_c("score", "INTEGER", True), _c("account_id", "VARCHAR"), _c("comment", "VARCHAR")),
            key=("response_id",),
            time_column="responded_at",
            extra=(_c("updated_at", "TIMESTAMP"),),
        ),
        SourceSchema(
            "ces",
            _RESPONSE
            + (_c("score", "DOUBLE", True), _c("account_id", "VARCHAR"), _c("comment", "VARCHAR")),
            key=("response_id",),
            time_column="responded_at",
            extra=(_c("updated_at", "TIMESTAMP"),),
        ),
        SourceSchema(
            "employee_pulse",
            _RESPONSE + (_c("enps_score", "INTEGER"), _c("wellbeing", "DOUBLE")),
            key=("response_id",),
            time_column="responded_at",
        ),
        SourceSchema(
            "upsell",
            (
                _c("opportunity_id", "VARCHAR", True),
                _c("closed_at", "DATE", True),  # a date: never shifted by a time zone
                _c("unit", "VARCHAR", True),
                _c("amount", "DOUBLE", True),
                _c("account_id", "VARCHAR"),
            ),
            key=("opportunity_id",),
            time_column="closed_at",
        ),
        SourceSchema(
            "revenue",
            (_c("period", "DATE", True), _c("unit", "VARCHAR", True), _c("amount", "DOUBLE", True)),
            key=("period", "unit"),
            time_column="period",
        ),
        SourceSchema(
            "cost",
            (
                _c("period", "DATE", True),
                _c("unit", "VARCHAR", True),
                _c("amount", "DOUBLE", True),
                _c("contacts", "DOUBLE"),
                _c("category", "VARCHAR"),
            ),
            key=("period", "unit", "category"),
            time_column="period",
        ),
        SourceSchema(
            "readiness",
            (
                _c("assessed_at", "DATE", True),
                _c("unit", "VARCHAR", True),
                _c("dimension", "VARCHAR", True),
                _c("score", "DOUBLE", True),
                _c("assessor_id", "VARCHAR"),
            ),
            key=("assessed_at", "unit", "dimension", "assessor_id"),
            time_column="assessed_at",
        ),
        SourceSchema(
            "feedback_actions",
            (
                _c("feedback_id", "VARCHAR", True),
                _c("action_at", "TIMESTAMP", True),
                _c("action_type", "VARCHAR", True),
                _c("owner", "VARCHAR"),
                _c("root_cause", "VARCHAR"),
                _c("note", "VARCHAR"),
            ),
            key=("feedback_id", "action_at", "action_type"),
            time_column="action_at",
        ),
    )
}

SOURCE_NAMES: tuple[str, ...] = tuple(SOURCES)

#: The reserved unit name for the whole organisation.
ALL_UNITS = "all"
