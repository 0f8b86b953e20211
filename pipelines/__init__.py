"""OutcomeLoop's Dagster code location: ingestion, marts, the published snapshot, automation."""

from pathlib import Path

from metrics import source_stats

#: The files that shape the marts' SQL here, as they were before any pipelines module was read
#: (see metrics.SOURCE_STATS and pipelines/compiled.py).
SOURCE_STATS = source_stats(Path(__file__).parent / n for n in ("defs/marts.py", "compiled.py"))
