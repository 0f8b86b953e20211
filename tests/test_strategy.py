"""The strategy file: the bundled example is valid, and every mistake is reported at once, each
with its YAML path (metrics/strategy.py)."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.config import EXAMPLES_DIR
from metrics.problems import parse_yaml as parse_strategy_yaml
from metrics.strategy import (
    Problem,
    Strategy,
    StrategyError,
    load_strategy,
    semantic_problems,
    validate_strategy,
)

EXAMPLE = EXAMPLES_DIR / "strategy.yaml"
BROKEN = Path(__file__).parent / "fixtures" / "strategy_broken.yaml"


def _example() -> dict:
    return parse_strategy_yaml(EXAMPLE.read_text(encoding="utf-8"))


def _problems(raw: object) -> list[Problem]:
    strategy, problems = validate_strategy(raw)
    assert (strategy is None) == bool(problems)
    return problems


def _node(raw: dict, *indexes: int) -> dict:
    node = raw["tree"]
    for i in indexes:
        node = node["children"][i]
    return node


# --- the bundled example -----------------------------------------------------------------------


def test_example_validates_with_zero_problems():
    strategy, problems = validate_strategy(_example())
    assert problems == []
    assert strategy == load_strategy(EXAMPLE)


def test_example_tells_the_demo_story():
    s = load_strategy(EXAMPLE)
    assert (s.timezone, s.period) == ("UTC", "month")
    kinds = {mid: (m.source, m.kind) for mid, m in s.measures.items()}
    assert kinds == {
        "nps": ("nps", "nps"),
        "ces": ("ces", "mean"),
        "ces_agree": ("ces", "share"),
        "enps": ("employee_pulse", "nps"),
        "employee_health": ("employee_pulse", "employee_health"),
        "upsell_revenue": ("upsell", "sum"),
        "revenue": ("revenue", "sum"),
        "upsell_rate": (None, "ratio"),
        "cost_to_serve": ("cost", "sum_ratio"),
    }
    assert (s.measures["enps"].field, s.measures["enps"].anonymity) == ("enps_score", True)
    assert s.measures["ces_agree"].band == (5, 7)
    assert s.measures["cost_to_serve"].per == "contacts"
    outcomes = {n.id: (n.strand, [c.measure for c in n.children]) for n in s.tree.children}
    assert outcomes == {
        "customer_delight": ("what", ["nps", "ces"]),
        "delighted_people": ("how", ["enps", "employee_health"]),
        "efficient_service": ("what", ["cost_to_serve"]),
        "growth_from_existing_customers": ("what", ["upsell_revenue", "upsell_rate"]),
    }
    assert (s.tree.id, s.tree.measure, s.tree.baseline.date) == (
        "revenue",
        "revenue",
        date(2025, 6, 1),
    )
    assert all(n.label for n, _ in s.nodes()) and all(m.label for m in s.measures.values())
    assert all(n.promise for n in s.tree.children)
    nodes = {n.id: n for n, _ in s.nodes()}
    assert [m.value for m in nodes["nps"].milestones] == [25]
    assert list(nodes["ces"].by_unit) == ["Sales"]
    assert nodes["cost_to_serve"].direction == "down"
    assert (s.readiness.threshold, s.readiness.floor, s.readiness.min_assessors) == (3.5, 2.5, 2)
    assert (s.status.tolerance, s.status.at_risk_band) == (0.05, 0.15)
    assert s.feedback_loop.sla_hours == 48 and s.privacy.mask_contacts is True


# --- five mistakes of mixed kinds: five messages -----------------------------------------------


def test_broken_fixture_reports_exactly_its_five_mistakes_with_their_paths():
    with pytest.raises(StrategyError) as caught:
        load_strategy(BROKEN)
    problems = caught.value.problems
    assert {p.path: p.message for p in problems} == {
        "tree.children[0].promis": "unknown key 'promis'",
        "tree.children[0].children[0].measure": "unknown measure 'net_promoter'",
        "tree.children[2].children[0].target.date": (
            "the target date 2024-12-31 is not after the baseline date 2025-06-01"
        ),
        "readiness.threshold": "threshold 7 is outside the 1..5 scale of readiness scores",
        "measures.upsell_rate.denominator": "unknown measure 'total_revenue'",
    }
    hints = {p.path: p.hint for p in problems}
    assert hints["tree.children[0].promis"] == "did you mean 'promise'?"
    assert hints["measures.upsell_rate.denominator"] == "did you mean 'revenue'?"
    # the error message lists all five, one per line
    assert "5 problem(s)" in str(caught.value)
    assert all(f"  - {p}" in str(caught.value) for p in problems)


def test_structural_and_semantic_mistakes_are_reported_together():
    raw = _example()
    raw["timezone"] = "Europe/Berln"  # semantic
    raw["measures"]["ces"]["kind"] = "average"  # structural (not an allowed value)
    _node(raw, 0)["weight"] = "heavy"  # structural (wrong type)
    _node(raw, 1, 0)["weight"] = -1  # semantic
    _node(raw, 2, 0)["measure"] = "cost"  # semantic
    assert {p.path for p in _problems(raw)} == {
        "timezone",
        "measures.ces.kind",
        "tree.children[0].weight",
        "tree.children[1].children[0].weight",
        "tree.children[2].children[0].measure",
    }


def test_semantic_rules_also_check_a_model_built_in_code():
    assert semantic_problems(load_strategy(EXAMPLE)) == []
    raw = _example()
    _node(raw, 3, 1)["measure"] = "upsell_ratio"
    built = Strategy.model_validate(raw)  # the model alone cannot know the measure ids
    assert [(p.path, p.hint) for p in semantic_problems(built)] == [
        ("tree.children[3].children[1].measure", "did you mean 'upsell_rate'?")
    ]


def test_problem_reads_path_message_hint():
    assert str(Problem("readiness.floor", "too high", "lower it")) == (
        "readiness.floor: too high (hint: lower it)"
    )
    assert str(Problem("timezone", "unknown")) == "timezone: unknown"


# --- one rule at a time -----------------------------------------------------------------------


def _set(path: str, value):
    """A mutation of the example: set the value at a dotted path (`-` deletes the key)."""

    def mutate(raw: dict) -> None:
        keys = path.split(".")
        target = raw
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        last = int(keys[-1]) if isinstance(target, list) else keys[-1]
        if value == "-":
            del target[last]
        else:
            target[last] = value

    return mutate


NPS = "tree.children.0.children.0"
CES = "tree.children.0.children.1"
ENPS = "tree.children.1.children.0"
COST = "tree.children.2.children.0"


def _milestones(*points):
    return [{"value": v, "date": d} for v, d in points]


RULES = [
    # (mutation, expected path, words the message must contain)
    (_set(f"{ENPS}.id", "nps"), "tree.children[1].children[0].id", "duplicate node id 'nps'"),
    (_set(f"{CES}.weight", -0.4), "tree.children[0].children[1].weight", "negative"),
    (_set(f"{NPS}.weight", float("inf")), "tree.children[0].children[0].weight", "finite"),
    (
        lambda r: (_set(f"{NPS}.weight", 0)(r), _set(f"{CES}.weight", 0)(r)),
        "tree.children[0].children",
        "all zero",
    ),
    (
        _set(f"{NPS}.milestones", _milestones((25, "2026-03-31"), (20, "2025-10-31"))),
        "tree.children[0].children[0].milestones[1].date",
        "not after the previous milestone",
    ),
    (
        _set(f"{NPS}.milestones", _milestones((25, "2025-06-01"))),
        "tree.children[0].children[0].milestones[0].date",
        "not after the baseline date",
    ),
    (
        _set(f"{NPS}.milestones", _milestones((25, "2027-01-31"))),
        "tree.children[0].children[0].milestones[0].date",
        "not before the target date",
    ),
    (_set("measures.nps.source", "nsp"), "measures.nps.source", "unknown source 'nsp'"),
    (_set("measures.nps.source", "-"), "measures.nps.source", "needs a source"),
    (_set("measures.ces.kind", "average"), "measures.ces.kind", "unknown kind 'average'"),
    (_set(f"{ENPS}.target.value", 5), "tree.children[1].children[0].target.value", "equals"),
    (
        _set(f"{ENPS}.target.date", date(2025, 6, 1)),
        "tree.children[1].children[0].target.date",
        "not after the baseline date",
    ),
    (_set("timezone", "Europe/Berln"), "timezone", "unknown time zone 'Europe/Berln'"),
    (_set("timezone", "../etc/passwd"), "timezone", "unknown time zone"),
    (_set("measures.upsell_rate.numerator", "upsell"), "measures.upsell_rate.numerator", "unknown"),
    (_set("measures.upsell_rate.denominator", "-"), "measures.upsell_rate.denominator", "needs"),
    (
        _set("measures.upsell_rate.numerator", "upsell_rate"),
        "measures.upsell_rate.numerator",
        "itself",
    ),
    (_set("measures.ces_agree.band", "-"), "measures.ces_agree.band", "needs the band"),
    (_set("measures.ces_agree.band", [7, 5]), "measures.ces_agree.band", "out of order"),
    (_set("measures.cost_to_serve.per", "-"), "measures.cost_to_serve.per", "needs the column"),
    (_set("measures.cost_to_serve.per", "calls"), "measures.cost_to_serve.per", "not a numeric"),
    (_set("measures.upsell_revenue.field", "amout"), "measures.upsell_revenue.field", "'amout'"),
    (_set("measures.upsell_revenue.field", "-"), "measures.upsell_revenue.field", "default"),
    (_set("measures.nps.min_n", -1), "measures.nps.min_n", "negative"),
    (_set(f"{COST}.baseline", "-"), "tree.children[2].children[0].baseline", "needs a baseline"),
    (_set(f"{COST}.direction", "up"), "tree.children[2].children[0].target.value", "direction"),
    (
        lambda r: _set(f"{CES}.by_unit.all", _node(r, 0, 1)["by_unit"]["Sales"])(r),
        "tree.children[0].children[1].by_unit.all",
        "reserved",
    ),
    (
        _set(f"{CES}.by_unit.Sales.target.date", "2025-01-31"),
        "tree.children[0].children[1].by_unit.Sales.target.date",
        "not after the baseline date",
    ),
    (
        _set(f"{CES}.by_unit.Sales.baseline", "-"),
        "tree.children[0].children[1].by_unit.Sales.baseline",
        "missing required key 'baseline'",
    ),
    (_set("tree.children.0.children", []), "tree.children[0]", "neither a measure nor children"),
    (
        lambda r: _set("tree.children.0.by_unit", _node(r, 0, 1)["by_unit"])(r),
        "tree.children[0].by_unit",
        "no measure",
    ),
    (_set("readiness.threshold", 0.5), "readiness.threshold", "outside the 1..5 scale"),
    (_set("readiness.floor", 4), "readiness.floor", "above the threshold"),
    (_set("readiness.min_assessors", 0), "readiness.min_assessors", "below 1"),
    (_set("readiness.dimensions", ["data", "data"]), "readiness.dimensions[1]", "twice"),
    (_set("status.tolerance", 0.2), "status.tolerance", "larger than at_risk_band"),
    (_set("feedback_loop.sla_hours", 0), "feedback_loop.sla_hours", "above 0"),
    (_set("feedback_loop.nps_detractor_max", 11), "feedback_loop.nps_detractor_max", "0..10"),
    (
        _set("feedback_loop.closing_action_types", []),
        "feedback_loop.closing_action_types",
        "no closing",
    ),
    (
        _set("feedback_loop.closing_action_types", "customer_informed"),
        "feedback_loop.closing_action_types",
        "expected a list",
    ),
    (
        _set("feedback_loop.root_causes", ["price", " price"]),
        "feedback_loop.root_causes[1]",
        "twice",
    ),
    (_set("feedback_loop.root_causes", ["price", "  "]), "feedback_loop.root_causes[1]", "empty"),
    (_set("period", "year"), "period", "unknown period 'year'"),
    (_set("name", "-"), "name", "missing required key 'name'"),
    (_set("tree.children.0.strand", "why"), "tree.children[0].strand", "unknown strand"),
    (
        _set(f"{NPS}.baseline.date", "2025-13-01"),
        "tree.children[0].children[0].baseline.date",
        "date",
    ),
    (_set(f"{NPS}.weight", "heavy"), "tree.children[0].children[0].weight", "'heavy'"),
    (_set("readiness.treshold", 3), "readiness.treshold", "unknown key 'treshold'"),
    (_set("tree.children.1", ["not", "a", "node"]), "tree.children[1]", "expected a mapping"),
    (_set("themes.waiting", []), "themes.waiting", "has no phrases"),
    (_set("themes.pricing", ["price", " -- "]), "themes.pricing[1]", "no letter or digit"),
    (_set("themes.pricing", ["price", "price"]), "themes.pricing[1]", "listed twice"),
]


@pytest.mark.parametrize(("mutate", "path", "words"), RULES, ids=[r[1] + " " + r[2] for r in RULES])
def test_each_rule_reports_one_problem_at_its_path(mutate, path, words):
    raw = copy.deepcopy(_example())
    mutate(raw)
    problems = _problems(raw)
    assert [p.path for p in problems] == [path], problems
    assert words in problems[0].message, problems[0]


def test_unknown_keys_suggest_the_closest_known_key():
    raw = _example()
    raw["tre"] = raw.pop("tree")
    raw["measures"]["nps"]["sorce"] = raw["measures"]["nps"].pop("source")
    problems = {p.path: p for p in _problems(raw)}
    assert problems["tre"].hint == "did you mean 'tree'?"
    assert problems["tree"].message == "missing required key 'tree'"
    assert problems["measures.nps.sorce"].hint == "did you mean 'source'?"
    # the moved source is missing too, and that is said once, at its own path
    assert problems["measures.nps.source"].message == "a nps measure needs a source"
    assert len(problems) == 4


def test_timezone_hint_names_the_closest_zone():
    raw = _example()
    raw["timezone"] = "Europe/Berln"
    assert _problems(raw)[0].hint == "did you mean 'Europe/Berlin'?"


# --- YAML anchors and aliases ------------------------------------------------------------------

CYCLE = """
name: cyclic
measures: {nps: {source: nps, kind: nps}}
tree: &root
  id: revenue
  measure: nps
  baseline: {value: 1, date: 2025-01-01}
  target: {value: 2, date: 2026-01-01}
  children:
    - id: loop
      children: [*root]
