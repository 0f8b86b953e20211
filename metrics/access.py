"""Who sees what: `access.yaml`, the roles of a shared dashboard.

Without the file the dashboard is single-user (it listens on 127.0.0.1 and shows everything). With
it, every visitor signs in through the company's OpenID provider and gets the role their e-mail
address or one of their groups is given:

    roles:
      leadership:    {pages: all, units: all}
      unit_lead:     {pages: [outcome_tree, feedback_loop, readiness], units: assigned}
      cx_agent:      {pages: [feedback_loop], units: assigned, log_actions: true}
      data_engineer: {pages: [data_health]}
    users:                       # the e-mail claim, or group:<name> for a groups claim
      ceo@example.com: leadership
      group:cx-sales: {role: cx_agent, units: [Sales]}

A role limits the pages (default all), the units whose rows its users read (`all`: every unit and
the organisation's `all` row, the default; `assigned`: only the units given with the user or group,
never the `all` row) and whether they may log actions. An e-mail entry wins over group entries;
among groups the first matching entry in the file counts. Anyone else is not let in.

This module is pure (no Streamlit): `load_access` validates the file with YAML-path problems (for
`outcomeloop check`), `Access.grant_for` turns a signed-in user's claims into a `Grant`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError, ValidationInfo, field_validator

from metrics.problems import (
    ConfigFileError,
    ConfigModel,
    Findings,
    Problem,
    in_document_order,
    problem,
    problems_from,
    read_yaml_file,
    suggest,
)
from metrics.schemas import ALL_UNITS

#: The dashboard's pages, by the name access.yaml uses for them (dashboard/app.py's page files).
PAGES = ("outcome_tree", "feedback_loop", "themes", "readiness", "data_health")
#: A `users:` key naming a group of the identity provider's `groups` claim.
GROUP_PREFIX = "group:"

PageName = Literal["outcome_tree", "feedback_loop", "themes", "readiness", "data_health"]


class AccessError(ConfigFileError):
    """access.yaml is invalid; `problems` lists every problem found."""

    what = "the access configuration"


class Role(ConfigModel):
    """What the users given this role may do."""

    pages: tuple[PageName, ...] = PAGES
    units: Literal["all", "assigned"] = "all"
    log_actions: bool = False

    @field_validator("pages", mode="before")
    @classmethod
    def _all_or_some(cls, pages: Any) -> Any:
        if pages == "all":
            return PAGES
        if isinstance(pages, str):
            return (pages,)
        if isinstance(pages, list | tuple) and not pages:
            raise problem("a role needs at least one page", f"pages: all, or some of {PAGES}")
        return pages


class Assignment(ConfigModel):
    """A user's (or group's) role, with the units an `assigned` role reads."""

    role: str
    units: tuple[str, ...] = ()

    @field_validator("units")
    @classmethod
    def _named_units(cls, units: tuple[str, ...]) -> tuple[str, ...]:
        if ALL_UNITS in units:
            raise problem(
                f"{ALL_UNITS!r} is not a unit", "give the role `units: all` to see every unit"
            )
        return units


class AccessConfig(ConfigModel):
    roles: dict[str, Role]
    users: dict[str, Assignment]

    @field_validator("users", mode="before")
    @classmethod
    def _role_names_as_assignments(cls, users: Any) -> Any:
        """`ceo@example.com: leadership` is short for `{role: leadership}`."""
        if not isinstance(users, dict):
            return users
        return {k: {"role": v} if isinstance(v, str) else v for k, v in users.items()}

    @field_validator("users")
    @classmethod
    def _users_fit_roles(
        cls, users: dict[str, Assignment], info: ValidationInfo
    ) -> dict[str, Assignment]:
        found = Findings()
        roles: dict[str, Role] | None = info.data.get("roles")  # None when roles: is invalid
        for key, entry in users.items():
            if not _is_email(key) and not (key.startswith(GROUP_PREFIX) and len(key) > 6):
                found.add(
                    (key,),
                    f"{key!r} is neither an e-mail address nor a group",
                    "write the user's e-mail address, or group:<name> for a group",
                )
            if roles is None:
                continue
            role = roles.get(entry.role)
            if role is None:
                found.add((key, "role"), f"unknown role {entry.role!r}",
                          suggest(entry.role, list(roles), "roles", "add it under roles:"))  # fmt: skip
            elif role.units == "assigned" and not entry.units:
                found.add(
                    (key,),
                    f"role {entry.role!r} reads only assigned units, but none are given",
                    f"write {{role: {entry.role}, units: [<unit>, ...]}}",
                )
            elif role.units == "all" and entry.units:
                found.add(
                    (key, "units"),
                    f"role {entry.role!r} already reads every unit",
                    "remove units:, or give a role with `units: assigned`",
                )
        found.raise_any()
        return users

    def grant_for(self, email: str | None, groups: Any = ()) -> Grant | None:
        """The grant of a signed-in user with this e-mail claim and groups claim; None when
        access.yaml names neither (such a visitor sees nothing)."""
        entry = None
        if email:
            wanted = email.strip().lower()
            entry = next((e for k, e in self.users.items() if k.lower() == wanted), None)
        if entry is None:
            names = {str(g) for g in groups} if isinstance(groups, list | tuple) else set()
            entry = next(
                (
                    e
                    for k, e in self.users.items()
                    if k.startswith(GROUP_PREFIX) and k[len(GROUP_PREFIX) :] in names
                ),
                None,
            )
        if entry is None:
            return None
        role = self.roles[entry.role]
        return Grant(
            role=entry.role,
            pages=tuple(p for p in PAGES if p in role.pages),
            units=None if role.units == "all" else entry.units,
            log_actions=role.log_actions,
        )


@dataclass(frozen=True)
class Grant:
    """What one signed-in user may see and do."""

    role: str
    pages: tuple[str, ...]
    #: The units whose rows the user reads; None: every unit and the `all` row.
    units: tuple[str, ...] | None
    log_actions: bool


def _is_email(key: str) -> bool:
    local, at, domain = key.partition("@")
    return bool(at and local and "." in domain and " " not in key)


def validate_access(raw: object) -> tuple[AccessConfig | None, list[Problem]]:
    """The validated configuration and no problems, or None and every problem with its path."""
    if raw is None:
        return None, [Problem("<root>", "the file is empty", "add roles: and users:")]
    try:
        return AccessConfig.model_validate(raw), []
    except ValidationError as exc:
        problems = problems_from(exc, AccessConfig)
        return None, in_document_order(problems, raw) if isinstance(raw, dict) else problems


def load_access(path: Path | str) -> AccessConfig:
    """Read and validate access.yaml; raise AccessError listing every problem."""
    raw = read_yaml_file(path, AccessError, "access")
    config, problems = validate_access(raw)
    if config is None:
        raise AccessError(path, problems)
    return config
