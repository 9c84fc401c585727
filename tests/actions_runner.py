"""Run a GitHub Actions workflow's steps on this machine, with GitHub's environment faked.

Enough of GitHub Actions to run ``action.yml`` and ``examples/ci/github-actions.yml`` as GitHub would:

- ``run:`` steps as bash scripts (``bash --noprofile --norc -eo pipefail``, GitHub's ``shell: bash``) with
  the step's ``env:`` and GitHub's variables (``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, ``GITHUB_ENV``,
  ``GITHUB_PATH``, ``GITHUB_WORKSPACE``, ``GITHUB_ACTION_PATH``, ``GITHUB_RUN_ID``, ``RUNNER_TEMP``, …);
- ``${{ }}`` expressions over the contexts ``inputs``, ``steps``, ``github``, ``runner``, ``env``,
  ``secrets`` and ``vars``, with string literals, ``==``, ``!=``, ``&&``, ``||``, ``!``, parentheses and
  ``always()``, ``success()``, ``failure()``, ``cancelled()``; ``if:`` conditions;
- ``uses:`` a composite action (one of ``actions``, or a ``./path`` in the workspace: its steps, inputs and
  outputs), and stand-ins for ``actions/checkout`` (the workspace is prepared by the caller),
  ``actions/setup-python`` (the Python on PATH), ``actions/cache/restore`` and ``actions/cache/save`` (a
  folder of saved caches: exact key, then the newest key with a restore prefix) and
  ``actions/upload-artifact`` (a folder of artifacts, rooted at the paths' least common ancestor).

Anything else is an error, so that what the runner does not understand is never silently skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))|(?P<name>[A-Za-z_][\w.\-]*))")


class Unsupported(Exception):
    """The workflow uses something this runner does not implement."""


@dataclass
class StepResult:
    name: str
    outcome: str  # success, failure, skipped
    exit_code: int | None = None
    log: str = ""


@dataclass
class JobResult:
    success: bool
    steps: list[StepResult]
    summary: str

    @property
    def exit_code(self) -> int:
        """The exit code of the step that failed the job (0 when it succeeded)."""
        failed = [s for s in self.steps if s.outcome == "failure"]
        return 0 if not failed else (failed[-1].exit_code or 1)

    @property
    def log(self) -> str:
        return "\n".join(f"## {s.name} [{s.outcome}]\n{s.log}" for s in self.steps)


@dataclass
class Scope:
    """The contexts of a workflow job or of a composite action inside it."""

    inputs: dict[str, str] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    action_path: Path | None = None
    failed: bool = False


class Runner:
    """Runs a workflow's jobs in ``workspace``; caches and artifacts are kept under ``home`` across runs."""

    def __init__(
        self,
        workspace: Path,
        home: Path,
        *,
        actions: dict[str, Path] | None = None,
        env: dict[str, str] | None = None,
        repository: str = "owner/repo",
    ) -> None:
        self.workspace = workspace
        self.home = home
        self.actions = actions or {}
        self.base_env = dict(os.environ if env is None else env)
        self.repository = repository
        self.caches = home / "caches"
        self.artifacts = home / "artifacts"
        self._counter = 0

    # --- workflows and jobs ------------------------------------------------------------------------

    def run_workflow(self, path: Path, run_id: int, overrides: dict[str, dict[str, str]] | None = None) -> JobResult:
        """Run the workflow's only job as run ``run_id``; ``overrides`` (step id → inputs) change a step's ``with:``."""
        workflow = yaml.safe_load(path.read_text())
        jobs = workflow["jobs"]
        if len(jobs) != 1:
            raise Unsupported("one job per workflow")
        job = next(iter(jobs.values()))
        self.run_id = run_id
        self.workflow = workflow.get("name", path.stem)
        self.temp = self.home / f"runner-temp-{run_id}"
        self.temp.mkdir(parents=True, exist_ok=True)
        self.env_file_values: dict[str, str] = {}
        self.path_additions: list[str] = []
        self.summary_parts: list[str] = []
        self.results: list[StepResult] = []
        scope = Scope(env={**workflow.get("env", {}), **job.get("env", {})})
        self._steps(job["steps"], scope, overrides or {})
        return JobResult(not scope.failed, self.results, "".join(self.summary_parts))

    def _steps(self, steps: list[dict[str, Any]], scope: Scope, overrides: dict[str, dict[str, str]]) -> None:
        for number, step in enumerate(steps):
            name = step.get("name") or step.get("uses") or f"step {number}"
            condition = str(step.get("if", "success()"))
            if not self._truthy(self.evaluate(condition.removeprefix("${{").removesuffix("}}"), scope)):
                self.results.append(StepResult(name, "skipped"))
                continue
            if "run" in step:
                outputs, result = self._run(step, scope, name)
            elif "uses" in step:
                outputs, result = self._uses(step, scope, name, overrides.get(step.get("id", "")))
            else:
                raise Unsupported(f"step {name!r} has neither run nor uses")
            if "id" in step:
                scope.steps[step["id"]] = {"outputs": outputs, "outcome": result.outcome}
            if result.outcome == "failure":
                scope.failed = True

    # --- expressions -------------------------------------------------------------------------------

    def contexts(self, scope: Scope) -> dict[str, Any]:
        github = {
            "workspace": str(self.workspace),
            "run_id": str(self.run_id),
            "run_attempt": "1",
            "repository": self.repository,
            "server_url": "https://github.com",
            "workflow": self.workflow,
            "action_path": str(scope.action_path or ""),
        }
        return {
            "inputs": scope.inputs,
            "steps": scope.steps,
            "github": github,
            "runner": {"temp": str(self.temp), "os": "Linux"},
            "env": {**scope.env, **self.env_file_values},
            "secrets": {},
            "vars": {},
        }

    def template(self, text: Any, scope: Scope) -> str:
        """``text`` with every ``${{ expression }}`` replaced by its value."""
        return EXPRESSION.sub(lambda m: self._string(self.evaluate(m.group(1), scope)), str(text))

    def evaluate(self, expression: str, scope: Scope) -> Any:
        tokens = [(m.lastgroup, m.group(m.lastgroup or "")) for m in TOKEN.finditer(expression) if m.lastgroup]
        if "".join(t for _, t in tokens).replace(" ", "") != expression.replace(" ", "").strip():
            raise Unsupported(f"expression {expression.strip()!r}")
        value, rest = self._or(tokens, scope)
        if rest:
            raise Unsupported(f"expression {expression.strip()!r}")
        return value

    def _or(self, tokens: list[tuple[str | None, str]], scope: Scope) -> tuple[Any, list[tuple[str | None, str]]]:
        left, tokens = self._and(tokens, scope)
        while tokens and tokens[0] == ("op", "||"):
            right, tokens = self._and(tokens[1:], scope)
            left = left if self._truthy(left) else right
        return left, tokens

    def _and(self, tokens: list[tuple[str | None, str]], scope: Scope) -> tuple[Any, list[tuple[str | None, str]]]:
        left, tokens = self._compare(tokens, scope)
        while tokens and tokens[0] == ("op", "&&"):
            right, tokens = self._compare(tokens[1:], scope)
            left = right if self._truthy(left) else left
        return left, tokens

    def _compare(self, tokens: list[tuple[str | None, str]], scope: Scope) -> tuple[Any, list[tuple[str | None, str]]]:
        left, tokens = self._unary(tokens, scope)
        if tokens and tokens[0] in (("op", "=="), ("op", "!=")):
            op = tokens[0][1]
            right, tokens = self._unary(tokens[1:], scope)
            same = self._string(left).lower() == self._string(right).lower()  # GitHub compares strings ignoring case
            left = same if op == "==" else not same
        return left, tokens

    def _unary(self, tokens: list[tuple[str | None, str]], scope: Scope) -> tuple[Any, list[tuple[str | None, str]]]:
        if not tokens:
            raise Unsupported("an incomplete expression")
        kind, text = tokens[0]
        if (kind, text) == ("op", "!"):
            value, rest = self._unary(tokens[1:], scope)
            return not self._truthy(value), rest
        if (kind, text) == ("op", "("):
            value, rest = self._or(tokens[1:], scope)
            if not rest or rest[0] != ("op", ")"):
                raise Unsupported("unbalanced parentheses")
            return value, rest[1:]
        if kind == "str":
            return text[1:-1].replace("''", "'"), tokens[1:]
        if kind == "name":
            if tokens[1:2] == [("op", "(")] and tokens[2:3] == [("op", ")")]:
                return self._function(text, scope), tokens[3:]
            if text in ("true", "false"):
                return text == "true", tokens[1:]
            return self._lookup(text, scope), tokens[1:]
        raise Unsupported(f"token {text!r}")

    def _function(self, name: str, scope: Scope) -> bool:
        functions = {"always": True, "success": not scope.failed, "failure": scope.failed, "cancelled": False}
        if name not in functions:
            raise Unsupported(f"function {name}()")
        return functions[name]

    def _lookup(self, dotted: str, scope: Scope) -> Any:
        head, *rest = dotted.split(".")
        contexts = self.contexts(scope)
        if head not in contexts:
            raise Unsupported(f"context {head!r}")
        value: Any = contexts[head]
        for part in rest:
            value = value.get(part) if isinstance(value, dict) else None
        return value

    @staticmethod
    def _truthy(value: Any) -> bool:
        return bool(value) and value != 0

    @staticmethod
    def _string(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    # --- steps -----------------------------------------------------------------------------------------

    def _environment(self, scope: Scope, step_env: dict[str, Any]) -> dict[str, str]:
        env = dict(self.base_env)
        env.update(
            CI="true",
            GITHUB_ACTIONS="true",
            GITHUB_WORKSPACE=str(self.workspace),
            GITHUB_RUN_ID=str(self.run_id),
            GITHUB_RUN_ATTEMPT="1",
            GITHUB_REPOSITORY=self.repository,
            GITHUB_SERVER_URL="https://github.com",
            GITHUB_WORKFLOW=self.workflow,
            RUNNER_TEMP=str(self.temp),
            RUNNER_OS="Linux",
        )
        if scope.action_path is not None:
            env["GITHUB_ACTION_PATH"] = str(scope.action_path)
        env.update({k: self.template(v, scope) for k, v in scope.env.items()})
        env.update(self.env_file_values)
        env.update({k: self.template(v, scope) for k, v in step_env.items()})
        if self.path_additions:
            env["PATH"] = os.pathsep.join([*reversed(self.path_additions), env.get("PATH", "")])
        return env

    def _run(self, step: dict[str, Any], scope: Scope, name: str) -> tuple[dict[str, str], StepResult]:
        shell = step.get("shell", "bash")
        if shell != "bash":
            raise Unsupported(f"shell {shell!r}")
        self._counter += 1
        files = {
            key: self.temp / f"{key.lower()}-{self._counter}"
            for key in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH")
        }
        for path in files.values():
            path.write_text("")
        script = self.temp / f"step-{self._counter}.sh"
        script.write_text(self.template(step["run"], scope))
        env = {**self._environment(scope, step.get("env", {})), **{k: str(v) for k, v in files.items()}}
        cwd = self.workspace / step.get("working-directory", ".")
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=1800, check=False,
        )  # fmt: skip
        outputs = parse_key_values(files["GITHUB_OUTPUT"].read_text())
        self.env_file_values.update(parse_key_values(files["GITHUB_ENV"].read_text()))
        self.path_additions += [line for line in files["GITHUB_PATH"].read_text().splitlines() if line]
        self.summary_parts.append(files["GITHUB_STEP_SUMMARY"].read_text())
        result = StepResult(name, "success" if proc.returncode == 0 else "failure", proc.returncode)
        result.log = proc.stdout + proc.stderr
        self.results.append(result)
        return outputs, result

    def _uses(
        self, step: dict[str, Any], scope: Scope, name: str, override: dict[str, str] | None
    ) -> tuple[dict[str, str], StepResult]:
        uses = str(step["uses"])
        given = {k: self.template(v, scope) for k, v in (step.get("with") or {}).items()}
        given.update(override or {})
        action, _, _ref = uses.partition("@")
        stand_ins = {
            "actions/checkout": self._checkout,
            "actions/setup-python": lambda given: {},
            "actions/cache/restore": self._cache_restore,
            "actions/cache/save": self._cache_save,
            "actions/upload-artifact": self._upload,
        }
        if action in stand_ins:
            result = StepResult(name, "success")
            try:
                outputs = stand_ins[action](given)
            except StepFailure as exc:
                result.outcome, result.exit_code, result.log, outputs = "failure", 1, str(exc), {}
            self.results.append(result)
            return outputs, result
        path = self.actions.get(action) or (self.workspace / uses if uses.startswith("./") else None)
        if path is None:
            raise Unsupported(f"uses: {uses}")
        return self._composite(path, given, name)

    def _composite(self, path: Path, given: dict[str, str], name: str) -> tuple[dict[str, str], StepResult]:
        action = yaml.safe_load((path / "action.yml").read_text())
        if action["runs"]["using"] != "composite":
            raise Unsupported(f"{path}: only composite actions")
        declared = action.get("inputs") or {}
        unknown = set(given) - set(declared)
        if unknown:
            raise Unsupported(f"{path}/action.yml has no input {sorted(unknown)}")
        inner = Scope(action_path=path)
        for key, spec in declared.items():
            if key not in given and spec.get("required"):
                raise StepFailure(f"input {key!r} is required")
            inner.inputs[key] = given.get(key, self.template(spec.get("default", ""), inner))
        before = len(self.results)
        self._steps(action["runs"]["steps"], inner, {})
        outputs = {k: self.template(v.get("value", ""), inner) for k, v in (action.get("outputs") or {}).items()}
        failed = [r for r in self.results[before:] if r.outcome == "failure"]
        result = StepResult(name, "failure" if failed else "success", failed[-1].exit_code if failed else 0)
        self.results.append(result)
        return outputs, result

    # --- stand-ins for GitHub's own actions ----------------------------------------------------------------

    def _checkout(self, given: dict[str, str]) -> dict[str, str]:
        if given:
            raise Unsupported(f"actions/checkout with {sorted(given)}")
        return {}

    def _paths(self, text: str) -> list[Path]:
        return [self.workspace / line.strip() for line in text.splitlines() if line.strip()]

    def _cache_restore(self, given: dict[str, str]) -> dict[str, str]:
        key = given["key"]
        prefixes = [line.strip() for line in given.get("restore-keys", "").splitlines() if line.strip()]
        saved = sorted(self.caches.glob("*"), key=lambda p: p.stat().st_mtime_ns) if self.caches.exists() else []
        found = next((p for p in saved if p.name == key), None)
        for prefix in prefixes:
            found = found or next((p for p in reversed(saved) if p.name.startswith(prefix)), None)
        if found is None:
            return {"cache-hit": "false"}
        for path in self._paths(given["path"]):
            stored = found / path.relative_to(self.workspace)
            if stored.is_dir():
                shutil.copytree(stored, path, dirs_exist_ok=True)
            elif stored.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(stored, path)
        return {"cache-hit": str(found.name == key).lower(), "cache-matched-key": found.name}

    def _cache_save(self, given: dict[str, str]) -> dict[str, str]:
        target = self.caches / given["key"]
        if target.exists():
            return {}  # GitHub warns that the key is taken and leaves the cache as it is
        paths = [p for p in self._paths(given["path"]) if p.exists()]
        if not paths:
            return {}  # GitHub warns: nothing to save
        for path in paths:
            dest = target / path.relative_to(self.workspace)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                shutil.copytree(path, dest)
            else:
                shutil.copy2(path, dest)
        return {}

    def _upload(self, given: dict[str, str]) -> dict[str, str]:
        name = given.get("name", "artifact")
        target = self.artifacts / str(self.run_id) / name
        if target.exists():
            raise StepFailure(f"an artifact named {name!r} exists already in this run")
        paths = [p for p in self._paths(given["path"]) if p.exists()]
        files = [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*"))) if f.is_file()]
        if not files:
            if given.get("if-no-files-found", "warn") == "error":
                raise StepFailure("no files found")
            return {}
        root = Path(os.path.commonpath([p if p.is_dir() else p.parent for p in paths]))
        for f in files:
            dest = target / f.relative_to(root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest)
        self._counter += 1
        url = f"https://github.com/{self.repository}/actions/runs/{self.run_id}/artifacts/{self._counter}"
        return {"artifact-id": str(self._counter), "artifact-url": url}


class StepFailure(Exception):
    """A stand-in action failed as GitHub's would."""


def parse_key_values(text: str) -> dict[str, str]:
    """The ``name=value`` and ``name<<DELIMITER`` … ``DELIMITER`` lines of a GITHUB_OUTPUT / GITHUB_ENV file."""
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            values[key] = "\n".join(body)
        elif "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values
