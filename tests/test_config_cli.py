"""The public contract's paths and the command line's first impressions."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from metrics.config import EXAMPLES_DIR, ConfigError, settings
from metrics.sources import SourcesConfig
from metrics.strategy import Strategy
from pipelines.alerts.config import AlertsConfig
from pipelines.cli import build_parser, main
from pipelines.cli.terminal import TerminalHandler, dagster_log_only, terminal_logging


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
    for command in ("demo", "run", "dev", "check", "status", "reload", "schema"):
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


def test_log_lines_print_as_plain_lines_only_while_a_command_runs(capsys):
    loader, pipelines_logger = (
        logging.getLogger("pipelines.x.loader"),
        logging.getLogger("pipelines"),
    )
    level = pipelines_logger.level
    with terminal_logging():
        loader.info("nps.csv: %d loaded", 3)
        loader.debug("a detail")
        with dagster_log_only():
            loader.warning("shown by Dagster's console log instead")
        logging.getLogger("metrics.store.warehouse").warning("warehouse.duckdb is busy")
    assert capsys.readouterr().out == "nps.csv: 3 loaded\nwarehouse.duckdb is busy\n"
    assert not any(isinstance(h, TerminalHandler) for h in pipelines_logger.handlers)
    assert pipelines_logger.level == level


def _as_an_editor_reads(path: Path):
    """The YAML document as an editor's schema check sees it: dates stay strings."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))


@pytest.mark.parametrize(
    ("name", "model", "example"),
    [
        ("strategy.schema.json", Strategy, "strategy.yaml"),
        ("sources.schema.json", SourcesConfig, "sources.yaml"),
        ("alerts.schema.json", AlertsConfig, "alerts.yaml"),
    ],
)
def test_schema_writes_json_schemas_that_accept_the_examples_and_catch_typos(
    tmp_path, capsys, name, model, example
):
    assert main(["schema", "--out", str(tmp_path / "schemas")]) == 0
    path = tmp_path / "schemas" / name
    out = capsys.readouterr().out.splitlines()
    assert str(path) in out
    assert out[-1].endswith(
        f"# yaml-language-server: $schema={tmp_path / 'schemas' / 'strategy.schema.json'}"
    )
    schema = json.loads(path.read_text())
    assert set(schema["properties"]) == set(model.model_fields)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    document = _as_an_editor_reads(EXAMPLES_DIR / example)
    assert [e.message for e in validator.iter_errors(document)] == []
    misspelt = {**document, "timezon": "UTC"}
    assert [list(e.path) for e in validator.iter_errors(misspelt)] == [[]]
    assert "timezon" in next(validator.iter_errors(misspelt)).message


def test_schema_defaults_to_the_home_folder(home):
    assert main(["schema"]) == 0
    written = sorted(p.name for p in (home / "schemas").iterdir())
    assert written == ["alerts.schema.json", "sources.schema.json", "strategy.schema.json"]
