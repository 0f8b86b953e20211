"""Delighted webhook events, one JSON object a line (JSONL), the format of the demo's CES survey.

A response arrives as `survey_response.created`; when the customer adds a comment later, Delighted
sends the whole response again as `survey_response.updated` with the comment and a newer
`updated_at`. Times are epoch seconds; ids are numbers (never like a Qualtrics `R_` id).
"""

from __future__ import annotations

import json


def response(
    *,
    response_id: str,
    person: int,
    account_index: int,
    survey_type: str,
    score: int,
    comment: str | None,
    created_at: int,
    updated_at: int | None,
    unit: str,
    account: str,
    plan: str,
) -> dict:
    """A survey response as Delighted's webhook carries it, with the person's custom properties
    (the unit, the Salesforce account, the plan)."""
    return {
        "id": response_id,
        "person": {
            "id": str(person),
            "email": f"contact{person}@customer{account_index}.example",
        },
        "survey_type": survey_type,
        "score": score,
        "comment": comment,
        "created_at": created_at,
        "updated_at": updated_at,
        "person_properties": {"Unit": unit, "Account": account, "Plan": plan},
    }


def created(response: dict) -> str:
    """The event line announcing a new response."""
    return _event("survey_response.created", 1, response)


def updated(response: dict, comment: str, at: int) -> str:
    """The event line Delighted sends when the customer adds `comment` at `at`."""
    return _event("survey_response.updated", 2, {**response, "comment": comment, "updated_at": at})


def _event(event_type: str, seq: int, response: dict) -> str:
    event_id = f"evt_{response['id']}_{seq}"
    return json.dumps({"event_type": event_type, "event_id": event_id, "event_data": response})
