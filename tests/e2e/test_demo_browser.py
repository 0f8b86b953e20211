"""Every page in headless Chromium on a REAL snapshot: demo data -> `outcomeloop run` -> dashboard.

The fixture-snapshot tests (test_browser.py) pin exact numbers; this one proves the pages hold up
on what the pipeline really publishes (18-node tree, several units, suppressed cells, flaws).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date

import pytest

from tests.e2e.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    _free_port,
    _wait_healthy,
)

pytestmark = pytest.mark.e2e

PAGES = [
    ("", ["Outcome tree", "Our letter to customers", "Revenue", "Data current through"]),
    ("feedback-loop", ["Feedback loop", "Acted within SLA", "Per unit"]),
    ("themes", ["What customers talk about", "Read the comments", "pulls the NPS down most"]),
    ("readiness", ["Units ready", "Closest to passing"]),
    ("data-health", ["Data health", "Sources", "Rows quarantined"]),
]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    home = tmp_path_factory.mktemp("demo_dashboard")
    env = {**os.environ, "OUTCOMELOOP_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    cli = [sys.executable, "-m", "pipelines.cli"]
    until = date(2026, 6, 30).isoformat()
    for args in (["demo", "--months", "9", "--until", until, "--scale", "0.2"], ["run"]):
        done = subprocess.run(cli + args, cwd=REPO, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    assert (home / "serving" / "current.duckdb").exists()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard" / "app.py"),
         "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)


def test_every_page_renders_on_the_demo_snapshot(demo_server: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for path, texts in PAGES:
                page.goto(f"{demo_server}/{path}", wait_until="domcontentloaded")
                page.wait_for_selector('[data-testid="stMain"]', timeout=30_000)
                for text in texts:
                    page.get_by_text(text).filter(visible=True).first.wait_for(timeout=30_000)
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(1000)
                assert page.locator('[data-testid="stException"]').count() == 0, path
                assert page.get_by_text("Traceback").count() == 0, path
        finally:
            browser.close()
