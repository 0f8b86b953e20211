"""OutcomeLoop's Dagster code location: it assembles, it does not compute.

Every module in `pipelines/defs/` holds one kind of Dagster object (ingest, marts, serving,
automation, sensors, jobs, resources); Dagster finds them there, as `dg list defs` does.
"""

from pathlib import Path

import dagster as dg

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
