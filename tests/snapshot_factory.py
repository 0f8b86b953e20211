"""A small, hand-written published snapshot for the dashboard tests (docs/snapshot.md's tables).

The story it tells, small enough to check by hand:

- two units, Sales and Support, and three monthly periods, January to March 2025 (March is the
  latest);
- a three-level outcome tree: revenue -> customer_delight -> nps, ces. Revenue is at risk in
  March (5% of the way to its target where 12.2% was expected); NPS and CES are on track;
- Support's March NPS rests on 12 responses, fewer than the 30 needed, so it is suppressed: the value
  50 stays in the table but must never be shown;
- the feedback loop: in March Sales has one item acted upon within the SLA, one overdue and one open;
  Support's one March item is held because Support is not ready; in February Sales acted late once;
- closing the loop: ana's March action (billing error) told the customer, who answered 9 a week
  later (recovered); February's late action (slow first response) was followed by a 4; one
  action names a root cause ("printer on fire") outside the strategy's list;
- readiness: Sales has been ready since January 2025; Support reaches the threshold in March (3.6)
  but only one assessor scored it, so only the assessor count blocks;
- data health: a rejected file, a duplicate, one quarantined row with its reason, one orphan
  feedback action, two configured sources (upsell, employee_pulse) with no data yet, and an
  unknown folder inbox/NPS that nothing reads;
- alerts: R_102's overdue alert sent, C_201's due-soon alert pending after an HTTP 500, a stale
  revenue alert failed after 5 attempts, and one status baseline recorded without sending.

`make_snapshot` writes it and returns the numbers the dashboard must show.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

JAN, FEB, MAR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)
PERIODS = (JAN, FEB, MAR)
BUILT_AT = datetime(2025, 3, 20, 12, 0, 0)
DATA_THROUGH = datetime(2025, 3, 20, 9, 30, 0)

# Expected progress at each period's last day: days from 2025-01-01 over the 729 days to 2026-12-31.
EXPECTED = {JAN: 30 / 729, FEB: 58 / 729, MAR: 89 / 729}

SCHEMAS = ("marts", "ops", "serving")

DDL = {
    "ops.file_ledger": "file_path VARCHAR, source VARCHAR, sha256 VARCHAR, size_bytes BIGINT, "
    "rows_loaded BIGINT, rows_filtered BIGINT, rows_quarantined BIGINT, status VARCHAR, "
    "error VARCHAR, loaded_at TIMESTAMP, mapping_digest VARCHAR, mtime_ns BIGINT",
    "ops.quarantine": "source VARCHAR, file_path VARCHAR, row_number BIGINT, record VARCHAR, "
    "reason VARCHAR, quarantined_at TIMESTAMP",
    "ops.alert_log": "rule VARCHAR, event VARCHAR, subject VARCHAR, unit VARCHAR, "
    "channel VARCHAR, first_seen_at TIMESTAMP, sent_at TIMESTAMP, attempts INTEGER, "
    "status VARCHAR, error VARCHAR",
    "marts.measure_values": "measure VARCHAR, unit VARCHAR, period_start DATE, value DOUBLE, "
    "n BIGINT, ci_low DOUBLE, ci_high DOUBLE, suppressed BOOLEAN, note VARCHAR",
    "marts.measure_changes": "measure VARCHAR, unit VARCHAR, period_start DATE, "
    "previous_period_start DATE, value DOUBLE, previous_value DOUBLE, change DOUBLE, se DOUBLE, "
    "z DOUBLE, significant BOOLEAN",
    "marts.comment_themes": "source VARCHAR, unit VARCHAR, period_start DATE, theme VARCHAR, "
    "mentions BIGINT, comments BIGINT, share DOUBLE, detractors BIGINT, nps_impact DOUBLE",
    "marts.readiness": "unit VARCHAR, dimension VARCHAR, score DOUBLE, n_assessors BIGINT, "
    "as_of DATE",
    "marts.readiness_gates": "unit VARCHAR, period_start DATE, score DOUBLE, ready BOOLEAN, "
    "blocking_dimensions VARCHAR[], ready_since DATE",
    "marts.feedback_items": "feedback_id VARCHAR, source VARCHAR, unit VARCHAR, "
    "account_id VARCHAR, received_at TIMESTAMP, score DOUBLE, comment VARCHAR, in_loop BOOLEAN, "
    "due_at TIMESTAMP, first_action_at TIMESTAMP, hours_to_action DOUBLE, status VARCHAR, "
    "owner VARCHAR, root_cause VARCHAR, closed_with_customer_at TIMESTAMP, "
    "followup_response_id VARCHAR, followup_at TIMESTAMP, followup_score DOUBLE, "
    "recovered BOOLEAN",
    "marts.feedback_loop": "unit VARCHAR, period_start DATE, items BIGINT, in_loop BIGINT, "
    "acted BIGINT, acted_within_sla BIGINT, acted_late BIGINT, overdue BIGINT, open BIGINT, "
    "held_not_ready BIGINT, median_hours_to_action DOUBLE, closed_with_customer BIGINT",
    "marts.loop_outcomes": "unit VARCHAR, period_start DATE, acted BOOLEAN, followed_up BIGINT, "
    "recovered BIGINT, recovery_rate DOUBLE, ci_low DOUBLE, ci_high DOUBLE",
    "marts.root_causes": "unit VARCHAR, period_start DATE, root_cause VARCHAR, items BIGINT, "
    "share DOUBLE",
    "marts.outcome_progress": "node VARCHAR, parent VARCHAR, unit VARCHAR, period_start DATE, "
    "measure VARCHAR, value DOUBLE, ci_low DOUBLE, ci_high DOUBLE, n BIGINT, baseline DOUBLE, "
    "target DOUBLE, expected_progress DOUBLE, progress DOUBLE, children_progress DOUBLE, "
    "status VARCHAR, weight DOUBLE",
    "serving.meta": "built_at TIMESTAMP, data_through TIMESTAMP, strategy_sha256 VARCHAR, "
    "contract_version VARCHAR, strategy_name VARCHAR, timezone VARCHAR, period VARCHAR, "
    "dagster_url VARCHAR",
    "serving.strategy": "strategy_json VARCHAR",
    "serving.tree": "node VARCHAR, parent VARCHAR, depth INTEGER, position INTEGER, label VARCHAR, "
    "measure VARCHAR, strand VARCHAR, promise VARCHAR, weight DOUBLE, direction VARCHAR",
    "serving.measures": "measure VARCHAR, label VARCHAR, kind VARCHAR, source VARCHAR, "
    "min_n INTEGER, anonymity BOOLEAN, format VARCHAR",
    "serving.source_health": "source VARCHAR, configured BOOLEAN, files BIGINT, "
    "files_loaded BIGINT, files_rejected BIGINT, files_duplicate BIGINT, rows_loaded BIGINT, "
    "rows_filtered BIGINT, rows_quarantined BIGINT, events BIGINT, last_file VARCHAR, "
    "last_loaded_at TIMESTAMP, latest_event_at TIMESTAMP, freshness_hours DOUBLE, stale BOOLEAN",
    "serving.quarantine_summary": "source VARCHAR, reason VARCHAR, rows BIGINT, files BIGINT, "
    "last_at TIMESTAMP, sample_record VARCHAR, sample_file VARCHAR, sample_row BIGINT",
    "serving.responses": "source VARCHAR, response_id VARCHAR, unit VARCHAR, period_start DATE, "
    "responded_at TIMESTAMP, score DOUBLE, comment VARCHAR, account_id VARCHAR, "
    "file_path VARCHAR, row_number BIGINT",
    "serving.orphan_actions": "feedback_id VARCHAR, action_at TIMESTAMP, action_type VARCHAR, "
    "owner VARCHAR, file_path VARCHAR, row_number BIGINT",
    "serving.unread_inbox": "path VARCHAR, reason VARCHAR, hint VARCHAR",
    "serving.action_root_causes": "root_cause VARCHAR, actions BIGINT, last_action_at TIMESTAMP, "
    "last_file VARCHAR",
}

#: Why the pending alert of the fixture has not gone out yet.
ALERT_ERROR = "the receiver answered HTTP 500 Internal Server Error"
#: A comment that would render as markup if the dashboard passed it to st.markdown unescaped.
HOSTILE_COMMENT = "**Terrible** <b>service</b> [click here](http://evil.example) :red[alarm]"
#: A comment with contact details the privacy option masks.
CONTACT_COMMENT = "Waited two weeks. Call me at +49 170 1234567 or mail jane.doe@example.com"

STRATEGY = {
    "name": "Customer delight through delighted people",
    "timezone": "UTC",
    "period": "month",
    "context": {
        "target_customers": "Mid-sized manufacturers who buy spare parts online",
        "value_proposition": "The right part, the next morning, without a phone call",
        "brand": "Dependable and plain-spoken",
        "business_goals": ["Grow revenue to 1.0M a month by 2026", "Halve the cost to serve"],
    },
    "measures": {
        "revenue": {"source": "revenue", "kind": "sum", "field": "amount"},
        "nps": {"source": "nps", "kind": "nps", "min_n": 30},
        "ces": {"source": "ces", "kind": "mean", "min_n": 30},
    },
    "tree": {
        "id": "revenue",
        "measure": "revenue",
        "baseline": {"value": 800000, "date": "2025-01-01"},
        "target": {"value": 1000000, "date": "2026-12-31"},
        "children": [
            {
                "id": "customer_delight",
                "label": "Customer delight",
                "strand": "what",
                "weight": 1.0,
                "promise": "You will find it easy to get help, and glad to recommend us.",
                "children": [
                    {"id": "nps", "measure": "nps", "weight": 0.6},
                    {"id": "ces", "measure": "ces", "weight": 0.4},
                ],
            }
        ],
    },
    "readiness": {
        "dimensions": ["leadership", "culture", "process", "data", "people"],
        "threshold": 3.5,
        "floor": 2.5,
        "min_assessors": 2,
    },
    "feedback_loop": {
        "sla_hours": 48,
        "nps_detractor_max": 6,
        "ces_high_effort_max": 3,
        "closing_action_types": ["customer_informed"],
        "root_causes": ["billing error", "slow first response", "unclear pricing"],
    },
    "status": {"tolerance": 0.05, "at_risk_band": 0.15},
    "privacy": {"mask_contacts": True},
    "themes": {
        "waiting": ["slow", "waited"],
        "invoices": ["invoice"],
        "quick help": ["sorted", "quick"],
    },
}


def _measure_rows() -> list[tuple]:
    rows: list[tuple] = []
    revenue = {
        "all": (802000.0, 806000.0, 810000.0),
        "Sales": (500000.0, 503000.0, 505000.0),
        "Support": (302000.0, 303000.0, 305000.0),
    }
    for unit, values in revenue.items():
        for period, value in zip(PERIODS, values, strict=True):
            rows.append(
                ("revenue", unit, period, value, 2 if unit == "all" else 1, None, None, False, None)
            )
    nps = {  # unit: ((value, n, half-width of the interval), ...) per period
        "all": ((18.0, 120, 14.0), (21.0, 130, 13.0), (24.0, 140, 12.5)),
        "Sales": ((20.0, 80, 17.0), (22.0, 90, 16.0), (22.0, 128, 13.0)),
        "Support": ((15.0, 40, 25.0), (18.0, 40, 25.0), (50.0, 12, 40.0)),
    }
    for unit, cells in nps.items():
        for period, (value, n, half) in zip(PERIODS, cells, strict=True):
            suppressed = n < 30
            note = f"{n} responses, fewer than the 30 needed" if suppressed else None
            rows.append(
                ("nps", unit, period, value, n, value - half, value + half, suppressed, note)
            )
    ces = {
        "all": ((4.9, 60, 0.05), (5.0, 70, 0.05), (5.1, 80, 0.05)),
        "Sales": ((5.0, 30, 0.3), (5.1, 35, 0.3), (5.3, 40, 0.3)),
        "Support": ((4.8, 30, 0.3), (4.9, 35, 0.3), (4.9, 40, 0.3)),
    }
    for unit, cells in ces.items():
        for period, (value, n, half) in zip(PERIODS, cells, strict=True):
            rows.append(("ces", unit, period, value, n, value - half, value + half, False, None))
    return rows


def _change_rows() -> list[tuple]:
    """marts.measure_changes from the measure rows: se from each interval's half-width / 1.96.
    The organisation's CES rises significantly into March (0.1 with se 0.036, z 2.77); its NPS
    rise (+3, se 9.2) is no clear change."""
    cells = {(r[0], r[1], r[2]): r for r in _measure_rows()}
    rows = []
    for (measure, unit, period), r in cells.items():
        before = cells.get((measure, unit, PERIODS[PERIODS.index(period) - 1]))
        if period == JAN or before is None or r[7] or before[7]:
            continue
        change = r[3] - before[3]
        se = z = significant = None
        if measure != "revenue":
            se = math.sqrt(((r[6] - r[3]) / 1.96) ** 2 + ((before[6] - before[3]) / 1.96) ** 2)
            z = change / se if se > 0 else None
            significant = None if z is None else abs(z) >= 1.959964
        rows.append((measure, unit, period, before[2], r[3], before[3], change, se, z, significant))
    return rows


def _theme_rows() -> list[tuple]:
    """marts.comment_themes, consistent with serving.responses below. Sales, March: responses
    3, 2, 10, 6 (NPS -50); waiting is mentioned by the detractor who "Waited two weeks" (without
    it: 2, 10, 6 -> -33.3, impact -16.7); quick help by the promoter "Sorted in one call"
    (without it: -100, impact +50)."""
    return [
        ("nps", "Sales", MAR, "waiting", 1, 3, 1 / 3, 1, -50 + 100 / 3),
        ("nps", "Sales", MAR, "quick help", 1, 3, 1 / 3, 0, 50.0),
        ("nps", "all", MAR, "waiting", 1, 4, 0.25, 1, -20.0),
        ("nps", "all", MAR, "quick help", 2, 4, 0.5, 0, 80.0),
        ("nps", "Support", MAR, "quick help", 1, 1, 1.0, 0, None),
        ("nps", "Sales", FEB, "waiting", 1, 1, 1.0, 1, None),
        ("nps", "Sales", FEB, "invoices", 1, 1, 1.0, 1, None),
        ("nps", "all", FEB, "waiting", 1, 1, 1.0, 1, None),
        ("nps", "all", FEB, "invoices", 1, 1, 1.0, 1, None),
    ]


def _status(behind: float, ci: tuple[float, float] | None, expected_value: float | None) -> str:
    if behind <= 0.05:
        return "on_track"
    if ci is not None and expected_value is not None and ci[0] <= expected_value <= ci[1]:
        return "on_track"
    return "at_risk" if behind <= 0.15 else "off_track"


def _progress_rows() -> list[tuple]:
    """outcome_progress for the whole organisation, computed by DESIGN.md's formulas."""
    measures = {r[0:3]: r for r in _measure_rows()}
    targets = {"revenue": (800000.0, 1000000.0), "nps": (12.0, 40.0), "ces": (4.6, 5.8)}
    rows: list[tuple] = []
    for period in PERIODS:
        expected = EXPECTED[period]
        leaf: dict[str, float] = {}
        for node, parent, weight in (
            ("nps", "customer_delight", 0.6),
            ("ces", "customer_delight", 0.4),
        ):
            _, _, _, value, n, lo, hi, _, _ = measures[(node, "all", period)]
            base, target = targets[node]
            progress = min(max((value - base) / (target - base), 0.0), 1.0)
            leaf[node] = progress
            expected_value = base + expected * (target - base)
            status = _status(expected - progress, (lo, hi), expected_value)
            rows.append(
                (node, parent, "all", period, node, value, lo, hi, n, base, target, expected,
                 progress, None, status, weight)
            )  # fmt: skip
        delight = 0.6 * leaf["nps"] + 0.4 * leaf["ces"]
        rows.append(
            ("customer_delight", "revenue", "all", period, None, None, None, None, None, None, None,
             expected, delight, delight, _status(expected - delight, None, None), 1.0)
        )  # fmt: skip
        value = measures[("revenue", "all", period)][3]
        base, target = targets["revenue"]
        progress = (value - base) / (target - base)
        rows.append(
            ("revenue", None, "all", period, "revenue", value, None, None, 2, base, target,
             expected, progress, delight, _status(expected - progress, None, None), 1.0)
        )  # fmt: skip
    return rows


