"""Compiled mart SQL, kept in the warehouse so a refresh does not rebuild and recompile Ibis.

Building a mart's Ibis expression and compiling it to SQL costs more than DuckDB's work on a
small organisation's events (0.1-0.2 s for measure_values against ~0.03 s to run it). The SQL only
changes when one of its inputs does, so it is stored in `ops.compiled_sql` under a key made of
EVERY input that can change it:

- the mart's name and the `extra` values its builder reads (e.g. readiness_gates' period spine);
- the parsed strategy (its canonical JSON, so a re-formatted file with the same meaning hits);
- the `events.*` tables and their column types, as the catalog reports them;
- the code that builds and compiles the expressions (every file of `metrics/` but spark.py, this
  file and `pipelines/marts.py`) and the versions of ibis, sqlglot and duckdb.

The fingerprint hashes the files on disk; it is taken when this module is imported, right after
every formula module is, and trusted only if none of those files changed since the process first
imported its package (`metrics.SOURCE_STATS`, `pipelines.SOURCE_STATS`): otherwise the code
running here may not be the code hashed, and the store is neither read nor written.

Anything else a builder needs that varies between runs must be a SQL-side input, not a literal:
the run's clock is the DuckDB variable `outcomeloop_now` (see `metrics.engine.run_clock`). Small
in-memory tables an expression holds (an empty stand-in, a period spine) are stored beside the SQL
and registered again on a hit. A wrong key would publish stale formulas quietly, so
tests/test_compiled_sql.py checks that every input above changes the key and that a hit gives the
same table as a fresh compile.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

import ibis
import ibis.expr.operations as ops
import pyarrow as pa

import metrics
import pipelines

#: Every file whose code shapes a mart's SQL (metrics/spark.py only runs the same expressions on
#: Spark, where nothing is stored).
_CODE = [
    *sorted(
        p for p in (Path(__file__).parents[1] / "metrics").glob("*.py") if p.name != "spark.py"
    ),
    Path(__file__),
    Path(__file__).parent / "defs" / "marts.py",
]
_LIBRARIES = ("ibis-framework", "sqlglot", "duckdb")
#: How many keys to keep per mart (older ones are deleted when a new one is stored).
KEEP_PER_MART = 4

CACHE_DDL = """
CREATE TABLE IF NOT EXISTS ops.compiled_sql (
    key VARCHAR PRIMARY KEY, mart VARCHAR, sql VARCHAR,
    memtables STRUCT(name VARCHAR, ipc BLOB)[], created_at TIMESTAMP
)"""


def _load_formula_modules() -> None:
    """Import every module hashed below now, so the code this process runs is what is hashed."""
    for path in _CODE:
        if path.parent.name == "metrics" and path.stem != "__init__":
            importlib.import_module(f"metrics.{path.stem}")


@cache
def code_fingerprint() -> str:
    """A digest of the code and library versions that turn a strategy into SQL."""
    digest = hashlib.sha256()
    for path in _CODE:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for name in _LIBRARIES:
        digest.update(f"{name}=={metadata.version(name)}\0".encode())
    return digest.hexdigest()


def _changed_before_fingerprint() -> list[str]:
    """Hashed files replaced between the process's first import of them and the hashing."""
    before = {**metrics.SOURCE_STATS, **pipelines.SOURCE_STATS}
    now = metrics.source_stats(_CODE)
    return sorted(Path(p).name for p, stat in now.items() if before.get(p) != stat)


_load_formula_modules()
code_fingerprint()
#: Non-empty when the fingerprint may not name the code running here (a formula file was
#: replaced while the process started): stored SQL is then neither used nor stored.
_UNTRUSTED = _changed_before_fingerprint()


def code_changed_since_import() -> list[str]:
    """The formula files replaced after this process started reading them (see `_UNTRUSTED`)."""
    return _UNTRUSTED


