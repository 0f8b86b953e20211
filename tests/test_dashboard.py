"""The dashboard on a hand-written snapshot (tests/snapshot_factory.py): every page renders, shows
the snapshot's numbers, hides what must be hidden, and explains itself when there is no data."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.components.formatting import format_value
from dashboard.components.status import gate_state
from dashboard.components.text import escape_markdown
from dashboard.components.tree import tree_dot
from metrics.privacy import mask_contacts
from metrics.sla import within_sla_share
from tests.snapshot_factory import DDL, HOSTILE_COMMENT, make_snapshot

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
PAGES = ("outcome_tree", "feedback_loop", "themes", "readiness", "data_health")
TITLES = {"themes": "What customers talk about"}


@pytest.fixture
def expected(home: Path) -> dict:
    return make_snapshot(home / "serving" / "current.duckdb")


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    if page != "outcome_tree":  # the default page
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert found, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return found[0]


def all_text(at: AppTest) -> str:
    """Everything the page writes as text, markdown or table cells."""
    parts = [e.value for kind in ("markdown", "caption", "info", "success", "warning", "error")
             for e in getattr(at, kind)]  # fmt: skip
    parts += [d.value.to_string() for d in at.dataframe]
    return "\n".join(str(p) for p in parts)


def frame(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page that has `column`."""
    for d in at.dataframe:
        if column in d.value.columns:
            return d.value
    raise AssertionError(f"no table with column {column!r}")


# --- pages on the fixture snapshot ----------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(expected: dict, page: str) -> None:
    at = open_page(page)
    assert at.title[0].value == TITLES.get(page, page.replace("_", " ").capitalize())


def test_outcome_tree_shows_root_revenue_and_status(expected: dict) -> None:
    at = open_page("outcome_tree")
    assert metric(at, "Revenue · Mar 2025") == expected["root_value_text"] == "810.0K"
    assert metric(at, "Target") == expected["root_target_text"]
    assert metric(at, "Progress vs expected") == "5% of 12%"
    assert any(m.value == "**Status** :orange-badge[At risk]" for m in at.markdown)
    table = frame(at, "Node").set_index("Value")
    assert table.loc["810.0K", "Status"] == "● At risk"
    dot = at.get("graphviz_chart")[0].proto.spec
    assert '"revenue" [label="Revenue\\n810.0K  (target 1.00M)' in dot
    assert "AT RISK" in dot and 'color="#b26a00"' in dot


def test_outcome_tree_shows_measure_values(expected: dict) -> None:
    at = open_page("outcome_tree")
    table = frame(at, "Node")
    nps = table[table["Node"].str.endswith("Net Promoter Score")].iloc[0]
    assert nps["Value"] == expected["nps_all_latest_text"] == "+24"
    assert nps["Status"] == "● On track"
    assert nps["95% interval"] == "+12 to +36"
    ces = table[table["Node"].str.endswith("Customer Effort Score")].iloc[0]
    assert ces["Value"] == expected["ces_all_latest_text"]
    assert round(ces["Progress"], 1) == round(100 * (5.1 - 4.6) / 1.2, 1)


def test_tree_table_and_trend_mark_only_significant_changes(expected: dict) -> None:
    at = open_page("outcome_tree")
    table = frame(at, "Change").set_index(frame(at, "Change")["Node"].str.strip("\u2003└ "))
    # CES 5.0 -> 5.1 with se 0.036 (z 2.77): a significant rise, marked
    assert table.loc["Customer Effort Score", "Change"] == expected["ces_all_change_text"]
    assert table.loc["Customer Effort Score", "Change detail"] == (
        "Change +0.10 (95% interval +0.03 to +0.17): a significant rise"
    )
    # NPS +21 -> +24 with se 9.2: within chance, no marker
    assert table.loc["Net Promoter Score", "Change"] == expected["nps_all_change"]
    assert "▲" not in table.loc["Net Promoter Score", "Change"]
    assert table.loc["Net Promoter Score", "Change detail"].startswith("Change +3 (95% interval -")
    # revenue is counted: its change stands without a verdict
    assert table.loc["Revenue", "Change"] == "+4,000.00 (counted)"
    dot = at.get("graphviz_chart")[0].proto.spec
    assert "\\n▲ +0.10\\n" in dot and "no clear change" in dot
    assert 'tooltip="Change +0.10 (95% interval +0.03 to +0.17): a significant rise"' in dot
    # the trend of CES marks February and March (each +0.10, z 2.77) with up triangles, NPS
    # none of its moves; each point says its change on hover
    at.selectbox(key="trend_measure").select("ces").run()
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    line = next(t for t in figure["data"] if t.get("name") == "Whole organisation")
    assert line["marker"]["symbol"] == ["circle", "triangle-up", "triangle-up"]
    assert [c[0] for c in line["customdata"]] == ["–", "▲ +0.10", "▲ +0.10"]
    at.selectbox(key="trend_measure").select("nps").run()
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    line = next(t for t in figure["data"] if t.get("name") == "Whole organisation")
    assert line["marker"]["symbol"] == ["circle", "circle", "circle"]
    assert [c[0] for c in line["customdata"]] == ["–", "no clear change", "no clear change"]


