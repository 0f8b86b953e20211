"""Data health (data engineers): did the data arrive, and what was rejected or quarantined?

Nothing is dropped silently: every landed file is in the ledger (loaded, rejected with its error,
or a duplicate of bytes already loaded), every row became an event, was filtered on purpose or was
quarantined with its reason. This page shows per source the last file, the row counts and the
freshness, the rejected files, the quarantine reasons with sample rows, feedback actions that
match no response (yet), and the alert log (what was sent, what is pending, what failed and why).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.components.formatting import format_count
from dashboard.components.frame import render_page
from dashboard.components.status import CIRCLE, DOT
from dashboard.components.tables import labelled_table
from dashboard.components.text import escape_markdown

QUESTION = (
    "Did the data arrive? Per source: last file, rows loaded, filtered, quarantined, freshness."
)


def freshness_label(row: Any) -> str:
    """A source's state in words: no data, stale (older than its policy allows) or fresh."""
    if not bool(row.get("configured", True)):
        return f"{CIRCLE} Not configured"
    if not row.get("files") or pd.isna(row.get("files")):
        return f"{CIRCLE} No data yet"
    if not row.get("events") or pd.isna(row.get("events")):
        return f"{DOT} No events loaded"
    stale = row.get("stale")
    if stale is not None and not pd.isna(stale) and bool(stale):
        return f"{DOT} Stale"
    return f"{DOT} Fresh"


def _sources(meta: queries.Meta, health: pd.DataFrame) -> None:
    st.subheader("Sources", anchor=False)
    if health.empty:
        st.info("No sources configured and no files landed yet.")
        return
    table = pd.DataFrame({
        "Source": health["source"],
        "State": [freshness_label(r) for _, r in health.iterrows()],
        "Last file": health["last_file"].fillna(""),
        "Last loaded": health["last_loaded_at"],
        "Latest event": health["latest_event_at"],
        "Hours since last file": (
            (pd.Timestamp(meta.built_at) - pd.to_datetime(health["last_loaded_at"]))
            .dt.total_seconds().div(3600).round(1)
        ),
        "Policy (hours)": health["freshness_hours"].round(0),
        "Files": health["files"],
        "Rejected": health["files_rejected"],
        "Duplicates": health["files_duplicate"],
        "Rows loaded": health["rows_loaded"],
        "Rows filtered": health["rows_filtered"],
        "Rows quarantined": health["rows_quarantined"],
        "Events": health["events"],
    })  # fmt: skip
    labelled_table(
        table, ["State"],
        {
            "Hours since last file": st.column_config.NumberColumn(
                help="Hours between the source's last loaded file and the snapshot's build",
                format="%.1f",
            ),
            "Policy (hours)": st.column_config.NumberColumn(
                help="How long the source may go without a new file before it is stale "
                "(freshness_hours in sources.yaml)",
                format="%d",
            ),
        },
    )  # fmt: skip
    st.caption(
        "Stale: no new file for longer than the source's freshness policy allows. "
        "Filtered rows were excluded on purpose (a `where` rule, survey previews); quarantined rows "
        "are listed below with their reasons."
    )
    empty = health[health["files"].fillna(0) == 0]
    for _, r in empty.iterrows():
        st.info(
            f"**{escape_markdown(r['source'])}**: no data yet, so its measures are "
            f"empty. Drop its exports into `inbox/{r['source']}/`; the sensor picks them up.",
            icon=":material/inbox:",
        )


def _rejected(meta: queries.Meta) -> None:
    st.subheader("Rejected files", anchor=False)
    rejected = queries.file_ledger(meta, "rejected")
    if rejected.empty:
        st.success("No file was rejected.", icon=":material/check_circle:")
        return
    st.dataframe(
        rejected[["loaded_at", "source", "file_path", "error", "size_bytes"]].rename(
            columns={"loaded_at": "Seen", "source": "Source", "file_path": "File",
                     "error": "Error", "size_bytes": "Bytes"}
        ),
        hide_index=True, width="stretch",
        column_config={
            "Seen": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Error": st.column_config.TextColumn(width="large"),
        },
    )  # fmt: skip
    st.caption(
        "A rejected file loads nothing. Fix the mapping in sources.yaml, then "
        "`outcomeloop reload SOURCE`, or land a corrected file."
    )


