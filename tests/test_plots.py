"""Pictures: the data behind them (curves, history, coefficient path), the files, the text sketch."""

from __future__ import annotations

import copy
import itertools
import json
import math
import statistics
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import regtune
from regtune.cli import app
from regtune.coefpath import coefficient_path
from regtune.curves import PenaltyCurve, cv_curves, search_history
from regtune.pictures import figure, gather_pictures
from regtune.report.sketch import sketch_curve

runner = CliRunner()
PENGUINS = str(Path(__file__).resolve().parent.parent / "examples" / "data" / "penguins.csv")


@pytest.fixture(scope="module")
def diabetes() -> regtune.TuneResult:
    return regtune.tune("builtin:diabetes", n_trials=20, seed=0)


@pytest.fixture(scope="module")
def species() -> regtune.TuneResult:
    return regtune.tune(PENGUINS, target="species", drop=("year",), n_trials=12, seed=0)


@pytest.mark.parametrize("which", ["diabetes", "species"])
def test_curve_points_are_the_studys_fold_means(which: str, request: pytest.FixtureRequest) -> None:
    result = request.getfixturevalue(which)
    doc = result.to_dict()
    by_trial = {row["trial"]: row for row in doc["curve"]}
    curves = cv_curves(result)
    assert [c.penalty for c in curves] == ["l1", "l2", "elasticnet"]
    assert sum(len(c.trials) for c in curves) == len(doc["curve"])
    for curve in curves:
        assert curve.lambdas == sorted(curve.lambdas)
        for trial, lam, mean, se, kind in zip(
            curve.trials, curve.lambdas, curve.means, curve.ses, curve.kinds, strict=True
        ):
            row = by_trial[trial]
            assert row["penalty"] == curve.penalty and row["lambda"] == lam
            if kind == "failed":
                assert row["state"] == "failed" or not row["fold_scores"]
                continue
            scores = row["fold_scores"]
            assert mean == pytest.approx(statistics.fmean(scores), rel=1e-12)
            if len(scores) > 1:
                assert se == pytest.approx(statistics.stdev(scores) / math.sqrt(len(scores)), rel=1e-9)
            expected = {"complete": "complete", "unconverged": "complete", "pruned": "pruned"}[kind]
            assert row["state"] == expected
    chosen = [c for c in curves if c.chosen]
    assert len(chosen) == 1 and chosen[0].penalty == result.chosen.point.penalty
    assert chosen[0].lambda_min == result.min.point.lam
    if result.one_se.point.penalty == chosen[0].penalty:
        assert chosen[0].lambda_1se == result.one_se.point.lam
        assert chosen[0].lambda_1se >= chosen[0].lambda_min  # λ.1se is the larger λ


def test_search_history_best_so_far(diabetes: regtune.TuneResult) -> None:
    history = search_history(diabetes)
    assert history.trials == sorted(history.trials)
    best = [b for b in history.best_so_far if not math.isnan(b)]
    assert best == sorted(best)
    assert best[-1] == pytest.approx(max(p.mean for p in diabetes.curve if p.usable))
    assert history.kinds.count("pruned") == diabetes.study["pruned"]


@pytest.mark.parametrize("which", ["diabetes", "species"])
def test_coefficient_path_passes_through_the_refit_model(which: str, request: pytest.FixtureRequest) -> None:
    result = request.getfixturevalue(which)
    path = coefficient_path(result, n_points=12)
    lo, hi = next(s.lambda_range for s in result.per_penalty if s.penalty == result.chosen.point.penalty)
    assert path.lambdas[0] == pytest.approx(hi) and path.lambdas[-1] == pytest.approx(lo)
    assert np.all(np.diff(path.lambdas) < 0)
    assert path.coefs.shape == (len(path.lambdas), len(result.coefficients))
    assert path.names == [name for name, _ in result.coefficients]
    at = list(path.lambdas).index(result.chosen.point.lam)
    # Warm-started along the path versus fitted cold: the same optimum to the solver's tolerance.
    model = copy.deepcopy(result.model)
    estimator = model[-1]
    estimator.coef_ = path.coefs[at].reshape(np.shape(estimator.coef_))
    estimator.intercept_ = path.intercepts[at].reshape(np.shape(estimator.intercept_))
    X = result.refit_context.dataset.X
    if result.dataset["task"] == "regression":
        refit = np.array([v for _, v in result.coefficients])
        assert np.allclose(path.coefs[at], refit, rtol=1e-3, atol=1e-3 * np.abs(refit).max())
        assert np.allclose(model.predict(X), result.model.predict(X), rtol=1e-3)
    else:  # weakly regularized logistic fits are flat along some directions: compare probabilities
        assert np.abs(model.predict_proba(X) - result.model.predict_proba(X)).max() < 1e-2
    if path.penalty == "l1":
        assert path.n_nonzero[0] == 0  # λ_max: every coefficient is zero


