"""Take the README's screenshots from a running dashboard (demo data makes them meaningful).

    make run                                   # in one terminal: demo data, Dagster, dashboard
    .venv/bin/python docs/make_screenshots.py  # in another: writes docs/screenshots/*.png

Needs Debian's chromium (`apt-get install chromium`); playwright drives it, nothing is downloaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

PAGES = [
    ("", "outcome_tree"),
    ("feedback-loop", "feedback_loop"),
    ("themes", "themes"),
    ("readiness", "readiness"),
    ("data-health", "data_health"),
]
#: Sections of a page, each shot from its heading down (page, heading, height in px, name).
SECTIONS = [
    ("feedback-loop", "Did acting work?", 900, "loop_effect"),
    ("feedback-loop", "Root causes per unit", 400, "root_causes"),
    ("feedback-loop", "Log an action", 470, "log_action"),
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8501")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "screenshots")
    parser.add_argument(
        "--change-period",
        help="also shoot the outcome tree and its table for this period, as the Period box "
        "shows it (e.g. 'Oct 2026'): outcome_tree_changes.png, with its significance markers",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            for path, name in PAGES:
                page.goto(f"{args.url}/{path}")
                page.wait_for_selector('[data-testid="stMainBlockContainer"]')
                page.wait_for_timeout(5000)  # charts and the tree render after the first paint
                if page.locator('[data-testid="stException"]').count():
                    raise SystemExit(f"the {name} page shows an exception")
                target = args.out / f"{name}.png"
                page.screenshot(path=str(target), full_page=True)
                print(f"wrote {target}")
            if args.change_period:
                _tree_for_period(page, args.url, args.change_period, args.out)
            for path, heading, height, name in SECTIONS:
                page.set_viewport_size({"width": 1400, "height": 900})
                page.goto(f"{args.url}/{path}")
                page.wait_for_selector('[data-testid="stMainBlockContainer"]')
                page.wait_for_timeout(5000)
                # Over all periods: the latest period's customers have had little time to answer.
                page.locator('[data-testid="stSelectbox"]', has_text="Period of arrival").click()
                page.get_by_role("option", name="All periods").click()
                page.wait_for_timeout(4000)
                _grow_to_content(page)
                box = page.get_by_role("heading", name=heading).first.bounding_box()
                main = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()
                clip = {
                    "x": main["x"],
                    "y": box["y"] - 10,
                    "width": main["width"],
                    "height": height,
                }
                target = args.out / f"{name}.png"
                page.screenshot(path=str(target), clip=clip, full_page=True)
                print(f"wrote {target}")
        finally:
            browser.close()


def _tree_for_period(page, url: str, period: str, out: Path) -> None:
    """The tree graph and its table for one period, where a change is significant."""
    page.goto(url)
    page.wait_for_selector('[data-testid="stGraphVizChart"]')
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=period, exact=True).click()
    page.wait_for_timeout(4000)
    page.set_viewport_size({"width": 1400, "height": 1800})
    page.wait_for_timeout(1000)
    graph = page.locator('[data-testid="stGraphVizChart"]').first
    table = page.locator('[data-testid="stDataFrame"]').first
    graph.scroll_into_view_if_needed()
    box_graph, box_table = graph.bounding_box(), table.bounding_box()
    top = box_graph["y"]
    bottom = box_table["y"] + box_table["height"]
    target = out / "outcome_tree_changes.png"
    page.screenshot(
        path=str(target),
        clip={"x": box_table["x"], "y": top, "width": box_table["width"], "height": bottom - top},
    )
    print(f"wrote {target}")


def _grow_to_content(page) -> None:
    """Streamlit scrolls an inner container: grow the window to the content, so every section
    lies inside the page that a screenshot sees."""
    height = page.evaluate(
        "() => Math.max(...['stMain', 'stMainBlockContainer', 'stAppViewContainer']"
        ".map(id => document.querySelector(`[data-testid=${id}]`))"
        ".filter(Boolean).map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 12000)})
    page.wait_for_timeout(1500)


if __name__ == "__main__":
    main()
