"""TuneConfig: every setting of a tuning run, validated once and frozen."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from regtune.errors import ConfigError

PENALTIES: tuple[str, ...] = ("l1", "l2", "elasticnet")
TASKS: tuple[str, ...] = ("auto", "regression", "classification")
RULES: tuple[str, ...] = ("min", "1se")
SEARCHES: tuple[str, ...] = ("tpe", "gradient", "hybrid")
#: The model families (``--model``) and the penalties each can fit.
MODEL_PENALTIES: dict[str, tuple[str, ...]] = {"linear": PENALTIES, "sgd": PENALTIES, "mlp": ("l2",)}

#: The l1_ratio range searched for the elastic net (glmnet's ``alpha``).
L1_RATIO_RANGE: tuple[float, float] = (0.05, 0.95)

Task = Literal["auto", "regression", "classification"]


def split_list(value: str | None) -> tuple[str, ...]:
    """Split a comma-separated flag value (``"a, b,c"``) into a tuple of non-empty names."""
    if value is None:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


HIDDEN_HELP = "layer sizes such as 64,32, or 0 for no hidden layer"


def _valid_hidden(sizes: tuple[int, ...]) -> bool:
    return sizes == (0,) or (bool(sizes) and min(sizes) >= 1)


def parse_hidden(value: str | None) -> tuple[int, ...]:
    """``"64,32"`` → ``(64, 32)``: the hidden layer sizes of ``--model mlp`` (``"0"``: none)."""
    if value is None:
        return ()
    try:
        sizes = tuple(int(part) for part in split_list(value))
    except ValueError:
        sizes = ()
    if not _valid_hidden(sizes):
        raise ConfigError(f"--hidden must be {HIDDEN_HELP}, got {value!r}")
    return sizes


@dataclass(frozen=True)
class TuneConfig:
    """Settings of one tuning run.

    Parameters mirror the ``regtune tune`` flags; see ``regtune tune --help``. ``lambda_min`` and
    ``lambda_max`` override the data-derived λ range (DESIGN.md §4); ``rule`` picks which of λ.min
    and λ.1se is reported as *chosen*. ``penalties`` empty means every penalty the ``model`` can fit
    (``l2`` for ``mlp``). ``hidden`` (MLP layer sizes; default (100,), ``(0,)`` for none: a linear
    model) and ``early_stopping`` apply to ``model="mlp"`` only.
    """

    target: str | None = None
    features: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    task: Task = "auto"
    penalties: tuple[str, ...] = ()
    folds: int = 5
    repeats: int = 1
    groups: str | None = None
    fold_column: str | None = None
    scoring: str | None = None
    n_trials: int = 60
    timeout: float | None = None
    seed: int = 0
    rule: str = "min"
    lambda_min: float | None = None
    lambda_max: float | None = None
    tol: float = 1e-4
    prune: bool = True
    n_jobs: int = 1
    storage: str | None = None
    study_name: str | None = None
    search: str = "hybrid"
    model: str = "linear"
    hidden: tuple[int, ...] = ()
    early_stopping: bool = True

    def __post_init__(self) -> None:
        if self.model not in MODEL_PENALTIES:
            raise ConfigError(f"unknown model {self.model!r}: use linear, sgd or mlp")
        if not self.penalties:
            object.__setattr__(self, "penalties", MODEL_PENALTIES[self.model])
        unknown = [p for p in self.penalties if p not in PENALTIES]
        if unknown:
            raise ConfigError(
                f"unknown penalty {unknown[0]!r}: use one or more of l1, l2, elasticnet (comma-separated)"
            )
        if len(set(self.penalties)) != len(self.penalties):
            object.__setattr__(self, "penalties", tuple(dict.fromkeys(self.penalties)))
        unsupported = [p for p in self.penalties if p not in MODEL_PENALTIES[self.model]]
        if unsupported:
            raise ConfigError(
                f"--model {self.model} supports --penalty {', '.join(MODEL_PENALTIES[self.model])} only"
                f" (scikit-learn's MLP alpha is an L2 penalty), not {', '.join(unsupported)}:"
                " use --penalty l2, or --model sgd for L1 / elastic net"
            )
        object.__setattr__(self, "hidden", tuple(self.hidden))  # a list from a script is fine too
        if self.hidden and self.model != "mlp":
            raise ConfigError("--hidden sets the layers of --model mlp: add --model mlp, or drop --hidden")
        if not self.early_stopping and self.model != "mlp":
            raise ConfigError(
                "--no-early-stopping applies to --model mlp only: add --model mlp, or drop --no-early-stopping"
            )
        if self.hidden and not _valid_hidden(self.hidden):
            raise ConfigError(f"--hidden must be {HIDDEN_HELP}, got {self.hidden}")
        if self.task not in TASKS:
            raise ConfigError(f"unknown task {self.task!r}: use auto, regression or classification")
        if self.search not in SEARCHES:
            raise ConfigError(f"unknown search {self.search!r}: use tpe, gradient or hybrid")
        if self.rule not in RULES:
            raise ConfigError(f"unknown rule {self.rule!r}: use min or 1se")
        if self.folds < 2:
            raise ConfigError(f"--folds must be at least 2, got {self.folds}")
        if self.repeats < 1:
            raise ConfigError(f"--repeats must be at least 1, got {self.repeats}")
        if self.n_trials < 1:
            raise ConfigError(f"--n-trials must be at least 1, got {self.n_trials}")
        if self.timeout is not None and not self.timeout > 0:
            raise ConfigError(f"--timeout must be a positive number of seconds, got {self.timeout}")
        if self.groups and self.fold_column:
            raise ConfigError("--groups and --fold-column both define the folds: give only one")
        if self.repeats > 1 and (self.groups or self.fold_column):
            raise ConfigError("--repeats needs random folds: drop --repeats, or drop --groups / --fold-column")
        for name, value in (("--lambda-min", self.lambda_min), ("--lambda-max", self.lambda_max)):
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"{name} must be a positive number, got {value}")
        if self.lambda_min is not None and self.lambda_max is not None and self.lambda_min >= self.lambda_max:
            raise ConfigError(
                f"--lambda-min ({self.lambda_min:g}) must be smaller than --lambda-max "
                f"({self.lambda_max:g}): swap them or widen the range"
            )
        if self.n_jobs < 1:
            raise ConfigError(f"--n-jobs must be at least 1, got {self.n_jobs}")
        if not 0 < self.tol < 1:
            raise ConfigError(f"tol must be in (0, 1), got {self.tol}")

    def with_(self, **changes: object) -> TuneConfig:
        """A copy with some settings changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]
