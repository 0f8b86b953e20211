"""Qualtrics "Data Table" CSV export, the format of the demo's NPS survey.

Three header rows (column ids, question labels, ImportId JSON), then one row per response with
dates as New York wall-clock text, the survey's time zone. Written with a UTF-8 BOM, as Qualtrics
does.
"""

from __future__ import annotations

import csv

import numpy as np

QUALTRICS_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (column id, English label, ImportId JSON) as a Qualtrics "Data Table" CSV export writes them
    ("StartDate", "Start Date", '{"ImportId":"startDate","timeZone":"America/New_York"}'),
    ("EndDate", "End Date", '{"ImportId":"endDate","timeZone":"America/New_York"}'),
    ("Status", "Response Type", '{"ImportId":"status"}'),
    ("IPAddress", "IP Address", '{"ImportId":"ipAddress"}'),
    ("Progress", "Progress", '{"ImportId":"progress"}'),
    ("Duration (in seconds)", "Duration (in seconds)", '{"ImportId":"duration"}'),
    ("Finished", "Finished", '{"ImportId":"finished"}'),
    ("RecordedDate", "Recorded Date", '{"ImportId":"recordedDate","timeZone":"America/New_York"}'),
    ("ResponseId", "Response ID", '{"ImportId":"_recordId"}'),
    ("DistributionChannel", "Distribution Channel", '{"ImportId":"distributionChannel"}'),
    ("UserLanguage", "User Language", '{"ImportId":"userLanguage"}'),
    (
        "Q1_NPS_GROUP",
        "How likely are you to recommend Northwind Ledger to a friend or colleague? - Group",
        '{"ImportId":"QID1_NPS_GROUP"}',
    ),
    (
        "Q1",
        "How likely are you to recommend Northwind Ledger to a friend or colleague?",
        '{"ImportId":"QID1"}',
    ),
    ("Q2", "What is the main reason for your score?", '{"ImportId":"QID2_TEXT"}'),
    ("BusinessUnit", "BusinessUnit", '{"ImportId":"BusinessUnit"}'),
    ("AccountId", "AccountId", '{"ImportId":"AccountId"}'),
)
#: Where the response id sits in a row.
RESPONSE_ID = [col[0] for col in QUALTRICS_COLUMNS].index("ResponseId")

_ALNUM = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)


def write_header(w: csv.writer) -> None:
    """The three header rows: column ids, labels, ImportId JSON."""
    for row in range(3):
        w.writerow([col[row] for col in QUALTRICS_COLUMNS])


def response_ids(rng: np.random.Generator, n: int) -> list[str]:
    """Qualtrics response ids: `R_` and 15 letters or digits."""
    chars = _ALNUM[rng.integers(0, len(_ALNUM), size=(n, 15))]
    return ["R_" + b.decode() for b in np.ascontiguousarray(chars).view("S15").ravel().tolist()]


def nps_group(score: int) -> str:
    """Qualtrics' NPS group code: 1 detractor (0-6), 2 passive (7-8), 3 promoter (9-10)."""
    return "1" if score <= 6 else ("3" if score >= 9 else "2")


def response_row(
    *,
    started: str,
    recorded: str,
    status: str,
    ip: str,
    duration: int,
    response_id: str,
    channel: str,
    language: str,
    group: str,
    score: str,
    comment: str,
    unit: str,
    account: str,
) -> list[str]:
    """One finished response in column order; `started` and `recorded` are New York wall-clock
    text, `status` 0 is a real response (1 a survey preview, 2 a test)."""
    return [
        started,
        recorded,
        status,
        ip,
        "100",
        str(duration),
        "1",
        recorded,
        response_id,
        channel,
        language,
        group,
        score,
        comment,
        unit,
        account,
    ]
