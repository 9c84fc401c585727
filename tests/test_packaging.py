"""Packaging a user can install: ``python -m build`` makes an sdist and a wheel, and the wheel, installed into
a clean virtual environment (not editable), runs ``regtune tune builtin:diabetes -n 10``.

Slow (it installs the locked dependencies into a new venv): `make test-package` runs it, and `.ci/run` does.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from regtune import __version__

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.slow
def test_the_wheel_installs_into_a_clean_venv_and_tunes(tmp_path: Path, source_tree: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--outdir", dist, source_tree, cwd=tmp_path)  # the sdist, then a wheel from it
    wheel = dist / f"regtune-{__version__}-py3-none-any.whl"
    sdist = dist / f"regtune-{__version__}.tar.gz"
    assert sorted(p.name for p in dist.iterdir()) == sorted([wheel.name, sdist.name])
    names = zipfile.ZipFile(wheel).namelist()
    assert "regtune/py.typed" in names and "regtune/models/least_squares.py" in names
    assert not [n for n in names if n.startswith("tests/")]
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    assert f"regtune-{__version__}/README.md" in members and f"regtune-{__version__}/pyproject.toml" in members

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    lock = ROOT / "requirements" / "run.lock"
    run(python, "-m", "pip", "install", "--quiet", "--require-hashes", "-r", lock, cwd=tmp_path)
    run(python, "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)  # its dependencies must be satisfied
    where = run(python, "-c", "import regtune; print(regtune.__file__)", cwd=tmp_path).stdout
    assert where.startswith(str(venv)) and "site-packages" in where  # installed, not a link to a source tree

    tuned = run(venv / "bin" / "regtune", "tune", "builtin:diabetes", "-n", "10", cwd=tmp_path)
    assert "λ.min" in tuned.stdout and "chosen (min)" in tuned.stdout
    assert run(venv / "bin" / "regtune", "--version", cwd=tmp_path).stdout.strip() == f"regtune {__version__}"
