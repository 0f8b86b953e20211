"""Alerts that reach people: webhook and e-mail messages on overdue feedback items, outcome status
changes, stale sources and failed runs (DESIGN.md "Alerts").

- `config`: alerts.yaml, validated with YAML paths like the other configuration files;
- `events`: what is true now, one subject per transition;
- `log`: ops.alert_log, which makes every (rule, subject) go out at most once and retries failures;
- `channels`: the webhook POST and the SMTP e-mail, secrets read at send time only;
- `evaluate`: one evaluation of every rule (the `alerts` asset calls it after each publish).
"""

from pipelines.alerts.config import AlertsConfig, AlertsError, load_alerts
from pipelines.alerts.evaluate import Evaluation, evaluate_alerts

__all__ = ["AlertsConfig", "AlertsError", "Evaluation", "evaluate_alerts", "load_alerts"]
