"""Alerts reach real receivers once, retry until they get through, and never carry a secret or a
suppressed value (DESIGN.md "Alerts").

The receivers are real servers on 127.0.0.1 started by the tests (tests/alert_servers.py): an HTTP
server recording POSTs that can be told to fail, and aiosmtpd recording e-mails. Most tests build
a small warehouse by hand (the marts the rules read) and call the evaluation directly; the last
ones run the whole graph with `materialize_all`.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from metrics.config import settings
from metrics.sources import DEFAULT_FRESHNESS_HOURS
from metrics.store.warehouse import ensure_schema, query_snapshot
from pipelines.alerts import evaluate_alerts
from pipelines.alerts.channels import smtp_settings
from pipelines.alerts.config import AlertsError, load_alerts, validate_alerts
from pipelines.alerts.events import FailedRun
from pipelines.alerts.log import MAX_ATTEMPTS
from pipelines.cli import materialize_all
from pipelines.cli.main import main
from tests.alert_servers import WebhookReceiver, smtp_server

NOW = datetime(2025, 3, 20, 12, 0)
MAR = date(2025, 3, 1)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse with the ops tables and the two marts the rules read, empty."""
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        ensure_schema(connection)
        connection.execute(
            "CREATE TABLE marts.feedback_items (feedback_id VARCHAR, source VARCHAR, unit VARCHAR, "
            "received_at TIMESTAMP, in_loop BOOLEAN, due_at TIMESTAMP, first_action_at TIMESTAMP, "
            "status VARCHAR)"
        )
        connection.execute(
            "CREATE TABLE marts.outcome_progress (node VARCHAR, unit VARCHAR, "
            "period_start DATE, value DOUBLE, progress DOUBLE, expected_progress DOUBLE, "
            "status VARCHAR)"
        )
        yield connection
    finally:
        connection.close()


def _config(text: str):
    return load_alerts_text(textwrap.dedent(text))


def load_alerts_text(text: str):
    import yaml

    config, problems = validate_alerts(yaml.safe_load(text))
    assert config is not None, problems
    return config


WEBHOOK_RULES = """
channels:
  cx: {type: webhook, url: "${CX_WEBHOOK_URL}"}
rules:
  - {event: item_due_soon, hours_before: 12, channel: cx}
  - {event: item_overdue, channel: cx}
"""


def _item(con, feedback_id, due_at, *, unit="Sales", in_loop=True, acted=None):
    con.execute(
        "INSERT INTO marts.feedback_items VALUES (?, 'nps', ?, ?, ?, ?, ?, 'open')",
        [feedback_id, unit, due_at - timedelta(hours=48), in_loop, due_at, acted],
    )


def _evaluate(con, config, env, now=NOW, **kwargs):
    return evaluate_alerts(
        con,
        config,
        now,
        env=env,
        freshness_hours=lambda s: DEFAULT_FRESHNESS_HOURS[s],
        configured_sources=kwargs.pop("configured_sources", ()),
        **kwargs,
    )


def _log(con) -> list[dict]:
    cur = con.execute("SELECT * FROM ops.alert_log ORDER BY rule, subject")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# --- the rules and the webhook ------------------------------------------------------------------


