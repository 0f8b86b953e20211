"""The free text the demo draws from (survey comments, follow-up notes, opportunity names).

The texts are data, kept in `banks/*.yaml` inside the package so they can be read and edited
without touching the generators. Each bank is a tuple: the seeded draws pick by position.
"""

from __future__ import annotations

from importlib import resources

import yaml


def _bank(name: str) -> dict:
    text = resources.files(__package__).joinpath("banks", f"{name}.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def _texts(bank: dict, *path: str) -> tuple[str, ...]:
    """The list at `path` in `bank`, checked to hold only text (a YAML value such as `yes` or
    `10` unquoted would otherwise become a bool or a number)."""
    value = bank
    for key in path:
        value = value[key]
    if not value or not all(isinstance(v, str) for v in value):
        raise TypeError(f"demo text bank {'.'.join(path)} must be a non-empty list of strings")
    return tuple(value)


_surveys = _bank("survey_comments")
NPS_COMMENTS: dict[str, tuple[str, ...]] = {
    kind: _texts(_surveys, "nps", kind) for kind in ("detractor", "passive", "promoter")
}
#: Unit -> what that unit's detractors write besides the shared detractor answers.
NPS_UNIT_DETRACTOR: dict[str, tuple[str, ...]] = {
    unit: _texts(_surveys, "nps", "detractor_by_unit", unit)
    for unit in _surveys["nps"]["detractor_by_unit"]
}
CES_COMMENTS: dict[str, tuple[str, ...]] = {
    kind: _texts(_surveys, "ces", kind) for kind in ("hard", "neutral", "easy")
}
CSAT_COMMENTS = _texts(_surveys, "csat")

_follow_up = _bank("follow_up")
OWNERS = _texts(_follow_up, "owners")
ROOT_CAUSES = _texts(_follow_up, "root_causes")
FIRST_ACTION_NOTES = _texts(_follow_up, "first_action_notes")
FIX_NOTES = _texts(_follow_up, "fix_notes")

_opportunities = _bank("opportunities")
OPPORTUNITY_NAMES = _texts(_opportunities, "names")
OPPORTUNITY_DESCRIPTIONS = _texts(_opportunities, "descriptions")
LEAD_SOURCES = _texts(_opportunities, "lead_sources")