def cache_key(mart: str, strategy_json: str, schema: Sequence[tuple], extra: Sequence = ()) -> str:
    """The key of one mart's SQL: every input that can change it (see the module docstring)."""
    payload = json.dumps(
        {
            "mart": mart,
            "strategy": strategy_json,
            "events_schema": [list(map(str, row)) for row in schema],
            "extra": [str(x) for x in extra],
            "code": code_fingerprint(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _memtables(expr: ibis.Expr) -> dict[str, pa.Table]:
    return {m.name: m.data.to_pyarrow(m.schema) for m in expr.op().find(ops.InMemoryTable)}


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def select_sql(backend, expr: ibis.Table) -> str:
    """`expr` compiled to one DuckDB SELECT whose columns have exactly the expression's types.

    Ibis drops a cast to the type it already infers, where DuckDB may differ (a sum of integers is
    HUGEINT, a truncated date a TIMESTAMP), so every column is cast to the expression's schema.
    """
    sql = backend.compile(expr)
    to_sql_type = backend.compiler.type_mapper.from_ibis
    columns = ", ".join(
        f'CAST("{col}" AS {to_sql_type(dtype).sql("duckdb")}) AS "{col}"'
        for col, dtype in expr.schema().items()
    )
    return f"SELECT {columns} FROM ({sql}) AS mart"


@dataclass
class CompiledSQL:
    """Per-connection access to `ops.compiled_sql`; `hits`, `misses` and `bypassed` (compiled
    without the store because formula files were replaced while this process loaded them) name the
    marts."""

    con: object
    backend: object
    strategy_json: str
    schema: Sequence[tuple]
    hits: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    bypassed: list[tuple[str, list[str]]] = field(default_factory=list)
    _registered: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.con.execute(CACHE_DDL).fetchall()

    def sql(self, mart: str, build: Callable[[], ibis.Table], extra: Sequence = ()) -> str:
        """The SELECT of `mart`: stored, or built with `build()`, compiled and stored."""
        changed = code_changed_since_import()
        if changed:  # the fingerprint may not describe the code running here: compile only
            self.bypassed.append((mart, changed))
            return self._compile(build)[0]
        key = cache_key(mart, self.strategy_json, self.schema, extra)
        rows = self.con.execute(
            "SELECT sql, memtables FROM ops.compiled_sql WHERE key = ?", [key]
        ).fetchall()
        if rows:
            sql, memtables = rows[0]
            for table in memtables:
                self._register(table["name"], _from_ipc(table["ipc"]))
            self.hits.append(mart)
            return sql
        sql, memtables = self._compile(build)
        self.con.execute(
            "DELETE FROM ops.compiled_sql WHERE mart = ? AND key NOT IN (SELECT key FROM "
            "ops.compiled_sql WHERE mart = ? ORDER BY created_at DESC LIMIT ?)",
            [mart, mart, KEEP_PER_MART - 1],
        ).fetchall()
        self.con.execute(
            "INSERT OR REPLACE INTO ops.compiled_sql VALUES (?, ?, ?, ?, now()::TIMESTAMP)",
            [key, mart, sql, [{"name": n, "ipc": _ipc(t)} for n, t in memtables.items()]],
        ).fetchall()
        self.misses.append(mart)
        return sql

    def _compile(self, build: Callable[[], ibis.Table]) -> tuple[str, dict[str, pa.Table]]:
        """`build()` compiled, its in-memory tables registered on the connection."""
        expr = build()
        memtables = _memtables(expr)
        for name, table in memtables.items():
            self._register(name, table)
        return select_sql(self.backend, expr), memtables

    def _register(self, name: str, table: pa.Table) -> None:
        if name not in self._registered:
            self.con.register(name, table)
            self._registered.append(name)

    def close(self) -> None:
        """Drop the in-memory tables registered on the connection."""
        for name in self._registered:
            self.con.unregister(name)
        self._registered.clear()