def test_items_due_soon_and_overdue_reach_the_webhook_once(con, receiver):
    config = _config(WEBHOOK_RULES)
    env = {"CX_WEBHOOK_URL": receiver.url}
    _item(con, "R_1", NOW - timedelta(hours=3))  # overdue
    _item(con, "R_2", NOW + timedelta(hours=5))  # due within 12 h
    _item(con, "R_3", NOW + timedelta(hours=30))  # due later: nothing yet
    _item(con, "R_4", NOW - timedelta(hours=3), acted=NOW - timedelta(hours=60))  # acted upon
    _item(con, "R_5", NOW - timedelta(hours=3), in_loop=False, unit="Support")  # held

    result = _evaluate(con, config, env)

    assert (result.recorded, result.sent, result.messages) == (2, 2, 2)
    by_event = {p["alerts"][0]["event"]: p for p in receiver.posts}
    assert set(by_event) == {"item_due_soon", "item_overdue"}
    overdue = by_event["item_overdue"]
    assert overdue["text"] == (
        "OutcomeLoop: 1 feedback item(s) past their deadline with no action: "
        "R_1 (Sales, nps, due 2025-03-20 09:00 UTC)."
    )
    assert overdue["alerts"] == [
        {
            "rule": "item_overdue",
            "event": "item_overdue",
            "subject": "R_1",
            "unit": "Sales",
            "details": {
                "source": "nps",
                "received_at": "2025-03-18 09:00",
                "due_at": "2025-03-20 09:00",
            },
        }
    ]
    assert [a["subject"] for a in by_event["item_due_soon"]["alerts"]] == ["R_2"]
    log = _log(con)
    assert [(r["rule"], r["subject"], r["status"], r["attempts"]) for r in log] == [
        ("item_due_soon", "R_2", "sent", 1),
        ("item_overdue", "R_1", "sent", 1),
    ]
    assert all(r["sent_at"] == NOW and r["first_seen_at"] == NOW for r in log)

    # a second evaluation sends nothing new
    again = _evaluate(con, config, env, now=NOW + timedelta(minutes=5))
    assert (again.recorded, again.sent, again.messages) == (0, 0, 0)
    assert len(receiver.posts) == 2

    # time passes: R_2 is now overdue (a new transition) and R_3 due soon
    later = _evaluate(con, config, env, now=NOW + timedelta(hours=20))
    assert later.sent == 2
    assert [(p["alerts"][0]["event"], [a["subject"] for a in p["alerts"]]) for p in
            receiver.posts[2:]] == [("item_due_soon", ["R_3"]), ("item_overdue", ["R_2"])]  # fmt: skip


def test_a_failing_receiver_gets_the_alert_exactly_once_when_it_recovers(con, receiver):
    config = _config(WEBHOOK_RULES)
    env = {"CX_WEBHOOK_URL": receiver.url}
    _item(con, "R_1", NOW - timedelta(hours=3))
    receiver.fail(2)

    first = _evaluate(con, config, env)
    assert (first.sent, first.retried_later) == (0, 1)
    [row] = _log(con)
    assert (row["status"], row["attempts"], row["sent_at"]) == ("pending", 1, None)
    assert row["error"] == "the receiver answered HTTP 500 Internal Server Error"

    _evaluate(con, config, env, now=NOW + timedelta(hours=1))  # fails again
    assert _log(con)[0]["attempts"] == 2 and receiver.posts == []

    recovered = _evaluate(con, config, env, now=NOW + timedelta(hours=2))
    assert recovered.sent == 1
    _evaluate(con, config, env, now=NOW + timedelta(hours=3))
    assert [p["alerts"][0]["subject"] for p in receiver.posts] == ["R_1"]
    [row] = _log(con)
    assert (row["status"], row["attempts"], row["error"]) == ("sent", 3, None)
    assert row["sent_at"] == NOW + timedelta(hours=2)
    assert receiver.refused == 2


