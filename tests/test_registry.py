"""The registries: model families (regtune.models) and output formats (regtune.report) are found by
their files; what the rest of regtune reads from them is declared there, once."""

from __future__ import annotations

import pytest

from regtune.models import (
    PIPELINE_TYPES,
    Family,
    Penalty,
    family_classes,
    get_family,
    loadable_types,
    model_names,
    model_penalties,
    model_settings,
)
from regtune.report import outputs


def test_the_registry_finds_every_family_and_serves_every_task() -> None:
    assert model_names()[:3] == ("linear", "sgd", "mlp")  # a new family adds itself after these
    for cls in family_classes():
        for task in cls.tasks:
            family = get_family(task, cls.model)
            assert isinstance(family, Family) and family.model == cls.model and task in family.tasks
    for model in ("linear", "sgd", "mlp"):
        assert {t for c in family_classes() if c.model == model for t in c.tasks} == {"regression", "classification"}
    assert model_penalties("mlp") == ("l2",)
    assert [s.name for s in model_settings("mlp")] == ["hidden", "early_stopping"]
    assert model_settings("linear") == ()


@pytest.mark.parametrize("cls", family_classes(), ids=lambda c: c.__name__)
def test_each_family_declares_what_the_rest_reads(cls: type[Family]) -> None:
    assert cls.model and cls.tasks and cls.summary and cls.loadable_types
    assert cls.loadable_types <= loadable_types() and loadable_types() >= PIPELINE_TYPES
    family = get_family(cls.tasks[0], cls.model)
    # One λ mapping: the estimator is built from native().
    penalty = Penalty.of(cls.penalties[0], 0.02, 0.5)
    native = family.native(penalty, 150)
    params = family.estimator(penalty, 150, 1e-4).get_params()
    assert all(params.get(k, params.get(f"regressor__{k}")) == pytest.approx(v) for k, v in native.items())
    assert family.native_name() in native
    assert family.label()
    if family.has_jacobian:
        assert family.own_loss and family.hyper_quantity("accuracy") == family.own_loss


def test_penalty_value_object() -> None:
    en = Penalty.of("elasticnet", 0.5, 0.2)
    assert (en.l1, en.l2) == pytest.approx((0.1, 0.4))
    assert Penalty.of("l1", 2.0).l1_ratio == 1.0 and Penalty.of("l2", 2.0).is_l2
    assert en.at(0.1) == Penalty("elasticnet", 0.1, 0.2)
    with pytest.raises(ValueError, match="needs an l1_ratio"):
        Penalty.of("elasticnet", 1.0)


def test_every_output_format_declares_its_option() -> None:
    names = [o.name for o in outputs()]
    builtin = ["json_out", "trials_csv", "plot", "report", "save_model", "summary_md", "coef", "curve"]
    assert [n for n in names if n in builtin] == builtin  # in writing order; a new format adds itself
    for output in outputs():
        assert output.setting.help and output.setting.panel == "Outputs"
        assert output.kind in ("file", "append", "console")
        assert set(output.commands) <= {"tune", "show"}
