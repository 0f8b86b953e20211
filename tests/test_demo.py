"""The demo data generator: deterministic, in the tools' real formats, with its story and its
planted flaws true in the files (pipelines/demo/)."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from metrics.config import EXAMPLES_DIR
from pipelines import demo
from pipelines.demo.formats.plain_csv import writer
from pipelines.demo.times import avoid_fall_back_hour, new_york

FIXTURES = Path(__file__).parent / "fixtures" / "samples"
UNTIL = date(2026, 3, 10)  # a six-month timeline 2025-10 .. 2026-03 (the last month partial)
MONTHS = ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]


def _generate(home: Path, **kwargs) -> demo.DemoSummary:
    args = {"months": 6, "until": UNTIL, "scale": 0.5} | kwargs
    return demo.generate(home, **args)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> tuple[Path, demo.DemoSummary]:
    home = tmp_path_factory.mktemp("demo")
    return home, _generate(home)


def _read_csv(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with open(path, encoding=encoding, newline="") as fh:
        return list(csv.reader(fh))


def _qualtrics(path: Path) -> tuple[list[list[str]], list[dict[str, str]]]:
    """(the three header rows, the data rows as dicts keyed by column id)."""
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name} must start with a UTF-8 BOM"
    rows = _read_csv(path, "utf-8-sig")
    return rows[:3], [dict(zip(rows[0], r, strict=True)) for r in rows[3:]]


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def demo_log(caplog) -> pytest.LogCaptureFixture:
    """Captures what the demo logs (the lines `outcomeloop demo` prints); `caplog.clear()` starts
    afresh."""
    caplog.set_level(logging.INFO, logger="pipelines.demo")
    return caplog


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The demo's log lines captured so far, in order."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("pipelines.demo")]


def _tree(home: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()
    }


# --- determinism -----------------------------------------------------------------------------------


def test_same_seed_and_until_give_byte_identical_files_and_another_seed_differs(tmp_path):
    a = _generate(tmp_path / "a", scale=0.05)
    _generate(tmp_path / "b", scale=0.05)
    _generate(tmp_path / "c", scale=0.05, seed=8)
    tree_a, tree_b, tree_c = (_tree(tmp_path / x) for x in "abc")
    assert len(tree_a) == len(a.files) + 1  # + the live state file
    assert tree_a == tree_b
    assert tree_a.keys() == tree_c.keys()
    nps = "inbox/nps/nps_export_2025-12.csv"
    assert tree_a[nps] != tree_c[nps]


def test_rerun_leaves_files_alone_and_never_rewrites_a_landed_file(tmp_path):
    _generate(tmp_path, scale=0.05)
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.rglob("*.csv")}
    _generate(tmp_path, scale=0.05)  # same arguments: nothing changes
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in before} == before
    with pytest.raises(
        demo.DemoError, match=r"_2026-03\.\w+ already exists with different content"
    ):
        _generate(tmp_path, scale=0.05, until=UNTIL + timedelta(days=1))
    assert not list(tmp_path.rglob("*.part"))


def test_example_configuration_is_copied_only_when_absent(tmp_path):
    (tmp_path / "strategy.yaml").write_text("name: mine\n", encoding="utf-8")
    summary = _generate(tmp_path, scale=0.05, months=1)
    assert (tmp_path / "strategy.yaml").read_text(encoding="utf-8") == "name: mine\n"
    assert (tmp_path / "sources.yaml").read_bytes() == (EXAMPLES_DIR / "sources.yaml").read_bytes()
    assert tmp_path / "sources.yaml" in summary.files
    assert tmp_path / "strategy.yaml" not in summary.files


# --- formats ---------------------------------------------------------------------------------------


def test_nps_is_a_qualtrics_data_table_export(demo_home):
    home, _ = demo_home
    names = sorted(p.name for p in (home / "inbox" / "nps").iterdir())
    assert names[:4] == [
        "nps_export_2025-10.csv",
        "nps_export_2025-11.csv",
        "nps_export_2025-12.csv",
        "nps_export_2026-01 (1).csv",
    ]
    header, rows = _qualtrics(home / "inbox" / "nps" / "nps_export_2025-11.csv")
    sample = _read_csv(FIXTURES / "qualtrics" / "qualtRics_sample.csv")
    assert header[0][:9] == sample[0][:9]  # StartDate .. ResponseId, as Qualtrics names them
    assert header[0][9:] == [
        "DistributionChannel",
        "UserLanguage",
        "Q1_NPS_GROUP",
        "Q1",
        "Q2",
        "BusinessUnit",
        "AccountId",
    ]
    assert header[1][:3] == ["Start Date", "End Date", "Response Type"]
    imports = [json.loads(cell) for cell in header[2]]
    assert imports[0] == {"ImportId": "startDate", "timeZone": "America/New_York"}
    assert imports[7] == {"ImportId": "recordedDate", "timeZone": "America/New_York"}
    assert imports[8] == {"ImportId": "_recordId"}

    normal = [r for r in rows if r["Status"] == "0" and r["Q1"] not in ("10+", "11")]
    assert len(normal) > 500
    assert all(re.fullmatch(r"R_[A-Za-z0-9]{15}", r["ResponseId"]) for r in rows)
    assert {int(r["Q1"]) for r in normal} == set(range(11))
    group = {r["Q1_NPS_GROUP"] for r in normal if int(r["Q1"]) <= 6}
    assert group == {"1"}
    assert {r["DistributionChannel"] for r in normal} == {"email", "anonymous"}
    assert all(r["AccountId"] == "" for r in normal if r["DistributionChannel"] == "anonymous")
    assert {r["BusinessUnit"] for r in normal} == set(demo.DEFAULT_UNITS)
    comments = [r["Q2"] for r in normal]
    assert any("," in c for c in comments) and any("\n" in c for c in comments)
    for r in normal:
        start = datetime.fromisoformat(r["StartDate"])
        end = datetime.fromisoformat(r["EndDate"])
        assert (end - start).total_seconds() == int(r["Duration (in seconds)"])
        assert r["RecordedDate"] == r["EndDate"]
    recorded = [r["RecordedDate"] for r in rows]
    assert recorded == sorted(recorded)


@pytest.mark.parametrize(
    ("utc", "local"),
    [
        ("2025-03-09T06:59:59", "2025-03-09 01:59:59"),  # EST, one second before clocks spring on
        ("2025-03-09T07:00:00", "2025-03-09 03:00:00"),  # EDT
        ("2025-07-01T12:00:00", "2025-07-01 08:00:00"),
        ("2025-11-02T05:59:59", "2025-11-02 01:59:59"),  # EDT, the last second before falling back
        ("2025-11-02T06:00:00", "2025-11-02 01:00:00"),  # EST
        ("2026-01-15T03:30:00", "2026-01-14 22:30:00"),
    ],
)
def test_qualtrics_timestamps_are_new_york_wall_clock(utc, local):
    epoch = int(datetime.fromisoformat(utc).replace(tzinfo=UTC).timestamp())
    assert new_york(np.array([epoch])) == [local]


def test_no_response_falls_in_the_repeated_fall_back_hour():
    fall_back = int(datetime(2025, 11, 2, 6, tzinfo=UTC).timestamp())
    t = np.array([fall_back - 3601, fall_back - 3600, fall_back + 3599, fall_back + 3600])
    assert avoid_fall_back_hour(t).tolist() == [
        fall_back - 3601,
        fall_back + 3600,
        fall_back + 3599 + 7200,
        fall_back + 3600,
    ]


def test_ces_is_delighted_webhook_jsonl(demo_home):
    home, _ = demo_home
    by_month = {m: _events(home / "inbox" / "ces" / f"delighted_{m}.jsonl") for m in MONTHS}
    events = [e for m in MONTHS for e in by_month[m]]
    assert {e["event_type"] for e in events} == {
        "survey_response.created",
        "survey_response.updated",
    }
    response = events[0]["event_data"]
    assert set(response) == {
        "id",
        "person",
        "survey_type",
        "score",
        "comment",
        "created_at",
        "updated_at",
        "person_properties",
    }
    assert set(response["person"]) == {"id", "email"}
    types = defaultdict(set)
    for e in events:
        r = e["event_data"]
        types[r["survey_type"]].add(r["score"])
    assert types["ces"] == set(range(1, 8))
    assert types["csat"] <= set(range(1, 6)) and types["csat"]
    created = {
        e["event_data"]["id"]: e["event_data"]
        for e in events
        if e["event_type"] == "survey_response.created"
    }
    updates = [e["event_data"] for e in events if e["event_type"] == "survey_response.updated"]
    assert 0.15 < len(updates) / len(created) < 0.35
    for u in updates:
        first = created[u["id"]]
        assert first["comment"] is None and u["comment"]
        assert u["updated_at"] > u["created_at"] == first["created_at"]
        assert (u["score"], u["person"]) == (first["score"], first["person"])
    # an update can land in the month after its response: the November file updates October ids
    october = {e["event_data"]["id"] for e in by_month["2025-10"]}
    assert any(
        e["event_type"] == "survey_response.updated" and e["event_data"]["id"] in october
        for e in by_month["2025-11"]
    )
    assert any(r["updated_at"] is None for r in created.values())
    # Delighted ids are numbers; Qualtrics ids start with R_: the two never collide
    assert all(i.isdigit() for i in created)


def test_upsell_is_a_salesforce_opportunity_export(demo_home):
    home, _ = demo_home
    sample = (FIXTURES / "salesforce" / "opportunity_export.csv").read_bytes()
    sample_header = sample.decode("utf-8-sig").splitlines()[0].split(",")
    path = home / "inbox" / "upsell" / "opportunities_2025-12.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = _read_csv(path, "utf-8-sig")
    assert rows[0] == [*sample_header, "Business_Unit__c"]
    assert len(rows[0]) == 42
    records = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert {r["IsWon"] for r in records} == {"1", ""}
    assert {r["IsClosed"] for r in records} == {"1"}  # December is over by the end date
    assert all(r["CloseDate"].startswith("2025-12-") for r in records)
    every = [
        dict(zip(rows[0], r, strict=True))
        for f in sorted((home / "inbox" / "upsell").glob("*.csv"))
        for r in _read_csv(f, "utf-8-sig")[1:]
    ]
    upsell = [r for r in every if r["IsWon"] == "1" and r["Type"] == "Existing Customer - Upgrade"]
    assert len(upsell) >= 30 and all(float(r["Amount"]) > 0 for r in upsell)
    assert len({r["Id"] for r in every}) == len(every)
    assert {r["Type"] for r in records} >= {"Existing Customer - Upgrade", "New Customer"}
    assert all(len(r["Id"]) == 18 and r["Id"].startswith("006") for r in records)
    # in the partial last month, opportunities closing after the end date are still open
    march = _read_csv(home / "inbox" / "upsell" / "opportunities_2026-03.csv", "utf-8-sig")[1:]
    for r in march:
        closes_later = r[11] > UNTIL.isoformat()
        assert (r[15] == "") == closes_later


def test_plain_csv_sources_have_their_canonical_columns(demo_home):
    home, _ = demo_home
    inbox = home / "inbox"
    for source, header in demo.CSV_HEADERS.items():
        files = sorted((inbox / source).glob("*.csv"))
        assert files, source
        for f in files:
            assert _read_csv(f)[0] == list(header), f
    pulse = _read_csv(inbox / "employee_pulse" / "pulse_2025-11.csv")[1:]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r[1]) for r in pulse)
    assert all(r[3] or r[4] for r in pulse)  # eNPS or wellbeing, never neither
    cost = _read_csv(inbox / "cost" / "cost_2025-11.csv")[1:]
    assert {r[4] for r in cost} == {"support_staff", "tooling", "training"}
    assert all((r[3] != "") == (r[4] == "support_staff") for r in cost)
    readiness = _read_csv(inbox / "readiness" / "readiness_2025-10.csv")[1:]
    assert {r[2] for r in readiness} == set(demo.DIMENSIONS)
    assert {int(r[3]) for r in readiness} <= {1, 2, 3, 4, 5}


# --- planted flaws ---------------------------------------------------------------------------------


def test_planted_flaws_are_where_the_summary_says(demo_home):
    home, summary = demo_home
    nps = home / "inbox" / "nps"
    flaws = {f.what: f for f in summary.flaws}
    for what, expected in [
        (
            "a Qualtrics survey preview (Status 1)",
            {"Status": "1", "DistributionChannel": "preview"},
        ),
        ("a Qualtrics survey test response (Status 2)", {"Status": "2"}),
        ("a malformed score '10+'", {"Q1": "10+"}),
        ("an out-of-range score 11", {"Q1": "11"}),
        ("a response without a unit", {"BusinessUnit": ""}),
    ]:
        flaw = flaws[what]
        header, rows = _qualtrics(flaw.file)
        row = rows[flaw.row_number - 4]  # data starts on spreadsheet row 4
        assert {k: row[k] for k in expected} == expected, what
    assert flaws["a Qualtrics survey preview (Status 1)"].file == nps / "nps_export_2025-10.csv"
    assert flaws["a malformed score '10+'"].file == nps / "nps_export_2025-11.csv"
    assert flaws["a response without a unit"].file == nps / "nps_export_2025-12.csv"
    # exactly one of each in all NPS files
    all_rows = [r for m in MONTHS for r in _qualtrics(nps / f"nps_export_{m}.csv")[1]]
    assert sorted(r["Status"] for r in all_rows if r["Status"] != "0") == ["1", "2"]
    assert sorted(r["Q1"] for r in all_rows if not r["Q1"].isdigit() or int(r["Q1"]) > 10) == [
        "10+",
        "11",
    ]
    assert [r["BusinessUnit"] for r in all_rows].count("") == 1

    duplicate = nps / "nps_export_2026-01 (1).csv"
    assert duplicate.read_bytes() == (nps / "nps_export_2026-01.csv").read_bytes()


def test_customer_support_spelling_appears_in_one_month_only(demo_home):
    home, _ = demo_home
    units = {
        m: {
            e["event_data"]["person_properties"]["Unit"]
            for e in _events(home / "inbox" / "ces" / f"delighted_{m}.jsonl")
            if e["event_type"] == "survey_response.created"
        }
        for m in MONTHS
    }
    assert "Customer Support" in units["2025-11"] and "Support" not in units["2025-11"]
    for m in MONTHS:
        if m != "2025-11":
            assert "Support" in units[m] and "Customer Support" not in units[m]


def test_orphan_actions_match_no_response(demo_home):
    home, summary = demo_home
    inbox = home / "inbox"
    responses = {
        r["ResponseId"]
        for m in MONTHS
        for r in _qualtrics(inbox / "nps" / f"nps_export_{m}.csv")[1]
    } | {
        e["event_data"]["id"]
        for m in MONTHS
        for e in _events(inbox / "ces" / f"delighted_{m}.jsonl")
    }
    actions = [
        r for f in sorted((inbox / "feedback_actions").glob("*.csv")) for r in _read_csv(f)[1:]
    ]
    orphans = sorted({r[0] for r in actions} - responses)
    expected = sorted(
        f.what.removeprefix("orphan action for ") for f in summary.flaws if "orphan" in f.what
    )
    assert orphans == expected
    assert len(orphans) == 4 and "CASE-004211" in orphans


def test_a_later_revenue_file_restates_an_earlier_month(demo_home):
    home, _ = demo_home
    revenue = home / "inbox" / "revenue"
    december = {(r[0], r[1]): float(r[2]) for r in _read_csv(revenue / "revenue_2025-12.csv")[1:]}
    february = _read_csv(revenue / "revenue_2026-02.csv")[1:]
    restated = [r for r in february if r[0] == "2025-12-01"]
    assert [r[1] for r in restated] == ["Marketing"]
    assert float(restated[0][2]) == pytest.approx(
        december[("2025-12-01", "Marketing")] * 1.031, abs=0.01
    )
    assert sorted(r[1] for r in february if r[0] == "2026-02-01") == sorted(demo.DEFAULT_UNITS)


# --- the story -------------------------------------------------------------------------------------


def _gates(path_glob: list[Path], months: list[str]) -> dict[tuple[str, str], bool]:
    """DESIGN.md's gate, by hand: each assessor's latest score per dimension up to the month's end,
    averaged; ready when the mean >= 3.5, every dimension >= 2.5, and >= 2 assessors."""
    rows = [r for f in path_glob for r in _read_csv(f)[1:]]
    out = {}
    for unit in demo.DEFAULT_UNITS:
        for m in months:
            end = (date.fromisoformat(m + "-01") + timedelta(days=31)).replace(day=1)
            latest: dict[tuple[str, str], tuple[str, float]] = {}
            for assessed, u, dim, score, assessor in rows:
                if u == unit and assessed < end.isoformat():
                    key = (dim, assessor)
                    if key not in latest or assessed >= latest[key][0]:
                        latest[key] = (assessed, float(score))
            dims = defaultdict(list)
            for (dim, _), (_, score) in latest.items():
                dims[dim].append(score)
            means = [sum(v) / len(v) for v in dims.values()]
            assessors = {a for _, a in latest}
            out[unit, m] = (
                len(dims) == 5
                and sum(means) / 5 >= 3.5
                and min(means) >= 2.5
                and len(assessors) >= 2
            )
    return out


def test_units_pass_readiness_when_the_story_says(demo_home):
    home, summary = demo_home
    assert summary.ready_months == {
        "Sales": date(2025, 12, 1),
        "Marketing": date(2025, 12, 1),
        "Support": date(2026, 1, 1),
        "Customer Success": date(2026, 2, 1),
        "Billing": None,
    }
    gates = _gates(sorted((home / "inbox" / "readiness").glob("*.csv")), MONTHS)
    for (unit, m), ready in gates.items():
        since = summary.ready_months[unit]
        assert ready == (since is not None and m >= f"{since:%Y-%m}"), (unit, m)


def _nps_items(home: Path) -> list[tuple[str, str, datetime]]:
    """(unit, response id, received UTC) of every NPS detractor."""
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    out = []
    for m in MONTHS:
        for r in _qualtrics(home / "inbox" / "nps" / f"nps_export_{m}.csv")[1]:
            if r["Status"] == "0" and r["Q1"].isdigit() and int(r["Q1"]) <= 6 and r["BusinessUnit"]:
                local = datetime.fromisoformat(r["RecordedDate"]).replace(tzinfo=ny)
                out.append((r["BusinessUnit"], r["ResponseId"], local.astimezone(UTC)))
    return out


def test_ready_units_act_on_detractors_within_the_sla_and_hold_them_before(demo_home):
    home, summary = demo_home
    first_action: dict[str, datetime] = {}
    for f in sorted((home / "inbox" / "feedback_actions").glob("*.csv")):
        for fid, at, *_ in _read_csv(f)[1:]:
            t = datetime.fromisoformat(at)
            first_action[fid] = min(first_action.get(fid, t), t)
    ready, held = [], []
    end = datetime(2026, 3, 8, tzinfo=UTC)  # items of the last two days may still be open
    for unit, fid, received in _nps_items(home):
        since = summary.ready_months[unit]
        if received >= end:
            continue
        acted = first_action.get(fid)
        in_sla = acted is not None and acted - received <= timedelta(hours=48)
        is_ready = since is not None and received.date() >= since
        (ready if is_ready else held).append((in_sla, acted is not None))
    within = sum(s for s, _ in ready) / len(ready)
    assert len(ready) > 300 and 0.78 < within < 0.92
    assert 0.02 < sum(not a for _, a in ready) / len(ready) < 0.1  # a few never (overdue)
    assert sum(a for _, a in held) / len(held) < 0.05  # hardly any action before readiness


def test_nps_climbs_after_the_gate_and_stays_flat_without_it(tmp_path):
    summary = demo.generate(tmp_path, months=12, until=date(2026, 6, 30), scale=1)
    assert summary.ready_months["Sales"] == date(2025, 11, 1)
    # (the upper bound has room for the customers' follow-up responses and the actions that
    # close the loop with them)
    assert 90_000 * 12 / 18 * 0.8 < summary.total_events < 90_000 * 12 / 18 * 1.6
    per_unit_month = defaultdict(lambda: [0, 0, 0])  # n, promoters, detractors
    for f in sorted((tmp_path / "inbox" / "nps").glob("nps_export_????-??.csv")):
        month = f.stem[-7:]
        for r in _qualtrics(f)[1]:
            if r["Status"] == "0" and r["Q1"].isdigit() and int(r["Q1"]) <= 10:
                cell = per_unit_month[r["BusinessUnit"], month]
                cell[0] += 1
                cell[1] += int(r["Q1"]) >= 9
                cell[2] += int(r["Q1"]) <= 6

    def nps(unit: str, months: list[str]) -> float:
        n, p, d = (sum(per_unit_month[unit, m][k] for m in months) for k in range(3))
        return 100 * (p - d) / n

    first_quarter, last_quarter = (
        ["2025-07", "2025-08", "2025-09"],
        ["2026-04", "2026-05", "2026-06"],
    )
    assert nps("Sales", first_quarter) < 20 < 30 < nps("Sales", last_quarter)
    assert abs(nps("Billing", last_quarter) - nps("Billing", first_quarter)) < 20
    # employee health leads: Support's people feel the readiness work before its customers do
    before_gate = ["2026-01", "2026-02"]  # Support's gate opens in 2026-02
    assert summary.ready_months["Support"] == date(2026, 2, 1)
    health = _employee_health(tmp_path, "Support")
    assert (
        np.mean([health[m] for m in before_gate]) - np.mean([health[m] for m in first_quarter]) > 4
    )
    assert abs(nps("Support", before_gate) - nps("Support", first_quarter)) < 6
    # hundreds of responses a month per unit; the small unit sometimes misses min_n 30
    assert min(per_unit_month["Support", m][0] for m in first_quarter) > 500
    billing = [per_unit_month["Billing", m][0] for m in first_quarter + last_quarter]
    assert min(billing) < 50 and max(billing) < 80


def _employee_health(home: Path, unit: str) -> dict[str, float]:
    """DESIGN.md's employee health per month: mean of (eNPS + 100) / 2 and (wellbeing - 1) / 4 * 100."""
    cells = defaultdict(lambda: ([], []))
    for f in sorted((home / "inbox" / "employee_pulse").glob("*.csv")):
        for _, at, u, enps, wellbeing in _read_csv(f)[1:]:
            if u == unit:
                if enps:
                    cells[at[:7]][0].append(int(enps))
                if wellbeing:
                    cells[at[:7]][1].append(int(wellbeing))
    out = {}
    for month, (enps, wellbeing) in cells.items():
        e = 100 * (np.mean(np.array(enps) >= 9) - np.mean(np.array(enps) <= 6))
        out[month] = ((e + 100) / 2 + (np.mean(wellbeing) - 1) / 4 * 100) / 2
    return out


