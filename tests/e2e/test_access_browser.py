"""Sign-in and unit scoping in headless Chromium, against a REAL OpenID Connect provider.

The provider is `oidc-provider` (OpenID-certified, from npm; tests/e2e/oidc/), run with node on a
free port; its development login form takes any login name, which becomes the `email` claim (and
`groups` from ACCOUNTS). The dashboard runs with access.yaml and a secrets.toml [auth] pointing at
the provider, so every sign-in is the real flow: Streamlit redirects to the provider, the browser
signs in and consents, the provider redirects back with a code, Streamlit exchanges it for an ID
token (Authlib) and sets its cookie. One provider and one dashboard serve every scenario; each
scenario is a fresh browser context (no shared cookies). Requests leave 127.0.0.1 never.

The snapshot is tests/snapshot_factory.py's: units Sales and Support.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from metrics.store.warehouse import query_snapshot
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, REPO, _free_port, _wait_healthy
from tests.snapshot_factory import make_snapshot

pytestmark = pytest.mark.e2e

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "outcomeloop-dashboard"
CLIENT_SECRET = "e2e-only-client-secret"

ACCESS_YAML = """
roles:
  leadership:    {pages: all, units: all}
  unit_lead:     {pages: [outcome_tree, feedback_loop, readiness], units: assigned}
  cx_agent:      {pages: [feedback_loop], units: assigned, log_actions: true}
users:
  ceo@example.com: leadership
  lead.sales@example.com: {role: unit_lead, units: [Sales]}
  group:cx-sales: {role: cx_agent, units: [Sales]}
"""
#: The provider's accounts that carry groups (the login name is the e-mail).
ACCOUNTS = {"agent@example.com": {"groups": ["cx-sales"]}}

#: What only the whole organisation's rows show (the root's value; the factory's `all` NPS).
ORGANISATION_ONLY = ("810.0K", "Whole organisation")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _install_provider() -> None:
    """`npm ci` once (node_modules is kept between runs)."""
    if (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=OIDC_DIR, check=True, capture_output=True, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def access_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dashboard's OUTCOMELOOP_HOME: the factory's snapshot and access.yaml."""
    home = tmp_path_factory.mktemp("access_home")
    make_snapshot(home / "serving" / "current.duckdb")
    (home / "access.yaml").write_text(ACCESS_YAML, encoding="utf-8")
    return home


@pytest.fixture(scope="module")
def dashboard(access_home: Path) -> Iterator[str]:
    """The provider and the dashboard, both on free ports of 127.0.0.1; yields the dashboard URL."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run the OpenID Connect provider (apt-get install nodejs npm)")  # fmt: skip
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("authlib")
    _install_provider()
    home = access_home
    port = _free_port()
    url = f"http://127.0.0.1:{port}"

    provider_log = (home / "provider.log").open("w+")
    provider = subprocess.Popen(
        ["node", str(OIDC_DIR / "provider.mjs")],
        env={**os.environ, "PORT": "0", "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
             "REDIRECT_URI": f"{url}/oauth2callback", "ACCOUNTS": json.dumps(ACCOUNTS)},
        stdout=provider_log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    streamlit = None
    try:
        issuer = _wait_for_issuer(home / "provider.log", provider)
        secrets = home / "secrets.toml"
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "{url}/oauth2callback"\n'
            'cookie_secret = "e2e-only-cookie-secret-0123456789abcdef"\n'
            f'client_id = "{CLIENT_ID}"\n'
            f'client_secret = "{CLIENT_SECRET}"\n'
            f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
            'client_kwargs = { scope = "openid email profile groups", prompt = "login" }\n',
            encoding="utf-8",
        )
        env = {**os.environ, "OUTCOMELOOP_HOME": str(home), "PYTHONPATH": str(REPO)}
        env.pop("OUTCOMELOOP_ACCESS", None)
        streamlit_log = (home / "streamlit.log").open("wb")
        streamlit = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard" / "app.py"),
             "--server.headless", "true", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none", "--secrets.files", str(secrets)],
            cwd=REPO, env=env, stdout=streamlit_log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        _wait_healthy(url, streamlit)
        yield url
    finally:
        if streamlit is not None:
            _stop(streamlit)
        _stop(provider)
        provider_log.close()


def _wait_for_issuer(log: Path, proc: subprocess.Popen, timeout: float = 30) -> str:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the OpenID provider exited: {log.read_text()}")
        found = re.search(r"^listening (http://\S+)$", log.read_text(), re.MULTILINE)
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise TimeoutError(f"the OpenID provider did not start: {log.read_text()}")


@pytest.fixture(scope="module")
def browser(dashboard: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) whose requests never leave 127.0.0.1."""
    # wide enough that every column of every table is drawn (and so in the grid's cells)
    context = browser.new_context(viewport={"width": 2600, "height": 1400}, accept_downloads=True)
    context.route(
        re.compile(r"^(?!https?://127\.0\.0\.1[:/]).*"), lambda route: route.abort()
    )  # the provider's page links a web font; nothing goes out
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def _sign_in(page, dashboard: str, login: str) -> None:
    """The whole OpenID Connect flow, as a person clicks it."""
    page.goto(dashboard, wait_until="domcontentloaded")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector('input[name="login"]', timeout=30_000)
    page.fill('input[name="login"]', login)
    page.fill('input[name="password"]', "any")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click(timeout=30_000)
    page.wait_for_url(re.compile(r"^" + re.escape(dashboard)), timeout=30_000)
    page.get_by_text(f"Signed in as {login}").wait_for(timeout=30_000)


