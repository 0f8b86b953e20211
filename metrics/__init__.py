"""OutcomeLoop's pure library: what every number means.

Nothing here imports Dagster or Streamlit (`pipelines -> metrics <- dashboard`).
"""

import time

CONTRACT_VERSION = "1"

#: When this process first imported the library (before any formula module was read): a formula
#: file modified after this moment may differ from the code this process runs, so
#: pipelines/compiled.py does not reuse or store compiled SQL then.
LOADED_AT = time.time()