def test_after_five_failed_attempts_the_alert_is_failed_and_kept(con, receiver):
    config = _config(WEBHOOK_RULES)
    env = {"CX_WEBHOOK_URL": receiver.url}
    _item(con, "R_1", NOW - timedelta(hours=3))
    receiver.fail(100)
    for hour in range(MAX_ATTEMPTS + 2):
        _evaluate(con, config, env, now=NOW + timedelta(hours=hour))
    [row] = _log(con)
    assert (row["status"], row["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert receiver.refused == MAX_ATTEMPTS  # no send after giving up


def test_one_message_per_rule_lists_twenty_and_counts_the_rest(con, receiver):
    config = _config(WEBHOOK_RULES)
    for i in range(23):
        _item(con, f"R_{i:02}", NOW - timedelta(hours=30 - i))
    result = _evaluate(con, config, {"CX_WEBHOOK_URL": receiver.url})
    [post] = receiver.posts
    assert result.sent == 23
    assert len(post["alerts"]) == 20
    assert post["text"].startswith("OutcomeLoop: 23 feedback item(s) past their deadline")
    assert post["text"].endswith("R_19 (Sales, nps, due 2025-03-20 01:00 UTC) and 3 more.")
    assert "R_20" not in post["text"]
    assert {r["status"] for r in _log(con)} == {"sent"}


def test_a_secret_url_never_reaches_the_log_the_error_or_the_snapshot(con, tmp_path):
    """urllib quotes a malformed URL in its error; the log gets the variable's name instead."""
    from pipelines.alerts.log import copy_alert_log

    config = _config(WEBHOOK_RULES)
    _item(con, "R_1", NOW - timedelta(hours=3))
    _evaluate(con, config, {"CX_WEBHOOK_URL": "hooks.example.com/T000/SECRET-TOKEN"})
    [row] = _log(con)
    assert row["status"] == "pending"
    assert row["error"] == "ValueError: unknown url type: '${CX_WEBHOOK_URL}'"
    con.execute(f"ATTACH '{tmp_path / 'snap.duckdb'}' AS s")
    con.execute("CREATE SCHEMA s.ops")
    copy_alert_log(con, "s")
    dumped = json.dumps(con.execute("SELECT * FROM s.ops.alert_log").fetchall(), default=str)
    con.execute("DETACH s")
    assert "SECRET-TOKEN" not in dumped


def test_a_channel_whose_variable_is_unset_is_off(con, receiver):
    _item(con, "R_1", NOW - timedelta(hours=3))
    result = _evaluate(con, _config(WEBHOOK_RULES), {})
    assert result.off == {
        "item_due_soon": "channel cx is off: CX_WEBHOOK_URL not set",
        "item_overdue": "channel cx is off: CX_WEBHOOK_URL not set",
    }
    assert _log(con) == [] and receiver.posts == []


def _progress(con, node, status, value=None, period=MAR):
    con.execute(
        "INSERT INTO marts.outcome_progress VALUES (?, 'all', ?, ?, 0.5, 0.4, ?)",
        [node, period, value, status],
    )


def test_status_changes_compare_with_the_log_and_the_first_is_only_recorded(con, receiver):
    config = _config(
        """
        channels:
          leads: {type: webhook, url: "${LEADS_URL}"}
        rules:
          - {event: status_changed, nodes: [revenue, nps], channel: leads}
        """
    )
    env = {"LEADS_URL": receiver.url}
    _progress(con, "revenue", "on_track", 900.0, period=date(2025, 2, 1))
    _progress(con, "revenue", "on_track", 1000.0)
    _progress(con, "nps", "at_risk", 21.0)
    _progress(con, "ces", "off_track", 4.0)  # not watched

    first = _evaluate(con, config, env)
    assert (first.messages, receiver.posts) == (0, [])
    assert [(r["subject"], r["status"], r["attempts"], r["channel"]) for r in _log(con)] == [
        ("nps: at_risk (2025-03-01)", "sent", 0, None),
        ("revenue: on_track (2025-03-01)", "sent", 0, None),
    ]

    con.execute("UPDATE marts.outcome_progress SET status = 'off_track' WHERE node = 'revenue'")
    changed = _evaluate(con, config, env, now=NOW + timedelta(hours=1))
    assert changed.sent == 1
    [post] = receiver.posts
    assert post["text"] == (
        "OutcomeLoop: 1 outcome status change(s) for the whole organisation: "
        "revenue went from on track to off track (period starting 2025-03-01)."
    )
    assert post["alerts"][0]["subject"] == "revenue: on_track -> off_track (2025-03-01)"
    assert post["alerts"][0]["details"]["value"] == 1000.0

    # unchanged since: nothing; changed back: told again, as its own transition
    _evaluate(con, config, env, now=NOW + timedelta(hours=2))
    assert len(receiver.posts) == 1
    con.execute("UPDATE marts.outcome_progress SET status = 'on_track' WHERE node = 'revenue'")
    _evaluate(con, config, env, now=NOW + timedelta(hours=3))
    assert receiver.posts[-1]["alerts"][0]["subject"] == (
        "revenue: off_track -> on_track (2025-03-01)"
    )


def test_stale_sources_and_failed_runs(con, receiver):
    config = _config(
        """
        channels:
          data: {type: webhook, url: "${DATA_URL}"}
        rules:
          - {event: source_stale, channel: data}
          - {event: run_failed, channel: data}
        """
    )
    ledger = (
        "INSERT INTO ops.file_ledger (file_path, source, status, loaded_at) VALUES (?, ?, ?, ?)"
    )
    con.execute(ledger, ["nps.csv", "nps", "loaded", NOW - timedelta(hours=50)])  # 48 h allowed
    con.execute(ledger, ["ces.csv", "ces", "loaded", NOW - timedelta(hours=47)])  # fresh
    con.execute(ledger, ["bad.csv", "cost", "rejected", NOW - timedelta(days=90)])  # never loaded
    run = FailedRun("0a1b2c3d-run", "refresh_marts", NOW - timedelta(minutes=3), "http://d/runs/x")

    _evaluate(
        con,
        config,
        {"DATA_URL": receiver.url},
        configured_sources=["nps", "ces", "cost"],
        failed_runs=[run],
    )

    texts = sorted(p["text"] for p in receiver.posts)
    assert texts == [
        "OutcomeLoop: 1 Dagster run(s) failed: refresh_marts (run 0a1b2c3d, 2025-03-20 11:57 UTC).",
        "OutcomeLoop: 1 source(s) without a new file for longer than their freshness allows: "
        "nps (last file 2025-03-18 10:00 UTC, 50 h ago; allowed 48 h).",
    ]
    assert sorted(r["subject"] for r in _log(con)) == [
        "0a1b2c3d-run",
        "nps: no new file since 2025-03-18 10:00",
    ]


def test_failed_runs_are_read_from_the_instance_and_the_sensor_asks_for_an_alerts_run(home):
    import dagster as dg

    from pipelines.defs.alerts import _failed_runs, _has_run_failed_rule, run_failed_alerts

    @dg.asset
    def broken():
        raise ValueError("boom")

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([broken], instance=instance, raise_on_error=False)
        assert not result.success
        now = datetime.now(UTC).replace(tzinfo=None)
        runs = _failed_runs(instance, now, "http://localhost:3000/")
        assert [(r.run_id, r.job, r.url) for r in runs] == [
            (result.run_id, result.dagster_run.job_name,
             f"http://localhost:3000/runs/{result.run_id}"),
        ]  # fmt: skip
        assert _failed_runs(instance, now + timedelta(days=2), "x") == []  # older than a day
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failed_alerts",
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()
        request = run_failed_alerts(context)
    assert request.run_key == f"run-failed-{result.run_id}"

    assert not _has_run_failed_rule()  # no alerts.yaml: the sensor is stopped by default
    (home / "alerts.yaml").write_text(
        "channels: {cx: {type: webhook, url: '${U}'}}\nrules: [{event: run_failed, channel: cx}]\n"
    )
    assert _has_run_failed_rule()


# --- e-mail -------------------------------------------------------------------------------------


def test_email_reaches_a_real_smtp_server_once(con):
    config = _config(
        """
        channels:
          leads: {type: email, to: [leads@example.com, "${OPS_MAIL}"], from: outcomeloop@example.com}
        rules:
          - {event: item_overdue, channel: leads}
        """
    )
    _item(con, "R_1", NOW - timedelta(hours=3))
    with smtp_server() as (port, messages):
        env = {"OUTCOMELOOP_SMTP_URL": f"smtp://127.0.0.1:{port}", "OPS_MAIL": "ops@example.com"}
        assert _evaluate(con, config, env).sent == 1
        assert _evaluate(con, config, env, now=NOW + timedelta(hours=1)).sent == 0
    [mail] = messages
    assert mail["Subject"] == "OutcomeLoop: 1 feedback item(s) past their deadline with no action"
    assert mail["To"] == "leads@example.com, ops@example.com"
    assert mail["From"] == "outcomeloop@example.com"
    body = mail.get_payload(decode=True).decode()
    assert "R_1 (Sales, nps, due 2025-03-20 09:00 UTC)." in body
    assert _log(con)[0]["channel"] == "leads"


def test_email_without_a_server_stays_pending_with_the_reason(con):
    config = _config(
        """
        channels:
          leads: {type: email, to: leads@example.com, from: outcomeloop@example.com}
        rules:
          - {event: item_overdue, channel: leads}
        """
    )
    _item(con, "R_1", NOW - timedelta(hours=3))
    with smtp_server() as (port, _):
        pass  # started and stopped: the port is closed now
    _evaluate(con, config, {"OUTCOMELOOP_SMTP_URL": f"smtp://u:pw-secret@127.0.0.1:{port}"})
    [row] = _log(con)
    assert row["status"] == "pending" and "ConnectionRefusedError" in row["error"]
    assert "pw-secret" not in row["error"]


def test_starttls_when_the_url_asks_for_it(con, tmp_path, monkeypatch):
    """A server that refuses mail before STARTTLS: `smtp+starttls://` gets through (the client
    verifies the server's certificate, trusted here through SSL_CERT_FILE); plain `smtp://` is
    refused and stays pending with the server's answer."""
    import ssl

    pytest.importorskip("cryptography")
    from tests.alert_servers import self_signed_certificate

    config = _config(
        """
        channels:
          leads: {type: email, to: leads@example.com, from: outcomeloop@example.com}
        rules:
          - {event: item_overdue, channel: leads}
        """
    )
    _item(con, "R_1", NOW - timedelta(hours=3))
    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with smtp_server(tls_context=server_tls) as (port, messages):
        plain = _evaluate(con, config, {"OUTCOMELOOP_SMTP_URL": f"smtp://127.0.0.1:{port}"})
        assert plain.sent == 0 and "STARTTLS" in _log(con)[0]["error"]
        url = f"smtp+starttls://127.0.0.1:{port}"
        assert _evaluate(con, config, {"OUTCOMELOOP_SMTP_URL": url}).sent == 1
    assert [m["Subject"] for m in messages] == [
        "OutcomeLoop: 1 feedback item(s) past their deadline with no action"
    ]
    assert _log(con)[0]["attempts"] == 2


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", ("mail.example.com", 25, None, False, False)),
        ("smtp://u%40x:p@mail:587?starttls=true", ("mail", 587, "u@x", False, True)),
        ("smtp+starttls://u:p@mail:587", ("mail", 587, "u", False, True)),
        ("smtps://u:p@mail", ("mail", 465, "u", True, False)),
    ],
)
def test_smtp_url(url, expected):
    s = smtp_settings(url)
    assert (s["host"], s["port"], s["user"], s["tls"], s["starttls"]) == expected


