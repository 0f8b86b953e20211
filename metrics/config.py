"""Where everything lives: the one module that reads OutcomeLoop's environment variables.

The README's "Where the data lives" is the contract. Every other module asks
`settings()` instead of reading `os.environ`, so a test (or a user) changes one variable and the
whole system follows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: The repository's bundled examples, found relative to the code, not the working directory.
REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO_ROOT / "examples"
DAGSTER_YAML_TEMPLATE = REPO_ROOT / "dagster.yaml"
WORKSPACE_YAML = REPO_ROOT / "workspace.yaml"
DASHBOARD_APP = REPO_ROOT / "dashboard" / "app.py"

COMPUTE_ENGINES = ("duckdb", "spark")


class ConfigError(Exception):
    """A configuration problem a user can fix; the message says what and where."""


@dataclass(frozen=True)
class Settings:
    home: Path
    strategy_path: Path
    sources_path: Path
    compute: str = "duckdb"
    pg_url: str | None = None
    spark_master: str = "local[*]"
    automation_interval_minutes: int = 60
    dagster_url: str = "http://localhost:3000"
    #: alerts.yaml, or None when there is none (no file, no alerts)
    alerts_path: Path | None = None
    #: access.yaml (who sees what on a shared dashboard); None: a single-user dashboard.
    access_path: Path | None = None

    def example_notices(self) -> list[str]:
        """A sentence per configuration file taken from the bundled examples because the home
        holds none (a mistyped OUTCOMELOOP_HOME would otherwise validate the examples quietly)."""
        notices = []
        for path, name, var in (
            (self.strategy_path, "strategy.yaml", "OUTCOMELOOP_STRATEGY"),
            (self.sources_path, "sources.yaml", "OUTCOMELOOP_SOURCES"),
        ):
            if path.parent == EXAMPLES_DIR:
                notices.append(
                    f"note: {self.home} has no {name}, so the bundled example {path} is used "
                    f"(copy it to {self.home / name} to make your own, or set {var})"
                )
        return notices

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    def inbox_for(self, source: str) -> Path:
        return self.inbox / source

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def serving_dir(self) -> Path:
        return self.home / "serving"

    @property
    def snapshot(self) -> Path:
        return self.serving_dir / "current.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def lake(self) -> Path:
        return self.home / "lake"


def _resolve(env: Mapping[str, str], var: str, home: Path, name: str) -> Path:
    """`$VAR` if set (and it must exist), else `$OUTCOMELOOP_HOME/<name>`, else `examples/<name>`."""
    explicit = env.get(var)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"{var} points at {path}, which does not exist or is not a file")
        return path.resolve()
    in_home = home / name
    if in_home.is_file():
        return in_home
    return EXAMPLES_DIR / name


def _alerts_path(env: Mapping[str, str], home: Path) -> Path | None:
    """`$OUTCOMELOOP_ALERTS` (which `outcomeloop check` then reports if it is missing), else
    `$OUTCOMELOOP_HOME/alerts.yaml` if it exists, else None: alerts are opt-in."""
    explicit = env.get("OUTCOMELOOP_ALERTS")
    if explicit:
        return Path(explicit).expanduser().resolve()
    in_home = home / "alerts.yaml"
    return in_home if in_home.is_file() else None


def settings(env: Mapping[str, str] | None = None) -> Settings:
    """Resolve every path from the environment with the documented fallbacks."""
    env = os.environ if env is None else env
    home = Path(env.get("OUTCOMELOOP_HOME") or "./var").expanduser().resolve()
    compute = (env.get("OUTCOMELOOP_COMPUTE") or "duckdb").strip().lower()
    if compute not in COMPUTE_ENGINES:
        raise ConfigError(
            f"OUTCOMELOOP_COMPUTE={compute!r} is not a compute engine; use one of {COMPUTE_ENGINES}"
        )
    interval = env.get("OUTCOMELOOP_REFRESH_MINUTES") or "60"
    if not interval.isdigit() or int(interval) < 1:
        raise ConfigError(f"OUTCOMELOOP_REFRESH_MINUTES={interval!r} must be a whole number >= 1")
    return Settings(
        home=home,
        strategy_path=_resolve(env, "OUTCOMELOOP_STRATEGY", home, "strategy.yaml"),
        sources_path=_resolve(env, "OUTCOMELOOP_SOURCES", home, "sources.yaml"),
        compute=compute,
        pg_url=env.get("OUTCOMELOOP_PG_URL") or None,
        spark_master=env.get("OUTCOMELOOP_SPARK_MASTER") or "local[*]",
        automation_interval_minutes=int(interval),
        dagster_url=env.get("OUTCOMELOOP_DAGSTER_URL") or "http://localhost:3000",
        alerts_path=_alerts_path(env, home),
        access_path=_access_path(env, home),
    )


def _access_path(env: Mapping[str, str], home: Path) -> Path | None:
    """`$OUTCOMELOOP_ACCESS` (which `outcomeloop check` reports if it is missing, and with which
    the dashboard lets nobody in), else `$OUTCOMELOOP_HOME/access.yaml` if it exists, else None:
    no example stands in, without the file the dashboard stays single-user."""
    explicit = env.get("OUTCOMELOOP_ACCESS")
    if explicit:
        return Path(explicit).expanduser().resolve()
    in_home = home / "access.yaml"
    return in_home if in_home.is_file() else None
