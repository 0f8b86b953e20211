"""Closing the loop from the dashboard, for real: `outcomeloop dev` (Dagster's event-driven loop
and the dashboard) on demo data; a CX agent logs an action on an overdue item through the form in
headless Chromium, and within 30 s, with no reload by hand, the page shows the item acted upon
and the overdue count one lower (the file -> sensor -> ingestion -> marts -> snapshot -> page).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, REPO, _free_port, _wait_healthy

pytestmark = pytest.mark.e2e

#: The acceptance bound: from the click to the page showing the action as loaded.
WITHIN_SECONDS = 30


def _wait_http(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


@pytest.fixture(scope="module")
def dev(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """`outcomeloop dev` on four months of demo data (published once with `outcomeloop run`)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    home = tmp_path_factory.mktemp("dev_home")
    env = {
        **os.environ,
        "OUTCOMELOOP_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "PYTHONPATH": str(REPO),
    }
    cli = [sys.executable, "-m", "pipelines.cli"]
    for args in (["demo", "--months", "4", "--scale", "0.1"], ["run"]):
        done = subprocess.run(cli + args, cwd=REPO, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    dagster_port, dashboard_port = _free_port(), _free_port()
    log = (home / "dev.log").open("wb")
    proc = subprocess.Popen(
        [*cli, "dev", "--dagster-port", str(dagster_port), "--dashboard-port",
         str(dashboard_port), "--host", "127.0.0.1"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{dashboard_port}"
    try:
        _wait_healthy(url, proc, timeout=120)
        _wait_http(f"http://127.0.0.1:{dagster_port}/server_info")
        _wait_idle(home / "dagster")
        yield url, home
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C: `dev` stops Dagster and the dashboard
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


def _wait_idle(dagster_home: Path, quiet: float = 8, timeout: float = 240) -> None:
    """Wait until the loop has no run queued or in progress for `quiet` seconds (after `dev`
    starts, its sensors first catch up with the files `run` already loaded)."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    busy = [
        DagsterRunStatus.QUEUED,
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
    ]
    deadline = time.monotonic() + timeout
    calm_since = None
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        while time.monotonic() < deadline:
            if instance.get_runs_count(RunsFilter(statuses=busy)):
                calm_since = None
            elif calm_since is None:
                calm_since = time.monotonic()
            elif time.monotonic() - calm_since >= quiet:
                return
            time.sleep(1)
    raise TimeoutError(f"the Dagster loop in {dagster_home} did not settle within {timeout:.0f}s")


def _metric(page, label: str) -> int:
    box = page.locator('[data-testid="stMetric"]', has_text=label).first
    return int(box.locator('[data-testid="stMetricValue"]').inner_text().replace(",", ""))


def test_an_action_logged_in_the_form_shows_as_acted_within_30_seconds(dev) -> None:
    from playwright.sync_api import sync_playwright

    url, home = dev
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            # The home page first: its run sets up the app's own navigation (the sidebar's
            # status comes from it), then the way a user goes to the page.
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_text("Data current through").first.wait_for(timeout=60_000)
            page.get_by_role("link", name="Feedback loop", exact=True).click()
            page.get_by_text("Log an action").first.wait_for(timeout=60_000)
            # All periods, so the overdue count covers the item wherever it arrived.
            page.locator('[data-testid="stSelectbox"]', has_text="Period of arrival").click()
            page.get_by_role("option", name="All periods").click()
            page.wait_for_timeout(1500)
            overdue = _metric(page, "Overdue")
            acted_late = _metric(page, "Acted late")
            assert overdue > 0, "the demo should leave some items overdue"
            form = page.locator('[data-testid="stForm"]')
            box = form.locator('[data-testid="stSelectbox"]').first
            chosen = " ".join(
                [box.text_content() or ""]
                + [i.get_attribute("value") or "" for i in box.locator("input").all()]
            )
            assert "Overdue" in chosen, chosen  # the form starts on the longest-overdue item
            feedback_id = re.search(r"(\S+) ·", chosen).group(1)
            form.get_by_label("Owner").fill("e2e.agent@example.com")
            form.get_by_role("button", name="Log action").click()
            page.get_by_text("It counts once the pipeline has loaded it").wait_for(timeout=10_000)
            clicked = time.monotonic()
            assert list((home / "inbox" / "feedback_actions").glob("dashboard-*.canonical.jsonl"))

            # No reload: the page refreshes itself when the pipeline publishes a new snapshot.
            loaded = page.get_by_text(re.compile(r"loaded: the item is now .*Acted"))
            try:
                loaded.first.wait_for(timeout=WITHIN_SECONDS * 1000)
            except Exception:
                page.screenshot(path=str(home / "after_action.png"), full_page=True)
                raise
            took = time.monotonic() - clicked
            page.wait_for_timeout(1000)
            assert (
                feedback_id in page.get_by_text(re.compile("loaded: the item")).first.inner_text()
            )
            # The counts moved: one fewer overdue, one more acted upon (late: the SLA had passed).
            assert _metric(page, "Overdue") == overdue - 1
            assert _metric(page, "Acted late") == acted_late + 1
            assert page.locator('[data-testid="stException"]').count() == 0
            print(f"the action showed as acted {took:.1f}s after the click")
        finally:
            browser.close()