"""

REPEATED = """
name: repeated
measures: {nps: {source: nps, kind: nps}}
tree:
  id: root
  children:
    - &leaf {id: leaf, measure: nps, baseline: {value: 1, date: 2025-01-01},
             target: {value: 2, date: 2026-01-01}}
    - *leaf
"""


def test_a_cycle_through_a_yaml_alias_is_reported_not_followed(tmp_path):
    problems = _problems(parse_strategy_yaml(CYCLE))
    assert [p.path for p in problems] == ["tree.children[0].children[0]"]
    assert "cycle" in problems[0].message
    path = tmp_path / "strategy.yaml"
    path.write_text(CYCLE, encoding="utf-8")
    with pytest.raises(StrategyError, match="cycle"):
        load_strategy(path)


def test_a_node_repeated_through_an_alias_is_a_duplicate_id():
    problems = _problems(parse_strategy_yaml(REPEATED))
    assert [(p.path, p.message) for p in problems] == [
        ("tree.children[1].id", "duplicate node id 'leaf' (already used at tree.children[0])")
    ]


# --- documents that are not a strategy at all ---------------------------------------------------


@pytest.mark.parametrize(
    ("content", "path", "words"),
    [
        (b"", "<root>", "empty"),
        (b"# only a comment\n", "<root>", "empty"),
        (b"- name: a list\n- of things\n", "<root>", "not a list"),
        (b"just some text\n", "<root>", "not text"),
        (b"42\n", "<root>", "not a number"),
        (b"name: [unclosed\n", "<file>", "not valid YAML"),
        (b"a: b\n\tc: d\n", "<file>", "not valid YAML"),
        (b"\xff\xfe\x00junk", "<file>", "not UTF-8"),
        (b"name: x\nmeasures: 3\ntree: nope\n", "measures", "expected a mapping"),
    ],
)
def test_non_strategy_documents_give_a_problem_not_a_traceback(tmp_path, content, path, words):
    file = tmp_path / "strategy.yaml"
    file.write_bytes(content)
    with pytest.raises(StrategyError) as caught:
        load_strategy(file)
    assert caught.value.problems[0].path == path
    assert words in caught.value.problems[0].message


def test_a_missing_file_is_one_problem(tmp_path):
    with pytest.raises(StrategyError, match="does not exist"):
        load_strategy(tmp_path / "nope.yaml")


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.dates(),
)
_JUNK = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), junk=_JUNK)
def test_any_damage_to_the_example_gives_problems_never_an_exception(data, junk):
    """Replace one value anywhere in the example with junk: validation reports, never crashes."""
    raw = _example()
    container, key = None, None
    value = raw
    for _ in range(data.draw(st.integers(1, 6))):
        if isinstance(value, dict) and value:
            key = data.draw(st.sampled_from(sorted(value, key=str)))
        elif isinstance(value, list) and value:
            key = data.draw(st.integers(0, len(value) - 1))
        else:
            break
        container, value = value, value[key]
    if container is not None:
        container[key] = junk
    strategy, problems = validate_strategy(raw)
    assert (strategy is None) == bool(problems)
    assert all(isinstance(p, Problem) and p.path and p.message for p in problems)
