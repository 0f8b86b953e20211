"""Seeded randomness and the distributions the demo draws from.

Each source gets, per day (or month), its own generator seeded from (seed, source, date): the same
seed and end date give byte-identical files, and `live` can re-tell any single day exactly as the
history would have told it, without replaying the days before.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np

from pipelines.demo.times import day_epoch

#: One number per random stream; changing one changes every file drawn from that stream.
_STREAMS = {
    "nps": 1,
    "ces": 2,
    "flaws": 3,
    "employee_pulse": 4,
    "upsell": 5,
    "finance": 6,
    "readiness": 7,
    "nps_actions": 11,
    "ces_actions": 12,
    "orphans": 13,
    "nps_followups": 14,
    "ces_followups": 15,
}


def rng(seed: int, stream: str, *keys: int) -> np.random.Generator:
    """An independent generator for one source and one day (or month): same inputs, same draws."""
    return np.random.default_rng([seed, _STREAMS[stream], *keys])


def pick(generator: np.random.Generator, bank: tuple[str, ...], n: int) -> list[str]:
    """`n` texts drawn from `bank` with replacement."""
    return [bank[i] for i in generator.integers(0, len(bank), size=n).tolist()]


_HOURS = np.array(
    [2, 1.5, 1, 0.8, 0.6, 0.5, 0.6, 1, 2, 3, 4, 5, 6, 7, 7, 7, 7, 6.5, 6, 5, 4.5, 4, 3.5, 3]
)
_HOURS = _HOURS / _HOURS.sum()  # responses by UTC hour: North American and European office hours


def times_in_day(generator: np.random.Generator, day: date, n: int) -> np.ndarray:
    """`n` moments (epoch seconds) on `day`, busiest in office hours."""
    hours = generator.choice(24, size=n, p=_HOURS)
    return day_epoch(day) + hours * 3600 + generator.integers(0, 3600, size=n)


def daily_rate(monthly: float, day: date, scale: float) -> float:
    """Expected responses on `day`: the monthly volume, seasonality, fewer at weekends."""
    season = 1 + 0.12 * math.sin(2 * math.pi * (day.month - 1) / 12)
    weekday = 1.15 if day.weekday() < 5 else 0.625
    return monthly * scale * season * weekday / 30.44


def nps_distribution(nps: float, passives: float = 0.2) -> np.ndarray:
    """Probabilities of the answers 0..10 that give the NPS `nps` with this share of passives."""
    promoters = (1 - passives + nps / 100) / 2
    detractors = 1 - passives - promoters
    p = np.zeros(11)
    p[0:7] = detractors * np.array([0.04, 0.03, 0.05, 0.08, 0.12, 0.28, 0.40])
    p[7:9] = passives * np.array([0.45, 0.55])
    p[9:11] = promoters * np.array([0.5, 0.5])
    return p / p.sum()


#: Probabilities of the CES answers 1..7 before (hard) and after (easy) a unit improves.
CES_HARD = np.array([0.12, 0.13, 0.15, 0.22, 0.18, 0.12, 0.08])  # mean 3.89
CES_EASY = np.array([0.02, 0.03, 0.05, 0.10, 0.22, 0.30, 0.28])  # mean 5.49
#: Probabilities of the CSAT answers 1..5.
CSAT = np.array([0.08, 0.10, 0.17, 0.33, 0.32])
#: Probabilities of the wellbeing answers 1..5 before and after the readiness work.
WELLBEING_LOW = np.array([0.08, 0.18, 0.34, 0.28, 0.12])  # mean 3.18
WELLBEING_HIGH = np.array([0.02, 0.06, 0.22, 0.42, 0.28])  # mean 3.88
