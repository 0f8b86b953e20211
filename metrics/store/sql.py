"""Quoting for the few SQL statements that cannot take parameters (ATTACH, SET, DDL names).

Values in queries are passed as parameters everywhere else; these two helpers are the one place
where a path or a name is written into SQL text, so a home folder with an apostrophe still works.
"""

from __future__ import annotations

from os import PathLike


def literal(value: str | PathLike[str]) -> str:
    """`value` as a SQL string literal: `O'Brien` -> `'O''Brien'`."""
    return "'" + str(value).replace("'", "''") + "'"


def identifier(name: str) -> str:
    """`name` as a quoted SQL identifier (double quotes inside it doubled)."""
    return '"' + str(name).replace('"', '""') + '"'
