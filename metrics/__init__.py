"""OutcomeLoop's pure library: what every number means.

Nothing here imports Dagster or Streamlit (`pipelines -> metrics <- dashboard`).
"""

CONTRACT_VERSION = "1"
