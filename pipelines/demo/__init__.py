"""Demo data that tells the bundled strategy's story, in the formats real tools export.

`generate` writes months of history into `inbox/<source>/` the way the tools a CX team uses would
hand it over: NPS as a Qualtrics "Data Table" CSV export, CES as Delighted webhook events (JSONL),
upsell as a Salesforce Opportunity data export, and finance, HR pulse, readiness assessments and
feedback actions as plain CSV. `live` keeps dropping new files (whole past days while it catches
up with the calendar, then each step what happened since the previous one, never an event later
than now), so whoever watches the dashboard sees the event-driven loop work.

The story (examples/strategy.yaml, DESIGN.md "Semantics") is true in the numbers: units pass their
readiness gate at different times and one never does (`story`); before a unit passes, its
detractors and high-effort responses are held, after it about 85% get a first action within the
48-hour SLA (`sources.actions`); its NPS and CES climb while units that are not ready stay flat,
employee health rises first, upsell, revenue and cost follow (`sources`); a few realistic flaws
are planted so the data-health page has honest content (`sources.flaws`).

Everything is deterministic for a seed and an end date (`draws`), so the same seed and `until`
give byte-identical files and `live` continues exactly the story the history would have told.
This package is a tool for trying OutcomeLoop out, outside the Dagster code location; progress is
logged on the `pipelines.demo` logger (the `outcomeloop demo` command prints it).

Layout: `story` (units and who becomes ready when), `formats` (Qualtrics, Delighted, Salesforce,
plain CSV), `sources` (one generator per source), `text` with `banks/*.yaml` (the free text),
`times` (New York wall clock, UTC stamps), `inbox` (landing files atomically), `history`
(`generate`), `live_mode` (`live`), `state` (where the story stopped).
"""

from pipelines.demo.formats.plain_csv import CSV_HEADERS
from pipelines.demo.formats.qualtrics import QUALTRICS_COLUMNS
from pipelines.demo.formats.salesforce import SALESFORCE_COLUMNS
from pipelines.demo.history import DemoSummary, generate
from pipelines.demo.live_mode import live
from pipelines.demo.sources.flaws import PlantedFlaw
from pipelines.demo.state import STATE_FILE
from pipelines.demo.story import DEFAULT_UNITS, DIMENSIONS, DemoError

__all__ = [
    "CSV_HEADERS",
    "DEFAULT_UNITS",
    "DIMENSIONS",
    "QUALTRICS_COLUMNS",
    "SALESFORCE_COLUMNS",
    "STATE_FILE",
    "DemoError",
    "DemoSummary",
    "PlantedFlaw",
    "generate",
    "live",
]