def test_coefficient_path_of_a_stored_study_is_refused(diabetes: regtune.TuneResult) -> None:
    from dataclasses import replace

    from regtune.errors import ConfigError

    with pytest.raises(ConfigError, match="no refit model"):
        coefficient_path(replace(diabetes, refit_context=None))


def _png_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


@pytest.mark.parametrize("which", ["diabetes", "species"])
def test_plot_file_for_every_task_and_penalty(which: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    result = request.getfixturevalue(which)
    pictures = gather_pictures(result)
    assert [c.penalty for c in pictures.curves] == ["l1", "l2", "elasticnet"]
    assert all(c.trials for c in pictures.curves) and pictures.path is not None
    png = tmp_path / "cv.png"
    png.write_bytes(figure(result, pictures, "png"))
    width, height = _png_size(png)
    assert 900 <= width <= 3000 and 600 <= height <= 2000


def test_plot_flag_writes_an_svg(tmp_path: Path) -> None:
    svg = tmp_path / "cv.svg"
    result = runner.invoke(app, ["tune", "builtin:diabetes", "-n", "6", "--penalty", "l2", "--plot", str(svg)])
    assert result.exit_code == 0, result.output
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert float(root.attrib["width"].removesuffix("pt")) > 300


def test_bad_plot_name_is_refused_before_tuning(tmp_path: Path) -> None:
    result = runner.invoke(app, ["tune", "builtin:diabetes", "--plot", str(tmp_path / "cv.jpg")])
    assert result.exit_code == 1
    assert result.stderr == f"Error: --plot {tmp_path / 'cv.jpg'}: the file name must end in .png or .svg\n"
    assert not (tmp_path / "cv.jpg").exists()


def test_curve_sketch_marks_min_and_1se() -> None:
    curve = PenaltyCurve(
        penalty="l1",
        trials=[0, 1, 2, 3, 4],
        lambdas=[0.001, 0.01, 0.1, 1.0, 10.0],
        l1_ratios=[1.0] * 5,
        means=[0.50, 0.55, 0.60, 0.58, 0.20],
        ses=[0.02] * 5,
        n_nonzero=[9.0, 7.0, 5.0, 3.0, 0.0],
        kinds=["complete", "complete", "complete", "complete", "pruned"],
        lambda_min=0.1,
        lambda_1se=1.0,
        chosen=True,
        lambda_range=(0.001, 10.0),
    )
    text = sketch_curve(curve, "r2", width=41, height=6)
    lines = text.splitlines()
    assert lines[0].startswith("CV curve of l1 (chosen): mean r2")
    marks = lines[1]
    plot = lines[2:8]
    offset = plot[0].index("|") + 2
    # λ from 0.001 to 1 over 41 columns (the pruned λ = 10 is not drawn): one decade is 40/3 columns.
    assert marks.index("m") == offset + round(2 * 40 / 3) and marks.index("s") == offset + 40
    assert plot[0].startswith("0.6 |") and plot[0][offset + round(2 * 40 / 3)] == "*"  # the best mean on top
    assert plot[-1].startswith("0.5 |") and plot[-1][offset] == "*"
    assert all(row[offset + 40] in ":*" for row in plot)
    assert "(1 pruned not drawn)" in text
    assert "\x1b[" not in text


def test_curve_flag_prints_the_sketch_but_not_with_json_stdout(reg_csv: Path) -> None:
    result = runner.invoke(app, ["tune", str(reg_csv), "-y", "y", "-n", "8", "--curve"])
    assert result.exit_code == 0, result.output
    assert "CV curve of" in result.stdout and "m λ.min" in result.stdout
    assert result.stdout.index("CV curve of") > result.stdout.index("chosen (min)")
    assert "\x1b[" not in result.stdout
    result = runner.invoke(app, ["tune", str(reg_csv), "-y", "y", "-n", "8", "--curve", "--json", "-"])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)


