"""alerts.yaml: where alerts go (channels) and what is worth telling someone about (rules).

The file is optional (`$OUTCOMELOOP_ALERTS`, else `$OUTCOMELOOP_HOME/alerts.yaml`; none, no
alerts) and validated like strategy.yaml and sources.yaml: every problem at once, with its YAML
path and a hint (metrics.problems). Secrets never live in the file: a value may say `${VAR}`, which
is read from the environment only at the moment a message is sent, and never written anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import ClassVar, Literal, get_args

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from metrics.problems import (
    ConfigFileError,
    ConfigModel,
    Findings,
    Problem,
    describe,
    did_you_mean,
    in_document_order,
    problem,
    problems_from,
    read_yaml_file,
)
from metrics.schemas import SOURCES

Event = Literal["item_due_soon", "item_overdue", "status_changed", "source_stale", "run_failed"]
EVENTS = get_args(Event)
CHANNEL_TYPES = ("webhook", "email")

#: `${NAME}`: a value taken from the environment at send time.
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Hours before an item's deadline when item_due_soon fires, unless the rule says otherwise.
DEFAULT_HOURS_BEFORE = 12.0
#: Seconds a send may take before it counts as failed (and is retried next evaluation).
DEFAULT_TIMEOUT_SECONDS = 10.0
#: Validation context key: the ids of the strategy's tree nodes, when the strategy is valid.
NODE_IDS = "node_ids"
_CHANNELS = "channel_names"


class AlertsError(ConfigFileError):
    """alerts.yaml is invalid; `problems` lists every problem found."""

    what = "the alerts file"


def _no_broken_reference(value: str) -> str:
    """A value may hold `${VAR}` references; a `${` that is not one is a typo."""
    if "${" in VARIABLE.sub("", value):
        raise problem(
            f"{value!r} has a `${{` that is not a variable reference",
            "write ${NAME} with letters, digits and _ only",
        )
    return value


def variables(values: Iterable[str]) -> list[str]:
    """The environment variables the values refer to, in order, each once."""
    found: dict[str, None] = {}
    for value in values:
        for name in VARIABLE.findall(value):
            found.setdefault(name, None)
    return list(found)


class WebhookChannel(ConfigModel):
    """A JSON POST to a URL: Slack incoming webhooks, Teams workflows, or any HTTP receiver."""

    known_keys: ClassVar[str] = "a webhook channel has {keys}"

    type: Literal["webhook"]
    url: str = Field(description="Where to POST; usually `${VAR}`, since the URL is a secret.")
    timeout_seconds: float = Field(DEFAULT_TIMEOUT_SECONDS, gt=0)

    @field_validator("url")
    @classmethod
    def _a_url(cls, url: str) -> str:
        _no_broken_reference(url)
        if not url.startswith("${") and not re.match(r"https?://", url):
            raise problem(f"{url!r} is not an http(s) URL", 'e.g. url: "${CX_WEBHOOK_URL}"')
        return url

    def references(self) -> list[str]:
        return variables([self.url])


class EmailChannel(ConfigModel):
    """E-mail through the SMTP server in `$OUTCOMELOOP_SMTP_URL`."""

    known_keys: ClassVar[str] = "an email channel has {keys}"

    type: Literal["email"]
    to: list[str] = Field(min_length=1, description="Recipients (addresses or `${VAR}`).")
    sender: str = Field(alias="from", description="The From address.")
    timeout_seconds: float = Field(DEFAULT_TIMEOUT_SECONDS, gt=0)

    @field_validator("to", mode="before")
    @classmethod
    def _a_list(cls, to: object) -> object:
        return [to] if isinstance(to, str) else to

    @field_validator("to")
    @classmethod
    def _addresses(cls, to: list[str]) -> list[str]:
        for address in to:
            _no_broken_reference(address)
            if "@" not in address and not VARIABLE.search(address):
                raise problem(f"{address!r} is not an e-mail address", "e.g. leads@example.com")
        return to

    @field_validator("sender")
    @classmethod
    def _address(cls, sender: str) -> str:
        _no_broken_reference(sender)
        if "@" not in sender and not VARIABLE.search(sender):
            raise problem(f"{sender!r} is not an e-mail address", "e.g. outcomeloop@example.com")
        return sender

    def references(self) -> list[str]:
        return variables([*self.to, self.sender])


Channel = WebhookChannel | EmailChannel


class Rule(ConfigModel):
    """One kind of event, sent to one channel."""

    known_keys: ClassVar[str] = "a rule has {keys}"

    event: Event
    channel: str = Field(description="The name of a channel under `channels:`.")
    name: str | None = Field(
        None, description="The rule's name in the alert log (default: its event)."
    )
    hours_before: float | None = Field(
        None, description="item_due_soon only: how long before the deadline (default 12)."
    )
    nodes: list[str] | None = Field(
        None, description="status_changed only: the tree nodes to watch (default: every node)."
    )
    sources: list[str] | None = Field(
        None, description="source_stale only: the sources to watch (default: every source)."
    )

    @property
    def id(self) -> str:
        return self.name or self.event

    @property
    def lead_hours(self) -> float:
        return self.hours_before if self.hours_before is not None else DEFAULT_HOURS_BEFORE

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, channel: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get(_CHANNELS)
        if known is not None and channel not in known:
            hint = did_you_mean(channel, known) or (
                f"the channels are {', '.join(known)}" if known else "add it under channels:"
            )
            raise problem(f"no channel called {channel!r}", hint)
        return channel

    @field_validator("hours_before")
    @classmethod
    def _due_soon_only(cls, hours: float | None, info: ValidationInfo) -> float | None:
        if hours is None:
            return hours
        if info.data.get("event") not in (None, "item_due_soon"):
            raise problem("hours_before applies to item_due_soon only")
        if hours <= 0:
            raise problem("must be greater than 0", "e.g. hours_before: 12")
        return hours

    @field_validator("nodes")
    @classmethod
    def _known_nodes(cls, nodes: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if nodes is None:
            return nodes
        if info.data.get("event") not in (None, "status_changed"):
            raise problem("nodes applies to status_changed only")
        known = (info.context or {}).get(NODE_IDS)
        for node in nodes:
            if known is not None and node not in known:
                hint = did_you_mean(node, known) or f"the tree's nodes are {', '.join(known)}"
                raise problem(f"the strategy's tree has no node {node!r}", hint)
        return nodes

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, sources: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if sources is None:
            return sources
        if info.data.get("event") not in (None, "source_stale"):
            raise problem("sources applies to source_stale only")
        for source in sources:
            if source not in SOURCES:
                hint = did_you_mean(source, SOURCES) or f"the sources are {', '.join(SOURCES)}"
                raise problem(f"unknown source {source!r}", hint)
        return sources


class AlertsConfig(ConfigModel):
    """The whole alerts.yaml."""

    known_keys: ClassVar[str] = "the top-level keys are {keys}"

    channels: dict[str, Channel] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)

    @field_validator("channels", mode="before")
    @classmethod
    def _each_channel(cls, channels: object, info: ValidationInfo) -> object:
        if channels is None:
            return {}
        if not isinstance(channels, dict):
            raise problem("expected a mapping of channel name -> {type: webhook, ...}")
        if info.context is not None:  # the rules check their channel against these names,
            info.context[_CHANNELS] = [str(name) for name in channels]  # even when one is wrong
        found, out = Findings(), {}
        for name, entry in channels.items():
            kind = entry.get("type") if isinstance(entry, dict) else None
            if not isinstance(entry, dict):
                found.add((name,), f"expected a mapping such as {{type: webhook, url: ...}}, "
                          f"got {describe(entry)}")  # fmt: skip
                continue
            if kind not in CHANNEL_TYPES:
                hint = did_you_mean(kind, CHANNEL_TYPES) or "type: webhook or type: email"
                found.add((name, "type"), f"unknown channel type {kind!r}", hint)
                continue
            model = WebhookChannel if kind == "webhook" else EmailChannel
            try:
                out[name] = model.model_validate(entry)
            except ValidationError as exc:
                found.absorb(exc, (name,))
        found.raise_any()
        return out

    @field_validator("rules", mode="before")
    @classmethod
    def _each_rule(cls, rules: object, info: ValidationInfo) -> object:
        if rules is None:
            return []
        if not isinstance(rules, list):
            raise problem("expected a list of rules (- {event: ..., channel: ...} lines)")
        context = {_CHANNELS: [], **(info.context or {})}
        found, out, seen = Findings(), [], {}
        for i, entry in enumerate(rules):
            try:
                rule = Rule.model_validate(entry, context=context)
            except ValidationError as exc:
                found.absorb(exc, (i,))
                continue
            if rule.id in seen:
                found.add(
                    (i, "name"),
                    f"rules[{seen[rule.id]}] is also called {rule.id!r}",
                    "give each rule of the same event a name: ...",
                )
            seen.setdefault(rule.id, i)
            out.append(rule)
        found.raise_any()
        return out

    def rules_for(self, *events: str) -> list[Rule]:
        return [rule for rule in self.rules if rule.event in events]


def load_alerts(path: Path | str, node_ids: Iterable[str] | None = None) -> AlertsConfig:
    """Read and validate alerts.yaml; raise AlertsError listing every problem. With `node_ids`
    (the strategy's tree), status_changed rules may name only those nodes."""
    raw = read_yaml_file(path, AlertsError, "alerts")
    config, problems = validate_alerts(raw, node_ids)
    if config is None:
        raise AlertsError(path, problems)
    return config


def validate_alerts(
    raw: object, node_ids: Iterable[str] | None = None
) -> tuple[AlertsConfig | None, list[Problem]]:
    """Validate a parsed document: the model (None when invalid) and every problem; never raises."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return None, [Problem("<root>", "expected a mapping with `channels:` and `rules:`")]
    context: dict = {NODE_IDS: list(node_ids)} if node_ids is not None else {}
    try:
        return AlertsConfig.model_validate(raw, context=context), []
    except ValidationError as exc:
        return None, in_document_order(problems_from(exc, AlertsConfig), raw)


#: The SMTP server every email channel sends through: smtp://user:password@host:port.
SMTP_URL = "OUTCOMELOOP_SMTP_URL"


def missing_variables(channel: Channel, env: Mapping[str, str]) -> list[str]:
    """The variables a channel needs that the environment does not set: while any is missing
    the channel is off (its rules are not evaluated), which is how an example file stays quiet."""
    needed = channel.references()
    if isinstance(channel, EmailChannel):
        needed.append(SMTP_URL)
    return [name for name in needed if not env.get(name)]
