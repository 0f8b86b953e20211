"""access.yaml: who sees which pages and units, validated with YAML paths, and the unit scope that
every dashboard query reads the snapshot through."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from metrics.access import PAGES, AccessError, Grant, load_access, validate_access
from metrics.config import settings
from metrics.store.scope import PARTLY_SHARED, SHARED_TABLES
from metrics.store.warehouse import query_snapshot
from pipelines.cli.main import main
from tests.snapshot_factory import make_snapshot

CONTRACT_EXAMPLE = """
roles:
  leadership:    {pages: all, units: all}
  unit_lead:     {pages: [outcome_tree, feedback_loop, readiness], units: assigned}
  cx_agent:      {pages: [feedback_loop], units: assigned, log_actions: true}
  data_engineer: {pages: [data_health]}
users:
  ceo@example.com: leadership
  lead@example.com: {role: unit_lead, units: [Sales]}
  group:cx-sales: {role: cx_agent, units: [Sales]}
  group:data: data_engineer
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "access.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path):
    return load_access(_write(tmp_path, CONTRACT_EXAMPLE))


@pytest.mark.parametrize(
    ("email", "groups", "expected"),
    [
        ("ceo@example.com", [], Grant("leadership", PAGES, None, False)),
        # e-mail addresses are matched without regard to case
        ("CEO@Example.com", [], Grant("leadership", PAGES, None, False)),
        (
            "lead@example.com",
            [],
            Grant("unit_lead", ("outcome_tree", "feedback_loop", "readiness"), ("Sales",), False),
        ),
        ("agent@example.com", ["other", "cx-sales"], Grant("cx_agent", ("feedback_loop",), ("Sales",), True)),
        # the e-mail entry wins over a group entry
        ("ceo@example.com", ["cx-sales"], Grant("leadership", PAGES, None, False)),
        # a role without `units` reads every unit (it limits pages only)
        ("dana@example.com", ["data"], Grant("data_engineer", ("data_health",), None, False)),
        ("stranger@example.com", ["sales"], None),
        (None, [], None),
        # a groups claim that is not a list names no group
        ("x@example.com", "cx-sales", None),
    ],
)  # fmt: skip
def test_grants(config, email, groups, expected):
    assert config.grant_for(email, groups) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "roles: {lead: {pages: all, units: assigned}}\nusers: {a@x.com: lead}",
            ["users.a@x.com: role 'lead' reads only assigned units, but none are given "
             "(hint: write {role: lead, units: [<unit>, ...]})"],
        ),
        (
            "roles: {leader: {units: all}}\nusers: {a@x.com: leadr}",
            ["users.a@x.com.role: unknown role 'leadr' (hint: did you mean 'leader'?)"],
        ),
        (
            "roles: {leader: {units: all}}\nusers: {a@x.com: {role: leader, units: [Sales]}}",
            ["users.a@x.com.units: role 'leader' already reads every unit "
             "(hint: remove units:, or give a role with `units: assigned`)"],
        ),
        (
            "roles: {lead: {units: assigned}}\nusers: {a@x.com: {role: lead, units: [all]}}",
            ["users.a@x.com.units: 'all' is not a unit (hint: give the role `units: all` to see "
             "every unit)"],
        ),
        (
            "roles: {r: {pages: [outcome_tre]}}\nusers: {alice: r}",
            ["roles.r.pages[0]: not allowed 'outcome_tre' (hint: did you mean 'outcome_tree'?)",
             "users.alice: 'alice' is neither an e-mail address nor a group (hint: write the "
             "user's e-mail address, or group:<name> for a group)"],
        ),
        (
            "roles: {r: {pages: [], log_action: true}}\nusers: {}",
            ["roles.r.pages: a role needs at least one page",
             "roles.r.log_action: unknown key 'log_action' (hint: did you mean 'log_actions'?)"],
        ),
        ("", ["<root>: the file is empty (hint: add roles: and users:)"]),
    ],
)  # fmt: skip
def test_problems_name_their_yaml_path(text, expected):
    from metrics.problems import parse_yaml

    config, problems = validate_access(parse_yaml(text))
    assert config is None
    shown = [str(p) for p in problems]
    assert len(shown) == len(expected), shown
    for line, want in zip(shown, expected, strict=True):
        assert line.startswith(want), (line, want)


