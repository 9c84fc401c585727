"""Tweedie regression with a log link and power 1 < P < 2: ``--model linear --family tweedie:P``.

The compound Poisson–Gamma distribution: a Poisson number of Gamma-sized amounts, so exact zeros and a
long right tail in one target — claims cost per policy, rainfall. Variance ``φ·μ^P``. Objective
``½·mean Tweedie deviance (power P) + λ·P(w)``: λ is glum's ``alpha`` with ``TweedieDistribution(P)`` and, for
L2, scikit-learn's ``TweedieRegressor(power=P, link="log", alpha)``. Scored by
``neg_mean_tweedie_deviance`` at the same power. Shared with the other log-link families:
:mod:`regtune.models._glm`.
"""

from __future__ import annotations

import math

from regtune.errors import ConfigError, named
from regtune.models._glm import TWEEDIE_SCORER, LogLinkGLM


class Tweedie(LogLinkGLM):
    model = "linear"
    distributions = ("tweedie",)
    default_scoring = TWEEDIE_SCORER
    own_loss = TWEEDIE_SCORER
    power = 1.5
    title = "Tweedie"

    def __init__(self, task: str, *, seed: int = 0, distribution: str | None = None) -> None:
        super().__init__(task, seed=seed, distribution=distribution)
        if ":" not in (self.distribution or ""):
            raise ConfigError(f"{named('family')} tweedie needs its power: tweedie:P with 1 < P < 2, e.g. tweedie:1.5")

    def set_parameter(self, text: str) -> None:
        try:
            power = float(text)
        except ValueError:
            power = math.nan
        if not 1 < power < 2:
            raise ConfigError(
                f"{named('family')} tweedie:{text}: the power must be a number between 1 and 2 (exclusive),"
                f" e.g. tweedie:1.5; use {named('family')} poisson for 1 and gamma for 2"
            )
        self.power = power
        self.name = f"tweedie:{power:g}"
        self.title = f"Tweedie (power {power:g})"
