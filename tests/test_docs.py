"""The documentation ships with the project and says what the code does.

The generated tables of docs/ equal what docs/make_reference.py writes from the code; every link in
the README and docs/ points at a file in the repository; docs/snapshot.md names every published
table and column; and the README's "own exports" path, followed literally with the real Qualtrics
and Salesforce exports, loads them and publishes the numbers they hold.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import subprocess
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest

from metrics.store.warehouse import query_snapshot
from tests.snapshot_factory import DDL

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
#: The real exports beside the project (`../shared/samples`), read as they are.
SHARED_SAMPLES = ROOT.parent / "shared" / "samples"
OUTCOMELOOP_BIN = Path(sys.executable).parent / "outcomeloop"


def _make_reference():
    spec = importlib.util.spec_from_file_location("make_reference", DOCS / "make_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_tables_are_up_to_date():
    for path, text in _make_reference().rendered().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is out of date: run `.venv/bin/python docs/make_reference.py`"
        )


def _markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: p.name)
def test_links_stay_inside_the_repository(path):
    text = path.read_text(encoding="utf-8")
    assert "DESIGN" not in text, "the design document is not part of the repository"
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        assert not target.startswith(("http://", "https://")), target
        file = target.split("#")[0]
        if not file:
            continue
        resolved = (path.parent / file).resolve()
        assert resolved.is_relative_to(ROOT), f"{path.name} links outside the repository: {target}"
        assert resolved.exists(), f"{path.name} links to a missing file: {target}"


def test_snapshot_md_names_every_published_table_and_column():
    documented = {}
    for line in (DOCS / "snapshot.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `(\w+\.\w+)` \| [^|]* \| (.*) \|$", line)
        if match:
            documented[match.group(1)] = match.group(2)
    tables = {name for name in DDL}
    assert set(documented) == tables
    for table, ddl in DDL.items():
        for column in re.findall(r"(\w+) [A-Z]+(?:\[\])?(?:,|$)", ddl):
            assert re.search(rf"\b{column}\b", documented[table]), f"{table}.{column}"


# --- the README's own-exports path, with the real exports ---------------------------------------


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.index("\n## ", start + len(heading))
    return text[start:end]


def _bash_blocks(section: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", section, re.DOTALL)


@pytest.mark.skipif(
    not SHARED_SAMPLES.is_dir(), reason=f"the real exports are not at {SHARED_SAMPLES}"
)
def test_the_readmes_own_exports_path_with_the_real_samples(tmp_path):
    section = _section(README.read_text(encoding="utf-8"), "## Point it at your own exports")
    setup, commands = _bash_blocks(section)
    # the README as written, with the user's own folders: a home and the exports beside the repo
    assert "EXPORTS=tests/fixtures/samples" in setup
    setup = setup.replace("EXPORTS=tests/fixtures/samples", f"EXPORTS={SHARED_SAMPLES}")
    env = {
        "HOME": str(tmp_path),
        "PATH": f"{OUTCOMELOOP_BIN.parent}{os.pathsep}{os.environ['PATH']}",
        "LANG": "C.UTF-8",
    }
    done = subprocess.run(
        ["bash", "-euc", setup], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    home = tmp_path / "outcomeloop"
    env |= {"OUTCOMELOOP_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}

    outputs = {}
    for line in commands.strip().splitlines():
        command = line.split("#")[0].strip()
        result = subprocess.run(
            ["bash", "-euc", command], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr[-3000:]}"
        assert "note:" not in result.stderr  # the home's own files are used, not the examples
        outputs[command.split()[-1]] = result.stdout

    check = outputs["check"]
    assert "inbox: 2 landed file(s) not judged yet:" in check
    assert "nps/qualtRics_sample.csv: 1 record(s): 1 would load, 0 be filtered" in check
    assert "unit <- unit: Research in sources.yaml" in check
    assert "score <- Q1" in check
    assert "upsell/opportunity_export.csv: 300 record(s)" in check
    assert "REJECTED" not in check

    # the numbers the exports hold, computed here from the files themselves
    won: dict[date, float] = defaultdict(float)
    with open(SHARED_SAMPLES / "salesforce" / "opportunity_export.csv", encoding="utf-8-sig") as fh:
        for r in csv.DictReader(fh):
            if r["IsWon"] == "1" and r["Type"] == "Existing Customer - Upgrade" and r["Amount"]:
                won[date.fromisoformat(r["CloseDate"][:8] + "01")] += float(r["Amount"])
    assert "files: 2 loaded, 0 duplicate, 0 rejected" in outputs["run"]
    values = query_snapshot(
        home / "serving" / "current.duckdb",
        "SELECT measure, unit, period_start, value, n FROM marts.measure_values "
        "WHERE measure IN ('nps', 'upsell_revenue') ORDER BY ALL",
    ).to_pylist()
    nps = [
        (v["unit"], v["period_start"], v["value"], v["n"]) for v in values if v["measure"] == "nps"
    ]
    # one response, Q1 = 2: a detractor, NPS -100
    assert nps == [
        ("Research", date(2017, 7, 1), -100.0, 1), ("all", date(2017, 7, 1), -100.0, 1)
    ]  # fmt: skip
    upsell = {
        v["period_start"]: v["value"]
        for v in values
        if v["measure"] == "upsell_revenue" and v["unit"] == "Sales"
    }
    first, last = min(won), max(won)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    assert len(upsell) == months  # zero-filled from the first to the last won upgrade
    assert {m: v for m, v in upsell.items() if v} == pytest.approx(dict(won))
    assert "upsell" in outputs["status"] and "nps" in outputs["status"]
