"""Salesforce opportunity exports: won deals only, optionally of expansion types.

Format facts (see tests/fixtures/samples/README.md): a data export names columns by their API
names (`IsWon` 1 or empty); a report export by their labels, in a US locale, with footer lines
(grand totals, a confidentiality notice) after its records.
"""

from __future__ import annotations

from metrics.store.sql import identifier, literal
from pipelines.ingestion.adapters.delimited import CsvDraft, CsvFlavour
from pipelines.ingestion.adapters.plan import in_list

SALESFORCE_DEFAULTS: dict[str, tuple[str, ...]] = {
    "opportunity_id": ("Id", "Opportunity ID", "Opportunity Id"),
    "closed_at": ("CloseDate", "Close Date"),
    "amount": ("Amount",),
    "account_id": ("AccountId", "Account ID", "Account Id", "Account Name"),
}
SALESFORCE_WON = ("IsWon", "Won")
SALESFORCE_STAGE = ("StageName", "Stage")
SALESFORCE_TYPE = ("Type", "Opportunity Type")
#: Lines a Salesforce report export appends after its records; they and what follows are no records.
SALESFORCE_FOOTER = r"^\s*(Grand Totals \(|Confidential Information|Copyright )"


class Salesforce(CsvFlavour):
    """A Salesforce data export or report export of opportunities."""

    what = "a Salesforce CSV export"
    defaults = SALESFORCE_DEFAULTS
    # a report export ends with one-field footer lines
    pads_short_rows = True
    requires_delimiter = True

    def add_rules(self, draft: CsvDraft) -> None:
        plan, cfg = draft.plan, draft.cfg
        won, stage, type_ = (
            draft.first_found(names)
            for names in (SALESFORCE_WON, SALESFORCE_STAGE, SALESFORCE_TYPE)
        )
        if won is None and stage is None:
            draft.missing.append("IsWon or StageName (to tell won opportunities)")
        else:
            parts = []
            if won is not None:
                parts.append(f"lower(trim({identifier(won)})) IN ('1', 'true')")
            if stage is not None:
                parts.append(f"lower(trim({identifier(stage)})) = 'closed won'")
            plan.filters.append(
                (f"NOT coalesce({' OR '.join(parts)}, false)", "not a won opportunity")
            )
        if cfg.expansion_types:
            if type_ is None:
                draft.missing.append("Type (to tell expansion opportunities)")
            else:
                plan.filters.append(
                    (
                        f"NOT coalesce(trim({identifier(type_)}) IN "
                        f"({in_list(draft.params, cfg.expansion_types)}), false)",
                        "Type is not an expansion type (" + ", ".join(cfg.expansion_types) + ")",
                    )
                )
        first = identifier(draft.names[0])
        plan.footer = f"coalesce(regexp_matches({first}, {literal(SALESFORCE_FOOTER)}), false)"
        plan.date_formats = ("%m/%d/%Y",)  # report exports in a US locale
        plan.cleaners["amount"] = (
            "regexp_replace(trim({v}), '^[A-Z]{3}\\s+|[$€£,]', '', 'g')"  # "USD 1,200.00"
        )


SALESFORCE = Salesforce()
