"""OutcomeLoop's dashboard: `streamlit run dashboard/app.py` (or `outcomeloop dev`).

Five pages, one question each: is the strategy on track to revenue (Outcome tree), is feedback acted
upon (Feedback loop), what do customers talk about (What customers say), which units may run the
loop (Readiness), and did the data arrive (Data health).
Every page reads only the published snapshot. With access.yaml, a visitor signs in first and sees
only their role's pages (dashboard/auth.py); until then, the sign-in page and no data. The sidebar always says how current the data is, and
a small fragment polls the snapshot's build time so an open page refreshes by itself when the
pipeline publishes.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the repository; make the
# `dashboard` and `metrics` packages importable from a plain checkout too.
_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import streamlit as st  # noqa: E402

from dashboard import auth, queries  # noqa: E402
from dashboard.components.formatting import age_is_old, format_age, format_timestamp  # noqa: E402
from dashboard.components.text import escape_markdown  # noqa: E402
from metrics.access import AccessError  # noqa: E402

#: How often an open page checks whether a new snapshot was published.
LIVE_POLL_SECONDS = 5
_SEEN_KEY = "_outcomeloop_snapshot_seen"

PAGES_DIR = Path(__file__).resolve().parent / "views"
PAGES = (
    ("outcome_tree.py", "Outcome tree", ":material/account_tree:", "outcome-tree"),
    ("feedback_loop.py", "Feedback loop", ":material/forum:", "feedback-loop"),
    ("themes.py", "What customers say", ":material/chat:", "themes"),
    ("readiness.py", "Readiness", ":material/fact_check:", "readiness"),
    ("data_health.py", "Data health", ":material/monitor_heart:", "data-health"),
)


def _snapshot_key(meta: queries.Meta | None) -> str | None:
    return meta.key if meta is not None else None


def _sidebar_status(meta: queries.Meta | None) -> None:
    """'Data current through ...', the snapshot's age and the way to the Dagster UI."""
    if meta is None:
        st.warning("No snapshot published yet", icon=":material/hourglass_empty:")
        st.caption("Run `make run` or `outcomeloop run`; this page refreshes by itself.")
        return
    through = format_timestamp(meta.data_through, meta.timezone)
    st.markdown(f"**Data current through**  \n{through}")
    age = format_age(meta.built_at)
    icon = ":material/warning: " if age_is_old(meta.built_at) else ""
    st.caption(f"{icon}Snapshot built {age} ({format_timestamp(meta.built_at, meta.timezone)})")
    st.caption(f"Strategy: {escape_markdown(meta.strategy_name)}")
    st.link_button("Open the Dagster UI", meta.dagster_url, icon=":material/open_in_new:")


@st.fragment(run_every=LIVE_POLL_SECONDS)
def live_status() -> None:
    """Re-checks `serving.meta.built_at` every few seconds; a new snapshot reruns the whole page."""
    try:
        meta = queries.current()
    except queries.SnapshotUnreadable as exc:
        st.error(str(exc))
        return
    if _snapshot_key(meta) != st.session_state.get(_SEEN_KEY):
        st.session_state[_SEEN_KEY] = _snapshot_key(meta)
        st.rerun(scope="app")
    _sidebar_status(meta)


def main() -> None:
    st.set_page_config(
        layout="wide",
        page_title="OutcomeLoop",
        page_icon=":material/conversion_path:",
        initial_sidebar_state="expanded",
    )
    try:
        grant = auth.grant()
    except AccessError:
        grant = None
    if grant is None:  # signed out, unknown, or access.yaml invalid: no page reads any data
        st.navigation([st.Page(auth.sign_in_page, title="Sign in", default=True)]).run()
        return
    allowed = [p for p in PAGES if Path(p[0]).stem in grant.pages]
    pages = [
        st.Page(PAGES_DIR / file, title=title, icon=icon, url_path=url, default=i == 0)
        for i, (file, title, icon, url) in enumerate(allowed)
    ]
    page = st.navigation(pages)
    try:
        st.session_state[_SEEN_KEY] = _snapshot_key(queries.current())
    except queries.SnapshotUnreadable:
        st.session_state[_SEEN_KEY] = None
    with st.sidebar:
        st.markdown("### OutcomeLoop")
        live_status()
        auth.sidebar_identity()
    page.run()


main()