def test_themes_rank_by_nps_impact_and_show_masked_comments(expected: dict) -> None:
    at = open_page("themes")
    at.selectbox(key="themes_unit").select("Sales").run()
    table = frame(at, "Theme")
    assert list(table["Theme"]) == [expected["top_theme_sales"], "quick help"]
    assert table["NPS impact"].round(2).tolist() == [-16.67, 50.0]
    assert table["Share of comments"].round(1).tolist() == [33.3, 33.3]
    assert table["Detractors"].tolist() == [1, 0]
    comments = frame(at, "Comment")
    assert len(comments) == 1
    assert comments["Comment"].iloc[0].startswith("Waited two weeks. Call me at [phone hidden]")
    assert "1234567" not in all_text(at) and "jane.doe" not in all_text(at)
    at.selectbox(key="themes_theme").select("quick help").run()
    assert frame(at, "Comment")["Comment"].tolist() == ["Sorted in one call"]
    # CES comments mention no theme this month
    at.selectbox(key="themes_source").select("ces").run()
    assert any("No CES comments mention a theme" in i.value for i in at.info)


def test_unit_filter_shows_unit_values_and_hides_suppressed_cells(expected: dict) -> None:
    at = open_page("outcome_tree")
    at.selectbox(key="tree_unit").select("Support").run()
    assert not at.exception
    table = frame(at, "Support value")
    by_node = dict(zip(table["Node"].str.strip("\u2003└ "), table["Support value"], strict=True))
    assert by_node["Revenue"] == "305.0K"
    assert by_node["Customer Effort Score"] == "4.90"
    assert by_node["Net Promoter Score"] == "Hidden"
    assert "too few responses (12 of the 30 needed)" in all_text(at)
    # Support's suppressed NPS (50) never appears, in any form.
    assert "+50" not in all_text(at)
    at.selectbox(key="tree_unit").select("Sales").run()
    table = frame(at, "Sales value")
    nps = table[table["Node"].str.endswith("Net Promoter Score")].iloc[0]
    assert nps["Sales value"] == expected["nps_sales_latest_text"]


def test_drilldown_lists_responses_with_file_and_row_and_masks_contacts(expected: dict) -> None:
    at = open_page("outcome_tree")
    at.selectbox(key="drill_unit").select("Sales").run()
    table = frame(at, "Comment")
    assert list(table["Response"]) == ["R_102", "R_101", "R_103"]  # lowest scores first
    assert list(table["Row"]) == [13, 12, 14]
    assert set(table["File"]) == {"inbox/nps/nps_2025_03.csv"}
    masked = table.set_index("Response").loc["R_101", "Comment"]
    assert masked == "Waited two weeks. Call me at [phone hidden] or mail [e-mail hidden]"
    assert "jane.doe@example.com" not in all_text(at)
    assert any("**+22** from 128 responses" in m.value for m in at.markdown)
    at.toggle(key="drill_with_comment").set_value(False).run()  # R_105 has no comment
    assert list(frame(at, "Comment")["Response"]) == ["R_102", "R_101", "R_105", "R_103"]


def test_contacts_are_shown_when_the_strategy_turns_masking_off(home: Path) -> None:
    make_snapshot(home / "serving" / "current.duckdb", mask_contacts=False)
    at = open_page("outcome_tree")
    comments = list(frame(at, "Comment")["Comment"])
    assert any("jane.doe@example.com" in c for c in comments)


