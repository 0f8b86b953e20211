"""OutcomeLoop's Dagster objects, one module per kind; `pipelines/definitions.py` loads them all."""