# --- live ------------------------------------------------------------------------------------------

NEW_YORK = ZoneInfo("America/New_York")
LATER = datetime(2026, 4, 1, 12, tzinfo=UTC)  # a clock well past the two-day tests below


class _Clock:
    """An injected `now` the test moves by hand."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def _utc(new_york_text: str) -> datetime:
    return datetime.fromisoformat(new_york_text).replace(tzinfo=NEW_YORK).astimezone(UTC)


def _epoch_utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _event_times(paths: list[Path]) -> list[tuple[str, str, datetime]]:
    """(kind, id, when it happened) of every event in live's files: an NPS response when recorded,
    a Delighted event at its created_at (new) or updated_at (update), an action at its action_at."""
    out = []
    for p in paths:
        if p.parent.name == "nps":
            out += [("nps", r["ResponseId"], _utc(r["RecordedDate"])) for r in _qualtrics(p)[1]]
        elif p.parent.name == "ces":
            for e in _events(p):
                r = e["event_data"]
                if e["event_type"] == "survey_response.created":
                    out.append(("ces", r["id"], _epoch_utc(r["created_at"])))
                else:
                    out.append(("ces_update", r["id"], _epoch_utc(r["updated_at"])))
        else:
            out += [
                ("action", f"{r[0]} {r[2]}", datetime.fromisoformat(r[1])) for r in _read_csv(p)[1:]
            ]
    return out


def _all_times(paths: list[Path]) -> list[datetime]:
    """Every timestamp in live's files, whatever the source and column."""
    out = []
    for p in paths:
        if p.parent.name == "nps":
            for r in _qualtrics(p)[1]:
                out += [_utc(r[c]) for c in ("StartDate", "EndDate", "RecordedDate")]
        elif p.parent.name == "ces":
            for e in _events(p):
                r = e["event_data"]
                out += [_epoch_utc(r[k]) for k in ("created_at", "updated_at") if r[k] is not None]
        else:
            out += [datetime.fromisoformat(r[1]) for r in _read_csv(p)[1:]]
    return out


