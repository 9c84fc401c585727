"""The glum script: GeneralizedLinearRegressorCV over its alpha path × l1_ratio ∈ {0, 0.5, 1}, on regtune's folds.

What a user of glum writes: preprocess the table (impute, one-hot, standardize), then one
`GeneralizedLinearRegressorCV(family=…, link="log", l1_ratio=[0, 0.5, 1], cv=folds)` — glum's own α grid (100
values from its α_max down to 1e-6 of it), warm-started along the path. Prints the choice as JSON
(glum's `alpha` is regtune's λ).

    python peer_glum.py CSV TARGET FAMILY     # FAMILY: poisson, gamma or tweedie:P
"""

from __future__ import annotations

import json
import sys

from _common import folds, load, preprocessor
from glum import GeneralizedLinearRegressorCV, TweedieDistribution


def main() -> None:
    path, target, family = sys.argv[1:4]
    frame, y = load(path, target, "regression")
    X = preprocessor(frame).fit_transform(frame)
    dist = TweedieDistribution(float(family.split(":")[1])) if family.startswith("tweedie:") else family
    model = GeneralizedLinearRegressorCV(
        family=dist, link="log", l1_ratio=[0.0, 0.5, 1.0], cv=folds(y, "regression"), n_jobs=1
    ).fit(X, y)
    ratio = float(model.l1_ratio_)
    penalty = {0.0: "l2", 1.0: "l1"}.get(ratio, "elasticnet")
    print(json.dumps({"penalty": penalty, "lambda": float(model.alpha_), "l1_ratio": ratio}))


if __name__ == "__main__":
    main()
