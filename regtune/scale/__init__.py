"""``--engine dask``: the tuning of least squares from per-fold sufficient statistics, computed in one pass
over a table that a dask.distributed cluster reads partition by partition, and of binary logistic
regression by passes over the rows the workers hold (one per Newton step of all the folds).

- :mod:`regtune.scale.hashfolds`: a fold id per row from a seeded hash (no shuffle of the rows);
- :mod:`regtune.scale.stats`: the statistics of one partition (NumPy only), and what a fold is made of
  them — its Gram matrix, its training means and scales, its validation loss as a quadratic form;
- :mod:`regtune.scale.logistic`: logistic regression's passes and the folds' proximal Newton on their sums;
- :mod:`regtune.scale.cluster`: the client, the sources (Parquet read by pyarrow on the workers, CSV by
  ``dask.dataframe``), the passes;
- :mod:`regtune.scale.tune`: the same search, selection and result as :func:`regtune.api.tune_dataset`.

This module is light (``TuneConfig`` imports it): the checks of the engine's settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from regtune.errors import ConfigError, named

if TYPE_CHECKING:
    from regtune.config import TuneConfig

#: What the engine cannot do yet, or at all, and what to do instead: (setting, why).
NOT_ON_DASK: tuple[tuple[str, str], ...] = (
    ("weights", "row weights are not summed yet"),
    ("offset", "a log-link family needs an iterative pass per Newton step"),
    ("exposure", "a log-link family needs an iterative pass per Newton step"),
    ("groups", "groups need every row of a group in one fold: give --fold-column"),
    ("nested", "nested CV reads the table once per outer fold"),
    ("holdout", "give the held-out rows their own --fold-column value, or score them apart"),
    ("test", "score the saved model on the test table with regtune predict"),
    ("source_column", "the partitions are not files on this engine"),
)
#: The scorers whose fold score is a function of the fold's statistics (least squares) or of a pass's sums
#: (logistic regression).
DASK_SCORERS: tuple[str, ...] = ("neg_mean_squared_error", "neg_root_mean_squared_error", "r2")
DASK_CLASS_SCORERS: tuple[str, ...] = ("neg_log_loss", "accuracy")


def check_engine(config: TuneConfig) -> None:
    """Refuse the settings ``engine`` does not go with (one line each)."""
    if config.engine != "dask":
        for name in ("scheduler", "row_key", "categories"):
            if getattr(config, name) is not None:
                raise ConfigError(
                    f"{named(name)} applies to {named('engine')} dask only:"
                    f" add {named('engine')} dask, or drop {named(name)}"
                )
        return
    if config.model != "linear" or config.family not in (None, "gaussian", "binomial"):
        what = f"--model {config.model}" if config.model != "linear" else f"--family {config.family}"
        raise ConfigError(
            f"{named('engine')} dask tunes least squares and binary logistic regression (--model linear) only so"
            f" far: use {named('engine')} local for {what}"
        )
    if config.impute == "median":
        raise ConfigError(
            f"{named('impute')} median needs a full sort of every training fold: {named('engine')} dask imputes"
            f" the training fold's mean (drop {named('impute')}, or give {named('impute')} mean)"
        )
    for name, why in NOT_ON_DASK:
        if getattr(config, name):
            raise ConfigError(f"{named(name)} is not offered on {named('engine')} dask ({why})")
    if config.repeats > 1:
        raise ConfigError(f"{named('repeats')} is not offered on {named('engine')} dask: one hash gives one assignment")
    if config.row_key is not None and config.fold_column is not None:
        raise ConfigError(f"{named('row_key')} and {named('fold_column')} both define the folds: give only one")
    if config.scoring is not None and config.scoring not in DASK_SCORERS + DASK_CLASS_SCORERS:
        raise ConfigError(
            f"{named('engine')} dask scores a fold from its statistics: use {named('scoring')}"
            f" {', '.join(DASK_SCORERS)} (regression) or {', '.join(DASK_CLASS_SCORERS)} (classification),"
            f" not {config.scoring}"
        )
    if config.categories is not None:
        parse_categories(config.categories)


def parse_categories(spec: str) -> dict[str, list[str]]:
    """``'col=a|b|c;col2=x|y'`` → ``{"col": ["a", "b", "c"], "col2": ["x", "y"]}`` (levels as text)."""
    found: dict[str, list[str]] = {}
    for part in str(spec).split(";"):
        if not part.strip():
            continue
        column, eq, levels = part.partition("=")
        names = [v for v in levels.split("|") if v != ""]
        if not eq or not column.strip() or not names:
            raise ConfigError(
                f"{named('categories')} {part.strip()!r} is not COLUMN=LEVEL|LEVEL…: e.g. 'colour=red|green;size=S|M'"
            )
        found[column.strip()] = list(dict.fromkeys(names))
    if not found:
        raise ConfigError(f"{named('categories')} is empty: e.g. 'colour=red|green;size=S|M'")
    return found