def _history_ids(inbox: Path) -> set[str]:
    nps = {r["ResponseId"] for f in (inbox / "nps").glob("*.csv") for r in _qualtrics(f)[1]}
    ces = {e["event_data"]["id"] for f in (inbox / "ces").glob("*.jsonl") for e in _events(f)}
    return nps | ces


def _snapshot(inbox: Path) -> dict[Path, tuple[int, bytes]]:
    files = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in inbox.rglob("*.*")}
    files.pop(inbox / demo.STATE_FILE)
    return files


def test_live_adds_the_next_days_without_touching_history(tmp_path, demo_log):
    _generate(tmp_path, months=2, scale=0.5)
    before = _snapshot(tmp_path / "inbox")
    demo_log.clear()
    written = demo.live(tmp_path, every=0, max_steps=2, now=_Clock(LATER))
    lines = _lines(demo_log)
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in before}
    assert after == before
    assert [p.relative_to(tmp_path / "inbox").as_posix() for p in written] == [
        "nps/nps_export_2026-03-11.csv",
        "ces/delighted_2026-03-11.jsonl",
        "feedback_actions/actions_2026-03-11.csv",
        "nps/nps_export_2026-03-12.csv",
        "ces/delighted_2026-03-12.jsonl",
        "feedback_actions/actions_2026-03-12.csv",
    ]
    assert len(lines) == 2 and lines[0].startswith("live 2026-03-11: nps ")
    assert not list(tmp_path.rglob("*.part"))
    header, rows = _qualtrics(written[0])
    assert header[0][0] == "StartDate" and rows
    assert all(r["RecordedDate"][:10] in ("2026-03-10", "2026-03-11") for r in rows)  # NY time
    history_ids = {
        e["event_data"]["id"]
        for f in (tmp_path / "inbox" / "ces").glob("delighted_????-??.jsonl")
        for e in _events(f)
    }
    day_two = _events(written[4])
    assert any(
        e["event_type"] == "survey_response.updated" and e["event_data"]["id"] in history_ids
        for e in _events(written[1]) + day_two
    )
    state = json.loads((tmp_path / "inbox" / demo.STATE_FILE).read_text(encoding="utf-8"))
    assert state["last_day"] == "2026-03-12"
    # the next call carries on from there
    more = demo.live(tmp_path, every=0, max_steps=1, now=_Clock(LATER))
    assert more[0].name == "nps_export_2026-03-13.csv"