def test_hostile_comment_is_text_not_markup(expected: dict) -> None:
    at = open_page("feedback_loop")
    items = frame(at, "Comment")
    assert list(items["Comment"]) == [HOSTILE_COMMENT]  # a table cell: shown as typed
    for element in (*at.markdown, *at.caption):
        assert "evil.example" not in element.value  # never handed to the markdown renderer


def test_feedback_loop_counts_and_gates(expected: dict) -> None:
    at = open_page("feedback_loop")
    assert metric(at, "Items") == str(expected["march_items"])
    assert metric(at, "In loop") == "3"
    assert metric(at, "Acted within SLA") == "1"
    assert metric(at, "Overdue") == str(expected["overdue_total"])
    assert metric(at, "Held") == str(expected["held_total"])
    assert metric(at, "Within SLA") == "50%"  # 1 acted in time of 2 due (1 acted, 1 overdue)
    units = frame(at, "Gate").set_index("Unit")
    assert units.loc["Sales", "Gate"] == "● Ready since Jan 2025"
    assert units.loc["Support", "Gate"] == "● Not ready since Jan 2025"
    assert units.loc["Support", "Held"] == 1
    items = frame(at, "Feedback id")
    assert list(items["Feedback id"]) == [expected["overdue_feedback_id"]]  # default: overdue
    assert list(items["Due"]) == ["2025-03-17 08:00"]
    assert list(items["Overdue by"]) == ["3.2 days"]  # due 17 Mar 08:00, snapshot 20 Mar 12:00


def test_feedback_loop_filters_and_all_periods(expected: dict) -> None:
    at = open_page("feedback_loop")
    at.multiselect(key="fl_statuses").set_value(["held_not_ready", "acted_late"]).run()
    items = frame(at, "Feedback id")
    assert sorted(items["Feedback id"]) == ["C_202", "R_090"]
    at.multiselect(key="fl_sources").set_value(["nps"]).run()
    assert list(frame(at, "Feedback id")["Feedback id"]) == ["R_090"]
    at.selectbox(key="fl_period").select("__all__").run()
    assert metric(at, "Items") == "5"
    assert metric(at, "Acted late") == "1"
    assert metric(at, "Within SLA") == "33%"  # 1 in time of 3 due
    assert at.get("download_button")[0].proto.label == "Download these items (CSV)"


def test_readiness_gates_and_assessor_only_block(expected: dict) -> None:
    at = open_page("readiness")
    assert metric(at, "Units ready") == "1 of 2"
    gates = frame(at, "Gate").set_index("Unit")
    assert gates.loc["Sales", "Gate"] == "● Ready"
    assert gates.loc["Sales", "Since"] == "Jan 2025"
    assert gates.loc["Support", "Gate"] == "● Not ready"
    assert gates.loc["Support", "Blocked by"] == (
        "Only the assessor count: 1 assessor scored it, 2 needed"
    )
    closest = [m.value for m in at.markdown if m.value.startswith("**Support**")]
    assert closest and "Only the assessor count" in closest[0]


def test_data_health_ledger_quarantine_and_empty_sources(expected: dict) -> None:
    at = open_page("data_health")
    assert metric(at, "Files loaded") == "3"
    assert metric(at, "Files rejected") == "1"
    assert metric(at, "Duplicates skipped") == "1"
    assert metric(at, "Rows quarantined") == "1"
    assert metric(at, "Orphan actions") == "1"
    assert list(frame(at, "Error")["File"]) == [expected["rejected_file"]]
    reasons = frame(at, "Reason")
    assert list(reasons["Reason"]) == [expected["quarantine_reason"]]
    assert list(reasons["Rows"]) == [1]
    assert list(frame(at, "Feedback id")["Feedback id"]) == [expected["orphan_feedback_id"]]
    states = frame(at, "State").set_index("Source")["State"]
    assert states["nps"] == "● Fresh" and states["revenue"] == "● Stale"
    assert states["upsell"] == "○ No data yet"
    infos = " ".join(i.value for i in at.info)
    for source in expected["sources_without_data"]:
        assert f"`inbox/{source}/`" in infos
    # an unknown folder in the inbox is listed with the reason and the hint
    unread = frame(at, "Why")
    assert unread.values.tolist() == [
        ["inbox/NPS", "not read: unknown source folder", "rename it to 'nps'"]
    ]
    assert any("1 folder(s) or file(s) in the inbox" in w.value for w in at.warning)