def _open(page, url: str, text: str) -> str:
    """Open `url`, wait until `text` shows and the page has settled; the page's HTML."""
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_text(text).first.wait_for(timeout=30_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)
    assert page.locator('[data-testid="stException"]').count() == 0
    return page.content()


def _nav(page) -> list[str]:
    """The page titles in the sidebar's navigation (each link's last line; the first is its icon)."""
    links = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    return sorted(t.strip().splitlines()[-1] for t in links)


def _options(page, label: str) -> list[str]:
    """The choices a select box or multiselect offers (its drop-down opened and read)."""
    page.get_by_role("combobox", name=label).first.click()
    page.wait_for_timeout(500)
    found = [t.strip() for t in page.locator('[role="option"]').all_inner_texts()]
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)
    return [t for t in found if t and t != "No results"]


def _cells(page) -> list[str]:
    """The text of every cell of every table on the page (the grid's accessible cells)."""
    return [t.strip() for t in page.locator('[role="gridcell"]').all_inner_texts()]


def test_a_signed_out_visitor_sees_a_sign_in_page_and_no_number(page, dashboard: str) -> None:
    for path in ("", "feedback-loop", "data-health"):
        html = _open(page, f"{dashboard}/{path}", "Sign in with your company account")
        assert page.get_by_role("button", name="Sign in").count() == 1
        assert page.locator('[data-testid="stMetric"]').count() == 0
        assert page.locator('[data-testid="stDataFrame"]').count() == 0
        assert "Data current through" not in html
        shown = page.locator('[data-testid="stMain"]').inner_text()
        assert not re.search(r"\d", shown), shown


def test_an_unknown_account_is_signed_in_but_sees_no_data(page, dashboard: str) -> None:
    page.goto(dashboard, wait_until="domcontentloaded")
    page.get_by_role("button", name="Sign in").click()
    page.fill('input[name="login"]', "stranger@example.com")
    page.fill('input[name="password"]', "any")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click(timeout=30_000)
    page.get_by_text("gives you no role").wait_for(timeout=30_000)
    assert page.locator('[data-testid="stMetric"]').count() == 0
    assert "Data current through" not in page.content()


def test_a_leader_sees_every_unit(page, dashboard: str) -> None:
    _sign_in(page, dashboard, "ceo@example.com")
    assert _nav(page) == [
        "Data health",
        "Feedback loop",
        "Outcome tree",
        "Readiness",
        "What customers say",
    ]
    html = _open(page, dashboard, "810.0K")
    assert "Whole organisation" in html
    assert _options(page, "Unit") == ["Whole organisation", "Sales", "Support"]
    _open(page, f"{dashboard}/feedback-loop", "Feedback items")
    assert {row["Unit"] for row in _download_items(page)} == {"Sales", "Support"}


