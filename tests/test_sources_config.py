"""sources.yaml: the bundled example loads as is; every problem is reported at once, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.config import EXAMPLES_DIR
from metrics.sources import (
    DEFAULT_FRESHNESS_HOURS,
    SourceConfig,
    SourcesConfig,
    SourcesError,
    load_sources,
    validate_sources,
)


def test_the_bundled_example_loads_exactly():
    cfg = load_sources(EXAMPLES_DIR / "sources.yaml")
    nps = cfg.source("nps")
    assert nps.format == "qualtrics"
    assert nps.columns == {
        "unit": "BusinessUnit",
        "score": "Q1",
        "comment": "Q2",
        "account_id": "AccountId",
    }
    assert nps.where == {"DistributionChannel": ["email", "anonymous"]}
    ces = cfg.source("ces")
    assert (ces.format, ces.columns, ces.where, ces.scale) == (
        "delighted",
        {"unit": "person_properties.Unit"},
        {"survey_type": ["ces"]},
        (1.0, 7.0),
    )
    upsell = cfg.source("upsell")
    assert (upsell.format, upsell.columns["unit"]) == ("salesforce", "Business_Unit__c")
    assert upsell.expansion_types == ["Existing Customer - Upgrade"]
    for name in ("revenue", "cost", "employee_pulse", "readiness", "feedback_actions"):
        assert cfg.source(name).format == "csv"
    assert cfg.unit_aliases == {"Customer Support": "Support"}
    assert cfg.max_file_mb == 500


def test_defaults():
    cfg = SourcesConfig()
    assert cfg.source("revenue") == SourceConfig()
    default = SourceConfig()
    assert (default.format, default.timezone, default.delimiter, default.columns) == (
        "csv",
        "UTC",
        None,
        {},
    )
    assert cfg.max_file_mb == 500
    assert cfg.freshness_hours("nps") == 48
    assert cfg.freshness_hours("revenue") == 24 * 40
    assert set(DEFAULT_FRESHNESS_HOURS) == {
        "nps", "ces", "employee_pulse", "upsell", "revenue", "cost", "readiness",
        "feedback_actions",
    }  # fmt: skip
    custom, problems = validate_sources({"sources": {"nps": {"freshness_hours": 6}}})
    assert problems == [] and custom is not None
    assert custom.freshness_hours("nps") == 6


def test_friendly_shapes_are_accepted():
    cfg, problems = validate_sources(
        {"sources": {"nps": {"where": {"Status": 0, "Channel": ["email", 3]}}, "cost": None}}
    )
    assert problems == []
    assert cfg is not None
    assert cfg.source("nps").where == {"Status": ["0"], "Channel": ["email", "3"]}
    assert cfg.source("cost") == SourceConfig()
    assert validate_sources(None) == (SourcesConfig(), [])


def test_every_problem_at_once_with_paths_and_hints():
    raw = yaml.safe_load(
        """
sources:
  nps: {formt: qualtrics, columns: {scroe: Q1, unit: 3}, timezone: Europe/Berln}
  nsp: {format: csv}
  ces: {format: delightd, scale: [7, 1]}
  revenue: {scale: [1, 2], expansion_types: [x], delimiter: ";;", freshness_hours: -1}
unit_aliases: {Everyone: all}
max_file_mb: 0
extra: 1
"""
    )
    cfg, problems = validate_sources(raw)
    assert cfg is None
    got = {p.path: (p.message, p.hint) for p in problems}
    assert got == {
        "extra": ("unknown key", "the top-level keys are sources, unit_aliases, max_file_mb"),
        "sources.nps.formt": ("unknown key", "did you mean 'format'?"),
        "sources.nps.columns.scroe": ("nps has no column 'scroe'", "did you mean 'score'?"),
        "sources.nps.columns.unit": ("needs the name of a field in the file", ""),
        "sources.nps.timezone": (
            "unknown time zone 'Europe/Berln'",
            "did you mean 'Europe/Berlin'?",
        ),
        "sources.nsp": ("unknown source 'nsp'", "did you mean 'nps'?"),
        "sources.ces.format": (
            "unknown format 'delightd'",
            "did you mean 'delighted'? one of csv, parquet, jsonl, qualtrics, delighted, salesforce",
        ),
        "sources.ces.scale": ("low must be below high, got [7, 1]", "e.g. [1, 7]"),
        "sources.revenue.scale": ("scale applies to the ces source only", ""),
        "sources.revenue.expansion_types": (
            "expansion_types applies to format salesforce only",
            "",
        ),
        "sources.revenue.delimiter": ("expected one character, got ';;'", 'e.g. ";"'),
        "sources.revenue.freshness_hours": ("must be greater than 0", ""),
        "unit_aliases.Everyone": (
            "'all' is reserved for the whole organisation",
            "map the spelling onto a real unit",
        ),
        "max_file_mb": ("must be greater than 0", ""),
    }


def test_a_column_the_source_does_not_have():
    _, problems = validate_sources({"sources": {"revenue": {"columns": {"score": "x"}}}})
    [problem] = problems
    assert problem.path == "sources.revenue.columns.score"
    assert problem.message == "revenue has no column 'score'"
    assert problem.hint == "revenue has columns period, unit, amount"
    # updated_at is not canonical but nps/ces keep it to order versions
    assert validate_sources({"sources": {"ces": {"columns": {"updated_at": "u"}}}})[1] == []


def test_load_sources_errors(tmp_path: Path):
    with pytest.raises(SourcesError, match="does not exist"):
        load_sources(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: {nps: [\n")
    with pytest.raises(SourcesError, match="not valid YAML"):
        load_sources(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("sources:\n  nps: {format: excel}\n  ces: {timezone: Mars/Olympus}\n")
    with pytest.raises(SourcesError) as err:
        load_sources(wrong)
    assert [p.path for p in err.value.problems] == ["sources.nps.format", "sources.ces.timezone"]
    assert "2 problem(s)" in str(err.value)


@pytest.mark.parametrize(
    "raw",
    [
        1,
        "text",
        [],
        {"sources": []},
        {"sources": {"nps": 3}},
        {"sources": {"nps": {"columns": []}}},
        {"sources": {"nps": {"where": 5}}},
        {"sources": {"ces": {"scale": "x"}}},
        {"sources": {"ces": {"scale": [1]}}},
        {"sources": {"nps": {"timezone": 5}}},
        {"sources": {"nps": {"format": ["csv"]}}},
        {"unit_aliases": []},
        {"max_file_mb": "big"},
        {"sources": {3: {}}},
    ],
)
def test_odd_shapes_are_problems_not_crashes(raw):
    cfg, problems = validate_sources(raw)
    assert cfg is None
    assert problems and all(p.path and p.message for p in problems)


_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["format", "columns", "where", "scale", "unit", "nps", "timezone", "x"]
            ),
            children,
            max_size=3,
        )
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["sources", "unit_aliases", "max_file_mb", "other"]),
        st.dictionaries(st.sampled_from(["nps", "ces", "revenue", "nsp"]), _yaml_values, max_size=3)
        | _yaml_values,
        max_size=3,
    )
)
def test_validation_never_raises(raw):
    cfg, problems = validate_sources(raw)
    assert (cfg is None) == bool(problems)