def test_numbers_in_tables_stay_numbers_so_they_sort_as_numbers(expected: dict) -> None:
    """Number columns with gaps keep their dtype (formatted by column_config, not turned to text)."""
    numeric = pd.api.types.is_numeric_dtype
    tree = frame(open_page("outcome_tree"), "Node")
    assert numeric(tree["Responses"]) and tree["Responses"].isna().any()
    assert list(tree["Responses"].fillna(-1)) == [2, -1, 140, 80]
    health = frame(open_page("data_health"), "State").set_index("Source")
    for column in ("Hours since last file", "Policy (hours)", "Files", "Rows loaded"):
        assert numeric(health[column]), column
    assert health.loc["revenue", "Hours since last file"] == 461.0  # 1 Mar 07:00 to 20 Mar 12:00
    assert pd.isna(health.loc["upsell", "Hours since last file"])
    units = frame(open_page("feedback_loop"), "Gate").set_index("Unit")
    assert numeric(units["Within SLA"]) and units.loc["Sales", "Within SLA"] == 50.0
    assert pd.isna(units.loc["Support", "Within SLA"])  # nothing due: no share, not 0%
    gates = frame(open_page("readiness"), "Gate").set_index("Unit")
    assert numeric(gates["Score"]) and numeric(gates["Assessors"])


def test_sidebar_says_how_current_the_data_is(expected: dict) -> None:
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "Data current through" in sidebar and "2025-03-20 09:30 UTC" in sidebar
    assert any("Snapshot built" in c.value for c in at.sidebar.caption)


def test_a_new_snapshot_shows_up_without_restart(home: Path, expected: dict) -> None:
    at = open_page("data_health")
    assert metric(at, "Files rejected") == "1"
    make_snapshot(
        home / "serving" / "current.duckdb",
        built_at=datetime(2025, 3, 20, 13, 0),
        tables={"ops.file_ledger": []},
    )
    at.run()
    assert metric(at, "Files rejected") == "0"


# --- empty and error states -----------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_without_a_snapshot_every_page_says_how_to_get_one(home: Path, page: str) -> None:
    at = open_page(page)
    text = " ".join(i.value for i in at.info)
    assert "No published snapshot yet" in text
    assert "`make run`" in text and "`outcomeloop run`" in text
    assert not at.metric and not at.dataframe


EMPTY_MESSAGES = {
    "outcome_tree": "No outcome progress yet",
    "feedback_loop": "No feedback loop yet",
    "themes": "No comment mentions any theme yet",
    "readiness": "No readiness assessments yet",
    "data_health": "No sources configured and no files landed yet",
}


@pytest.mark.parametrize("page", PAGES)
def test_a_snapshot_without_data_explains_itself(home: Path, page: str) -> None:
    keep = {"serving.meta", "serving.strategy", "serving.tree", "serving.measures"}
    make_snapshot(home / "serving" / "current.duckdb", tables={t: [] for t in DDL if t not in keep})
    at = open_page(page)
    assert any(i.value.startswith(EMPTY_MESSAGES[page]) for i in at.info)


# --- pure functions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mail jane.doe@example.com now", "mail [e-mail hidden] now"),
        ("call +49 170 1234567.", "call [phone hidden]."),
        ("call (030) 123-4567 today", "call [phone hidden] today"),
        ("on 2025-03-20 it broke", "on 2025-03-20 it broke"),  # a date is not a phone number
        ("score 10, order 12345", "score 10, order 12345"),  # short numbers stay
        ("no contact here", "no contact here"),
        (None, None),
    ],
)
def test_mask_contacts(text: str | None, masked: str | None) -> None:
    assert mask_contacts(text) == masked


def test_escape_markdown_neutralises_markup() -> None:
    escaped = escape_markdown("**bold** <b>x</b> [a](http://e.x) :red[y] $z$")
    assert escaped == r"\*\*bold\*\* \<b\>x\</b\> \[a\]\(http\://e\.x\) \:red\[y\] \$z\$"


