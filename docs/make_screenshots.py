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
        finally:
            browser.close()


if __name__ == "__main__":
    main()