def test_live_continues_the_story_the_history_would_have_told(tmp_path):
    _generate(tmp_path / "a", months=2, scale=0.5)
    [nps_day, *_] = demo.live(tmp_path / "a", every=0, max_steps=1, now=_Clock(LATER))
    _generate(tmp_path / "b", months=2, scale=0.5, until=UNTIL + timedelta(days=1))
    march = _qualtrics(tmp_path / "b" / "inbox" / "nps" / "nps_export_2026-03.csv")[1]
    live_rows = _qualtrics(nps_day)[1]
    assert live_rows and live_rows == march[-len(live_rows) :]


def test_live_never_writes_past_now_catching_up_whole_days_then_slicing_today(tmp_path, demo_log):
    """History to 2026-03-10; the clock says 2026-03-12 09:30. Step 1 catches up 03-11 whole;
    then slices of 03-12 up to 09:30:00, then up to 15:45:10; after midnight the rest of 03-12
    and the first seconds of 03-13. Together the slices are exactly what a history to 03-12 holds
    for 03-11 and 03-12: nothing lost, nothing twice, nothing early."""
    inbox = tmp_path / "inbox"
    _generate(tmp_path, months=2, scale=0.5)
    history = _snapshot(inbox)
    history_ids = _history_ids(inbox)
    clock = _Clock(datetime(2026, 3, 12, 9, 30, tzinfo=UTC))
    demo_log.clear()
    steps: list[tuple[datetime, datetime, list[Path]]] = []

    def step(moment: datetime, told_to: datetime) -> list[Path]:
        """One live step at `moment`, which should tell the story up to `told_to`."""
        clock.moment = moment
        paths = demo.live(tmp_path, every=0, max_steps=1, now=clock)
        steps.append((moment, told_to, paths))
        return paths

    end_of_11 = datetime(2026, 3, 11, 23, 59, 59, tzinfo=UTC)
    end_of_12 = datetime(2026, 3, 12, 23, 59, 59, tzinfo=UTC)
    catch_up = step(datetime(2026, 3, 12, 9, 30, tzinfo=UTC), end_of_11)
    first = step(datetime(2026, 3, 12, 9, 30, tzinfo=UTC), datetime(2026, 3, 12, 9, 30, tzinfo=UTC))
    at = datetime(2026, 3, 12, 15, 45, 10, 999_000, tzinfo=UTC)
    second = step(at, at.replace(microsecond=0))
    third = step(datetime(2026, 3, 13, 0, 0, 30, tzinfo=UTC), end_of_12)
    fourth = step(
        datetime(2026, 3, 13, 0, 0, 30, tzinfo=UTC), datetime(2026, 3, 13, 0, 0, 30, tzinfo=UTC)
    )

    # catch-up: one whole past day, named by the day
    assert [p.name for p in catch_up] == [
        "nps_export_2026-03-11.csv",
        "delighted_2026-03-11.jsonl",
        "actions_2026-03-11.csv",
    ]
    day_11 = [t for kind, _, t in _event_times(catch_up) if kind in ("nps", "ces")]
    assert len(day_11) > 50 and {t.date() for t in day_11} == {date(2026, 3, 11)}
    # then slices of today, named by their last second; sources with nothing new get no file
    assert [p.name for p in first][:2] == [
        "nps_export_2026-03-12_093000.csv",
        "delighted_2026-03-12_093000.jsonl",
    ]
    assert {p.stem[-6:] for p in second} == {"154510"}
    assert {p.stem[-6:] for p in third} == {"235959"}  # the rest of 03-12, after midnight
    assert {p.stem[-17:] for p in fourth} <= {"2026-03-13_000030"}
    lines = _lines(demo_log)
    assert lines[1].startswith("live 2026-03-12 00:00:00..09:30:00 UTC: nps ")
    assert lines[2].startswith("live 2026-03-12 09:30:01..15:45:10 UTC: nps ")

    previous = datetime(2026, 3, 11, tzinfo=UTC) - timedelta(seconds=1)
    seen: set[tuple[str, str]] = set()
    for moment, told_to, paths in steps:
        assert all(t <= moment for t in _all_times(paths)), moment
        events = _event_times(paths)
        assert all(previous < t <= told_to for _, _, t in events), moment
        keys = {(kind, fid) for kind, fid, _ in events if kind != "action"}
        assert len(keys) == len([e for e in events if e[0] != "action"])
        assert not keys & seen  # never the same response (or update) twice
        seen |= keys
        previous = told_to
    assert len(first) == 3 and len(second) == 3  # hours of traffic: every source has something
    live_ids = {fid for kind, fid in seen if kind in ("nps", "ces")}
    assert not live_ids & history_ids

    # everything a history to 03-12 holds for 03-11 and 03-12, and nothing else
    _generate(tmp_path / "full", months=2, scale=0.5, until=date(2026, 3, 12))
    full = tmp_path / "full" / "inbox"
    full_files = [
        full / "nps" / "nps_export_2026-03.csv",
        full / "ces" / "delighted_2026-03.jsonl",
        full / "feedback_actions" / "actions_2026-03.csv",
    ]
    start = datetime(2026, 3, 11, tzinfo=UTC)
    expected = sorted(e for e in _event_times(full_files) if e[2] >= start)
    told = sorted(e for e in _event_times(catch_up + first + second + third) if e[2] >= start)
    assert told == expected
    nps_rows = [
        r for p in first + second + third if p.parent.name == "nps" for r in _qualtrics(p)[1]
    ]
    full_nps = _qualtrics(full_files[0])[1]
    assert sorted(nps_rows, key=lambda r: r["ResponseId"]) == sorted(
        (r for r in full_nps if _utc(r["RecordedDate"]).date() == date(2026, 3, 12)),
        key=lambda r: r["ResponseId"],
    )

    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in history} == history
    assert not list(tmp_path.rglob("*.part"))
    names = [p.name for _, _, paths in steps for p in paths]
    assert len(names) == len(set(names))
    state = json.loads((inbox / demo.STATE_FILE).read_text(encoding="utf-8"))
    assert state["last_day"] == "2026-03-12"
    assert state["emitted_until"] == int(datetime(2026, 3, 13, 0, 0, 31, tzinfo=UTC).timestamp())
    # follow-ups planned for later wait in the state file, none of them already due
    assert state["pending_actions"] and all(
        a[0] >= state["emitted_until"] for a in state["pending_actions"] + state["pending_updates"]
    )


