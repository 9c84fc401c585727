"""Model files: the refit pipeline of a result, saved safely, and predictions from it.

A regtune model file is a zip archive with three members:

- ``regtune-model.json``: what the model needs and promises: format (``regtune.model/1``), regtune and
  scikit-learn versions, task, target, the family (``poisson``, ``tweedie:1.5`` …) and its offset column
  (``offset``: column and kind, ``offset`` or ``exposure``; null without one), the training columns (name,
  kind, dtype) in order, the classes and the prediction columns;
- ``result.json``: the ``regtune.result/2`` document of the run that chose the model;
- ``pipeline.skops``: the refit scikit-learn Pipeline (preprocessing + estimator), written by ``skops.io``;
- ``linear.json`` (a linear model: least squares, logistic regression, the log-link GLMs): the same model
  as plain numbers — the encoding's statistics (:meth:`regtune.preprocess.Encoder.to_dict`), the
  coefficients, intercepts, classes and the link — from which ``regtune predict`` computes the same
  predictions without importing scikit-learn or skops (≈4 s of a 6 s ``predict`` on a small machine);
- ``network.json`` (``--model mlp``): the network as plain numbers — the encoding, the layers' weights and
  intercepts, the output activation, the target's mean and scale (regression) or the classes — from
  which ``regtune predict`` computes the pipeline's predictions in NumPy, as the training did
  (:mod:`regtune.models._adam`).

Loading never runs code from the file: the skops archive is inspected first and refused unless every
type in it is one of :func:`allowed_types` (the types regtune's pipelines are built from); only then is
it loaded (on first use of :attr:`SavedModel.pipeline`), trusting exactly those types. The metadata holds
the SHA-256 of both model members, so neither can be changed without the other. A file from another
regtune version is refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regtune.errors import DataError, ModelError, named

if TYPE_CHECKING:
    import pandas as pd

    from regtune.result import TuneResult

FORMAT = "regtune.model/1"
META = "regtune-model.json"
RESULT = "result.json"
PIPELINE = "pipeline.skops"
LINEAR = "linear.json"
NETWORK = "network.json"
SAVE_HINT = "save one with `regtune tune DATA --save-model PATH`"


def allowed_types() -> frozenset[str]:
    """Every type a regtune pipeline is made of: the preprocessing's and every registered family's
    (``Family.loadable_types``; checked for every model and task by the tests)."""
    from regtune.models import loadable_types

    return loadable_types()


@dataclass
class SavedModel:
    """A loaded model file: its metadata, the result document of its run, the linear model or the network
    in plain numbers (None for other models), and the pipeline, loaded from the skops member on first use."""

    meta: dict[str, Any]
    result: dict[str, Any]
    #: Where it was loaded from (for messages).
    source: str = "the model file"
    #: The skops member (its types already checked against :func:`allowed_types`).
    skops_data: bytes = field(default=b"", repr=False)
    linear: dict[str, Any] | None = None
    network: dict[str, Any] | None = None
    _pipeline: Any = field(default=None, init=False, repr=False)

    @property
    def pipeline(self) -> Any:
        """The refit scikit-learn Pipeline, trusting exactly the allowed types found in the file."""
        if self._pipeline is None:
            import skops.io

            allowed = allowed_types()
            try:
                trusted = [t for t in skops.io.get_untrusted_types(data=self.skops_data) if t in allowed]
                self._pipeline = skops.io.loads(self.skops_data, trusted=trusted)
            except Exception as exc:  # skops raises many kinds on a damaged or forged archive
                raise ModelError(f"{self.source} cannot be loaded ({type(exc).__name__}: {exc}): {SAVE_HINT}") from None
        return self._pipeline

    @property
    def columns(self) -> list[str]:
        return [c["name"] for c in self.meta["columns"]]


def model_bytes(result: TuneResult) -> bytes:
    """The model file of ``result`` (its refit pipeline, what it was trained on, and the result JSON)."""
    import numpy as np
    import sklearn
    import skops.io

    from regtune import __version__
    from regtune.errors import ConfigError

    if result.model is None:
        raise ConfigError("this result has no refit model (a stored study): run `regtune tune --save-model PATH`")
    d = result.dataset
    estimator = result.model[-1]
    classes = np.asarray(estimator.classes_).tolist() if d["task"] == "classification" else None
    data = result.refit_context.dataset if result.refit_context is not None else None
    read_as = result.read_as
    offset = None
    if data is not None and data.offset_column is not None:
        offset = {"column": data.offset_column, "kind": data.offset_kind}
    columns = [{"name": c, "kind": "numeric", "dtype": "float64"} for c in d["numeric"]]
    columns += [{"name": c, "kind": "categorical", "dtype": "str", "read_as": read_as.get(c)} for c in d["categorical"]]
    order = {name: i for i, name in enumerate(result.model[0].feature_names_in_)}
    columns.sort(key=lambda c: order[c["name"]])
    meta = {
        "format": FORMAT,
        "regtune_version": __version__,
        "scikit-learn_version": sklearn.__version__,
        "task": d["task"],
        "target": d["target"],
        "family": result.family,
        "offset": offset,
        "columns": columns,
        "classes": classes,
        "prediction_columns": prediction_columns(classes),
        "chosen": result.chosen.to_dict(),
    }
    members = {PIPELINE: skops.io.dumps(result.model)}
    form = linear_form(result.model) if result.model_info.get("type") == "linear" else None
    if form is not None:
        members[LINEAR] = json.dumps(form).encode()
    network = network_form(result.model) if result.model_info.get("type") == "mlp" else None
    if network is not None:
        members[NETWORK] = json.dumps(network).encode()
    meta["sha256"] = {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(META, json.dumps(meta, indent=2))
        archive.writestr(RESULT, json.dumps(result.to_dict(), indent=2, allow_nan=False))
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def linear_form(pipeline: Any) -> dict[str, Any] | None:
    """A linear pipeline as plain numbers: its encoding, coefficients (a row per class row), intercepts,
    classes, and link (``identity``; ``log`` for the log-link GLMs; ``logistic`` with one row of
    coefficients for two classes, ``softmax`` with one per class). None for any other model."""
    import numpy as np

    from regtune.preprocess import Encoder

    model = pipeline[-1]
    if not hasattr(model, "coef_"):
        return None
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
    classes = getattr(model, "classes_", None)
    if classes is not None:
        link = "logistic" if coef.shape[0] == 1 else "softmax"
    else:
        link = "log" if type(model).__name__ == "LogLinkRegressor" else "identity"
    return {
        "encoder": Encoder.from_sklearn(pipeline[0]).to_dict(),
        "coef": coef.tolist(),
        "intercept": np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64)).tolist(),
        "classes": None if classes is None else np.asarray(classes).tolist(),
        "link": link,
    }


def predict_linear(form: dict[str, Any], X: pd.DataFrame, offset: Any = None) -> tuple[Any, Any]:
    """(predictions, class probabilities or None) of :func:`linear_form`'s model for the coerced rows ``X``
    (ValueError, IndexError or KeyError when the form's shapes do not agree)."""
    import numpy as np

    from regtune.models._base import LinearFit
    from regtune.models._glm import FoldFit
    from regtune.models.logistic import LogisticFit
    from regtune.preprocess import Encoder

    encoder = Encoder.from_dict(form["encoder"])
    coef = np.asarray(form["coef"], dtype=np.float64)
    intercept = np.asarray(form["intercept"], dtype=np.float64)
    link, classes = form["link"], form["classes"]
    if coef.ndim != 2 or coef.shape[1] != encoder.scale.shape[0] or intercept.shape != (coef.shape[0],):  # type: ignore[union-attr]
        raise ValueError(f"coefficients of shape {coef.shape} for {encoder.scale.shape[0]} encoded columns")  # type: ignore[union-attr]
    Z = encoder.transform(X)
    # The fold models' own predict: one implementation per link.
    if link == "identity" and coef.shape[0] == 1:
        return LinearFit(coef[0], float(intercept[0])).predict(Z), None
    if link == "log" and coef.shape[0] == 1:
        return FoldFit(coef[0], float(intercept[0])).predict(Z, offset), None
    labels = np.asarray(classes)
    if (link == "logistic" and len(labels) == 2 and coef.shape[0] == 1) or (
        link == "softmax" and len(labels) == coef.shape[0]
    ):
        model = LogisticFit(coef, intercept, labels)
        return model.predict(Z), model.predict_proba(Z)
    raise ValueError(f"link {link!r} with {len(labels)} classes and {coef.shape[0]} coefficient rows")


def network_form(pipeline: Any) -> dict[str, Any] | None:
    """A network's pipeline (``--model mlp``) as plain numbers: its encoding, each layer's weights and
    intercepts, the output activation, and the target's mean and scale (a regression network is fitted
    to the standardized target) or the classes. None for any other model."""
    import numpy as np

    from regtune.preprocess import Encoder

    model = pipeline[-1]
    net = getattr(model, "regressor_", model)
    if not hasattr(net, "coefs_") or net.activation != "relu":
        return None
    target = None
    if net is not model:
        target = {"mean": float(model.transformer_.mean_[0]), "scale": float(model.transformer_.scale_[0])}
    classes = getattr(model, "classes_", None)
    return {
        "encoder": Encoder.from_sklearn(pipeline[0]).to_dict(),
        "coefs": [np.asarray(w, dtype=np.float64).tolist() for w in net.coefs_],
        "intercepts": [np.asarray(b, dtype=np.float64).tolist() for b in net.intercepts_],
        "output": net.out_activation_,
        "target": target,
        "classes": None if classes is None else np.asarray(classes).tolist(),
    }


def predict_network(form: dict[str, Any], X: pd.DataFrame) -> tuple[Any, Any]:
    """(predictions, class probabilities or None) of :func:`network_form`'s model for the coerced rows ``X``
    (ValueError, TypeError or KeyError when the form's shapes do not agree)."""
    import math

    import numpy as np

    from regtune.models._adam import Network
    from regtune.models.mlp import NetworkClassifier, NetworkRegressor
    from regtune.preprocess import Encoder

    encoder = Encoder.from_dict(form["encoder"])
    coefs = [np.asarray(w, dtype=np.float64) for w in form["coefs"]]
    intercepts = [np.asarray(b, dtype=np.float64) for b in form["intercepts"]]
    width = encoder.scale.shape[0]  # type: ignore[union-attr]
    if not coefs or len(coefs) != len(intercepts):
        raise ValueError(f"{len(coefs)} weight matrices for {len(intercepts)} intercept vectors")
    for w, b in zip(coefs, intercepts, strict=True):
        if w.ndim != 2 or w.shape[0] != width or b.shape != (w.shape[1],):
            raise ValueError(f"a layer of shape {w.shape} (intercepts {b.shape}) after {width} columns")
        width = w.shape[1]
    output, classes, target = form["output"], form["classes"], form["target"]
    net = Network(coefs, intercepts, output, 0, True, 0, math.nan)
    Z = encoder.transform(X)
    if output == "identity" and width == 1 and classes is None and target is not None:
        model = NetworkRegressor(net, float(target["mean"]), float(target["scale"]), math.nan)
        return model.predict(Z), None
    labels = np.asarray(classes if isinstance(classes, list) else [])
    if (output == "logistic" and width == 1 and labels.size == 2) or (output == "softmax" and width == labels.size > 2):
        classifier = NetworkClassifier(net, labels)
        return classifier.predict(Z), classifier.predict_proba(Z)
    raise ValueError(f"output {output!r} with {width} outputs and classes {classes!r}")


def save_model(result: TuneResult, path: str | Path) -> None:
    """Write the model file of ``result`` to ``path`` (atomically; through a link or into a device)."""
    from regtune.report._output import write_output

    write_output(str(path), model_bytes(result))


def prediction_columns(classes: list[Any] | None) -> list[str]:
    """``prediction`` (the value or the class), then ``proba_<class>`` per class for a classifier."""
    if classes is None:
        return ["prediction"]
    return ["prediction", *(f"proba_{c}" for c in classes)]


#: Largest uncompressed sizes read from a model file: the metadata and result documents, and the skops
#: pipeline (with every member inside it). Checked before anything is decompressed, so a small archive
#: that would expand to gigabytes (a zip bomb) is refused at once.
MAX_DOCUMENT_BYTES = 64 * 2**20
MAX_PIPELINE_BYTES = 2 * 2**30
#: A member larger than this must not expand more than MAX_RATIO times (numbers compress about 1-3×).
RATIO_FLOOR_BYTES = 16 * 2**20
MAX_RATIO = 100


def _check_sizes(archive: zipfile.ZipFile, where: str, limits: dict[str, int], default: int) -> None:
    """Refuse members whose declared size is over their limit or whose expansion is implausible
    (``zipfile`` never reads past the declared size, so checking it bounds the memory used)."""
    total = 0
    for info in archive.infolist():
        total += info.file_size
        limit = limits.get(info.filename, default)
        ratio = info.file_size / max(info.compress_size, 1)
        if (
            info.file_size > limit
            or total > MAX_PIPELINE_BYTES
            or (info.file_size > RATIO_FLOOR_BYTES and ratio > MAX_RATIO)
        ):
            raise ModelError(
                f"{where} is refused: its member {info.filename!r} would expand to {info.file_size / 2**20:.0f} MiB"
                f" ({ratio:.0f}× its stored size); a regtune model file is far smaller: {SAVE_HINT}"
            )


def types_in(skops_data: bytes, where: str = "the model file") -> set[str]:
    """Every ``module.class`` named in a skops archive's schema (what loading it would build)."""
    with zipfile.ZipFile(io.BytesIO(skops_data)) as archive:
        _check_sizes(archive, where, {}, MAX_PIPELINE_BYTES)
        schema = json.loads(archive.read("schema.json"))
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__class__" in node:
                found.add(f"{node.get('__module__')}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _meta_problem(meta: Any, result: Any) -> str | None:
    """What is wrong with a model file's metadata (the fields :func:`predict` relies on), or None."""
    if not isinstance(meta, dict):
        return f"its metadata is a {type(meta).__name__}, not an object"
    if meta.get("task") not in ("regression", "classification"):
        return f"its metadata has no valid task ({meta.get('task')!r})"
    columns = meta.get("columns")
    if not isinstance(columns, list) or not columns:
        return "its metadata lists no columns"
    for column in columns:
        if not (isinstance(column, dict) and isinstance(column.get("name"), str)) or column.get("kind") not in (
            "numeric",
            "categorical",
        ):
            return f"its metadata has a malformed column ({str(column)[:60]})"
    predicted = meta.get("prediction_columns")
    if not isinstance(predicted, list) or not all(isinstance(c, str) for c in predicted):
        return "its metadata lists no prediction columns"
    classes = meta.get("classes")
    if meta["task"] == "classification" and (not isinstance(classes, list) or len(predicted) != len(classes) + 1):
        return "its metadata's classes do not match its prediction columns"
    offset = meta.get("offset")
    if offset is not None and not (
        isinstance(offset, dict)
        and isinstance(offset.get("column"), str)
        and offset.get("kind") in ("offset", "exposure")
    ):
        return "its metadata has a malformed offset"
    if not isinstance(result, dict):
        return "its result document is not an object"
    return None


def load_model(path: str | Path) -> SavedModel:
    """Load a model file written by :func:`save_model`, refusing anything else (see the module docstring)."""
    import zlib

    from regtune import __version__

    where = str(path)
    file = Path(path)
    if not file.exists():
        raise DataError(f"model file not found: {where} (check the path)")
    if file.is_dir() or not zipfile.is_zipfile(file):
        raise ModelError(f"{where} is not a regtune model file: {SAVE_HINT}")
    damaged = (
        zipfile.BadZipFile,
        json.JSONDecodeError,
        UnicodeDecodeError,
        OSError,
        EOFError,
        zlib.error,
        RecursionError,
    )
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
            if not {META, RESULT, PIPELINE} <= names:
                raise ModelError(f"{where} is not a regtune model file: {SAVE_HINT}")
            _check_sizes(archive, where, {META: MAX_DOCUMENT_BYTES, RESULT: MAX_DOCUMENT_BYTES}, MAX_PIPELINE_BYTES)
            meta = json.loads(archive.read(META))
            result = json.loads(archive.read(RESULT))
            data = archive.read(PIPELINE)
            linear_data = archive.read(LINEAR) if LINEAR in names else None
            network_data = archive.read(NETWORK) if NETWORK in names else None
    except (*damaged, NotImplementedError, RuntimeError) as exc:  # RuntimeError: an encrypted member
        raise ModelError(f"{where} is damaged ({type(exc).__name__}): {SAVE_HINT}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        shown = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ModelError(f"{where} is not a regtune model file (format {shown!r}): {SAVE_HINT}")
    if meta.get("regtune_version") != __version__:
        raise ModelError(
            f"{where} was saved by regtune {meta.get('regtune_version')}, this is regtune {__version__}:"
            " save the model again with this version"
        )
    problem = _meta_problem(meta, result)
    if problem is not None:
        raise ModelError(f"{where} is damaged ({problem}): {SAVE_HINT}")
    try:
        found = types_in(data, where)
    except (*damaged, KeyError, NotImplementedError, RuntimeError) as exc:
        raise ModelError(f"{where} is damaged ({type(exc).__name__}): {SAVE_HINT}") from None
    allowed = allowed_types()
    refused = sorted(found - allowed)
    if refused:
        raise ModelError(
            f"{where} holds types regtune does not load ({', '.join(refused)}): it was not written by regtune,"
            " so it is refused"
        )
    problem = _digest_problem(meta, {PIPELINE: data, LINEAR: linear_data, NETWORK: network_data})
    if problem is not None:
        raise ModelError(f"{where} is damaged ({problem}): {SAVE_HINT}")
    forms: dict[str, dict[str, Any] | None] = {}
    for name, raw in ((LINEAR, linear_data), (NETWORK, network_data)):
        try:
            form = None if raw is None else json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise ModelError(f"{where} is damaged ({type(exc).__name__}): {SAVE_HINT}") from None
        if form is not None and not isinstance(form, dict):
            raise ModelError(f"{where} is damaged (its {name} is not an object): {SAVE_HINT}")
        forms[name] = form
    return SavedModel(
        meta=meta, result=result, source=where, skops_data=data, linear=forms[LINEAR], network=forms[NETWORK]
    )


def _digest_problem(meta: dict[str, Any], members: dict[str, bytes | None]) -> str | None:
    """Which model member does not match the SHA-256 the metadata records for it, or None."""
    digests = meta.get("sha256")
    if not isinstance(digests, dict):
        return "its metadata has no checksums"
    for name, data in members.items():
        expected = digests.get(name)
        if data is None and expected is None:
            continue
        if data is None or expected != hashlib.sha256(data).hexdigest():
            return f"its {name} does not match the checksum in its metadata"
    return None


def _as_at_training(series: pd.Series, read_as: str | None) -> pd.Series:
    """Numeric codes of a categorical column as they were read at training, so that they become the same
    text: a column read as float64 there (it had gaps) gives "3.0", one read as int64 gives "3"."""
    import numpy as np
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if read_as is None or not numeric:
        return series
    if read_as.startswith("float") and not pd.api.types.is_float_dtype(series):
        return series.astype(np.float64)
    if read_as.startswith("int") and pd.api.types.is_float_dtype(series):
        present = series.dropna()
        if bool((present % 1 == 0).all()):
            return series.astype("Int64")
    return series


@dataclass
class Prediction:
    """Predictions, one row per input row in the input's order, and the input columns left unused."""

    frame: pd.DataFrame
    ignored: list[str]


def predict(model: SavedModel, frame: pd.DataFrame, id_column: str | None = None) -> Prediction:
    """Apply ``model`` to the rows of ``frame``.

    The model's training columns must all be present (extra columns are ignored and listed); they are
    converted as at training (numbers to float64, categories to text). A model fitted with an offset or
    exposure needs that column too: its predictions are means for each row's exposure. The output holds ``id_column``
    (when given), ``prediction``, and for a classifier ``proba_<class>`` for each class.
    """
    import pandas as pd

    from regtune.data import coerce_features
    from regtune.preprocess import quiet_unknown_categories

    frame.columns = [str(c) for c in frame.columns]
    offset = model.meta.get("offset")
    wanted = model.columns + ([offset["column"]] if offset else [])
    if id_column is not None and id_column not in frame.columns:
        raise DataError(f"{named('id_column')} column {id_column!r} not found in the data: give one of its columns")
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(
            f"the data lacks the model's column(s) {', '.join(repr(c) for c in missing)}:"
            " add them (the model was trained on " + ", ".join(wanted) + ")"
        )
    ignored = [c for c in frame.columns if c not in wanted and c != id_column]
    kinds = {c["name"]: c["kind"] for c in model.meta["columns"]}
    X = frame[model.columns].copy()
    for column in model.meta["columns"]:
        X[column["name"]] = _as_at_training(X[column["name"]], column.get("read_as"))
    X = coerce_features(
        X,
        numeric=[c for c in model.columns if kinds[c] == "numeric"],
        categorical=[c for c in model.columns if kinds[c] == "categorical"],
    )
    out = pd.DataFrame(index=frame.index)
    if id_column is not None:
        out[id_column] = frame[id_column]
    values = None
    if offset:  # the mean for each row's exposure: the offset enters the linear predictor
        from regtune.data import offset_values

        flag = named(offset["kind"])
        values = offset_values(frame[offset["column"]], flag, None, log=offset["kind"] == "exposure")
    try:
        if model.linear is not None:
            out["prediction"], proba = predict_linear(model.linear, X, values)
        elif model.network is not None:
            out["prediction"], proba = predict_network(model.network, X)
        else:
            with quiet_unknown_categories():
                pipeline = model.pipeline
                kwargs = {} if values is None else {"offset": values}
                out["prediction"] = pipeline.predict(X, **kwargs)
                proba = pipeline.predict_proba(X) if model.meta["task"] == "classification" else None
        if (proba is None) != (model.meta["task"] == "regression") or (
            proba is not None and proba.shape[1] != len(model.meta["prediction_columns"]) - 1
        ):
            raise ValueError("its classes do not match its metadata's prediction columns")
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        # A pipeline that does not match its own metadata (a coefficient array of the wrong shape).
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{model.source} cannot predict ({first}): it is damaged; {SAVE_HINT}") from None
    if proba is not None:
        for k, name in enumerate(model.meta["prediction_columns"][1:]):
            out[name] = proba[:, k]
    return Prediction(frame=out.reset_index(drop=True), ignored=ignored)
