"""Gamma regression with a log link: ``--model linear --family gamma``.

Positive, right-skewed amounts whose spread grows with their mean — claim sizes, costs, prices. The log
link (glum's and scikit-learn's default for the Gamma; the canonical inverse link does not keep μ > 0)
makes coefficients multiplicative. Objective ``½·mean Gamma deviance + λ·P(w)``: λ is glum's ``alpha`` and,
for L2, scikit-learn's ``GammaRegressor(alpha)``. Shared with the other log-link families:
:mod:`regtune.models._glm`.
"""

from __future__ import annotations

from regtune.models._glm import LogLinkGLM


class Gamma(LogLinkGLM):
    model = "linear"
    distributions = ("gamma",)
    default_scoring = "neg_mean_gamma_deviance"
    own_loss = "neg_mean_gamma_deviance"
    power = 2.0
    title = "Gamma"
