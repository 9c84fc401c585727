"""Settings declared once (regtune.settings, regtune.config): validation that names the setting, the
settings file's keys, model settings, and the command line built from the same declarations."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from regtune.cli._common import flag_namer, known_settings
from regtune.config import TuneConfig, read_config
from regtune.errors import ConfigError


def test_every_field_is_declared_once_with_help_and_a_panel() -> None:
    declared = {d.name: d for d in TuneConfig.declarations()}
    assert set(declared) == {f.name for f in fields(TuneConfig)} - {"model_settings"}
    for decl in declared.values():
        assert decl.help and decl.panel and decl.type is not None, decl.name
        assert decl.default == getattr(TuneConfig(), decl.name) or decl.name == "penalties"


@pytest.mark.parametrize(
    "settings,python,cli",
    [
        ({"folds": 1}, "folds must be at least 2, got 1", "--folds must be at least 2, got 1"),
        ({"n_trials": 0}, "n_trials must be at least 1, got 0", "--n-trials must be at least 1, got 0"),
        ({"lambda_min": -1.0}, "lambda_min must be a positive number, got -1.0", None),
        ({"prune": False, "groups": "g", "fold_column": "f"}, "groups and fold_column both define the folds", None),
        ({"model": "sgd", "early_stopping": False}, "early_stopping=False applies to model mlp only",
         "--no-early-stopping applies to --model mlp only: add --model mlp, or drop --no-early-stopping"),
        ({"task": "banana"}, "unknown task 'banana': use auto, regression or classification", None),
        ({"search": "grid"}, "unknown search 'grid': use tpe, gradient or hybrid", None),
    ],
)  # fmt: skip
def test_errors_name_the_setting_and_the_cli_names_the_flag(
    settings: dict[str, object], python: str, cli: str | None
) -> None:
    with pytest.raises(ConfigError) as info:
        TuneConfig.of(**settings)
    assert str(info.value).startswith(python)
    if cli is not None:
        assert info.value.render(flag_namer()).startswith(cli)


def test_model_settings_travel_with_the_model_and_reset_with_another() -> None:
    mlp = TuneConfig.of(model="mlp", hidden=[8, 4], early_stopping=False)
    assert mlp.model_settings == {"hidden": (8, 4), "early_stopping": False}
    assert mlp.penalties == ("l2",)
    assert TuneConfig.of(model="mlp").model_settings == {"hidden": (), "early_stopping": True}
    assert mlp.with_(n_trials=5).model_settings == mlp.model_settings
    assert mlp.with_(model="linear", penalties=()).model_settings == {}
    assert TuneConfig.of(model="linear", early_stopping=True).model_settings == {}  # a default is no misuse
    with pytest.raises(ConfigError, match="unknown setting 'layers'"):
        TuneConfig.of(model="mlp", layers=(3,))


def test_settings_file_keys_are_names_or_flags_and_unknown_ones_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    known = list(known_settings().values())
    Path("regtune.toml").write_text('n-trials = 7\njson = "r.json"\npenalty = ["l1"]\nfold_column = "f"\n')
    found = read_config(None, known)
    assert found is not None
    assert found[1] == {"n_trials": 7, "json_out": "r.json", "penalties": ["l1"], "fold_column": "f"}
    Path("regtune.toml").write_text("n-trails = 7\n")
    with pytest.raises(ConfigError, match=r"unknown key 'n-trails' in regtune.toml \(did you mean n-trials\?\)"):
        read_config(None, known)
    Path("regtune.toml").unlink()
    Path("pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert read_config(None, known) is None  # a pyproject.toml without [tool.regtune] is not a settings file


def test_every_flag_of_tune_comes_from_a_declaration() -> None:
    """The CLI's options of `tune` are exactly the declared settings (run, models, outputs, CLI's own)."""
    from typer.main import get_command

    from regtune.cli import app

    tune = get_command(app).commands["tune"]  # type: ignore[attr-defined]
    params = {p.name for p in tune.params} - {"source", "help"}
    known = known_settings()
    assert params <= set(known), params - set(known)
    flags = {opt for p in tune.params for opt in (*p.opts, *p.secondary_opts)}
    for name in params:
        assert known[name].cli_flag in flags, name
