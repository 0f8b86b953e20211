"""The marts' blocking checks: each one query on a mart's table in the warehouse.

A check that fails stops the marts that read its mart (and the snapshot), so the dashboard never
shows numbers built on a table that broke a rule it trusts. Each returns whether it passed and
what a reader of the Dagster UI needs to see why.
"""

from __future__ import annotations

import duckdb

from metrics.strategy import Strategy

CheckOutcome = tuple[bool, dict]


def nps_in_range(con: duckdb.DuckDBPyConnection, strategy: Strategy) -> CheckOutcome:
    """Every NPS value and interval lies within -100..100."""
    nps_ids = [m for m, spec in strategy.measures.items() if spec.kind == "nps"]
    [(bad,)] = con.execute(
        "SELECT count(*) FROM marts.measure_values WHERE list_contains(CAST(? AS VARCHAR[]), "
        "measure) AND (value NOT BETWEEN -100 AND 100 OR ci_low < -100 OR ci_high > 100)",
        [nps_ids],
    ).fetchall()
    return bad == 0, {"out_of_range": bad}


def items_have_unit(con: duckdb.DuckDBPyConnection, strategy: Strategy) -> CheckOutcome:
    """Every feedback item names its unit (an item without one would be nobody's to act upon)."""
    [(no_unit,)] = con.execute(
        "SELECT count(*) FROM marts.feedback_items WHERE unit IS NULL OR trim(unit) = ''"
    ).fetchall()
    return no_unit == 0, {"without_unit": no_unit}


def progress_in_range(con: duckdb.DuckDBPyConnection, strategy: Strategy) -> CheckOutcome:
    """Progress, expected progress and the children's progress stay within 0..1."""
    [(bad,)] = con.execute(
        "SELECT count(*) FROM marts.outcome_progress WHERE progress NOT BETWEEN 0 AND 1 "
        "OR expected_progress NOT BETWEEN 0 AND 1 OR children_progress NOT BETWEEN 0 AND 1"
    ).fetchall()
    return bad == 0, {"out_of_range": bad}


def every_node_every_period(con: duckdb.DuckDBPyConnection, strategy: Strategy) -> CheckOutcome:
    """The tree is complete: every node has an `all` row in every period with measure values."""
    [(missing,)] = con.execute(
        "WITH periods AS (SELECT DISTINCT period_start FROM marts.measure_values "
        "WHERE unit = 'all'), expected AS (SELECT unnest(?) AS node, period_start FROM periods) "
        "SELECT count(*) FROM expected e ANTI JOIN marts.outcome_progress o "
        "ON o.node = e.node AND o.period_start = e.period_start AND o.unit = 'all'",
        [[node.id for node, _ in strategy.nodes()]],
    ).fetchall()
    return missing == 0, {"missing_node_periods": missing}


def changes_add_up(con: duckdb.DuckDBPyConnection, strategy: Strategy) -> CheckOutcome:
    """Every change is its value minus the value of the period before it, and is called
    significant exactly when |z| reaches 1.959964."""
    [(bad,)] = con.execute(
        "SELECT count(*) FROM marts.measure_changes WHERE previous_period_start >= period_start "
        "OR abs(change - (value - previous_value)) > 1e-6 * greatest(1, abs(value)) "
        "OR significant IS DISTINCT FROM (CASE WHEN z IS NOT NULL THEN abs(z) >= 1.959964 END)"
    ).fetchall()
    return bad == 0, {"inconsistent": bad}


def theme_counts_in_order(con: duckdb.DuckDBPyConnection, strategy: Strategy) -> CheckOutcome:
    """A theme's detractors are among its mentions, its mentions among the comments."""
    [(bad,)] = con.execute(
        "SELECT count(*) FROM marts.comment_themes WHERE mentions < 1 OR mentions > comments "
        "OR detractors > mentions OR share NOT BETWEEN 0 AND 1"
    ).fetchall()
    return bad == 0, {"out_of_order": bad}


def recovered_within_followed_up(
    con: duckdb.DuckDBPyConnection, strategy: Strategy
) -> CheckOutcome:
    """Recovered items are a part of the followed-up ones, the rate and its interval lie in 0..1
    with the rate inside its interval, and each `all` row pools its period's units."""
    [(bad,)] = con.execute(
        "SELECT count(*) FROM marts.loop_outcomes WHERE NOT (followed_up > 0 "
        "AND recovered BETWEEN 0 AND followed_up "
        "AND 0 <= ci_low AND ci_low <= recovery_rate + 1e-12 "
        "AND recovery_rate <= ci_high + 1e-12 AND ci_high <= 1)"
    ).fetchall()
    [(unpooled,)] = con.execute(
        "WITH units AS (SELECT period_start, acted, sum(followed_up) AS f, sum(recovered) AS r "
        "FROM marts.loop_outcomes WHERE unit <> 'all' GROUP BY ALL) "
        "SELECT count(*) FROM marts.loop_outcomes a FULL JOIN units u "
        "ON a.period_start = u.period_start AND a.acted = u.acted AND a.unit = 'all' "
        "WHERE (a.unit = 'all' OR a.unit IS NULL) "
        "AND (a.followed_up IS DISTINCT FROM u.f OR a.recovered IS DISTINCT FROM u.r)"
    ).fetchall()
    return bad == 0 and unpooled == 0, {"inconsistent_rows": bad, "all_rows_not_pooled": unpooled}


def root_cause_shares_sum_to_one(
    con: duckdb.DuckDBPyConnection, strategy: Strategy
) -> CheckOutcome:
    """Per unit and period the root causes' shares add up to 1 (every item with a cause counted
    once)."""
    [(bad,)] = con.execute(
        "SELECT count(*) FROM (SELECT unit, period_start, sum(share) AS total, min(items) AS least "
        "FROM marts.root_causes GROUP BY unit, period_start) "
        "WHERE abs(total - 1) > 1e-9 OR least < 1"
    ).fetchall()
    return bad == 0, {"cells_not_summing_to_one": bad}


def closed_within_in_loop(con: duckdb.DuckDBPyConnection, strategy: Strategy) -> CheckOutcome:
    """No period counts more items closed with the customer than it had in the loop."""
    [(bad,)] = con.execute(
        "SELECT count(*) FROM marts.feedback_loop "
        "WHERE closed_with_customer < 0 OR closed_with_customer > in_loop"
    ).fetchall()
    return bad == 0, {"periods_over_in_loop": bad}
