"""`outcomeloop themes suggest`: candidate phrases from detractor comments, as YAML to paste."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipelines.cli import main
from pipelines.cli.themes import suggest
from tests.snapshot_factory import make_snapshot


def test_suggest_prints_yaml_with_counts_from_the_snapshots_detractor_comments(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_snapshot(home / "serving" / "current.duckdb")
    assert main(["themes", "suggest", "--top", "4"]) == 0
    out = capsys.readouterr().out
    parsed = yaml.safe_load(out)
    candidates = parsed["themes"]["candidates"]
    assert 0 < len(candidates) <= 4
    # the nps detractor comments of marts.feedback_items: the phrases come from them
    assert "waited two weeks" in candidates
    line = next(x for x in out.splitlines() if x.strip().startswith("- waited two weeks"))
    assert line.endswith("# 1 comment")
    assert "Candidate phrases from 3 detractor comments (nps)" in out
    # the bundled strategy's own phrases ("slow", "invoice") are not proposed again
    assert not {"slow", "invoice"} & set(candidates)
    # ces reads the high-effort items only
    assert main(["themes", "suggest", "--source", "ces"]) == 0
    out = capsys.readouterr().out
    assert "from 2 high-effort comments (ces)" in out
    assert all("waited" not in c for c in yaml.safe_load(out)["themes"]["candidates"])


def test_without_a_snapshot_it_says_what_to_run(home: Path, capsys) -> None:
    assert main(["themes", "suggest"]) == 2
    assert "run `outcomeloop run` first" in capsys.readouterr().err


def test_suggest_ranks_the_words_customers_repeat_and_needs_nothing_downloaded(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("themes suggest must not use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    comments = ["Waited on hold for an hour.", "On hold again, nobody answers.",
                "The invoice was wrong.", "Still on hold after twenty minutes."]  # fmt: skip
    phrases = suggest(comments, top=5, known={"invoice"})
    assert "hold" in phrases or any("on hold" in p for p in phrases)
    assert "invoice" not in phrases and len(phrases) <= 5