def test_live_keeps_its_place_when_the_history_is_generated_again(tmp_path, demo_log):
    _generate(tmp_path, months=2, scale=0.5)
    clock = _Clock(datetime(2026, 3, 11, 8, tzinfo=UTC))
    morning = demo.live(tmp_path, every=0, max_steps=1, now=clock)
    assert morning and all(p.stem.endswith("2026-03-11_080000") for p in morning)
    _generate(tmp_path, months=2, scale=0.5)  # `outcomeloop demo --live` again: same history
    demo_log.clear()
    assert demo.live(tmp_path, every=0, max_steps=2, now=clock) == []
    assert _lines(demo_log) == [
        "live: the inbox holds everything up to 2026-03-11T08:00:00Z; waiting for the clock"
    ]
    clock.moment = datetime(2026, 3, 11, 8, 0, 5, tzinfo=UTC)
    later = demo.live(tmp_path, every=0, max_steps=1, now=clock)
    ids = {fid for kind, fid, _ in _event_times(later) if kind in ("nps", "ces")}
    assert not ids & {fid for kind, fid, _ in _event_times(morning) if kind in ("nps", "ces")}
    assert all(
        datetime(2026, 3, 11, 8, 0, 1, tzinfo=UTC) <= t <= clock.moment
        for _, _, t in _event_times(later)
    )


