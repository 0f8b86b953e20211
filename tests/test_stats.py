"""The uncertainty formulas, against values computed by hand."""

from __future__ import annotations

import pytest

from metrics.stats import mean_interval, nps_interval, wilson_interval


@pytest.mark.parametrize(
    ("promoters", "detractors", "n", "expected"),
    [
        # [10,10,9,8,7,6,5,0,10,3]: 4 promoters, 4 detractors. pP = pD = 0.4,
        # variance = 0.8 - 0 = 0.8, half = 196 * sqrt(0.08) = 55.437
        (4, 4, 10, (0.0, -55.437, 55.437)),
        # all promoters: no variance, a zero-width interval
        (5, 0, 5, (100.0, 100.0, 100.0)),
        (0, 3, 3, (-100.0, -100.0, -100.0)),
        # 9 promoters, 1 passive: variance 0.9 - 0.81 = 0.09, half = 196 * sqrt(0.009) = 18.594;
        # the upper end is clipped at 100
        (9, 0, 10, (90.0, 71.406, 100.0)),
        # 1 promoter, 2 detractors, 1 passive: pP = .25, pD = .5, variance = .75 - .0625 = .6875,
        # half = 196 * sqrt(.6875 / 4) = 81.258; value -25
        (1, 2, 4, (-25.0, -100.0, 56.258)),
    ],
)
def test_nps_interval(promoters, detractors, n, expected):
    assert nps_interval(promoters, detractors, n) == pytest.approx(expected, abs=1e-3)


def test_nps_interval_needs_responses():
    with pytest.raises(ValueError, match="n=0"):
        nps_interval(0, 0, 0)


@pytest.mark.parametrize(
    ("mean", "sd", "n", "expected"),
    [
        # half = 1.96 * 1 / sqrt(4) = 0.98
        (5.0, 1.0, 4, (5.0, 4.02, 5.98)),
        # CES [2,4,4,5,7]: mean 4.4, squares 5.76+.16+.16+.36+6.76 = 13.2, s = sqrt(3.3) = 1.81659,
        # half = 1.96 * 1.81659 / sqrt(5) = 1.59231
        (4.4, 3.3**0.5, 5, (4.4, 2.80769, 5.99231)),
        # one response: no spread, no interval
        (6.0, None, 1, (6.0, None, None)),
    ],
)
def test_mean_interval(mean, sd, n, expected):
    value, low, high = mean_interval(mean, sd, n)
    assert value == expected[0]
    if expected[1] is None:
        assert low is None and high is None
    else:
        assert (low, high) == pytest.approx(expected[1:], abs=1e-4)


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        # p = .6, z^2 = 3.8416, denominator 1.76832, centre .98416 / 1.76832 = .55655,
        # half = 1.96 * sqrt(.048 + .038416) / 1.76832 = .32583
        (3, 5, (0.6, 0.23072, 0.88238)),
        # none inside: the interval still has width (centre = half = .38416 / 1.76832)
        (0, 5, (0.0, 0.0, 0.43449)),
        (5, 5, (1.0, 0.56551, 1.0)),
    ],
)
def test_wilson_interval(successes, n, expected):
    assert wilson_interval(successes, n) == pytest.approx(expected, abs=1e-4)
