"""The public contract's paths and the command line's first impressions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from metrics.config import EXAMPLES_DIR, ConfigError, settings
from pipelines.cli import build_parser, main


def test_defaults_fall_back_to_examples(tmp_path):
    cfg = settings({"OUTCOMELOOP_HOME": str(tmp_path)})
    assert cfg.home == tmp_path.resolve()
    assert cfg.strategy_path == EXAMPLES_DIR / "strategy.yaml"
    assert cfg.sources_path == EXAMPLES_DIR / "sources.yaml"
    assert cfg.warehouse == tmp_path / "warehouse.duckdb"
    assert cfg.snapshot == tmp_path / "serving" / "current.duckdb"
    assert cfg.inbox_for("nps") == tmp_path / "inbox" / "nps"
    assert cfg.dagster_home == tmp_path / "dagster"
    assert cfg.compute == "duckdb"


def test_home_files_win_over_examples_and_env_wins_over_home(tmp_path):
    (tmp_path / "strategy.yaml").write_text("name: x\n")
    other = tmp_path / "elsewhere.yaml"
    other.write_text("sources: {}\n")
    cfg = settings({"OUTCOMELOOP_HOME": str(tmp_path), "OUTCOMELOOP_SOURCES": str(other)})
    assert cfg.strategy_path == tmp_path / "strategy.yaml"
    assert cfg.sources_path == other.resolve()


def test_default_home_is_var_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert settings({}).home == (tmp_path / "var").resolve()


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"OUTCOMELOOP_STRATEGY": "/nope/strategy.yaml"}, "/nope/strategy.yaml"),
        ({"OUTCOMELOOP_COMPUTE": "polars"}, "polars"),
        ({"OUTCOMELOOP_REFRESH_MINUTES": "0"}, "OUTCOMELOOP_REFRESH_MINUTES"),
    ],
)
def test_bad_environment_is_a_clear_error(tmp_path, env, fragment):
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        settings({"OUTCOMELOOP_HOME": str(tmp_path), **env})


def test_help_lists_every_subcommand():
    text = build_parser().format_help()
    for command in ("demo", "run", "dev", "check", "status", "reload"):
        assert command in text


def test_unknown_strategy_path_is_one_line_not_a_traceback(tmp_path):
    env = {
        "OUTCOMELOOP_HOME": str(tmp_path),
        "OUTCOMELOOP_STRATEGY": str(tmp_path / "missing.yaml"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "status"],
        capture_output=True,
        text=True,
        env={**env, "PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).parent.parent,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert str(tmp_path / "missing.yaml") in lines[0]


def test_check_accepts_the_bundled_strategy(capsys):
    assert main(["check", str(EXAMPLES_DIR / "strategy.yaml")]) == 0
    assert "ok" in capsys.readouterr().out
