# ruff: noqa: E501 — the table of cases reads best one case a line
"""Damaged and hostile model files for ``regtune predict``: each refused in one line, before any large
read (a zip bomb) and without running anything from the file."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostile_support import assert_done, assert_refused, cli

from regtune.modelfile import LINEAR, META, NETWORK, PIPELINE, RESULT

Damage = Callable[[dict[str, bytes]], dict[str, bytes]]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A model file and rows to predict."""
    folder = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(3)
    d = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    d["y"] = d["a"] - d["c"] + rng.normal(scale=0.3, size=60)
    train = folder / "train.csv"
    d.to_csv(train, index=False)
    model = folder / "m.regtune"
    assert_done(cli(["tune", str(train), "-y", "y", "-n", "4", "--save-model", str(model)]))
    rows = folder / "rows.csv"
    d.drop(columns="y").head(5).to_csv(rows, index=False)
    return model, rows


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def pack(parts: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def meta_edit(edit: Callable[[dict[str, object]], object]) -> Damage:
    def damage(parts: dict[str, bytes]) -> dict[str, bytes]:
        meta = json.loads(parts[META])
        return {**parts, META: json.dumps(edit(meta)).encode()}

    return damage


def without(key: str) -> Damage:
    return meta_edit(lambda m: {k: v for k, v in m.items() if k != key})


def changed_pipeline(parts: dict[str, bytes]) -> dict[str, bytes]:
    """The pipeline's coefficients cut to one column; the metadata's checksum left as it was."""
    import skops.io

    from regtune.modelfile import allowed_types

    trusted = [t for t in skops.io.get_untrusted_types(data=parts[PIPELINE]) if t in allowed_types()]
    pipeline = skops.io.loads(parts[PIPELINE], trusted=trusted)
    estimator = pipeline[-1]
    estimator.coef_ = np.asarray(estimator.coef_)[..., :1]
    return {**parts, PIPELINE: skops.io.dumps(pipeline)}


def wrong_shape_coef(parts: dict[str, bytes]) -> dict[str, bytes]:
    """The linear form's coefficients cut to one column, with a checksum to match (a consistent forgery)."""
    form = json.loads(parts[LINEAR])
    form["coef"] = [row[:1] for row in form["coef"]]
    linear = json.dumps(form).encode()
    meta = json.loads(parts[META])
    meta["sha256"][LINEAR] = hashlib.sha256(linear).hexdigest()
    return {**parts, LINEAR: linear, META: json.dumps(meta).encode()}


def inner_bomb(parts: dict[str, bytes]) -> dict[str, bytes]:
    inner = members_of(parts[PIPELINE])
    inner["bomb.npy"] = bytes(200 * 2**20)
    return {**parts, PIPELINE: pack(inner)}


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


CASES: list[tuple[str, Damage, str]] = [
    ("metadata is a list", lambda p: {**p, META: b"[1, 2]"}, r"Error: .* is not a regtune model file \(format 'list'\)"),
    ("metadata lacks columns", without("columns"), r"Error: .* is damaged \(its metadata lists no columns\)"),
    ("metadata lacks task", without("task"), r"Error: .* is damaged \(its metadata has no valid task \(None\)\)"),
    ("metadata malformed column", meta_edit(lambda m: {**m, "columns": [{"kind": "numeric"}]}), r"Error: .* is damaged \(its metadata has a malformed column"),
    ("metadata not UTF-8", lambda p: {**p, META: json.dumps(json.loads(p[META])).encode("utf-8").replace(b'"task"', b'"t\xe9sk"')}, r"Error: .* is damaged \((UnicodeDecodeError|JSONDecodeError)\)"),
    ("result not an object", lambda p: {**p, RESULT: b"3"}, r"Error: .* is damaged \(its result document is not an object\)"),
    ("metadata malformed offset", meta_edit(lambda m: {**m, "offset": {"column": 3}}), r"Error: .* is damaged \(its metadata has a malformed offset\)"),
    ("metadata nested too deep", lambda p: {**p, META: b"[" * 100_000 + b"]" * 100_000}, r"Error: .* is damaged \(RecursionError\)"),
    ("coefficients of the wrong shape", wrong_shape_coef, r"Error: .* cannot predict \(.*\): it is damaged"),
    ("pipeline changed, not its checksum", changed_pipeline, r"Error: .* is damaged \(its pipeline\.skops does not match the checksum in its metadata\)"),
    ("linear form removed", lambda p: {k: v for k, v in p.items() if k != LINEAR}, r"Error: .* is damaged \(its linear\.json does not match the checksum in its metadata\)"),
    ("zip bomb inside the pipeline", inner_bomb, r"Error: .* is refused: its member 'bomb\.npy' would expand to 200 MiB"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "damage", "first"), CASES, ids=[c[0] for c in CASES])
def test_damaged_model_file(name: str, damage: Damage, first: str, saved: tuple[Path, Path], tmp_path: Path) -> None:
    model, rows = saved
    forged = tmp_path / "forged.regtune"
    forged.write_bytes(pack(damage(members(model))))
    assert_refused(cli(["predict", str(forged), str(rows)]), 1, first)


@pytest.fixture(scope="module")
def saved_network(saved: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``--model mlp`` model file of the same table."""
    model = tmp_path_factory.mktemp("network") / "n.regtune"
    train = saved[0].parent / "train.csv"
    assert_done(
        cli(["tune", str(train), "-y", "y", "--model", "mlp", "--hidden", "3", "-n", "2", "--save-model", str(model)])
    )
    return model


def _forged_network(parts: dict[str, bytes], edit: Callable[[dict[str, object]], None]) -> dict[str, bytes]:
    form = json.loads(parts[NETWORK])
    edit(form)
    network = json.dumps(form).encode()
    meta = json.loads(parts[META])
    meta["sha256"][NETWORK] = hashlib.sha256(network).hexdigest()
    return {**parts, NETWORK: network, META: json.dumps(meta).encode()}


NETWORK_CASES: list[tuple[str, Damage, str]] = [
    ("network form removed", lambda p: {k: v for k, v in p.items() if k != NETWORK}, r"Error: .* is damaged \(its network\.json does not match the checksum in its metadata\)"),
    ("a layer cut to one column", lambda p: _forged_network(p, lambda f: f.update(coefs=[[row[:1] for row in f["coefs"][0]], *f["coefs"][1:]])), r"Error: .* cannot predict \(a layer of shape .*\): it is damaged"),
    ("an output activation it never has", lambda p: _forged_network(p, lambda f: f.update(output="softmax")), r"Error: .* cannot predict \(output 'softmax' .*\): it is damaged"),
    ("a form that is a list", lambda p: _forged_network(p, lambda f: None) | {NETWORK: b"[1]"}, r"Error: .* is damaged \(its network\.json does not match the checksum in its metadata\)"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "damage", "first"), NETWORK_CASES, ids=[c[0] for c in NETWORK_CASES])
def test_damaged_network_model_file(
    name: str, damage: Damage, first: str, saved: tuple[Path, Path], saved_network: Path, tmp_path: Path
) -> None:
    forged = tmp_path / "forged.regtune"
    forged.write_bytes(pack(damage(members(saved_network))))
    assert_refused(cli(["predict", str(forged), str(saved[1])]), 1, first)


def test_a_corrupt_deflate_stream(saved: tuple[Path, Path], tmp_path: Path) -> None:
    model, rows = saved
    data = bytearray(model.read_bytes())
    with zipfile.ZipFile(model) as archive:
        info = archive.getinfo(PIPELINE)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 20, start + 60):
        data[i] ^= 0x5A
    forged = tmp_path / "deflate.regtune"
    forged.write_bytes(bytes(data))
    assert_refused(cli(["predict", str(forged), str(rows)]), 1, r"Error: .* is damaged \(\w+\)")


def test_a_zip_bomb_is_refused_before_it_is_read(saved: tuple[Path, Path], tmp_path: Path) -> None:
    """A member of 600 MiB of zeros, stored in well under 1 MiB: refused from its declared size."""
    model, rows = saved
    parts = members(model)
    forged = tmp_path / "bomb.regtune"
    with zipfile.ZipFile(forged, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(META, parts[META])
        archive.writestr(RESULT, parts[RESULT])
        with archive.open(PIPELINE, "w", force_zip64=True) as member:
            chunk = bytes(2**24)
            for _ in range(600 // 16):
                member.write(chunk)
    assert forged.stat().st_size < 2**20
    assert_refused(cli(["predict", str(forged), str(rows)]), 1, r"Error: .* is refused: its member 'pipeline\.skops'")


def test_inf_at_predict_time_is_one_line(saved: tuple[Path, Path], tmp_path: Path) -> None:
    model, rows = saved
    frame = pd.read_csv(rows)
    frame.loc[2, "b"] = np.inf
    bad = tmp_path / "inf.csv"
    frame.to_csv(bad, index=False)
    assert_refused(cli(["predict", str(model), str(bad)]), 1, r"Error: column 'b' holds inf \(infinite\)")
