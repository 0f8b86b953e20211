"""OutcomeLoop's Dagster code location: ingestion, marts, the published snapshot, automation."""