def _tables(built_at: datetime, data_through: datetime, mask_contacts: bool) -> dict[str, list]:
    strategy = json.loads(json.dumps(STRATEGY))
    strategy["privacy"]["mask_contacts"] = mask_contacts
    dims = STRATEGY["readiness"]["dimensions"]
    promise = STRATEGY["tree"]["children"][0]["promise"]
    nps_file, ces_file = "inbox/nps/nps_2025_03.csv", "inbox/ces/ces_2025_03.jsonl"
    quarantined = '{"ResponseId": "R_57", "Q5": "eleven"}'
    reason = "score 'eleven' is not a whole number from 0 to 10"
    rejected_error = (
        "missing required column 'score' (mapped from Q5); the header has ResponseId, "
        "RecordedDate, BusinessUnit"
    )
    # fmt: off
    return {
        "serving.meta": [
            (built_at, data_through, "ab" * 32, "1", STRATEGY["name"], "UTC", "month",
             "http://localhost:3000"),
        ],
        "serving.strategy": [(json.dumps(strategy),)],
        "serving.tree": [
            ("revenue", None, 0, 0, "Revenue", "revenue", None, None, 1.0, "up"),
            ("customer_delight", "revenue", 1, 1, "Customer delight", None, "what", promise, 1.0,
             None),
            ("nps", "customer_delight", 2, 2, "Net Promoter Score", "nps", None, None, 0.6, "up"),
            ("ces", "customer_delight", 2, 3, "Customer Effort Score", "ces", None, None, 0.4,
             "up"),
        ],
        "serving.measures": [
            ("revenue", "Revenue", "sum", "revenue", 0, False, "currency"),
            ("nps", "Net Promoter Score", "nps", "nps", 30, False, "signed"),
            ("ces", "Customer Effort Score", "mean", "ces", 30, False, "number"),
        ],
        "marts.measure_values": _measure_rows(),
        "marts.measure_changes": _change_rows(),
        "marts.comment_themes": _theme_rows(),
        "marts.outcome_progress": _progress_rows(),
        "marts.readiness": [
            *[("Sales", d, s, 2, date(2025, 3, 10))
              for d, s in zip(dims, (4.0, 3.5, 3.5, 4.0, 4.0), strict=True)],
            *[("Support", d, s, 1, date(2025, 3, 12))
              for d, s in zip(dims, (4.0, 3.5, 3.5, 3.0, 4.0), strict=True)],
        ],
        "marts.readiness_gates": [
            ("Sales", JAN, 3.8, True, [], JAN),
            ("Sales", FEB, 3.8, True, [], JAN),
            ("Sales", MAR, 3.8, True, [], JAN),
            ("Support", JAN, 3.0, False, ["process", "data"], None),
            ("Support", FEB, 3.2, False, ["data"], None),
            ("Support", MAR, 3.6, False, [], None),
        ],
        "marts.feedback_items": [
            ("R_101", "nps", "Sales", "ACC-1", datetime(2025, 3, 10, 9), 3.0, CONTACT_COMMENT,
             True, datetime(2025, 3, 12, 9), datetime(2025, 3, 11, 10), 25.0, "acted",
             "ana", "billing error", datetime(2025, 3, 11, 10), "R_150",
             datetime(2025, 3, 18, 9), 9.0, True),
            ("R_102", "nps", "Sales", "ACC-2", datetime(2025, 3, 15, 8), 2.0, HOSTILE_COMMENT,
             True, datetime(2025, 3, 17, 8), None, None, "overdue", *[None] * 7),
            ("C_201", "ces", "Sales", "ACC-3", datetime(2025, 3, 19, 20), 3.0,
             "Form kept timing out", True, datetime(2025, 3, 21, 20), None, None, "open",
             *[None] * 7),
            ("C_202", "ces", "Support", "ACC-4", datetime(2025, 3, 5, 12), 2.0,
             "Too many transfers", False, None, None, None, "held_not_ready", *[None] * 7),
            ("R_090", "nps", "Sales", "ACC-5", datetime(2025, 2, 10, 10), 5.0, "Slow invoice fix",
             True, datetime(2025, 2, 12, 10), datetime(2025, 2, 13, 10), 72.0, "acted_late",
             "ben", "slow first response", None, "R_120", datetime(2025, 3, 1, 9), 4.0, False),
        ],
        "marts.feedback_loop": [
            ("Sales", JAN, 0, 0, 0, 0, 0, 0, 0, 0, None, 0),
            ("Sales", FEB, 1, 1, 1, 0, 1, 0, 0, 0, 72.0, 0),
            ("Sales", MAR, 3, 3, 1, 1, 0, 1, 1, 0, 25.0, 1),
            ("Support", JAN, 0, 0, 0, 0, 0, 0, 0, 0, None, 0),
            ("Support", FEB, 0, 0, 0, 0, 0, 0, 0, 0, None, 0),
            ("Support", MAR, 1, 0, 0, 0, 0, 0, 0, 1, None, 0),
        ],
        # R_090 (February) and R_101 (March) were acted upon before their follow-ups; only R_101's
        # customer came back happier. Wilson 95% bounds for 0 of 1 and 1 of 1.
        "marts.loop_outcomes": [
            (unit, FEB, True, 1, 0, 0.0, 0.0, 0.7934506882081973) for unit in ("Sales", "all")
        ] + [
            (unit, MAR, True, 1, 1, 1.0, 0.2065493117918027, 1.0) for unit in ("Sales", "all")
        ],
        "marts.root_causes": [
            (unit, FEB, "slow first response", 1, 1.0) for unit in ("Sales", "all")
        ] + [(unit, MAR, "billing error", 1, 1.0) for unit in ("Sales", "all")],
        "ops.file_ledger": [
            (nps_file, "nps", "a1" * 32, 20480, 140, 2, 1, "loaded", None,
             datetime(2025, 3, 20, 9, 0), None, 1_742_400_000_000_000_000),
            ("inbox/nps/nps_2025_03_copy.csv", "nps", "a1" * 32, 20480, 0, 0, 0, "duplicate",
             None, datetime(2025, 3, 20, 9, 5), None, 1_742_400_000_000_000_000),
            ("inbox/nps/broken.csv", "nps", "b2" * 32, 512, 0, 0, 0, "rejected", rejected_error,
             datetime(2025, 3, 20, 9, 10), None, 1_742_400_000_000_000_000),
            (ces_file, "ces", "c3" * 32, 30720, 80, 0, 0, "loaded", None,
             datetime(2025, 3, 20, 8, 0), None, 1_742_400_000_000_000_000),
            ("inbox/revenue/revenue.csv", "revenue", "d4" * 32, 300, 6, 0, 0, "loaded", None,
             datetime(2025, 3, 1, 7, 0), None, 1_742_400_000_000_000_000),
        ],
        "ops.quarantine": [
            ("nps", nps_file, 57, quarantined, reason, datetime(2025, 3, 20, 9, 0)),
        ],
        "ops.alert_log": [
            ("item_overdue", "item_overdue", "R_102", "Sales", "cx", datetime(2025, 3, 17, 9),
             datetime(2025, 3, 17, 9), 1, "sent", None),
            ("item_due_soon", "item_due_soon", "C_201", "Sales", "cx",
             datetime(2025, 3, 20, 9), None, 2, "pending", ALERT_ERROR),
            ("source_stale", "source_stale", "revenue: no new file since 2025-03-01 07:00", None,
             "data", datetime(2025, 3, 19, 9), None, 5, "failed", "ConnectionRefusedError: "
             "[Errno 111] Connection refused"),
            ("status_changed", "status_changed", "revenue: at_risk (2025-03-01)", "all", None,
             datetime(2025, 3, 1, 9), None, 0, "sent", None),
        ],
        "serving.quarantine_summary": [
            ("nps", reason, 1, 1, datetime(2025, 3, 20, 9, 0), quarantined, nps_file, 57),
        ],
        "serving.source_health": [
            ("nps", True, 3, 1, 1, 1, 140, 2, 1, 140, nps_file,
             datetime(2025, 3, 20, 9, 0), datetime(2025, 3, 19, 18, 0), 18.0, False),
            ("ces", True, 1, 1, 0, 0, 80, 0, 0, 80, ces_file,
             datetime(2025, 3, 20, 8, 0), datetime(2025, 3, 19, 20, 0), 16.0, False),
            ("revenue", True, 1, 1, 0, 0, 6, 0, 0, 6, "inbox/revenue/revenue.csv",
             datetime(2025, 3, 1, 7, 0), datetime(2025, 3, 1, 0, 0), 468.0, True),
            ("upsell", True, 0, 0, 0, 0, 0, 0, 0, 0, None, None, None, None, None),
            ("employee_pulse", True, 0, 0, 0, 0, 0, 0, 0, 0, None, None, None, None, None),
        ],
        "serving.responses": [
            ("nps", "R_101", "Sales", MAR, datetime(2025, 3, 10, 9), 3.0, CONTACT_COMMENT,
             "ACC-1", nps_file, 12),
            ("nps", "R_102", "Sales", MAR, datetime(2025, 3, 15, 8), 2.0, HOSTILE_COMMENT,
             "ACC-2", nps_file, 13),
            ("nps", "R_103", "Sales", MAR, datetime(2025, 3, 16, 8), 10.0, "Sorted in one call",
             "ACC-6", nps_file, 14),
            ("nps", "R_105", "Sales", MAR, datetime(2025, 3, 18, 8), 6.0, None, "ACC-8",
             nps_file, 16),
            ("nps", "R_104", "Support", MAR, datetime(2025, 3, 17, 8), 9.0, "Quick answer",
             "ACC-7", nps_file, 15),
            ("nps", "R_090", "Sales", FEB, datetime(2025, 2, 10, 10), 5.0, "Slow invoice fix",
             "ACC-5", "inbox/nps/nps_2025_02.csv", 9),
            ("ces", "C_201", "Sales", MAR, datetime(2025, 3, 19, 20), 3.0, "Form kept timing out",
             "ACC-3", ces_file, 4),
        ],
        "serving.orphan_actions": [
            ("R_999", datetime(2025, 3, 12, 10), "call", "ana", "inbox/feedback_actions/a.csv", 7),
        ],
        "serving.unread_inbox": [
            ("inbox/NPS", "not read: unknown source folder", "rename it to 'nps'"),
        ],
        "serving.action_root_causes": [
            ("billing error", 1, datetime(2025, 3, 11, 10), "inbox/feedback_actions/a.csv"),
            ("slow first response", 1, datetime(2025, 2, 13, 10), "inbox/feedback_actions/a.csv"),
            ("printer on fire", 1, datetime(2025, 3, 12, 10), "inbox/feedback_actions/a.csv"),
        ],
    }
    # fmt: on


