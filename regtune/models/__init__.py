"""Model families, and the registry the rest of regtune reads them from.

The λ convention (DESIGN.md §4): every family minimises ``mean loss(y, Xw + b) + λ·P(w)`` with
``P(w) = l1_ratio·‖w‖₁ + (1 − l1_ratio)/2·‖w‖₂²``.

Every public module of this package (a name without a leading ``_``) is imported on first use of the
registry, and every :class:`Family` subclass in it with a ``model`` name is registered: adding a family
is adding one file. The CLI's ``--model`` choices and its model settings, the config validation, the
model-file allow-list and the rebuilding of a family from a stored study all come from here.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import TYPE_CHECKING, Any

from regtune.errors import ConfigError, named
from regtune.models._base import PENALTIES, Family, FitOutcome, Jacobian, Penalty, penalty_l1_ratio

if TYPE_CHECKING:
    from regtune.settings import Setting

__all__ = [
    "PENALTIES",
    "Family",
    "FitOutcome",
    "Jacobian",
    "Penalty",
    "distribution_class",
    "distribution_task",
    "family_classes",
    "family_names",
    "get_family",
    "loadable_types",
    "model_names",
    "model_penalties",
    "model_settings",
    "penalty_l1_ratio",
]

#: Types every saved pipeline holds besides its estimator: the preprocessing and plain data.
PIPELINE_TYPES = frozenset(
    {
        "builtins.bool",
        "builtins.dict",
        "builtins.float",
        "builtins.int",
        "builtins.list",
        "builtins.slice",
        "builtins.str",
        "builtins.tuple",
        "numpy.bool_",
        "numpy.dtype",
        "numpy.float64",
        "numpy.int64",
        "numpy.ndarray",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._encoders.OneHotEncoder",
    }
)


@cache
def family_classes() -> tuple[type[Family], ...]:
    """Every registered family class, in module order (``least_squares``, ``logistic``, ``mlp``, ``sgd`` …)."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    found: list[type[Family]] = []
    stack = list(Family.__subclasses__())
    while stack:
        cls = stack.pop(0)
        stack.extend(cls.__subclasses__())
        if cls.model and cls.tasks and cls not in found:
            found.append(cls)
    return tuple(sorted(found, key=lambda c: (c.rank, c.model, c.tasks)))


def model_names() -> tuple[str, ...]:
    """The ``--model`` values."""
    return tuple(dict.fromkeys(cls.model for cls in family_classes()))


def _classes(model: str) -> list[type[Family]]:
    found = [cls for cls in family_classes() if cls.model == model]
    if not found:
        raise ConfigError(f"unknown model {model!r}: use {_one_of(model_names())}")
    return found


def model_penalties(model: str) -> tuple[str, ...]:
    """The penalties ``model`` can fit (for every task it serves)."""
    return tuple(p for p in PENALTIES if any(p in cls.penalties for cls in _classes(model)))


def model_settings(model: str | None = None) -> tuple[Setting, ...]:
    """The model settings of ``model`` (all models' when None), each declared once."""
    seen: dict[str, Setting] = {}
    for cls in family_classes() if model is None else _classes(model):
        for s in cls.settings:
            seen.setdefault(s.name, s)
    return tuple(seen.values())


def setting_models(name: str) -> tuple[str, ...]:
    """The models that declare the model setting ``name``."""
    return tuple(dict.fromkeys(cls.model for cls in family_classes() if any(s.name == name for s in cls.settings)))


def penalty_note(model: str) -> tuple[str, str]:
    """(why ``model`` fits only some penalties, where to go for the others)."""
    cls = _classes(model)[0]
    return cls.penalty_reason, cls.penalty_alternative


def model_summary(model: str) -> str:
    return _classes(model)[0].summary


def model_weights(model: str) -> str:
    """Why ``model`` cannot take sample weights (``--weights``), or "" when every class of it can."""
    for cls in _classes(model):
        if not cls.weights:
            return cls.weights_reason or "its fits take no sample weights"
    return ""


def get_family(
    task: str, model: str = "linear", *, seed: int = 0, family: str | None = None, **settings: Any
) -> Family:
    """The family of ``model`` for ``task``, built with the model's own ``settings`` (settings that other
    models declare are left out: one call serves every model). ``family`` (a ``--family`` value such as
    ``poisson`` or ``tweedie:1.5``) picks the class that declares that distribution; without it, the first
    class of the model (by rank) that serves the task."""
    for cls in [distribution_class(model, family)] if family else _classes(model):
        if task in cls.tasks:
            own = {s.name for s in cls.settings}
            chosen = {k: v for k, v in settings.items() if k in own}
            return cls(task, seed=seed, **chosen, **({"distribution": family} if family else {}))
    if family:
        raise ConfigError(f"{named('family')} {family} does not fit a {task} task: drop {named('task')} {task}")
    raise ConfigError(f"{named('model')} {model} does not fit a {task} task")


def family_names(model: str = "linear") -> tuple[str, ...]:
    """The ``--family`` values ``model`` offers (``tweedie`` takes its power: ``tweedie:1.5``)."""
    classes = sorted(
        (c for c in family_classes() if c.model == model), key=lambda c: (c.rank, c.tasks[0] != "regression")
    )
    return tuple(d for cls in classes for d in cls.distributions)


def distribution_class(model: str, family: str) -> type[Family]:
    """The class of ``model`` that fits the distribution ``family`` (``NAME`` or ``NAME:PARAMETER``)."""
    kind = family.partition(":")[0]
    for cls in _classes(model):
        if kind in cls.distributions:
            return cls
    offered = family_names(model)
    if not offered:
        raise ConfigError(f"{named('family')} does not apply to {named('model')} {model}: use {named('model')} linear")
    raise ConfigError(f"unknown {named('family')} {family!r} for {named('model')} {model}: use {_one_of(offered)}")


def distribution_task(model: str, family: str) -> str:
    """The task the distribution ``family`` models (checked: a bad parameter is an error here)."""
    cls = distribution_class(model, family)
    cls(cls.tasks[0], distribution=family)
    return cls.tasks[0]


def loadable_types() -> frozenset[str]:
    """Every type a regtune model file may contain: the preprocessing's and every family's estimators'."""
    types = set(PIPELINE_TYPES)
    for cls in family_classes():
        types |= cls.loadable_types
    return frozenset(types)


def _one_of(values: tuple[str, ...]) -> str:
    return " or ".join(values) if len(values) <= 2 else ", ".join(values[:-1]) + " or " + values[-1]
