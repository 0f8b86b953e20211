"""The real dashboard in headless Chromium: every page renders without a Streamlit exception, shows
its key texts, and leaves a full-page screenshot per page (in $OUTCOMELOOP_SCREENSHOT_DIR when set).

`streamlit run dashboard/app.py` is started on a free port against the fixture snapshot (a
temporary OUTCOMELOOP_HOME), and always terminated.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.snapshot_factory import make_snapshot

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
# Screenshots go to a temporary folder, so running the tests never changes tracked files; set
# OUTCOMELOOP_SCREENSHOT_DIR to keep them (docs/make_screenshots.py makes the README's from demo data).
SCREENSHOTS = Path(
    os.environ.get("OUTCOMELOOP_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="outcomeloop-shots-")
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

# url path ("" is the default page), screenshot name, texts that must be visible outside tables
# (table cells are drawn on a canvas, so their text is not in the DOM as visible text)
PAGES = [
    ("", "outcome_tree",
     ["Outcome tree", "810.0K", "At risk", "Our letter to customers", "Data current through"]),
    ("feedback-loop", "feedback_loop",
     ["Feedback loop", "Acted within SLA", "Per unit", "Data current through"]),
    ("readiness", "readiness",
     ["Units ready", "Only the assessor count", "Closest to passing", "Data current through"]),
    ("data-health", "data_health",
     ["Data health", "Rejected files", "no data yet", "Alerts pending", "Data current through"]),
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"streamlit did not become healthy at {url} within {timeout:.0f}s")


@pytest.fixture(scope="module")
def server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OUTCOMELOOP_HOME the dashboard server reads."""
    return tmp_path_factory.mktemp("outcomeloop_home")


@pytest.fixture(scope="module")
def server(server_home: Path) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    home = server_home
    make_snapshot(home / "serving" / "current.duckdb")
    port = _free_port()
    env = {**os.environ, "OUTCOMELOOP_HOME": str(home), "PYTHONPATH": str(REPO)}
    log = (home / "streamlit.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard" / "app.py"),
         "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def chromium_browser(server: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.parametrize(("path", "name", "texts"), PAGES, ids=[p[1] for p in PAGES])
def test_page_renders_in_chromium(
    server: str, chromium_browser, path: str, name: str, texts: list[str]
) -> None:
    page = chromium_browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{server}/{path}", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stMain"]', timeout=30_000)
        for text in texts:
            page.get_by_text(text).filter(visible=True).first.wait_for(timeout=30_000)
        # Let charts and the graph finish drawing before judging and photographing the page.
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1500)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_text("Traceback").count() == 0
        assert page.get_by_text("Page not found").count() == 0
        _full_page_screenshot(page, SCREENSHOTS / f"{name}.png")
    finally:
        page.close()


def _full_page_screenshot(page, path: Path) -> None:
    """Streamlit scrolls an inner container, so grow the window to the content, then shoot."""
    height = page.evaluate(
        "() => Math.max(...['stMain', 'stMainBlockContainer', 'stAppViewContainer']"
        ".map(id => document.querySelector(`[data-testid=${id}]`))"
        ".filter(Boolean).map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 12000)})
    page.wait_for_timeout(1000)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)


def test_comment_markup_is_shown_as_text(server: str, chromium_browser) -> None:
    """A customer's comment with markdown and HTML shows its characters, never renders a link."""
    page = chromium_browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{server}/feedback-loop", wait_until="domcontentloaded")
        page.get_by_text("Feedback items").first.wait_for(state="visible", timeout=30_000)
        page.wait_for_load_state("networkidle")
        assert page.locator('a[href="http://evil.example"]').count() == 0
        assert page.locator('[data-testid="stMain"] b:text("service")').count() == 0
    finally:
        page.close()


def test_an_open_page_refreshes_when_a_new_snapshot_is_published(
    server: str, chromium_browser, server_home: Path
) -> None:
    """The event-driven loop made visible: no reload, the page notices the new snapshot itself."""
    page = chromium_browser.new_page(viewport={"width": 1400, "height": 1000})
    rejected = page.locator('[data-testid="stMetric"]', has_text="Files rejected")
    try:
        page.goto(f"{server}/data-health", wait_until="domcontentloaded")
        rejected.locator('[data-testid="stMetricValue"]').filter(has_text="1").wait_for(
            timeout=30_000
        )
        make_snapshot(
            server_home / "serving" / "current.duckdb",
            built_at=datetime(2025, 3, 20, 13, 0),
            tables={"ops.file_ledger": []},
        )
        # The sidebar fragment polls every 5 s; allow a few polls.
        rejected.locator('[data-testid="stMetricValue"]').filter(has_text="0").wait_for(
            timeout=30_000
        )
    finally:
        page.close()
        make_snapshot(server_home / "serving" / "current.duckdb")