def test_live_writes_nothing_while_the_history_is_ahead_of_the_clock(tmp_path):
    _generate(tmp_path, months=1, scale=0.05)  # history up to the end of 2026-03-10
    clock = _Clock(datetime(2026, 3, 10, 12, tzinfo=UTC))
    assert demo.live(tmp_path, every=0, max_steps=3, now=clock) == []
    state = json.loads((tmp_path / "inbox" / demo.STATE_FILE).read_text(encoding="utf-8"))
    assert state["last_day"] == UNTIL.isoformat() and "emitted_until" not in state


def test_live_stops_when_asked_and_needs_a_history_and_its_seed(tmp_path):
    with pytest.raises(demo.DemoError, match="run `outcomeloop demo`"):
        demo.live(tmp_path, every=0, max_steps=1)
    _generate(tmp_path, months=1, scale=0.05)
    assert demo.live(tmp_path, every=0, stop=lambda: True) == []
    with pytest.raises(demo.DemoError, match="seed 7, not 8: run live with --seed 7"):
        demo.live(tmp_path, every=0, max_steps=1, seed=8, now=_Clock(LATER))


def test_the_default_history_ends_yesterday_so_it_holds_nothing_from_the_future(tmp_path):
    before = datetime.now(UTC).date()
    summary = demo.generate(tmp_path, months=1, scale=0.02)
    after = datetime.now(UTC).date()
    assert summary.until in (before - timedelta(days=1), after - timedelta(days=1))
    nps = sorted((tmp_path / "inbox" / "nps").glob("*.csv"))
    assert nps and max(_utc(r["RecordedDate"]) for f in nps for r in _qualtrics(f)[1]) < (
        datetime.combine(summary.until + timedelta(days=1), datetime.min.time(), UTC)
    )


