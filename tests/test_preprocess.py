"""The NumPy encoder computes what scikit-learn's preprocessing pipeline computes."""

import numpy as np
import pandas as pd
import pytest

from regtune.data import coerce_features
from regtune.preprocess import Encoder, make_preprocessor, quiet_unknown_categories


def fit_transform(pre, X: pd.DataFrame, sample_weight: np.ndarray | None = None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The reference: scikit-learn's pipeline fitted on X; with weights, each fitted StandardScaler moved to
    the weighted moments (Σ wᵢ in the denominator; a column constant on the rows with weight keeps its
    scale), so that ``pre.transform`` encodes new rows the same way."""
    Z = np.ascontiguousarray(pre.fit_transform(X), dtype=np.float64)
    if sample_weight is None:
        return Z
    w = sample_weight / sample_weight.sum()
    for name, part, _ in pre.transformers_:
        if name not in ("num", "cat"):
            continue
        where = pre.output_indices_[name]
        scaler = part.named_steps["scale"]
        block = Z[:, where]
        mean = w @ block
        sd = np.sqrt(w @ (block - mean) ** 2)
        sd = np.where(sd > 1e-8, sd, 1.0)
        scaler.mean_ = scaler.mean_ + scaler.scale_ * mean
        scaler.scale_ = scaler.scale_ * sd
        Z[:, where] = (block - mean) / sd
    return Z


def frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    X = pd.DataFrame(
        {
            "a": rng.normal(5, 3, n),
            "b": rng.integers(0, 4, n).astype(float),
            "const": np.full(n, 7.5),
            "colour": rng.choice(["red", "green", "blue"], n),
            "sex": rng.choice(["f", "m"], n),
            "tied": rng.choice(["x", "y"], n),
            "one": np.array(["only"] * n, dtype=object),
        }
    )
    for col, share in (("a", 0.1), ("colour", 0.2), ("sex", 0.05)):
        X.loc[rng.random(n) < share, col] = np.nan
    X.loc[: n // 2, "tied"] = "x"
    X.loc[n // 2 :, "tied"] = "y"  # as many x as y: the smaller one fills
    X.loc[0, "tied"] = np.nan
    return coerce_features(X, ["a", "b", "const"], ["colour", "sex", "tied", "one"])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_encoder_matches_the_scikit_learn_pipeline(seed: int, weighted: bool) -> None:
    rng = np.random.default_rng(seed)
    train, new = frame(rng, 201), frame(rng, 50)
    new.loc[new.index[:3], "colour"] = "purple"  # a level the training rows never had
    new.loc[new.index[3], "sex"] = "x"
    weights = rng.uniform(0.2, 3.0, len(train)) if weighted else None
    numeric, categorical = ["a", "b", "const"], ["colour", "sex", "tied", "one"]
    pre = make_preprocessor(numeric, categorical)
    expected = fit_transform(pre, train, weights)
    encoder = Encoder(numeric, categorical)
    got = encoder.fit_transform(train, weights)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)
    assert [str(n) for n in pre.get_feature_names_out()] == encoder.get_feature_names_out()
    with quiet_unknown_categories():
        np.testing.assert_allclose(encoder.transform(new), pre.transform(new), rtol=1e-13, atol=1e-13)
        twin = encoder.to_sklearn(train)
        np.testing.assert_array_equal(twin.transform(new), encoder.transform(new))


def test_encoder_column_with_no_value_in_training_rows() -> None:
    train = coerce_features(
        pd.DataFrame({"x": [1.0, 2.0, 4.0], "gone": [np.nan] * 3, "c": [np.nan, np.nan, np.nan]}), ["x", "gone"], ["c"]
    )
    new = coerce_features(pd.DataFrame({"x": [3.0], "gone": [5.0], "c": ["k"]}), ["x", "gone"], ["c"])
    pre = make_preprocessor(["x", "gone"], ["c"])
    expected = fit_transform(pre, train)
    encoder = Encoder(["x", "gone"], ["c"])
    np.testing.assert_allclose(encoder.fit_transform(train), expected, atol=1e-14)
    with quiet_unknown_categories():
        np.testing.assert_allclose(encoder.transform(new), pre.transform(new), atol=1e-14)
