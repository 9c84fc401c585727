from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

# The property tests draw the same examples on every run (a red CI names a bug, not a lucky draw);
# HYPOTHESIS_PROFILE=random draws new ones, for a sweep by hand.
settings.register_profile("ci", derandomize=True)
settings.register_profile("random", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
PENGUINS = ROOT / "examples" / "data" / "penguins.csv"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no user settings: no colour choice, no regtune variables."""
    import os

    for name in list(os.environ):
        if name.startswith("REGTUNE_") or name in {"NO_COLOR", "FORCE_COLOR", "COLUMNS"}:
            monkeypatch.delenv(name, raising=False)


def make_regression_frame(n: int = 120, p: int = 6, seed: int = 0) -> pd.DataFrame:
    """A small regression table with a categorical column and a few missing values."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    coef = np.array([3.0, -2.0, 0.0, 0.0, 1.0, 0.0][:p])
    y = X @ coef + rng.normal(scale=1.0, size=n)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(p)])
    frame["color"] = rng.choice(["red", "green", "blue"], size=n)
    y = y + np.where(frame["color"] == "red", 1.5, 0.0)
    frame["y"] = y
    frame.loc[3, "x1"] = np.nan
    frame.loc[7, "color"] = np.nan
    return frame


@pytest.fixture
def reg_csv(tmp_path: Path) -> Path:
    path = tmp_path / "reg.csv"
    make_regression_frame().to_csv(path, index=False)
    return path


@pytest.fixture
def reg_csv_gz(tmp_path: Path) -> Path:
    path = tmp_path / "reg.csv.gz"
    with gzip.open(path, "wt") as handle:
        make_regression_frame().to_csv(handle, index=False)
    return path


@pytest.fixture
def penguins() -> Path:
    return PENGUINS


@pytest.fixture(scope="session")
def source_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's files (tracked, and new ones not ignored), as GitHub hands an action its
    repository: building or installing from it leaves the working tree alone."""
    import shutil
    import subprocess

    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    copy = tmp_path_factory.mktemp("source") / "regtune"
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy
