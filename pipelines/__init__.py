"""OutcomeLoop's Dagster code location: ingestion, marts, the published snapshot, automation."""

import metrics  # noqa: E402,F401  (metrics.LOADED_AT is taken before any pipelines module is read)