def test_unknown_page_has_a_did_you_mean(tmp_path):
    with pytest.raises(AccessError) as err:
        load_access(_write(tmp_path, "roles: {r: {pages: [outcome_tre]}}\nusers: {a@x.com: r}"))
    (problem,) = err.value.problems
    assert problem.path.startswith("roles.r.pages")
    assert "outcome_tree" in str(problem)


def test_access_file_is_found_in_home_or_by_variable(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    assert settings({"OUTCOMELOOP_HOME": str(home)}).access_path is None
    (home / "access.yaml").write_text(CONTRACT_EXAMPLE)
    assert settings({"OUTCOMELOOP_HOME": str(home)}).access_path == home / "access.yaml"
    other = _write(tmp_path, CONTRACT_EXAMPLE)
    env = {"OUTCOMELOOP_HOME": str(home), "OUTCOMELOOP_ACCESS": str(other)}
    assert settings(env).access_path == other.resolve()
    # a variable naming no file is kept, so `check` reports it and the dashboard lets nobody in
    env = {"OUTCOMELOOP_HOME": str(home), "OUTCOMELOOP_ACCESS": str(tmp_path / "no.yaml")}
    assert settings(env).access_path == tmp_path / "no.yaml"
    with pytest.raises(AccessError, match="access file .*no.yaml does not exist"):
        load_access(settings(env).access_path)


def test_check_validates_access_yaml(home, capsys):
    assert main(["check"]) == 0
    assert "access.yaml" not in capsys.readouterr().out
    (home / "access.yaml").write_text(CONTRACT_EXAMPLE)
    assert main(["check"]) == 0
    assert f"ok   {home / 'access.yaml'}" in capsys.readouterr().out
    (home / "access.yaml").write_text("roles: {r: {units: some}}\nusers: {a@x.com: r}\n")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {home / 'access.yaml'}: 1 problem(s)" in out
    assert "roles.r.units: unknown units 'some'" in out


# --- the unit scope of the query layer -----------------------------------------------------------


def _tables(path: Path) -> list[tuple[str, str, bool]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "SELECT table_schema, table_name, bool_or(column_name = 'unit') "
            "FROM information_schema.columns GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()


def test_a_scoped_reader_reads_only_their_units_in_every_table(tmp_path):
    path = tmp_path / "current.duckdb"
    make_snapshot(path)
    tables = _tables(path)
    assert len(tables) >= 10
    checked_unit_tables = 0
    for schema, table, has_unit in tables:
        name = f"{schema}.{table}"
        whole = query_snapshot(path, f"SELECT * FROM {name}").to_pandas()
        scoped = query_snapshot(path, f"SELECT * FROM {name}", units=["Sales"]).to_pandas()
        assert list(scoped.columns) == list(whole.columns), name
        if has_unit:
            assert set(scoped["unit"]) <= {"Sales"}, name
            assert len(scoped) == (whole["unit"] == "Sales").sum(), name
            checked_unit_tables += int(len(scoped) > 0)
        elif name in SHARED_TABLES:
            assert len(scoped) == len(whole), name
        elif name in PARTLY_SHARED:  # the dashboard's own action files only (test below)
            assert len(scoped) <= len(whole), name
        else:  # organisation-wide tables (quarantine, orphans, ...): not for a unit's reader
            assert scoped.empty, name
    assert checked_unit_tables >= 4  # the fixture has Sales rows in several marts
    nobody = query_snapshot(path, "SELECT count(*) AS n FROM marts.measure_values", units=[])
    assert nobody.to_pylist() == [{"n": 0}]


def test_suppression_holds_inside_a_scope(tmp_path):
    """A hidden cell of the reader's own unit stays flagged hidden (the pages hide it; employee
    measures' values are NULL already), and the `all` row it could be subtracted from is not
    readable."""
    path = tmp_path / "current.duckdb"
    make_snapshot(path)
    sql = (
        "SELECT unit, measure, period_start, value, suppressed FROM marts.measure_values "
        "WHERE suppressed ORDER BY ALL"
    )
    hidden = query_snapshot(path, sql).to_pylist()
    unit = next(r["unit"] for r in hidden if r["unit"] != "all")
    scoped = query_snapshot(path, sql, units=[unit]).to_pylist()
    assert scoped == [r for r in hidden if r["unit"] == unit]
    assert scoped and all(r["suppressed"] for r in scoped)
    all_rows = "SELECT count(*) AS n FROM marts.measure_values WHERE unit = 'all'"
    assert query_snapshot(path, all_rows, units=[unit]).to_pylist() == [{"n": 0}]


def test_a_unit_name_is_data_not_sql(tmp_path):
    path = tmp_path / "current.duckdb"
    make_snapshot(path)
    sql = "SELECT count(*) AS n FROM marts.measure_values"
    assert query_snapshot(path, sql, units=["x') OR true --"]).to_pylist() == [{"n": 0}]


# --- the gate: with access.yaml, nobody signed in reads anything --------------------------------


def _app(home: Path):
    from streamlit.testing.v1 import AppTest

    make_snapshot(home / "serving" / "current.duckdb")
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    return AppTest.from_file(str(app), default_timeout=30)


def _shown(at) -> str:
    kinds = ("title", "markdown", "caption", "info", "warning", "error", "metric")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def test_without_access_yaml_the_dashboard_is_single_user(home):
    at = _app(home).run()
    assert not at.exception
    assert "Data current through" in _shown(at)


def test_with_access_yaml_a_signed_out_visitor_reads_nothing(home):
    (home / "access.yaml").write_text(CONTRACT_EXAMPLE)
    at = _app(home).run()
    assert not at.exception
    shown = _shown(at)
    # no [auth] in secrets here, so the page says what is missing instead of a sign-in button
    assert "has an access list but no sign-in" in shown
    assert "Data current through" not in shown and not at.metric and not at.dataframe


def test_an_invalid_access_yaml_lets_nobody_in(home):
    (home / "access.yaml").write_text("roles: {r: {units: some}}\nusers: {a@x.com: r}\n")
    at = _app(home).run()
    assert not at.exception
    shown = _shown(at)
    assert "roles.r.units: unknown units 'some'" in shown
    assert "Data current through" not in shown and not at.metric


def test_queries_refuse_a_visitor_without_a_grant(home, monkeypatch):
    """The query layer itself refuses, whatever page or widget asks (outside the gate too)."""
    from dashboard import auth, queries

    (home / "access.yaml").write_text(CONTRACT_EXAMPLE)
    make_snapshot(home / "serving" / "current.duckdb")
    monkeypatch.setattr(auth, "signed_in", lambda: False)
    with pytest.raises(auth.NotSignedIn):
        queries.current()
    assert auth.can_log_actions() is False


def test_access_yaml_names_the_dashboards_pages():
    app = (Path(__file__).resolve().parent.parent / "dashboard" / "app.py").read_text()
    assert tuple(re.findall(r'\("(\w+)\.py", "', app)) == PAGES


def test_every_dashboard_query_goes_through_the_scoped_run():
    """The one way from the dashboard to the snapshot is queries._run, which asks the reader's
    units; no page, component or other query may open the snapshot another way."""
    dashboard = Path(__file__).resolve().parent.parent / "dashboard"
    for path in dashboard.rglob("*.py"):
        text = path.read_text()
        opens = len(re.findall(r"query_snapshot\(|duckdb\.connect\(", text))
        if path.name == "queries.py":
            assert opens == 1, path  # in _cached_query, which only _run calls
            assert len(re.findall(r"_cached_query\(", text)) == 2  # its definition and _run
        else:
            assert opens == 0, path


def test_a_scoped_reader_sees_only_the_dashboards_own_action_files_in_the_ledger(tmp_path):
    """A CX agent's logged action must go from pending to loaded on their page; the rest of the
    organisation-wide ledger stays hidden."""
    path = tmp_path / "current.duckdb"
    make_snapshot(path)
    con = duckdb.connect(str(path))
    try:
        con.execute("DELETE FROM ops.file_ledger")
        con.executemany(
            "INSERT INTO ops.file_ledger (file_path, source, status) VALUES (?, ?, ?)",
            [
                ["/h/inbox/feedback_actions/dashboard-20250320T120000-ab12.canonical.jsonl",
                 "feedback_actions", "loaded"],
                ["/h/inbox/feedback_actions/crm-export.csv", "feedback_actions", "loaded"],
                ["/h/inbox/nps/dashboard-20250320T120000-cd34.canonical.jsonl", "nps", "loaded"],
            ],
        )  # fmt: skip
    finally:
        con.close()
    scoped = query_snapshot(path, "SELECT file_path FROM ops.file_ledger", units=["Sales"])
    assert scoped.column("file_path").to_pylist() == [
        "/h/inbox/feedback_actions/dashboard-20250320T120000-ab12.canonical.jsonl"
    ]
    whole = query_snapshot(path, "SELECT count(*) AS n FROM ops.file_ledger")
    assert whole.to_pylist() == [{"n": 3}]
