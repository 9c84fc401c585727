"""Small neural networks trained by Adam: scikit-learn's MLPRegressor / MLPClassifier, L2 penalty only.

scikit-learn's adam minimises, per minibatch of B rows, ``mean loss + alpha·‖W‖²/(2B)`` (W: every
weight matrix, biases unpenalised; ``_backprop`` in ``sklearn/neural_network/_multilayer_perceptron.py``).
So the shared convention ``mean loss + λ·½‖W‖²`` holds with ``alpha = λ·B``; regtune sets
``batch_size = B = min(200, rows the network is trained on)`` explicitly (scikit-learn's "auto"), where
the rows exclude the inner validation split when early stopping is on. The mean loss is the log-loss
(classification) or ``½(y_s − f)²`` on the **standardized** target ``y_s = (y − ȳ)/sd(y)`` (regression:
the network is fitted to y_s and its predictions mapped back, a TransformedTargetRegressor — a network
fitted by Adam to a raw target such as diabetes' 25–346 barely moves its output bias in 200 epochs).

There is no λ_max (the objective is not convex): the linear model's λ_max on the same data (standardized
target) sets the scale, and the default range is ``[λ_max·1e-5, λ_max·10]``: at the top the penalty's
gradient outweighs the data's, at the bottom it is negligible (see ``default_lambda_range``).

Early stopping on a seeded inner validation split (10 % of the fold's training rows) is on by default;
it watches the validation R² (regression) or log-loss (classification: ``_mlp_classifier``, where
scikit-learn's accuracy would stop the network long before its probabilities are fitted).
A fit is *converged* when scikit-learn's stopping rule fired (no improvement by ``MLP_TOL`` for 10
epochs) before ``MLP_MAX_ITER`` epochs. Every fit uses ``random_state = seed`` (weights, shuffling,
validation split) and runs with one BLAS thread, so one seed gives one answer, with any ``--n-jobs``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from regtune.errors import ConfigError, named
from regtune.models._base import Family, FitOutcome, LightClassifier, LightRegressor, Penalty
from regtune.models._threads import on_one_blas_thread
from regtune.settings import MODEL, Setting, split_list

if TYPE_CHECKING:
    import numpy as np

    from regtune.folds import Fold
    from regtune.models._adam import Network

MLP_MAX_ITER = 500
MLP_TOL = 1e-4
VALIDATION_FRACTION = 0.1
DEFAULT_HIDDEN: tuple[int, ...] = (100,)
#: The default λ range, relative to the linear λ_max of the same data.
RANGE_LOW, RANGE_HIGH = 1e-5, 10.0
HIDDEN_HELP = "layer sizes such as 64,32, or 0 for no hidden layer"


def _valid_hidden(sizes: tuple[int, ...]) -> bool:
    return sizes == (0,) or (bool(sizes) and min(sizes) >= 1)


def parse_hidden(value: str) -> tuple[int, ...]:
    """``"64,32"`` → ``(64, 32)``: the hidden layer sizes (``"0"``: none)."""
    try:
        sizes = tuple(int(part) for part in split_list(value))
    except ValueError:
        sizes = ()
    if not _valid_hidden(sizes):
        raise ConfigError(f"{named('hidden')} must be {HIDDEN_HELP}, got {value!r}")
    return sizes


def _check_hidden(sizes: tuple[int, ...]) -> str | None:
    sizes = tuple(sizes)
    return None if not sizes or _valid_hidden(sizes) else f"must be {HIDDEN_HELP}, got {sizes}"


class MLP(Family):
    """MLPRegressor (standardized target) or MLPClassifier with ``solver="adam"``: L2 only."""

    model = "mlp"
    rank = 2
    tasks = ("regression", "classification")
    summary = "mlp (MLPRegressor / MLPClassifier trained by Adam, L2 only)"
    penalties = ("l2",)
    penalty_reason = "scikit-learn's MLP alpha is an L2 penalty"
    penalty_alternative = f"{named('model')} sgd for L1 / elastic net"
    weights_reason = "sample weights are wired through --model linear only; use --model linear"
    settings = (
        Setting(
            name="hidden",
            type=tuple[int, ...],
            default=(),
            help="Hidden layer sizes of --model mlp, comma-separated (default 100; 0: none).",
            panel=MODEL,
            metavar="SIZES",
            parse=parse_hidden,
            check=_check_hidden,
            misuse="sets the layers of {model}",
        ),
        Setting(
            name="early_stopping",
            type=bool,
            default=True,
            help="--model mlp: stop training on a seeded inner validation split (10% of the training rows);"
            " --no-early-stopping trains on every row.",
            panel=MODEL,
            negative="--no-early-stopping",
        ),
    )
    loadable_types = frozenset(
        {
            "numpy.random.mtrand.RandomState",
            "regtune.models._mlp_classifier.LogLossStoppingMLPClassifier",
            "sklearn._loss._loss.CyHalfBinomialLoss",
            "sklearn.compose._target.TransformedTargetRegressor",
            "sklearn.neural_network._multilayer_perceptron.MLPRegressor",
            "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
            "sklearn.preprocessing._data.StandardScaler",
            "sklearn.preprocessing._label.LabelBinarizer",
        }
    )
    warm_starts = False  # every fit starts from the seeded initialisation

    def __init__(
        self,
        task: str,
        *,
        seed: int = 0,
        hidden: tuple[int, ...] = (),
        early_stopping: bool = True,
    ) -> None:
        super().__init__(task, seed=seed)
        #: Hidden layer sizes; ``(0,)`` means none (a linear model trained by Adam), ``()`` the default.
        self.hidden = tuple(hidden) or DEFAULT_HIDDEN
        self.early_stopping = early_stopping
        self.name = "mlp_regressor" if task == "regression" else "mlp_classifier"

    def settings_values(self) -> dict[str, Any]:
        return {"hidden": self.hidden, "early_stopping": self.early_stopping}

    def batch_size(self, n: int) -> int:
        """B: scikit-learn's "auto" batch size for ``n`` rows given to ``fit``."""
        fitted = n - math.ceil(VALIDATION_FRACTION * n) if self.early_stopping else n
        return max(1, min(200, fitted))

    def lambda_max(self, X: np.ndarray, y: np.ndarray, l1_ratio: float = 1.0) -> float:
        """The linear λ_max of the same data, as a scale (on the standardized target for regression)."""
        from regtune.models.least_squares import LeastSquares
        from regtune.models.logistic import Logistic

        if self.task == "regression":
            sd = float(y.std()) or 1.0
            return LeastSquares(self.task).lambda_max(X, (y - y.mean()) / sd, l1_ratio)
        return Logistic(self.task).lambda_max(X, y, l1_ratio)

    def default_lambda_range(self, penalty: str, lmax: float, ratio: float) -> tuple[float, float]:
        return lmax * RANGE_LOW, lmax * RANGE_HIGH

    def native(self, penalty: Penalty, n: int) -> dict[str, float]:
        b = self.batch_size(n)
        return {"alpha": penalty.lam * b, "batch_size": b}

    def describe(self) -> dict[str, Any]:
        return {
            "type": "mlp",
            "estimator": "MLPRegressor" if self.task == "regression" else "MLPClassifier",
            "hidden": list(self.hidden),
            "solver": "adam",
            "early_stopping": self.early_stopping,
            "max_iter": MLP_MAX_ITER,
            "tol": MLP_TOL,
            "seed": self.seed,
        }

    def label(self) -> str:
        info = self.describe()
        layers = "none (linear)" if self.hidden == (0,) else "×".join(str(h) for h in self.hidden)
        stop = ", early stopping" if self.early_stopping else ""
        return f"{info['estimator']} (hidden {layers}, adam, max_iter {MLP_MAX_ITER}{stop})"

    def estimator(self, penalty: Penalty, n: int, tol: float) -> Any:
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.neural_network import MLPRegressor
        from sklearn.preprocessing import StandardScaler

        from regtune.models._mlp_classifier import LogLossStoppingMLPClassifier

        if not penalty.is_l2:
            raise ValueError(f"the MLP penalty is L2 only, not {penalty.kind}")
        native = self.native(penalty, n)
        settings = {
            "hidden_layer_sizes": () if self.hidden == (0,) else self.hidden,
            "solver": "adam",
            "alpha": native["alpha"],
            "batch_size": int(native["batch_size"]),
            "early_stopping": self.early_stopping,
            "validation_fraction": VALIDATION_FRACTION,
            "max_iter": MLP_MAX_ITER,
            "tol": MLP_TOL,
            "random_state": self.seed,
        }
        if self.task == "regression":
            return TransformedTargetRegressor(
                regressor=MLPRegressor(**settings), transformer=StandardScaler(), check_inverse=False
            )
        return LogLossStoppingMLPClassifier(**settings)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        penalty: Penalty,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> FitOutcome:
        """Fit from the seeded initialisation (``warm`` is not used: no warm starts for networks), as
        :meth:`estimator`'s scikit-learn estimator fits, to the last bit (:mod:`._adam`)."""
        return self._train(X, y, penalty, record_loss=True)

    def fit_fold(
        self,
        fold: Fold,
        penalty: Penalty,
        tol: float,
        warm: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> FitOutcome:
        """A fold's fit: :meth:`fit` without the training loss it does not need (early stopping watches
        the validation score)."""
        return self._train(fold.X_train, fold.y_train, penalty, record_loss=False)

    @on_one_blas_thread
    def _train(self, X: np.ndarray, y: np.ndarray, penalty: Penalty, *, record_loss: bool) -> FitOutcome:
        import numpy as np

        from regtune.models import _adam

        if not penalty.is_l2:
            raise ValueError(f"the MLP penalty is L2 only, not {penalty.kind}")
        native = self.native(penalty, X.shape[0])
        common: dict[str, Any] = {
            "hidden": () if self.hidden == (0,) else self.hidden,
            "alpha": native["alpha"],
            "batch_size": int(native["batch_size"]),
            "max_iter": MLP_MAX_ITER,
            "tol": MLP_TOL,
            "seed": self.seed,
            "early_stopping": self.early_stopping,
            "validation_fraction": VALIDATION_FRACTION,
            "record_loss": record_loss or not self.early_stopping,
        }
        model: NetworkRegressor | NetworkClassifier
        if self.task == "regression":
            ys, mean, scale, var = _adam.standardize_target(y)
            net = _adam.train(X, ys.reshape(-1, 1), output="identity", val_score=_adam.r2, **common)
            model = NetworkRegressor(net, mean, scale, var)
        else:
            classes = np.unique(y)
            codes = np.searchsorted(classes, y)
            output = "logistic" if len(classes) == 2 else "softmax"
            net = _adam.train(
                X, _adam.one_hot(codes, len(classes)), output=output, val_score=_adam.neg_log_loss, **common
            )
            model = NetworkClassifier(net, classes)
        coef = np.concatenate([w.ravel() for w in net.coefs])
        intercept = np.concatenate([b.ravel() for b in net.intercepts])
        return FitOutcome(model, coef, intercept, net.converged, int(np.count_nonzero(coef)))

    def estimator_of(self, outcome: FitOutcome, penalty: Penalty, n: int, tol: float) -> Any:
        """The fitted scikit-learn estimator of a fit (a refit pipeline's last step): :meth:`estimator`
        with the trained weights and scikit-learn's fitted attributes set."""
        model = outcome.model
        if not isinstance(model, NetworkRegressor | NetworkClassifier):
            return model
        return model.to_sklearn(self.estimator(penalty, n, tol))


class NetworkRegressor(LightRegressor):
    """A fold's fitted regression network: predictions on the original scale of the target (the
    network is fitted to the standardized one, as ``TransformedTargetRegressor`` does)."""

    def __init__(self, net: Network, mean: float, scale: float, var: float) -> None:
        self.net, self.mean, self.scale, self.var = net, mean, scale, var

    def predict(self, X: Any) -> np.ndarray:
        import numpy as np

        pred = self.net.forward(np.asarray(X, dtype=np.float64)).reshape(-1, 1)
        pred *= self.scale
        pred += self.mean
        result: np.ndarray = pred[:, 0]
        return result

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R² of the predictions (``TransformedTargetRegressor.score``)."""
        import numpy as np

        from regtune.models.least_squares import SquaredError

        return SquaredError("r2")(self, X, np.asarray(y, dtype=np.float64), sample_weight)

    def to_sklearn(self, estimator: Any) -> Any:
        """``estimator`` (an unfitted ``TransformedTargetRegressor`` of :meth:`MLP.estimator`) fitted."""
        import numpy as np
        from sklearn.base import clone
        from sklearn.preprocessing import StandardScaler

        from regtune.models._adam import sklearn_attributes

        network = clone(estimator.regressor)
        for name, value in sklearn_attributes(self.net).items():
            setattr(network, name, value)
        scaler = StandardScaler()
        scaler.mean_, scaler.var_, scaler.scale_ = np.array([self.mean]), np.array([self.var]), np.array([self.scale])
        scaler.n_samples_seen_, scaler.n_features_in_ = np.int64(self.net.n_samples), 1
        estimator.regressor_, estimator.transformer_, estimator._training_dim = network, scaler, 1
        return estimator


class NetworkClassifier(LightClassifier):
    """A fold's fitted classification network (``MLPClassifier``'s ``predict_proba`` and ``predict``)."""

    def __init__(self, net: Network, classes: np.ndarray) -> None:
        self.net, self.classes_ = net, classes

    def predict_proba(self, X: Any) -> np.ndarray:
        import numpy as np

        from regtune.models._adam import proba

        return proba(self.net, np.asarray(X, dtype=np.float64))

    def predict(self, X: Any) -> np.ndarray:
        result: np.ndarray = self.classes_[self.predict_proba(X).argmax(axis=1)]
        return result

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """The accuracy of the predictions (``MLPClassifier.score``)."""
        import numpy as np

        from regtune.cv import FastScorer

        return FastScorer("accuracy")(self, X, np.asarray(y), sample_weight)

    def to_sklearn(self, estimator: Any) -> Any:
        """``estimator`` (an unfitted ``LogLossStoppingMLPClassifier``) fitted."""
        from sklearn.preprocessing import LabelBinarizer

        from regtune.models._adam import sklearn_attributes

        for name, value in sklearn_attributes(self.net).items():
            setattr(estimator, name, value)
        estimator._label_binarizer = LabelBinarizer().fit(self.classes_)
        estimator.classes_ = estimator._label_binarizer.classes_
        return estimator