def _quarantine(meta: queries.Meta) -> None:
    st.subheader("Quarantined rows by reason", anchor=False)
    summary = queries.quarantine_summary(meta)
    if summary.empty:
        st.success("No row is in quarantine.", icon=":material/check_circle:")
        return
    st.dataframe(
        summary[["source", "reason", "rows", "files", "last_at"]].rename(
            columns={"source": "Source", "reason": "Reason", "rows": "Rows", "files": "Files",
                     "last_at": "Last seen"}
        ),
        hide_index=True, width="stretch",
        column_config={
            "Last seen": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Reason": st.column_config.TextColumn(width="large"),
        },
    )  # fmt: skip
    for i, r in summary.head(10).iterrows():
        title = f"{r['source']}: {r['reason']} ({int(r['rows']):,} rows)"
        with st.expander(escape_markdown(title)):
            st.caption(
                f"Sample: {escape_markdown(r['sample_file'])}, "
                f"row {'–' if pd.isna(r['sample_row']) else int(r['sample_row'])}"
            )
            st.code(r["sample_record"] or "", language="json", wrap_lines=True)
            rows = queries.quarantine_rows(meta, r["source"], r["reason"])
            if len(rows) > 1:
                st.dataframe(
                    rows.rename(columns={"quarantined_at": "Quarantined", "file_path": "File",
                                         "row_number": "Row", "record": "Record"}),
                    hide_index=True, width="stretch", key=f"q_rows_{i}",
                )  # fmt: skip


