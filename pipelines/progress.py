"""One line per step of a run, for whoever runs the graph in-process.

`outcomeloop run` prints these lines (and sends Dagster's own debug log to a file); under
`dagster dev` nobody listens and they stay in the run's log only, which the steps write anyway.
"""

from __future__ import annotations

import logging

#: The logger the steps report their outcome to, one line each.
progress = logging.getLogger("pipelines.progress")