# --- alerts.yaml --------------------------------------------------------------------------------


def test_alerts_yaml_problems_have_yaml_paths(tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text(
        textwrap.dedent(
            """
            channels:
              cx: {type: webhok, url: x}
              leads: {type: email, to: [nobody], from: "${BROKEN"}
            rules:
              - {event: item_overdeu, channel: cx}
              - {event: status_changed, channel: lead, nodes: [revnue]}
              - {event: item_overdue, channel: cx, hours_before: 4}
              - {event: source_stale, channel: cx, sources: [nsp]}
            """
        )
    )
    with pytest.raises(AlertsError) as err:
        load_alerts(path, node_ids=["revenue", "nps"])
    found = {p.path: str(p) for p in err.value.problems}
    assert "did you mean 'webhook'?" in found["channels.cx.type"]
    assert "not an e-mail address" in found["channels.leads.to"]
    assert "not a variable reference" in found["channels.leads.from"]
    assert "did you mean 'item_overdue'?" in found["rules[0].event"]
    assert "did you mean 'leads'?" in found["rules[1].channel"]
    assert "did you mean 'revenue'?" in found["rules[1].nodes"]
    assert "item_due_soon only" in found["rules[2].hours_before"]
    assert "did you mean 'nps'?" in found["rules[3].sources"]


def test_two_rules_of_one_event_need_names():
    _, problems = validate_alerts(
        {
            "channels": {"cx": {"type": "webhook", "url": "${U}"}},
            "rules": [
                {"event": "item_overdue", "channel": "cx"},
                {"event": "item_overdue", "channel": "cx"},
            ],
        }
    )
    assert [(p.path, p.message) for p in problems] == [
        ("rules[1].name", "rules[0] is also called 'item_overdue'")
    ]


def test_check_validates_alerts_yaml(home, capsys):
    (home / "alerts.yaml").write_text("rules:\n  - {event: item_overdue, channel: nowhere}\n")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {home / 'alerts.yaml'}: 1 problem(s)" in out
    assert "rules[0].channel: no channel called 'nowhere'" in out
    shutil.copy(Path(__file__).parent.parent / "examples" / "alerts.yaml", home / "alerts.yaml")
    assert main(["check"]) == 0
    assert f"ok   {home / 'alerts.yaml'}" in capsys.readouterr().out


def test_run_with_a_broken_alerts_yaml_stops_before_running(home, capsys):
    (home / "alerts.yaml").write_text("rules:\n  - {event: item_overdue, channel: nowhere}\n")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "rules[0].channel: no channel called 'nowhere'" in err
    assert not (home / "warehouse.duckdb").exists()


# --- the whole graph ----------------------------------------------------------------------------

E2E_ALERTS = """
channels:
  cx: {type: webhook, url: "${CX_WEBHOOK_URL}"}
rules:
  - {event: item_due_soon, hours_before: 24, channel: cx}
  - {event: item_overdue, channel: cx}
  - {event: status_changed, channel: cx}
"""


def _e2e_home(home: Path, receiver, monkeypatch) -> None:
    """The pipeline fixture plus: two detractors in unit A (ready), one overdue at RUN_TIME and
    one due within a day; an anonymity measure (eNPS, min_n 5) with 3 pulse responses, so its
    March value for the organisation is suppressed."""
    (home / "inbox" / "nps" / "nps_late.csv").write_text(
        "response_id,responded_at,unit,score,account_id,comment\n"
        "r7,2025-03-19 09:00:00,A,2,acc7,Still waiting\n"
        "r8,2025-03-10 09:00:00,A,3,acc8,Nobody called\n"
    )
    pulse = home / "inbox" / "employee_pulse"
    pulse.mkdir()
    (pulse / "pulse.csv").write_text(
        "response_id,responded_at,unit,enps_score,wellbeing\n"
        "p1,2025-03-03 10:00:00,A,10,4\n"
        "p2,2025-03-04 10:00:00,A,10,4\n"
        "p3,2025-03-05 10:00:00,A,0,2\n"
    )
    strategy = (home / "strategy.yaml").read_text()
    strategy = strategy.replace(
        "  upsell_rate:",
        "  enps: {source: employee_pulse, kind: nps, field: enps_score, min_n: 5, anonymity: true}\n"
        "  upsell_rate:",
    ).replace(
        "      children:\n        - id: nps",
        "      children:\n"
        "        - id: people\n"
        "          measure: enps\n"
        "          weight: 1\n"
        "          baseline: {value: 0, date: 2025-01-01}\n"
        "          target: {value: 40, date: 2025-12-31}\n"
        "        - id: nps",
    )
    (home / "strategy.yaml").write_text(strategy)
    (home / "alerts.yaml").write_text(E2E_ALERTS)
    monkeypatch.setenv("CX_WEBHOOK_URL", receiver.url)


def test_the_graph_alerts_after_publishing_and_the_snapshot_holds_the_log(
    pipeline_home, receiver, monkeypatch, capsys
):
    _e2e_home(pipeline_home, receiver, monkeypatch)
    assert materialize_all(settings()).success

    events = {p["alerts"][0]["event"]: p for p in receiver.posts}
    assert set(events) == {"item_due_soon", "item_overdue"}  # status_changed: baseline only
    # r8 arrived 2025-03-10 09:00, due 48 h later, no action: overdue at 2025-03-20 12:00
    assert [a["subject"] for a in events["item_overdue"]["alerts"]] == ["r8"]
    # r7 arrived 2025-03-19 09:00, due 2025-03-21 09:00: within 24 h of the run
    assert [a["subject"] for a in events["item_due_soon"]["alerts"]] == ["r7"]

    snapshot = pipeline_home / "serving" / "current.duckdb"
    logged = query_snapshot(
        snapshot, "SELECT rule, subject, status, attempts FROM ops.alert_log ORDER BY rule, subject"
    ).to_pylist()
    assert [(r["rule"], r["subject"], r["status"], r["attempts"]) for r in logged] == [
        ("item_due_soon", "r7", "sent", 1),
        ("item_overdue", "r8", "sent", 1),
        # the first evaluation records each node's status without sending. Expected progress
        # by 2025-03-31: 89 / 364 = 0.245. revenue 1500 of 1000 -> 2000: 0.5, on track. nps -14.3
        # of 0 -> 50: 0, but its interval on 7 responses holds the expected 12.2: on track.
        # people: eNPS suppressed (3 < 5), no progress. customer_delight: only nps's 0 rolls
        # up, 0.245 behind, beyond the at-risk band: off track.
        ("status_changed", "customer_delight: off_track (2025-03-01)", "sent", 0),
        ("status_changed", "nps: on_track (2025-03-01)", "sent", 0),
        ("status_changed", "people: insufficient_data (2025-03-01)", "sent", 0),
        ("status_changed", "revenue: on_track (2025-03-01)", "sent", 0),
    ]

    # a second run sends nothing new
    assert materialize_all(settings()).success
    assert len(receiver.posts) == 2

    assert main(["status"]) == 0
    assert "alerts            0 pending, 0 failed, 2 sent" in capsys.readouterr().out


def test_no_alert_carries_a_suppressed_value(pipeline_home, receiver, monkeypatch):
    """eNPS for the organisation in March: 10, 10, 0 -> 2/3 - 1/3 = 33.33 on 3 responses, fewer
    than min_n 5, so suppressed. Its node's status change is told without it; the NPS node's
    change (nothing suppressed) carries its value, so the test can tell the two apart."""
    _e2e_home(pipeline_home, receiver, monkeypatch)
    assert materialize_all(settings()).success
    # pretend the log had seen every node at risk, so this evaluation reports their changes
    with duckdb.connect(str(pipeline_home / "warehouse.duckdb")) as wh:
        wh.execute(
            "UPDATE ops.alert_log SET subject = regexp_replace(subject, ': \\S+ \\(', "
            "': at_risk (') WHERE rule = 'status_changed'"
        )
        wh.execute("UPDATE ops.alert_log SET first_seen_at = first_seen_at - INTERVAL 1 HOUR")
    assert materialize_all(settings()).success

    [post] = [p for p in receiver.posts if p["alerts"][0]["event"] == "status_changed"]
    details = {a["details"]["node"]: a["details"] for a in post["alerts"]}
    assert details["people"]["to"] == "insufficient_data" and "value" not in details["people"]
    # NPS for the organisation: 10, 9, 6, 10, 0, 2, 3 -> (3 - 4) / 7 = -14.29
    assert details["nps"]["value"] == pytest.approx(-14.2857, abs=1e-4)
    wire = json.dumps(post)
    for shown in ("33.3", "33,3", "0.3333"):
        assert shown not in wire


def _pin_clock(monkeypatch, when: datetime) -> None:
    from pipelines.defs import alerts, marts, serving

    for module in (alerts, marts, serving):
        monkeypatch.setattr(module, "run_now", lambda: when)


def test_the_demo_tells_items_due_soon_then_overdue_as_time_passes(home, receiver, monkeypatch):
    """The demo's alerts.yaml with a receiver: the first run tells what is overdue and what is
    due within 12 hours; half a day and a live drop later, items that were due soon are told as
    overdue, and nothing already told is told again."""
    from pipelines import demo

    until = date(2025, 11, 30)
    demo.generate(home, months=2, until=until, scale=1)
    assert (home / "alerts.yaml").read_bytes() == (
        Path(__file__).parent.parent / "examples" / "alerts.yaml"
    ).read_bytes()
    monkeypatch.setenv("CX_WEBHOOK_URL", receiver.url)

    first = datetime(2025, 12, 1, 6, 0)
    _pin_clock(monkeypatch, first)
    assert materialize_all(settings()).success
    told = {p["alerts"][0]["event"]: {a["subject"] for a in p["alerts"]} for p in receiver.posts}
    assert {"item_due_soon", "item_overdue"} <= set(told)
    assert "status_changed" not in told  # the leads e-mail channel is off without an SMTP URL

    later = first + timedelta(hours=13)
    demo.live(home, max_steps=1, every=0, now=lambda: later.replace(tzinfo=UTC))
    _pin_clock(monkeypatch, later)
    before = len(receiver.posts)
    assert materialize_all(settings()).success
    now_told: dict[str, set] = {}
    for post in receiver.posts[before:]:
        now_told.setdefault(post["alerts"][0]["event"], set()).update(
            a["subject"] for a in post["alerts"]
        )
    assert now_told["item_overdue"] & told["item_due_soon"]  # due soon then, overdue now
    for event, subjects in now_told.items():
        assert not subjects & told.get(event, set()), event  # nothing told twice
