"""Salesforce Opportunity data export (CSV with a UTF-8 BOM), the format of the demo's upsell.

Columns are the object's API field names plus the custom unit field `Business_Unit__c`; ids are
18-character Salesforce ids whose first three characters name the object (001 account, 005 user,
006 opportunity); datetimes are UTC with milliseconds and `+0000`; booleans are `1` or empty.
"""

from __future__ import annotations

from datetime import datetime

#: The 41 API field names of a Salesforce Opportunity data export, plus the custom unit field.
_HEADER = (
    "Id,IsDeleted,AccountId,IsPrivate,Name,Description,StageName,Amount,Probability,"
    "ExpectedRevenue,TotalOpportunityQuantity,CloseDate,Type,NextStep,LeadSource,IsClosed,IsWon,"
    "ForecastCategory,ForecastCategoryName,CampaignId,HasOpportunityLineItem,Pricebook2Id,OwnerId,"
    "CreatedDate,CreatedById,LastModifiedDate,LastModifiedById,SystemModstamp,LastActivityDate,"
    "FiscalQuarter,FiscalYear,Fiscal,LastViewedDate,LastReferencedDate,HasOpenActivity,"
    "HasOverdueTask,DeliveryInstallationStatus__c,TrackingNumber__c,OrderNumber__c,"
    "CurrentGenerators__c,MainCompetitors__c,Business_Unit__c"
)
SALESFORCE_COLUMNS: tuple[str, ...] = tuple(_HEADER.split(","))

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _b62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(reversed(out))


def account_id(index: int) -> str:
    """A Salesforce Account Id (18 characters), shared by NPS, CES and opportunities."""
    return "001Dm00" + _b62(index, 8) + "QAA"


def user_id(index: int) -> str:
    """A Salesforce User Id, the opportunity's owner."""
    return "005Dm00" + _b62(index, 8) + "AAA"


def opportunity_id(serial: int) -> str:
    """A Salesforce Opportunity Id."""
    return "006Dm00" + _b62(serial, 8) + "IAA"


def stamp(moment: datetime) -> str:
    """A Salesforce datetime: `2025-03-04T10:22:13.000+0000` (UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def opportunity_row(**fields: str) -> list[str]:
    """One export row: the given fields (by API name) in column order, every other column empty."""
    record = dict.fromkeys(SALESFORCE_COLUMNS, "")
    unknown = fields.keys() - record.keys()
    if unknown:
        raise KeyError(f"not Opportunity export columns: {sorted(unknown)}")
    record.update(fields)
    return list(record.values())