def _orphans(meta: queries.Meta) -> None:
    st.subheader("Orphan feedback actions", anchor=False)
    orphans = queries.orphan_actions(meta)
    if orphans.empty:
        st.success("Every feedback action matches a response.", icon=":material/check_circle:")
        return
    st.dataframe(
        orphans.rename(columns={"feedback_id": "Feedback id", "action_at": "Action at",
                                "action_type": "Action", "owner": "Owner", "file_path": "File",
                                "row_number": "Row"}),
        hide_index=True, width="stretch",
        column_config={"Action at": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")},
    )  # fmt: skip
    st.caption(
        "Actions whose feedback_id matches no response: a typo in the id, or the response has "
        "not arrived yet (files land in any order). They are kept, and count once it arrives."
    )


def _unread(meta: queries.Meta) -> None:
    unread = queries.unread_inbox(meta)
    if unread.empty:
        return
    st.subheader("Not read", anchor=False)
    st.warning(
        f"{len(unread)} folder(s) or file(s) in the inbox belong to no source and are not read.",
        icon=":material/folder_off:",
    )
    st.dataframe(
        unread.rename(columns={"path": "Path", "reason": "Why", "hint": "Hint"}),
        hide_index=True, width="stretch",
    )  # fmt: skip
    st.caption("Each source reads inbox/<source>/ only, spelled as in sources.yaml (lower case).")


def alert_state(row: Any) -> str:
    """An alert's delivery in words (a status baseline was recorded, never sent)."""
    if row["status"] == "failed":
        return f"{DOT} Failed (gave up)"
    if row["status"] == "pending":
        return f"{CIRCLE} Pending (retried next run)"
    if not row["attempts"]:
        return f"{CIRCLE} Recorded, not sent"
    return f"{DOT} Sent"


def _alerts(meta: queries.Meta) -> None:
    st.subheader("Alerts", anchor=False)
    try:
        log = queries.alert_log(meta)
    except queries.SnapshotUnreadable:  # a snapshot published before alerts existed
        log = pd.DataFrame()
    if log.empty:
        st.info(
            "No alert yet. Alerts go out through the webhook and e-mail channels of alerts.yaml "
            "(see the README's Alerts section); without that file there are none.",
            icon=":material/notifications:",
        )
        return
    owed = log[log["status"] != "sent"]
    sent = log[(log["status"] == "sent") & (log["attempts"] > 0)]
    c1, c2, c3 = st.columns(3)
    c1.metric("Alerts sent", format_count(len(sent)), border=True)
    c2.metric("Alerts pending", format_count(int((log["status"] == "pending").sum())), border=True)
    c3.metric("Alerts failed", format_count(int((log["status"] == "failed").sum())), border=True)
    table = pd.DataFrame({
        "Delivery": [alert_state(r) for _, r in log.iterrows()],
        "Rule": log["rule"],
        "Subject": log["subject"],
        "Unit": log["unit"].fillna(""),
        "Channel": log["channel"].fillna(""),
        "First seen": log["first_seen_at"],
        "Sent": log["sent_at"],
        "Attempts": log["attempts"],
        "Error": log["error"].fillna(""),
    })  # fmt: skip
    labelled_table(
        table, ["Delivery"],
        {
            "First seen": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Sent": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Error": st.column_config.TextColumn(width="large"),
        },
    )  # fmt: skip
    if not owed.empty:
        st.caption(
            "A pending alert is sent again at the next evaluation (each run, and hourly by the "
            "clock_refresh schedule); after 5 failed attempts it is marked failed and kept here. "
            "Check the channel's URL or $OUTCOMELOOP_SMTP_URL; the error says what the receiver "
            "answered."
        )


def _unknown_root_causes(meta: queries.Meta) -> None:
    """Actions naming a root cause outside strategy.yaml's `feedback_loop.root_causes` (only when
    the strategy lists them): a typo, or a cause the list should gain."""
    known = (queries.strategy(meta).get("feedback_loop") or {}).get("root_causes")
    if not known:
        return
    st.subheader("Root causes not in the strategy", anchor=False)
    causes = queries.action_root_causes(meta)
    unknown = causes[~causes["root_cause"].isin(known)]
    if unknown.empty:
        st.success(
            "Every action's root cause is one of the strategy's.", icon=":material/check_circle:"
        )
        return
    st.dataframe(
        unknown.rename(columns={"root_cause": "Root cause", "actions": "Actions",
                                "last_action_at": "Latest action", "last_file": "Latest file"}),
        hide_index=True, width="stretch",
        column_config={"Latest action": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")},
    )  # fmt: skip
    st.caption(
        f"strategy.yaml lists {len(known)} root causes (feedback_loop.root_causes); these actions "
        "name another. They still count: fix the spelling in the export, or add the cause."
    )


def render() -> None:
    render_page("Data health", QUESTION, _render)


def _render(meta: queries.Meta) -> None:
    health = queries.source_health(meta)
    ledger = queries.file_ledger(meta)
    orphans = queries.orphan_actions(meta)
    c1, c2, c3, c4, c5 = st.columns(5)
    status = ledger["status"].value_counts() if not ledger.empty else pd.Series(dtype="int64")
    c1.metric("Files loaded", format_count(status.get("loaded", 0)), border=True)
    c2.metric("Files rejected", format_count(status.get("rejected", 0)), border=True)
    c3.metric("Duplicates skipped", format_count(status.get("duplicate", 0)), border=True)
    c4.metric("Rows quarantined", format_count(health["rows_quarantined"].sum()), border=True)
    c5.metric("Orphan actions", format_count(len(orphans)), border=True)
    st.link_button(
        "Open the Dagster UI (runs, asset checks, sensors)", meta.dagster_url,
        icon=":material/open_in_new:",
    )  # fmt: skip
    _sources(meta, health)
    _unread(meta)
    _rejected(meta)
    _quarantine(meta)
    _orphans(meta)
    _alerts(meta)
    _unknown_root_causes(meta)
    with st.expander(f"File ledger ({len(ledger):,} files)"):
        st.dataframe(
            ledger, hide_index=True, width="stretch",
            column_config={"loaded_at": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")},
        )  # fmt: skip


if __name__ == "__main__":
    render()