def test_generate_logs_a_header_a_line_per_month_and_the_total(tmp_path, demo_log):
    summary = _generate(tmp_path, months=2, scale=0.05)
    lines = _lines(demo_log)
    assert lines[0] == (
        f"demo: 2 months 2026-02..2026-03-10, 5 units, scale 0.05, seed 7 -> {tmp_path / 'inbox'}"
    )
    assert [line[:20] for line in lines[1:3]] == ["  2026-02 (1/2): nps", "  2026-03 (2/2): nps"]
    assert lines[3:] == [f"demo: {summary.total_events:,} events in {len(summary.files)} files"]


def test_the_demo_command_prints_the_demo_lines(home, capsys):
    from pipelines.cli import main

    assert main(["demo", "--months", "1", "--until", UNTIL.isoformat(), "--scale", "0.05"]) == 0
    lines = capsys.readouterr().out.splitlines()
    inbox = home / "inbox"
    files = len([p for p in home.rglob("*") if p.is_file()]) - 1  # not the state file
    assert lines[0] == f"demo: 1 months 2026-03..2026-03-10, 5 units, scale 0.05, seed 7 -> {inbox}"
    assert lines[1].startswith("  2026-03 (1/1): nps ")
    assert re.fullmatch(rf"demo: [\d,]+ events in {files} files", lines[2])
    assert lines[3:] == [
        f"demo data written to {inbox} ({files} files)",
        f"alerts: {home / 'alerts.yaml'} is off until CX_WEBHOOK_URL is set; "
        "`python examples/alert_receiver.py` prints them as they arrive",
    ]


def test_units_can_be_chosen(tmp_path):
    summary = _generate(tmp_path, units=["North", "South"], months=3, scale=0.05)
    assert summary.ready_months == {"North": date(2026, 2, 1), "South": None}
    units = {r[1] for r in _read_csv(tmp_path / "inbox" / "revenue" / "revenue_2026-01.csv")[1:]}
    assert units == {"North", "South"}
    with pytest.raises(demo.DemoError, match="reserved"):
        _generate(tmp_path / "x", units=["all", "South"])


def test_the_csv_writer_quotes_comments_like_qualtrics():
    buffer = io.StringIO()
    writer(buffer).writerow(["a, b", 'say "hi"', "two\nlines"])
    assert buffer.getvalue() == '"a, b","say ""hi""","two\nlines"\n'
