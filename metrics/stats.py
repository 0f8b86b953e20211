"""The uncertainty formulas behind every measure, as small pure functions (95% by default).

The Ibis expressions in `metrics.measures` compute the same formulas at event scale; these
functions are the readable reference that tests and docs use.
"""

from __future__ import annotations

import math

Z95 = 1.96
#: The two-sided 95% critical value, unrounded: a change is significant when |z| reaches it, and
#: contract v2's Wilson intervals (the loop's recovery rates) use it too.
Z_SIGNIFICANT = 1.959964


def nps_interval(promoters: int, detractors: int, n: int) -> tuple[float, float, float]:
    """Net Promoter Score with its 95% interval: (value, low, high), each in -100..100.

    NPS = %promoters (9-10) - %detractors (0-6). Its variance per response is
    (pP + pD) - (pP - pD)^2, so the interval is value +/- 1.96 * 100 * sqrt(that / n), clipped.
    """
    if n <= 0:
        raise ValueError(f"nps_interval needs at least one response, got n={n}")
    p_p, p_d = promoters / n, detractors / n
    value = 100.0 * (p_p - p_d)
    half = Z95 * 100.0 * math.sqrt(max((p_p + p_d) - (p_p - p_d) ** 2, 0.0) / n)
    return value, max(value - half, -100.0), min(value + half, 100.0)


def mean_interval(
    mean: float, sd: float | None, n: int
) -> tuple[float, float | None, float | None]:
    """A mean with its 95% interval mean +/- 1.96 * s / sqrt(n), s the sample sd (n - 1).

    With fewer than two responses there is no spread to estimate: the interval is (None, None).
    """
    if n < 2 or sd is None:
        return mean, None, None
    half = Z95 * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float, float]:
    """A share (0..1) with its Wilson score interval: (share, low, high).

    Unlike the normal approximation it stays inside 0..1 and behaves for small n and shares
    near 0 or 1.
    """
    if n <= 0:
        raise ValueError(f"wilson_interval needs n >= 1, got n={n}")
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return p, max(centre - half, 0.0), min(centre + half, 1.0)