@pytest.mark.parametrize(
    ("value", "fmt", "kind", "text"),
    [
        (810000, "currency", "sum", "810.0K"),
        (12_500_000, "currency", "sum", "12.50M"),
        (4.2, None, "sum_ratio", "4.20"),
        (24.4, "signed", "nps", "+24"),
        (-5.2, None, "nps", "-5"),
        (0.2, None, "nps", "0"),
        (34.25, None, "share", "34.2%"),
        (0.125, "percent", "ratio", "12.5%"),  # a ratio is a fraction: x 100 as a percent
        (0.126, None, "ratio", "0.13"),  # without a format a ratio is a number, as published
        (62.5, None, "employee_health", "62.5/100"),
        (5.1, "number", "mean", "5.10"),
        (None, "currency", "sum", "–"),
        (float("nan"), None, "mean", "–"),
    ],
)
def test_format_value(value, fmt, kind, text) -> None:
    assert format_value(value, fmt, kind) == text


def test_tree_dot_colours_and_words_and_escapes_quotes() -> None:
    dot = tree_dot([
        {"node": "revenue", "parent": None, "label": 'Rev "net"', "status": "off_track",
         "lines": ["1.00M"]},
        {"node": "nps", "parent": "revenue", "label": "NPS", "status": None},
    ])  # fmt: skip
    assert '"revenue" [label="Rev \\"net\\"\\n1.00M\\nOFF TRACK", fillcolor="#fde7e7"' in dot
    assert '"nps" [label="NPS\\nINSUFFICIENT DATA"' in dot
    assert '"revenue" -> "nps";' in dot


def test_gate_state_reports_the_current_streak() -> None:
    gates = pd.DataFrame({
        "unit": ["A"] * 4,
        "period_start": [date(2025, m, 1) for m in (1, 2, 3, 4)],
        "score": [3.0, 3.8, 3.0, 3.1],
        "ready": [False, True, False, False],
        "blocking_dimensions": [["data"], [], ["data"], ["people", "data"]],
        "ready_since": [None, date(2025, 2, 1), None, None],
    })  # fmt: skip
    state = gate_state(gates, "A")
    assert (state["ready"], state["since"], state["blocking"]) == (
        False, date(2025, 3, 1), ["people", "data"]
    )  # fmt: skip
    assert gate_state(gates, "A", date(2025, 2, 1))["since"] == date(2025, 2, 1)
    assert gate_state(gates, "B")["ready"] is None


def test_within_sla_share_ignores_items_not_yet_due() -> None:
    assert within_sla_share(1, 0, 1) == 0.5
    assert within_sla_share(0, 0, 0) is None