def test_a_sales_lead_sees_only_sales(page, dashboard: str) -> None:
    """No `all` row and no other unit in any table, chart, picker, download or drill-down."""
    _sign_in(page, dashboard, "lead.sales@example.com")
    assert _nav(page) == ["Feedback loop", "Outcome tree", "Readiness"]

    html = _open(page, dashboard, "Behind every number")
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=30_000)
    page.locator('[role="gridcell"]').first.wait_for(state="attached", timeout=30_000)
    _screenshot(page, "sales_lead_outcome_tree")
    cells = _cells(page)
    for text in (*ORGANISATION_ONLY, "Support", "+24"):  # +24: the organisation's March NPS
        assert text not in html, text
        assert text not in cells, text
    assert "+22" in cells  # Sales' own March NPS, in the tree's table
    # both unit pickers (the tree's and the drill-down's) offer Sales alone
    assert _options(page, "Unit") == ["Sales"]
    assert page.get_by_role("combobox", name="Unit").count() == 2
    drill = page.locator('[data-testid="stDataFrame"]').last
    units = drill.locator('[role="gridcell"]').all_inner_texts()
    assert "Sales" in units and "Support" not in units

    html = _open(page, f"{dashboard}/feedback-loop", "Feedback items")
    assert "Support" not in html and "Support" not in _cells(page)
    assert _options(page, "Unit") == []  # Sales is chosen already; there is nothing else
    items = _download_items(page)
    assert len(items) >= 3, items  # the factory's Sales items: acted, overdue, open (and late)
    assert {row["Unit"] for row in items} == {"Sales"}

    html = _open(page, f"{dashboard}/readiness", "Units ready")
    assert "Support" not in html and "Support" not in _cells(page)
    # a page outside the role is not served: its URL falls back to the role's first page
    html = _open(page, f"{dashboard}/data-health", "Behind every number")
    assert "Rejected files" not in html


def _screenshot(page, name: str) -> None:
    folder = os.environ.get("OUTCOMELOOP_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _download_items(page) -> list[dict[str, str]]:
    """Every status chosen, then the item list's CSV download, parsed."""
    box = page.get_by_role("combobox", name="Status").first
    box.scroll_into_view_if_needed()
    box.click()
    options = page.locator('[role="option"]')
    options.first.wait_for(timeout=10_000)  # a long page may still be drawing when it is clicked
    while options.count():
        options.first.click()
        page.wait_for_timeout(800)
    page.keyboard.press("Escape")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1000)
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("Download these items")).click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.skipif(
    not (REPO / "dashboard" / "actions.py").exists(),
    reason="the feedback-loop page's action form (issue 15) is not on this branch",
)
def test_a_cx_agent_can_log_an_action_and_a_unit_lead_cannot(
    browser, dashboard: str, access_home: Path
) -> None:
    inbox = access_home / "inbox" / "feedback_actions"
    before = set(inbox.glob("*")) if inbox.exists() else set()

    lead = browser.new_context(viewport={"width": 2600, "height": 1400})
    try:
        page = lead.new_page()
        _sign_in(page, dashboard, "lead.sales@example.com")
        _open(page, f"{dashboard}/feedback-loop", "Feedback items")
        assert page.get_by_text("Log an action").count() == 0
        assert page.get_by_role("button", name="Log action").count() == 0
    finally:
        lead.close()

    agent = browser.new_context(viewport={"width": 2600, "height": 1400})
    try:
        page = agent.new_page()
        _sign_in(page, dashboard, "agent@example.com")
        assert _nav(page) == []  # one page: Streamlit shows no navigation
        _open(page, dashboard, "Log an action")  # and it is the feedback loop
        page.get_by_role("button", name="Log action").click()
        page.get_by_text(re.compile(r"^Logged ")).first.wait_for(timeout=30_000)
    finally:
        agent.close()
    written = set(inbox.glob("*.canonical.jsonl")) - before
    assert len(written) == 1
    (action,) = [json.loads(line) for line in next(iter(written)).read_text().splitlines()]
    sales = query_snapshot(
        access_home / "serving" / "current.duckdb",
        "SELECT feedback_id FROM marts.feedback_items WHERE unit = 'Sales'",
    ).column("feedback_id")
    assert action["feedback_id"] in sales.to_pylist()  # an item of the agent's own unit
