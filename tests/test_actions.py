"""The GitHub Action (action.yml) and the example workflow: valid for GitHub's schemas, and run locally
(tests/actions_runner.py: their shell steps as bash scripts, GitHub's variables faked, stand-ins for the
cache and artifact actions) as a nightly job would run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from actions_runner import JobResult, Runner  # tests/ is on sys.path (pytest's rootdir-less test folder)

from regtune.search import list_studies

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
WORKFLOW = ROOT / "examples" / "ci" / "github-actions.yml"
PAGE = "https://github.com/owner/repo/actions/runs/{}#artifacts"


def check_schema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_action_and_workflow_are_valid_for_github(tmp_path: Path) -> None:
    for schema, path in (("vendor.github-actions", ACTION), ("vendor.github-workflows", WORKFLOW)):
        proc = check_schema(schema, path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # The check can fail: a composite step without its shell is refused.
    action = yaml.safe_load(ACTION.read_text())
    del action["runs"]["steps"][0]["shell"]
    broken = tmp_path / "action.yml"
    broken.write_text(yaml.safe_dump(action))
    assert check_schema("vendor.github-actions", broken).returncode == 1


def test_the_workflow_uses_the_action_and_every_input_it_gives_is_declared() -> None:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["tune"]["steps"]
    step = next(s for s in steps if s.get("id") == "regtune")
    assert step["uses"].split("@")[0].endswith("/regtune")
    declared = yaml.safe_load(ACTION.read_text())["inputs"]
    assert set(step["with"]) <= set(declared)
    assert {"data", "target", "add-trials", "fail-under", "storage"} <= set(declared)


def churn_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """A churn table like the example's: an id column, numbers, a category, a yes/no target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + n),
            "tenure": rng.integers(1, 72, n).astype(float),
            "charges": rng.normal(70, 20, n).round(2),
            "calls": rng.poisson(2, n).astype(float),
            "plan": rng.choice(["basic", "plus", "pro"], n),
        }
    )
    logit = -0.04 * (frame["tenure"] - 36) + 0.03 * (frame["charges"] - 70) + 0.5 * (frame["plan"] == "basic")
    frame["churn"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return frame


def _runner(tmp_path: Path, action_path: Path = ROOT) -> tuple[Runner, Path]:
    import os

    workspace = tmp_path / "workspace"
    (workspace / "data").mkdir(parents=True)
    churn_frame().to_csv(workspace / "data" / "train.csv", index=False)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    runner = Runner(workspace, tmp_path / "github", actions={"your-org/regtune": action_path}, env=env)
    return runner, workspace


def _step(job: JobResult, name: str) -> str:
    return next(s for s in job.steps if s.name == name).log


def test_the_nightly_workflow_twice_with_a_changed_row_then_a_failed_gate(tmp_path: Path) -> None:
    runner, workspace = _runner(tmp_path)
    # regtune from this environment; 6 trials a night; a gate the data pass (log-loss below 1)
    fast = {"install": "none", "add-trials": "6", "fail-under": "-1"}

    first = runner.run_workflow(WORKFLOW, run_id=1, overrides={"regtune": fast})
    assert first.success and first.exit_code == 0, first.log
    artifact = tmp_path / "github" / "artifacts" / "1" / "regtune-result"
    files = sorted(p.name for p in artifact.iterdir())
    assert files == ["model.regtune", "regtune.journal", "report.html", "result.json"]
    doc = json.loads((artifact / "result.json").read_text())
    name = doc["study"]["name"]
    assert name.startswith("regtune-") and not doc["study"]["resumed"] and doc["study"]["n_trials"] == 6
    assert f"study {name} (new) in regtune.journal: 6 trials to run" in _step(first, "Tune")
    assert "### regtune — data/train.csv → churn" in first.summary
    assert f"study {name} in regtune.journal — new study: 6 trials" in first.summary
    assert (
        f"- in the artifact [regtune-result]({PAGE.format(1)}): HTML report `report.html`, model `model.regtune`"
        in first.summary
    )
    assert "- download the artifact [regtune-result](https://github.com/owner/repo/actions/runs/1/artifacts/" in (
        first.summary
    )
    assert "](regtune-output" not in first.summary  # no relative links: dead in a job summary

    # Day two: one row changed. The cached journal comes back; the changed data starts a new study in it.
    frame = pd.read_csv(workspace / "data" / "train.csv")
    frame.loc[5, "tenure"] += 1
    frame.to_csv(workspace / "data" / "train.csv", index=False)
    second = runner.run_workflow(WORKFLOW, run_id=2, overrides={"regtune": fast})
    assert second.success and second.exit_code == 0, second.log
    journal = tmp_path / "github" / "caches" / "regtune-study-2-1" / "regtune.journal"
    studies = {r["name"]: r["n_trials"] for r in list_studies(str(journal))}
    other = json.loads((tmp_path / "github" / "artifacts" / "2" / "regtune-result" / "result.json").read_text())
    assert other["study"]["name"] != name and studies == {name: 6, other["study"]["name"]: 6}

    # Day three: the same data resumes its study and adds 6 trials; the gate fails. The study is saved
    # and the report uploaded, and then the job fails with the gate's exit code.
    third = runner.run_workflow(WORKFLOW, run_id=3, overrides={"regtune": {**fast, "fail-under": "0"}})
    assert not third.success and third.exit_code == 3, third.log
    assert next(s.name for s in third.steps if s.outcome == "failure") == "Quality gate"
    saved = tmp_path / "github" / "caches" / "regtune-study-3-1" / "regtune.journal"
    assert {r["name"]: r["n_trials"] for r in list_studies(str(saved))} == {name: 6, other["study"]["name"]: 12}
    artifact = tmp_path / "github" / "artifacts" / "3" / "regtune-result"
    assert "resumed: 6 stored trials, 6 new" in (artifact / "report.html").read_text()
    study = json.loads((artifact / "result.json").read_text())["study"]
    assert (study["name"], study["resumed"], study["stored"], study["new"]) == (other["study"]["name"], True, 6, 6)
    assert "resumed: 6 stored trials, 6 new" in third.summary and "quality gate: failed" in third.summary


def test_a_bad_input_fails_the_job_after_saving_what_there_is(tmp_path: Path) -> None:
    runner, _ = _runner(tmp_path)
    job = runner.run_workflow(WORKFLOW, run_id=1, overrides={"regtune": {"install": "none", "target": "nope"}})
    assert not job.success and job.exit_code == 1
    assert "Error: target column 'nope' not found" in _step(job, "Tune")
    outcomes = {s.name: s.outcome for s in job.steps}
    assert outcomes["Tune"] == outcomes["Upload the result, report, model and journal"] == "success"
    assert [s.name for s in job.steps if s.outcome == "failure"] == [
        "Quality gate",
        "Tune (install, resume, summary, artifact, gate)",
    ]


@pytest.mark.slow
def test_the_action_installs_regtune_from_its_repository(tmp_path: Path, source_tree: Path) -> None:
    """The action's default install: a fresh venv, the locked versions, regtune built from the repository."""
    runner, _ = _runner(tmp_path, action_path=source_tree)
    job = runner.run_workflow(WORKFLOW, run_id=1, overrides={"regtune": {"add-trials": "6", "fail-under": "-1"}})
    assert job.success, job.log
    from regtune import __version__

    assert f"regtune {__version__}" in _step(job, "Install regtune")
    venv = Path(runner.temp) / "regtune-venv"
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import regtune, sys; print(regtune.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    assert str(venv) in proc.stdout  # installed into the venv, not the source tree (not editable)