def make_snapshot(path: Path, **overrides: Any) -> dict[str, Any]:
    """Write the fixture snapshot to `path` and return what the dashboard must show.

    Overrides: `built_at`, `data_through` (datetimes), `mask_contacts` (bool), and `tables`
    (a dict of table name -> rows that replaces that table's rows, e.g. an empty list).
    """
    built_at = overrides.pop("built_at", BUILT_AT)
    data_through = overrides.pop("data_through", DATA_THROUGH)
    mask_contacts = overrides.pop("mask_contacts", True)
    replaced = overrides.pop("tables", {})
    if overrides:
        raise TypeError(f"make_snapshot: unknown overrides {sorted(overrides)}")
    tables = _tables(built_at, data_through, mask_contacts)
    unknown = set(replaced) - set(tables)
    if unknown:
        raise KeyError(f"make_snapshot: no table named {sorted(unknown)}")
    tables.update(replaced)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        for schema in SCHEMAS:
            con.execute(f"CREATE SCHEMA {schema}")
        for name, columns in DDL.items():
            con.execute(f"CREATE TABLE {name} ({columns})")
            rows = tables[name]
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                con.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
    finally:
        con.close()
    tmp.replace(path)  # atomically, as the pipeline publishes

    return {
        "built_at": built_at,
        "data_through": data_through,
        "latest_period": MAR,
        "root_value_text": "810.0K",
        "root_target_text": "1.00M",
        "root_status": "at_risk",
        "root_status_text": "At risk",
        "nps_all_latest_text": "+24",
        "nps_sales_latest_text": "+22",
        "ces_all_latest_text": "5.10",
        "ces_all_change": "up",  # significant
        "nps_all_change": "no clear change",
        "top_theme_sales": "waiting",  # the most negative NPS impact in Sales, March
        "ces_all_change_text": "▲ +0.10",
        "suppressed_value": 50.0,  # Support's March NPS: must never appear
        "overdue_total": 1,
        "overdue_feedback_id": "R_102",
        "held_total": 1,
        "march_items": 4,
        "gates": {"Sales": "Ready", "Support": "Not ready"},
        "sales_ready_since": JAN,
        "assessor_only_unit": "Support",
        "rejected_file": "inbox/nps/broken.csv",
        "quarantine_reason": "score 'eleven' is not a whole number from 0 to 10",
        "orphan_feedback_id": "R_999",
        "unknown_root_cause": "printer on fire",
        "sources_without_data": ["upsell", "employee_pulse"],
        "hostile_comment": HOSTILE_COMMENT,
        "contact_comment": CONTACT_COMMENT,
        "alert_error": ALERT_ERROR,
    }
