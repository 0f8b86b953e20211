"""Every page's frame: its header and one question, then the page, or the state that explains
why there is nothing to show yet (no snapshot published, or one that cannot be read)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard import queries

NO_SNAPSHOT = (
    "No published snapshot yet at `{path}`.\n\n"
    "The dashboard shows what the pipeline last published. To get one, run `make run` (demo data "
    "and the event-driven loop) or `outcomeloop run` (one pipeline run over the files in "
    "`$OUTCOMELOOP_HOME/inbox/`). This page refreshes by itself when the snapshot appears."
)


def empty_state(path: Any) -> None:
    """What every page shows before the pipeline has published anything."""
    st.info(NO_SNAPSHOT.format(path=path), icon=":material/hourglass_empty:")


def unreadable_state(message: str) -> None:
    st.error(
        f"The published snapshot could not be read: {message}\n\n"
        "Re-publish it with `outcomeloop run`; if this persists, the snapshot was built by a "
        "different version of OutcomeLoop.",
        icon=":material/error:",
    )


def page_header(title: str, question: str) -> None:
    """A page title and the one question the page answers."""
    st.title(title, anchor=False)
    st.caption(question)


def render_page(title: str, question: str, body: Callable[[queries.Meta], None]) -> None:
    """Every page's frame: its header, then the empty state when no snapshot is published yet, the
    unreadable state when it cannot be read, and otherwise `body(meta)`."""
    page_header(title, question)
    meta = queries.current()
    if meta is None:
        empty_state(queries.snapshot_path())
        return
    try:
        body(meta)
    except queries.SnapshotUnreadable as exc:
        unreadable_state(str(exc))
