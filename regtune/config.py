"""TuneConfig: every setting of a tuning run, declared once, validated once and frozen; and the
settings file (``regtune.toml`` or ``[tool.regtune]`` in ``pyproject.toml``).

Each field is declared with :func:`regtune.settings.setting`: its help, panel, flag, choices and check
live beside its type and default, and the CLI and the settings file are derived from them. A model's
own settings (``hidden`` for ``mlp``) are declared by its family (:mod:`regtune.models`) and travel in
``model_settings``; :meth:`TuneConfig.of` sorts keyword settings into the two.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from regtune.errors import ConfigError, named
from regtune.settings import (
    CV,
    ENGINE,
    INPUT,
    MODEL,
    SEARCH,
    STORAGE,
    Setting,
    at_least,
    declared,
    positive_number,
    setting,
    split_list,
)

TASKS: tuple[str, ...] = ("auto", "regression", "classification")
RULES: tuple[str, ...] = ("min", "1se")
SEARCHES: tuple[str, ...] = ("tpe", "gradient", "hybrid")
PENALTIES: tuple[str, ...] = ("l1", "l2", "elasticnet")
ENGINES: tuple[str, ...] = ("local", "dask")
IMPUTATIONS: tuple[str, ...] = ("median", "mean")

#: Trials of a run that sets neither ``n_trials`` nor ``add_trials``.
DEFAULT_N_TRIALS = 60
#: The ``study_name`` that derives the name from what the study is about (:func:`regtune.search.auto_study_name`).
AUTO_STUDY_NAME = "auto"

#: The l1_ratio range searched for the elastic net (glmnet's ``alpha``).
L1_RATIO_RANGE: tuple[float, float] = (0.05, 0.95)


def _model_names() -> tuple[str, ...]:
    from regtune.models import model_names

    return model_names()


def _model_help() -> str:
    from regtune.models import model_names, model_summary

    return "Model family: " + ", ".join(model_summary(m) for m in model_names()) + "."


def _parse_penalties(text: str) -> tuple[str, ...]:
    penalties = split_list(text)
    if not penalties:
        raise ConfigError(f"{named('penalties')} is empty: give one or more of l1, l2, elasticnet")
    return penalties


def _parse_sep(text: str) -> str:
    from regtune.tables import parse_sep

    return parse_sep(text)


def _check_sep(value: str) -> str | None:
    from regtune.tables import check_sep

    return check_sep(value)


def _check_tol(value: float) -> str | None:
    return None if 0 < value < 1 else f"must be in (0, 1), got {value}"


def trial_budget(stored: int, n_trials: int | None = None, add_trials: int | None = None) -> int:
    """The number of counted trials a study should hold at the end of a run when it holds ``stored`` at the
    start: ``stored + add_trials``, or ``n_trials`` (default :data:`DEFAULT_N_TRIALS`)."""
    if add_trials is not None:
        return stored + add_trials
    return n_trials if n_trials is not None else DEFAULT_N_TRIALS


@dataclass(frozen=True)
class TuneConfig:
    """Settings of one tuning run.

    Parameters mirror the ``regtune tune`` flags; see ``regtune tune --help``. ``lambda_min`` and
    ``lambda_max`` override the data-derived λ range (DESIGN.md §4); ``rule`` picks which of λ.min
    and λ.1se is reported as *chosen*. ``penalties`` empty means every penalty the ``model`` can fit
    (``l2`` for ``mlp``). ``model_settings`` holds the model's own settings (for ``mlp``: ``hidden``,
    layer sizes, default (100,), ``(0,)`` for none; ``early_stopping``); :meth:`of` accepts them as
    keywords. The budget is ``n_trials`` (the total the study should reach, default 60) or ``add_trials``
    (that many more than the study holds), not both (:meth:`trial_budget`); ``study_name="auto"`` names
    the study after its data and settings (:func:`regtune.search.auto_study_name`).
    """

    target: str | None = setting(
        None, help="Target column (required for files).", panel=INPUT, short="-y", metavar="COL"
    )
    features: tuple[str, ...] = setting(
        (),
        help="Feature columns, comma-separated (default: all others).",
        panel=INPUT,
        metavar="COLS",
        parse=split_list,
    )
    drop: tuple[str, ...] = setting(
        (),
        help="Columns to leave out, comma-separated (e.g. ID columns).",
        panel=INPUT,
        metavar="COLS",
        parse=split_list,
    )
    categorical: tuple[str, ...] = setting(
        (), help="Numeric columns to treat as categorical, comma-separated.", panel=INPUT, metavar="COLS",
        parse=split_list,
    )  # fmt: skip
    sep: str | None = setting(
        None,
        help="Delimiter of CSV files (\\t or tab for a tab). Default: a comma, or the ;, tab or | the first line"
        " holds when it holds no comma.",
        panel=INPUT,
        metavar="CHAR",
        parse=_parse_sep,
        check=_check_sep,
    )
    source_column: str | None = setting(
        None,
        help="Add a column of this name holding the file of each row (several files or a glob); usable as --groups.",
        panel=INPUT,
        metavar="NAME",
    )
    task: str = setting("auto", help="Task; auto detects it from the target.", panel=INPUT, choices=TASKS)
    max_categories: int = setting(
        100,
        help="Refuse a categorical column with more distinct values than this (an ID column): leave it out"
        " with --drop, or raise this.",
        panel=INPUT,
        metavar="N",
        check=at_least(2),
    )
    offset: str | None = setting(
        None,
        help="Column added to the linear predictor with coefficient 1, never standardized or penalized (log"
        " exposure); predict needs it again. Log-link families only.",
        panel=INPUT,
        metavar="COL",
    )
    exposure: str | None = setting(
        None,
        help="Column of exposure (> 0, e.g. years at risk): its log is the offset, so Poisson models the rate;"
        " predictions are means for that exposure.",
        panel=INPUT,
        metavar="COL",
    )
    weights: str | None = setting(
        None,
        help="Column of row weights (≥ 0, not a feature): the loss is Σ wᵢℓᵢ / Σ wᵢ, as glmnet's weights; the"
        " fits, λ_max and the fold scores are weighted. --model linear only.",
        panel=INPUT,
        metavar="COL",
    )
    model: str = setting("linear", help=_model_help, panel=MODEL, choices=_model_names)
    family: str | None = setting(
        None,
        help="Distribution of the target for --model linear: gaussian, binomial, multinomial, poisson, gamma or"
        " tweedie:P (1 < P < 2); the last three with a log link, scored by their deviance. Default: by the task.",
        panel=MODEL,
        metavar="NAME",
    )
    penalties: tuple[str, ...] = setting(
        (),
        flag="--penalty",
        help="Penalties to choose from, comma-separated: l1, l2, elasticnet (default: all the model fits).",
        panel=MODEL,
        metavar="LIST",
        parse=_parse_penalties,
    )
    folds: int = setting(5, short="-k", help="Number of CV folds.", panel=CV, check=at_least(2))
    repeats: int = setting(1, help="Repeat K-fold CV this many times with new shuffles.", panel=CV, check=at_least(1))
    groups: str | None = setting(
        None, help="Column of groups kept within one fold (GroupKFold).", panel=CV, metavar="COL"
    )
    fold_column: str | None = setting(
        None, help="Column of your own fold ids (like glmnet's foldid); not a feature.", panel=CV, metavar="COL"
    )
    test: str | None = setting(
        None,
        help="A table with the same columns, never seen by the search: the refit models at λ.min and λ.1se are"
        " scored on it.",
        panel=CV,
        metavar="FILE",
    )
    holdout: float | None = setting(
        None,
        help="Hold this share of the rows out of the search (seeded, stratified for classification) and score"
        " the refit models at λ.min and λ.1se on them.",
        panel=CV,
        metavar="SHARE",
        check=lambda v: None if 0 < v < 1 else f"must be a share of the rows between 0 and 1, got {v}",
    )
    nested: int | None = setting(
        None,
        help="Run the whole tuning inside an outer K-fold and report the outer score of the procedure, with its SE.",
        panel=CV,
        metavar="K",
        check=at_least(2),
    )
    scoring: str | None = setting(
        None,
        help="A scikit-learn scorer name (default neg_mean_squared_error for regression, neg_log_loss for"
        " classification).",
        panel=CV,
        metavar="NAME",
    )
    n_trials: int | None = setting(
        None,
        short="-n",
        help=f"Number of trials (configurations; default {DEFAULT_N_TRIALS}); --search gradient may stop earlier, once"
        " the optimum is pinned. With --storage: the total the study should reach, counting trials of earlier runs"
        " and other workers.",
        panel=SEARCH,
        metavar="N",
        check=at_least(1),
    )
    add_trials: int | None = setting(
        None,
        help="Run N trials more than the study holds (instead of --n-trials, a total): with --storage, each run"
        " of a nightly job adds N.",
        panel=SEARCH,
        metavar="N",
        check=at_least(1),
    )
    timeout: float | None = setting(
        None,
        help="Stop starting new trials after this many seconds.",
        panel=SEARCH,
        metavar="S",
        check=lambda v: None if v > 0 else f"must be a positive number of seconds, got {v}",
    )
    seed: int = setting(0, help="Seed of folds, sampler and models: same seed, same result.", panel=SEARCH)
    rule: str = setting(
        "min",
        help="Which λ is chosen: min (best CV mean) or 1se (largest λ within one SE).",
        panel=SEARCH,
        choices=RULES,
    )
    lambda_min: float | None = setting(
        None, help="Smallest λ to search (default from the data).", panel=SEARCH, metavar="X", check=positive_number
    )
    lambda_max: float | None = setting(
        None, help="Largest λ to search (default from the data).", panel=SEARCH, metavar="X", check=positive_number
    )
    tol: float = setting(
        1e-4,
        help="Tolerance of every fit: the optimality (KKT) conditions hold to this share of the penalty's scale.",
        panel=SEARCH,
        metavar="X",
        check=_check_tol,
    )
    prune: bool = setting(
        True, help="Stop trials that are clearly worse after a few folds.", panel=SEARCH, negative="--no-prune"
    )
    n_jobs: int = setting(
        1,
        short="-j",
        help="Worker processes fitting the folds of a trial in parallel.",
        panel=SEARCH,
        check=at_least(1),
    )
    storage: str | None = setting(
        None,
        help="Keep the study: a journal file path, sqlite:///file.db or postgresql://user:pw@host/db. Running the"
        " same command again resumes it; several processes on one storage share it.",
        panel=STORAGE,
        envvar="REGTUNE_STORAGE",
        metavar="PATH|URL",
    )
    study_name: str | None = setting(
        None,
        help=f"Name of the study in --storage (default regtune). {AUTO_STUDY_NAME}: regtune-<hash> of the data and"
        " settings, so that changed data starts a new study in the same storage and unchanged data resumes.",
        panel=STORAGE,
        envvar="REGTUNE_STUDY_NAME",
        metavar="NAME",
    )
    search: str = setting(
        "hybrid",
        help="How λ is searched: tpe (TPE, then bisection), gradient (log-spaced points, then hypergradient steps;"
        " stops once the optimum is pinned), hybrid (hypergradient steps first, then TPE for the rest of the"
        " budget, new best points refined by more steps).",
        panel=SEARCH,
        choices=SEARCHES,
    )
    impute: str | None = setting(
        None,
        help="How a missing numeric value is filled in each fold: by the median (default locally) or the mean"
        " (the only one --engine dask offers) of the fold's training rows.",
        panel=INPUT,
        choices=IMPUTATIONS,
    )
    engine: str = setting(
        "local",
        help="local: the table in this process's memory. dask: read and reduced partition by partition on a"
        " dask.distributed cluster (least squares and binary logistic regression; needs regtune[dask]).",
        panel=ENGINE,
        choices=ENGINES,
        envvar="REGTUNE_ENGINE",
    )
    scheduler: str | None = setting(
        None,
        help="Address of a running dask.distributed scheduler (tcp://host:8786) for --engine dask. Default: a"
        " LocalCluster sized to this machine.",
        panel=ENGINE,
        envvar="REGTUNE_SCHEDULER",
        metavar="ADDRESS",
    )
    row_key: str | None = setting(
        None,
        help="--engine dask: column whose seeded hash gives each row its fold (default: the partition and the"
        " row's place in it). Not a feature.",
        panel=ENGINE,
        metavar="COL",
    )
    categories: str | None = setting(
        None,
        help="--engine dask: the levels of categorical columns, saving the pass that finds them, as"
        " 'col=a|b|c;col2=x|y'. Levels not listed are encoded as unseen.",
        panel=ENGINE,
        metavar="SPEC",
    )
    #: The model's own settings (declared by its family); see :func:`regtune.models.model_settings`.
    model_settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for decl in declared(type(self)):
            value = getattr(self, decl.name)
            if isinstance(value, list):  # a list from a script or a settings file is fine too
                value = tuple(value)
                object.__setattr__(self, decl.name, value)
            decl.validate(value)
        self._check_penalties()
        self._check_model_settings()
        self._check_family()
        if self.source_column is not None and self.source_column == self.target:
            raise ConfigError(f"{named('source_column')} {self.source_column!r} is the target: choose another name")
        if self.groups and self.fold_column:
            raise ConfigError(f"{named('groups')} and {named('fold_column')} both define the folds: give only one")
        if self.repeats > 1 and (self.groups or self.fold_column):
            raise ConfigError(
                f"{named('repeats')} needs random folds: drop {named('repeats')},"
                f" or drop {named('groups')} / {named('fold_column')}"
            )
        if self.lambda_min is not None and self.lambda_max is not None and self.lambda_min >= self.lambda_max:
            raise ConfigError(
                f"{named('lambda_min')} ({self.lambda_min:g}) must be smaller than {named('lambda_max')}"
                f" ({self.lambda_max:g}): swap them or widen the range"
            )
        if self.n_trials is not None and self.add_trials is not None:
            raise ConfigError(
                f"{named('n_trials')} and {named('add_trials')} both set the number of trials ({named('n_trials')}:"
                f" the total the study should reach; {named('add_trials')}: more than it holds): give one of them"
            )
        from regtune.evaluate import check_settings
        from regtune.scale import check_engine

        check_settings(self)
        check_engine(self)
        if self.timeout is not None and not math.isfinite(self.timeout):
            raise ConfigError(f"{named('timeout')} must be a positive number of seconds, got {self.timeout}")

    def _check_penalties(self) -> None:
        from regtune.models import model_penalties, penalty_note

        fits = model_penalties(self.model)
        if not self.penalties:
            object.__setattr__(self, "penalties", fits)
        unknown = [p for p in self.penalties if p not in PENALTIES]
        if unknown:
            raise ConfigError(
                f"unknown penalty {unknown[0]!r}: use one or more of l1, l2, elasticnet (comma-separated)"
            )
        if len(set(self.penalties)) != len(self.penalties):
            object.__setattr__(self, "penalties", tuple(dict.fromkeys(self.penalties)))
        unsupported = [p for p in self.penalties if p not in fits]
        if unsupported:
            reason, alternative = penalty_note(self.model)
            raise ConfigError(
                f"{named('model')} {self.model} supports {named('penalties')} {', '.join(fits)} only"
                + (f" ({reason})" if reason else "")
                + f", not {', '.join(unsupported)}: use {named('penalties')} {', '.join(fits)}"
                + (f", or {alternative}" if alternative else "")
            )

    def _check_family(self) -> None:
        from regtune.models import distribution_class, distribution_task

        if self.family is not None:
            task = distribution_task(self.model, self.family)
            if self.task not in ("auto", task):
                raise ConfigError(
                    f"{named('family')} {self.family} models a {task} target, not {named('task')} {self.task}:"
                    f" drop {named('task')}"
                )
        if self.offset and self.exposure:
            raise ConfigError(
                f"{named('offset')} and {named('exposure')} both set the offset: give one (the offset is log exposure)"
            )
        self._check_weights()
        column = self.offset or self.exposure
        if column is None:
            return
        flag = named("offset" if self.offset else "exposure")
        if self.family is None or not distribution_class(self.model, self.family).offsets:
            raise ConfigError(f"{flag} needs a log-link family: add {named('family')} poisson, gamma or tweedie:P")
        if column == self.target:
            raise ConfigError(f"{flag} column {column!r} is the target: choose another column")

    def _check_weights(self) -> None:
        from regtune.models import model_weights

        if self.weights is None:
            return
        if self.weights == self.target:
            raise ConfigError(f"{named('weights')} column {self.weights!r} is the target: choose another column")
        refusal = model_weights(self.model)
        if refusal:
            raise ConfigError(f"{named('weights')} does not apply to {named('model')} {self.model}: {refusal}")

    def _check_model_settings(self) -> None:
        from regtune.models import model_settings, setting_models

        given = dict(self.model_settings)
        own = {s.name: s for s in model_settings(self.model)}
        every = {s.name: s for s in model_settings()}
        for name, value in given.items():
            decl = every.get(name)
            if decl is None:
                raise ConfigError(f"unknown setting {name!r}: see `regtune tune --help`")
            if isinstance(value, list):
                value = given[name] = tuple(value)
            if name not in own:
                if value == decl.default:
                    continue
                models = " or ".join(setting_models(name))
                flag = named(name, value if isinstance(value, bool) else None)
                scope = decl.misuse.format(model=f"{named('model')} {models}")
                raise ConfigError(f"{flag} {scope}: add {named('model')} {models}, or drop {flag}")
            decl.validate(value)
        object.__setattr__(self, "model_settings", {n: given.get(n, s.default) for n, s in own.items()})

    def trial_budget(self, stored: int) -> int:
        """The number of counted trials the study should hold at the end of a run: :func:`trial_budget`."""
        return trial_budget(stored, self.n_trials, self.add_trials)

    @classmethod
    def of(cls, **settings: Any) -> TuneConfig:
        """A TuneConfig from keyword settings: its fields, and the model's own settings by name
        (``TuneConfig.of(model="mlp", hidden=(32,))``)."""
        names = {f.name for f in fields(cls)}
        own = {k: v for k, v in settings.items() if k in names}
        extra = {k: v for k, v in settings.items() if k not in names}
        if extra:
            own["model_settings"] = {**dict(own.get("model_settings", {})), **extra}
        return cls(**own)

    def with_(self, **changes: Any) -> TuneConfig:
        """A copy with some settings changed (validated again); model settings by name too."""
        names = {f.name for f in fields(self)}
        own = {k: v for k, v in changes.items() if k in names}
        extra = {k: v for k, v in changes.items() if k not in names}
        if "model" in own and "model_settings" not in own:
            own["model_settings"] = {}  # another model: its own settings start from their defaults
        if extra:
            own["model_settings"] = {**dict(own.get("model_settings", self.model_settings)), **extra}
        return replace(self, **own)

    @classmethod
    def declarations(cls) -> tuple[Setting, ...]:
        """The declared settings of a tuning run (without the models' own: :func:`regtune.models.model_settings`)."""
        return declared(cls)


# --- the settings file --------------------------------------------------------------------------


def find_config(path: str | None) -> tuple[str, dict[str, Any]] | None:
    """The settings table of ``path``, or of ./regtune.toml or ./pyproject.toml's [tool.regtune]."""
    import tomllib

    candidates = [Path(path)] if path else [Path("regtune.toml"), Path("pyproject.toml")]
    for candidate in candidates:
        if not candidate.exists():
            if path:
                raise ConfigError(f"config file not found: {path}")
            continue
        if candidate.is_dir():
            raise ConfigError(f"settings file {candidate} is a folder: give the path of a TOML file")
        try:
            data = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{candidate} is not valid TOML ({exc}): fix the file") from None
        except OSError as exc:
            raise ConfigError(f"cannot read settings file {candidate}: {exc.strerror or exc}") from None
        if candidate.name == "pyproject.toml" and not path:
            table = data.get("tool", {}).get("regtune")
            if table is None:
                continue
        elif candidate.name == "pyproject.toml":
            table = data.get("tool", {}).get("regtune", {})
        else:
            table = data.get("tool", {}).get("regtune", data) if "tool" in data else data
        if not isinstance(table, dict):
            raise ConfigError(f"{candidate}: [tool.regtune] must be a table of settings")
        return str(candidate), table
    return None


def read_config(path: str | None, known: Iterable[Setting]) -> tuple[str, dict[str, Any]] | None:
    """The settings file's values by setting name (raw, as TOML gave them), and where it was found.

    A key is a setting's name, with ``-`` or ``_``, or its flag's spelling (``json`` for ``--json``); any
    other key is an error that names the closest one.
    """
    found = find_config(path)
    if found is None:
        return None
    where, table = found
    by_key: dict[str, str] = {}
    for decl in known:
        for key in decl.config_keys():
            by_key.setdefault(key, decl.name)
    values: dict[str, Any] = {}
    for raw_key, raw_value in table.items():
        name = by_key.get(str(raw_key)) or by_key.get(str(raw_key).replace("-", "_"))
        if name is None:
            import difflib

            spelled = sorted({k.replace("_", "-") for k in by_key})
            close = difflib.get_close_matches(str(raw_key).replace("_", "-"), spelled, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"unknown key {raw_key!r} in {where}{hint}: use the names of the tune flags")
        values[name] = raw_value
    return where, values