def _curve(kinds: list[str], means: list[float], l1_ratios: list[float] | None = None) -> PenaltyCurve:
    n = len(kinds)
    return PenaltyCurve(
        penalty="elasticnet" if l1_ratios else "l1",
        trials=list(range(n)),
        lambdas=[10 ** (i / 4) for i in range(n)],
        l1_ratios=l1_ratios or [1.0] * n,
        means=means,
        ses=[0.01] * n,
        n_nonzero=[float(20 - i) for i in range(n)],
        kinds=kinds,
        lambda_min=10 ** (1 / 4),
        lambda_1se=10 ** (3 / 4),
        chosen=True,
        lambda_range=(1.0, 10 ** ((n - 1) / 4)),
    )


def test_cv_curve_scale_is_the_complete_trials_and_a_loss_is_itself() -> None:
    """A pruned trial (mean of the folds it ran) is a tick on the bottom, not a point that stretches the
    scale; an MSE is drawn as an MSE (lower is better), not as its negation."""
    from matplotlib.figure import Figure

    from regtune.report.plots import draw_cv_curve

    means = [-2972.0, -2970.0, -2975.0, -2990.0, -9000.0]
    fig = Figure()
    ax = fig.add_subplot()
    draw_cv_curve(ax, _curve(["complete"] * 4 + ["pruned"], means), "neg_mean_squared_error")
    low, high = ax.get_ylim()
    assert 2900 < low < 2970 and 2990 < high < 3100  # 9000 (the pruned trial) is off the scale
    assert ax.get_ylabel() == "CV MSE (lower is better)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "pruned, at their λ (1)" in labels
    assert any(label.startswith("λ.min = ") for label in labels) and any(
        label.startswith("λ.1se = ") for label in labels
    )
    assert ax.get_yticklabels() and not ax.yaxis.get_offset_text().get_text()  # no "1e6" above the axis


def test_cv_curve_colours_a_varying_l1_ratio_with_a_colour_bar() -> None:
    from matplotlib.figure import Figure

    from regtune.report.plots import draw_cv_curve

    fig = Figure()
    draw_cv_curve(fig.add_subplot(), _curve(["complete"] * 4, [0.5, 0.6, 0.55, 0.4], [0.1, 0.5, 0.9, 1.0]), "r2")
    assert len(fig.axes) >= 2 and any("l1_ratio" in a.get_ylabel() for a in fig.axes)
    fig = Figure()
    draw_cv_curve(fig.add_subplot(), _curve(["complete"] * 4, [0.5, 0.6, 0.55, 0.4]), "r2")
    assert not any("l1_ratio" in a.get_ylabel() for a in fig.axes)


def test_top_axis_counts_never_crowd() -> None:
    """The non-zero counts of the top axis: neighbours at least a seventh of the λ span apart."""
    n = 40
    curve = _curve(["complete"] * n, [0.5] * n)
    curve.lambdas = sorted([1.0 + i * 0.01 for i in range(20)] + [10 ** (i / 5) for i in range(20)])
    ticks = curve.nonzero_ticks()
    logs = [math.log10(lam) for lam, _ in ticks]
    span = math.log10(curve.lambdas[-1]) - math.log10(curve.lambdas[0])
    assert 3 <= len(ticks) <= 8
    assert all(b - a >= span / 7 - 1e-12 for a, b in itertools.pairwise(logs))
