"""Server-side render time of each dashboard page on the scale's published snapshot.

Each page runs in Streamlit's `AppTest` (the script, its queries against the snapshot and the
building of every element, without a browser). The caches are cleared before every measured run,
so the figure is what a reader waits for right after the pipeline publishes a new snapshot; one
unmeasured run per page first pays the one-off imports (plotly, the page module).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from metrics.config import REPO_ROOT

PAGES_DIR = REPO_ROOT / "dashboard" / "views"

Say = Callable[[str], None]


def _quiet_streamlit() -> None:
    """Outside a server Streamlit warns about every cache call ("No runtime found"); silence it."""
    import logging

    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)


def _render(page: Path) -> float:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    _quiet_streamlit()
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(page), default_timeout=120)
    started = time.perf_counter()
    app.run()
    seconds = time.perf_counter() - started
    if app.exception:
        raise RuntimeError(f"{page.name} raised while rendering: {app.exception[0].value}")
    return seconds


def run(home: Path, repeats: int, say: Say) -> dict[str, float]:
    """page name -> median seconds of a cold-cache server-side render."""
    os.environ["OUTCOMELOOP_HOME"] = str(home)
    pages = sorted(PAGES_DIR.glob("*.py"))
    if not pages:
        raise FileNotFoundError(f"no dashboard pages in {PAGES_DIR}")
    result = {}
    for page in pages:
        _render(page)  # one-off imports
        times = [_render(page) for _ in range(repeats)]
        result[page.stem] = statistics.median(times)
        say(
            f"  {page.stem}: {result[page.stem]:.3f}s (runs {', '.join(f'{t:.3f}' for t in times)})"
        )
    return result