def test_the_dashboard_imports_no_compute_engine() -> None:
    """The pages read a small snapshot: Ibis and sqlglot (the marts' engine) stay out of the
    dashboard's process, which keeps its memory and first page load small."""
    code = (
        "import sys\n"
        "import dashboard.queries\n"
        "for page in ('data_health', 'feedback_loop', 'outcome_tree', 'readiness'):\n"
        "    __import__(f'dashboard.views.{page}')\n"
        "print(sorted(m for m in ('ibis', 'sqlglot', 'dagster') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_data_health_shows_the_alert_log_with_pending_and_failed_errors(expected: dict) -> None:
    at = open_page("data_health")
    assert metric(at, "Alerts sent") == "1"  # the status baseline was recorded, not sent
    assert metric(at, "Alerts pending") == "1"
    assert metric(at, "Alerts failed") == "1"
    log = frame(at, "Delivery")
    assert list(log["Delivery"]) == [
        "● Failed (gave up)",
        "○ Pending (retried next run)",
        "● Sent",
        "○ Recorded, not sent",
    ]
    assert list(log["Subject"])[:3] == [
        "revenue: no new file since 2025-03-01 07:00",
        "C_201",
        "R_102",
    ]
    assert log.loc[1, "Error"] == expected["alert_error"]
    assert list(log["Attempts"]) == [5, 2, 1, 0]


def test_an_alert_log_refreshed_in_place_shows_without_a_new_build(home: Path, expected) -> None:
    """The alerts step replaces the snapshot by one with a new ops.alert_log and the same
    built_at (so the data's cache keys do not change); the page still shows the new log."""
    at = open_page("data_health")
    assert metric(at, "Alerts pending") == "1"
    make_snapshot(home / "serving" / "current.duckdb", tables={"ops.alert_log": []})
    at.run()
    assert not [m for m in at.metric if m.label.startswith("Alerts")]
    assert any(i.value.startswith("No alert yet") for i in at.info)


# --- closing the loop -----------------------------------------------------------------------------


def test_feedback_loop_shows_the_loops_effect_closing_and_root_causes(expected: dict) -> None:
    at = open_page("feedback_loop")
    # March: R_101 was acted upon and its customer came back with a 9; nothing unacted followed up.
    assert metric(at, "Recovered when acted upon") == "100%"
    assert metric(at, "Recovered when not acted upon") == "–"
    assert metric(at, "Customer told") == "33%"  # 1 of the 3 in-loop items
    text = all_text(at)
    assert "100% (21–100%), n = 1" in text  # Wilson 95% for 1 of 1
    effect = frame(at, "Acted upon: recovered").set_index("Unit")
    assert effect.loc["Sales", "Acted upon: recovered"] == 100.0
    assert effect.loc["Sales", "Acted upon: 95% range, n"] == "21–100%, n = 1"
    assert effect.loc["Sales", "Not acted upon: 95% range, n"] == "n = 0"
    assert frame(at, "Closed with customer").set_index("Unit").loc[
        "Sales", "Closed with customer"
    ] == (pytest.approx(100 / 3))
    at.multiselect(key="fl_statuses").set_value(["acted", "acted_late"]).run()
    items = frame(at, "Feedback id").set_index("Feedback id")
    assert items.loc["R_101", "Owner"] == "ana"
    assert items.loc["R_101", "Root cause"] == "billing error"
    assert items.loc["R_101", "Follow-up score"] == 9.0
    assert items.loc["R_101", "Recovered"] == "yes"
    assert items.loc["R_090", "Recovered"] == "no"
    # Over all periods, February's acted item (followed by a 4) joins: 1 of 2 recovered.
    at.selectbox(key="fl_period").select("__all__").run()
    assert metric(at, "Recovered when acted upon") == "50%"


def test_feedback_loop_opens_on_the_latest_period_with_items(home: Path) -> None:
    from tests.snapshot_factory import _tables

    loop = _tables(datetime(2025, 4, 2), datetime(2025, 4, 2), True)["marts.feedback_loop"]
    april = [("Sales", date(2025, 4, 1), *[0] * 8, None, 0)]
    make_snapshot(
        home / "serving" / "current.duckdb",
        built_at=datetime(2025, 4, 2, 12),
        tables={"marts.feedback_loop": loop + april},
    )
    at = open_page("feedback_loop")
    assert at.selectbox(key="fl_period").value == date(2025, 3, 1)  # not the empty April


def test_an_action_logged_in_the_form_is_one_pending_canonical_file(
    home: Path, expected: dict
) -> None:
    import json

    at = open_page("feedback_loop")
    assert at.selectbox(key="la_item").value == expected["overdue_feedback_id"]
    at.text_input(key="la_owner").input("cx.agent@example.com")
    at.selectbox(key="la_cause").select("billing error")
    at.button(key="la_submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (written,) = (home / "inbox" / "feedback_actions").iterdir()
    assert written.name.startswith("dashboard-") and written.name.endswith(".canonical.jsonl")
    (line,) = written.read_text(encoding="utf-8").splitlines()
    obj = json.loads(line)
    assert {k: obj[k] for k in ("feedback_id", "action_type", "owner", "root_cause", "note")} == {
        "feedback_id": "R_102",
        "action_type": "customer_informed",
        "owner": "cx.agent@example.com",
        "root_cause": "billing error",
        "note": None,
    }
    assert obj["action_at"].endswith("+00:00")
    assert "pending: the pipeline has not loaded it yet" in all_text(at)


def test_data_health_lists_root_causes_outside_the_strategy(expected: dict) -> None:
    at = open_page("data_health")
    causes = frame(at, "Root cause")
    assert list(causes["Root cause"]) == [expected["unknown_root_cause"]]
