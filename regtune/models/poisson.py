"""Poisson regression with a log link (its canonical link): ``--model linear --family poisson``.

Counts — doctor visits, claims per policy year — and, with ``--exposure COL``, rates: the log of the
exposure enters the linear predictor with coefficient 1, so ``μ = exposure·exp(Xw + b)``. Objective
``½·mean Poisson deviance + λ·P(w)``: λ is glum's ``alpha``, glmnet's ``lambda`` for ``family = "poisson"``
and, for L2, scikit-learn's ``PoissonRegressor(alpha)``. Everything else is shared with the other
log-link families (:mod:`regtune.models._glm`).
"""

from __future__ import annotations

from regtune.models._glm import LogLinkGLM


class Poisson(LogLinkGLM):
    model = "linear"
    distributions = ("poisson",)
    default_scoring = "neg_mean_poisson_deviance"
    own_loss = "neg_mean_poisson_deviance"
    power = 1.0
    title = "Poisson"
