"""Sending one message to one channel: a webhook's JSON POST or an e-mail over SMTP.

Secrets (`${VAR}` in alerts.yaml, `$OUTCOMELOOP_SMTP_URL`) are read from the environment here, at
the moment of sending, and go nowhere else: an error that would quote one has it replaced by its
variable's name before it reaches the alert log or a log line. Every send has a timeout, so a
receiver that hangs costs one evaluation a few seconds, never the pipeline.

$OUTCOMELOOP_SMTP_URL:
- `smtp://user:password@host:587`: plain SMTP (logs in when a user is given);
- `smtp+starttls://...` or `smtp://...?starttls=true`: upgrades the connection with STARTTLS first;
- `smtps://...` (default port 465): TLS from the first byte.
User and password are URL-encoded (`%40` for `@`).
"""

from __future__ import annotations

import http.client
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from pipelines.alerts.config import SMTP_URL, VARIABLE, Channel, EmailChannel, WebhookChannel


class SendFailed(Exception):
    """The channel did not accept the message; the text is safe to store (no secret in it)."""


@dataclass(frozen=True)
class Message:
    """One message: a sentence a person can read, the alerts it covers, an e-mail subject."""

    headline: str
    text: str
    alerts: list[dict]

    def payload(self) -> dict:
        """The webhook body (DESIGN.md "Alerts"); Slack and Teams workflows show `text`."""
        return {"text": self.text, "alerts": self.alerts}


class _Secrets:
    """Resolves `${VAR}` from the environment and remembers the values to scrub from errors."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.values: dict[str, str] = {}

    def resolve(self, text: str) -> str:
        def value(match) -> str:
            name = match.group(1)
            found = self.env.get(name)
            if not found:
                raise SendFailed(f"{name} is not set")
            self.values[name] = found
            return found

        return VARIABLE.sub(value, text)

    def read(self, name: str) -> str:
        found = self.env.get(name)
        if not found:
            raise SendFailed(f"{name} is not set")
        self.values[name] = found
        return found

    def scrub(self, text: str) -> str:
        for name, found in sorted(self.values.items(), key=lambda kv: -len(kv[1])):
            text = text.replace(found, f"${{{name}}}")
        return text


def send(channel: Channel, message: Message, env: Mapping[str, str]) -> None:
    """Deliver `message` or raise SendFailed with a reason that names no secret."""
    secrets = _Secrets(env)
    try:
        if isinstance(channel, WebhookChannel):
            _post(secrets.resolve(channel.url), message.payload(), channel.timeout_seconds)
        elif isinstance(channel, EmailChannel):
            _mail(channel, message, secrets)
        else:  # pragma: no cover - config.py admits no other type
            raise SendFailed(f"unknown channel type {type(channel).__name__}")
    except SendFailed as exc:
        raise SendFailed(secrets.scrub(str(exc))) from None
    except (OSError, http.client.HTTPException, smtplib.SMTPException, ValueError) as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise SendFailed(secrets.scrub(reason)) from None


def _post(url: str, payload: dict, timeout: float) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "outcomeloop-alerts"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise SendFailed(f"the receiver answered HTTP {exc.code} {exc.reason}") from None


def smtp_settings(url: str) -> dict:
    """Host, port, credentials and the TLS mode read from an SMTP URL (see the module's text)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtp+starttls", "smtps"):
        raise SendFailed(
            f"{SMTP_URL} must start with smtp://, smtp+starttls:// or smtps://, not {scheme}://"
        )
    query = parse_qs(parts.query)
    starttls = scheme == "smtp+starttls" or query.get("starttls", ["false"])[0].lower() in (
        "true",
        "1",
        "yes",
    )
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or (465 if scheme == "smtps" else 25),
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else "",
        "tls": scheme == "smtps",
        "starttls": starttls,
    }


def _mail(channel: EmailChannel, message: Message, secrets: _Secrets) -> None:
    server = smtp_settings(secrets.read(SMTP_URL))
    mail = EmailMessage()
    mail["Subject"] = f"OutcomeLoop: {message.headline}"
    mail["From"] = secrets.resolve(channel.sender)
    mail["To"] = ", ".join(secrets.resolve(address) for address in channel.to)
    lines = [message.text, ""]
    for alert in message.alerts:
        details = ", ".join(f"{k}: {v}" for k, v in alert["details"].items())
        lines.append(f"- {alert['subject']}" + (f" ({details})" if details else ""))
    mail.set_content("\n".join(lines))
    context = ssl.create_default_context()
    connect = smtplib.SMTP_SSL if server["tls"] else smtplib.SMTP
    extra = {"context": context} if server["tls"] else {}
    with connect(server["host"], server["port"], timeout=channel.timeout_seconds, **extra) as smtp:
        if server["starttls"]:
            smtp.starttls(context=context)
        if server["user"]:
            smtp.login(server["user"], server["password"])
        smtp.send_message(mail)
