"""Who is looking: sign-in through the company's OpenID provider and the role access.yaml gives.

Without access.yaml the dashboard is single-user: no sign-in, every page, every unit, actions may
be logged. With it, Streamlit's OpenID Connect support (`st.login`, configured in
`.streamlit/secrets.toml [auth]`) signs the visitor in, and `metrics.access` turns the ID token's
`email` (or `groups`) claim into a Grant: the pages shown, the units read and whether actions may be
logged. The units are enforced where the data is read (dashboard/queries.py asks `reader_units`
on every query), so no page or widget can forget them; a visitor without a grant reads nothing.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import streamlit as st

from dashboard.components.text import escape_markdown
from metrics.access import PAGES, AccessConfig, AccessError, Grant, load_access
from metrics.config import settings

#: The grant of the single-user dashboard (no access.yaml): everything.
EVERYTHING = Grant(role="single user", pages=PAGES, units=None, log_actions=True)


class NotSignedIn(Exception):
    """A query was asked for a visitor access.yaml lets in nowhere (signed out, or unknown)."""


def access_path() -> Path | None:
    """access.yaml, or None for a single-user dashboard."""
    return settings().access_path


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int, size: int) -> AccessConfig:
    return load_access(path)


def access_config() -> AccessConfig | None:
    """The validated access.yaml (re-read when the file changes), None without one; raises
    AccessError when it is invalid (then nobody is let in)."""
    path = access_path()
    if path is None:
        return None
    try:
        stat = path.stat()
    except FileNotFoundError:  # $OUTCOMELOOP_ACCESS names no file: its problem, nobody let in
        return load_access(path)
    return _load(str(path), stat.st_mtime_ns, stat.st_size)


def signed_in() -> bool:
    return bool(st.user.get("is_logged_in", False))


def grant() -> Grant | None:
    """What the current visitor may see and do: everything without access.yaml; with it, their
    role's grant once signed in, None when signed out or not named in access.yaml."""
    config = access_config()
    if config is None:
        return EVERYTHING
    if not signed_in():
        return None
    # An address the provider has not verified names nobody.
    email = st.user.get("email") if st.user.get("email_verified") is not False else None
    return config.grant_for(email, st.user.get("groups") or ())


def reader_units() -> tuple[str, ...] | None:
    """The units the current visitor's queries read (None: every unit and the `all` row);
    raises NotSignedIn for a visitor who may read nothing."""
    found = grant()
    if found is None:
        raise NotSignedIn("sign in to read the snapshot")
    return found.units


def can_log_actions() -> bool:
    """Whether the current visitor may log an action (close the loop) from the dashboard."""
    found = grant()
    return found is not None and found.log_actions


def sign_in_page() -> None:
    """What a visitor sees before signing in, or when signed in without a role: no data at all."""
    st.title("OutcomeLoop", anchor=False)
    try:
        config = access_config()
    except AccessError as exc:
        st.error(
            "The dashboard's access configuration is invalid, so nobody is let in. Run "
            "`outcomeloop check` and fix:\n\n" + "\n".join(f"- {p}" for p in exc.problems),
            icon=":material/lock:",
        )
        return
    if config is not None and signed_in():
        who = escape_markdown(str(st.user.get("email") or st.user.get("name") or "this account"))
        st.warning(
            f"You are signed in as {who}, but the dashboard's access list gives you no role. "
            "Ask the dashboard's owner to add you to access.yaml.",
            icon=":material/person_off:",
        )
        st.button("Sign out", on_click=st.logout, key="auth_sign_out")
        return
    if not _sign_in_configured():
        st.error(
            "The dashboard has an access list but no sign-in: add an [auth] section to "
            ".streamlit/secrets.toml (docs/deploy.md shows one).",
            icon=":material/lock:",
        )
        return
    st.info("Sign in with your company account to see the dashboard.", icon=":material/lock:")
    st.button("Sign in", on_click=st.login, type="primary", key="auth_sign_in")


def _sign_in_configured() -> bool:
    """Whether Streamlit's secrets hold the [auth] section st.login needs."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets.toml at all
        return False


def sidebar_identity() -> None:
    """Who is signed in, their role and the way out (nothing for a single-user dashboard)."""
    if access_path() is None or not signed_in():
        return
    found = grant()
    who = str(st.user.get("email") or st.user.get("name") or "")
    role = found.role if found is not None else "no role"
    units = "" if found is None or found.units is None else f" · {', '.join(found.units)}"
    st.caption(escape_markdown(f"Signed in as {who} ({role}{units})"))
    st.button("Sign out", on_click=st.logout, key="auth_sidebar_sign_out")
