"""Directions object: validation, indexing, native file round trips, InterFaceGAN / HiGAN interop,
and the restricted unpickler."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from latentatlas.directions import (
    Directions,
    load_higan,
    load_interfacegan,
    parse_layers,
    safe_unpickle,
    save_higan,
    save_interfacegan,
)
from latentatlas.utils.errors import CheckpointError, LatentAtlasError, ShapeError


def unit_rows(rng, *shape):
    v = rng.standard_normal(shape)
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def rich(rng) -> Directions:
    return Directions(
        unit_rows(rng, 3, 4, 8),
        "wp",
        names=["smile", "age", "pose"],
        layers=[[2, 3], None, "0-1"],
        intercepts=rng.standard_normal((3, 4)),
        method="svm",
        scores={"val_accuracy": [[0.9] * 4, [0.8] * 4, [0.7] * 4]},
        metadata={"model": "toy", "seed": 3, "nested": {"a": [1, 2]}},
    )


# ----------------------------------------------------------------------------- validation
def test_validation_errors(rng):
    good = unit_rows(rng, 2, 5)
    with pytest.raises(ShapeError, match="unit norm"):
        Directions(good * 2, "w")
    with pytest.raises(ShapeError, match="NaN"):
        Directions(np.full((1, 5), np.nan), "w")
    with pytest.raises(ShapeError, match="names"):
        Directions(good, "w", names=["a"])
    with pytest.raises(ShapeError, match="unique"):
        Directions(good, "w", names=["a", "a"])
    with pytest.raises(ShapeError, match="space='wp'"):
        Directions(unit_rows(rng, 1, 3, 5), "w")
    with pytest.raises(ShapeError, match="space"):
        Directions(good, "q")
    with pytest.raises(ShapeError, match="intercepts"):
        Directions(good, "w", intercepts=[1.0, 2.0, 3.0])
    with pytest.raises(ShapeError, match="out of range"):
        Directions(unit_rows(rng, 1, 3, 5), "wp", layers=[5])
    with pytest.raises(ShapeError, match="zero"):
        Directions(np.zeros((1, 5)), "w", normalize=True)
    # every error is a latentatlas error
    assert issubclass(ShapeError, LatentAtlasError)


def test_normalize_keeps_the_hyperplane(rng):
    raw = rng.standard_normal((1, 6)) * 3.0
    b = 1.7
    d = Directions(raw, "w", intercepts=[b], normalize=True)
    np.testing.assert_allclose(np.linalg.norm(d.vectors, axis=-1), 1.0, atol=1e-6)
    x = rng.standard_normal((20, 6))
    # the sign and zero set of n.x + b are unchanged; values scale by 1/||raw||
    np.testing.assert_allclose(
        d.signed_distance(x), (x @ raw[0] + b) / np.linalg.norm(raw), rtol=1e-5, atol=1e-6
    )


def test_indexing_and_layers(rich):
    assert len(rich) == 3 and rich.dim == 8 and rich.num_layers == 4 and rich.is_layerwise
    assert rich.index("age") == 1 and rich.index(-1) == 2
    np.testing.assert_array_equal(rich.vector("pose"), rich.vectors[2])
    assert rich.layers_of("smile") == (2, 3) and rich.layers_of("age") is None
    assert rich.layers_of("pose") == (0, 1)
    sub = rich[["pose", "smile"]]
    assert sub.names == ["pose", "smile"]
    np.testing.assert_array_equal(sub.vectors, rich.vectors[[2, 0]])
    np.testing.assert_array_equal(sub.intercepts, rich.intercepts[[2, 0]])
    np.testing.assert_array_equal(sub.scores["val_accuracy"], rich.scores["val_accuracy"][[2, 0]])
    assert sub.layers == [(0, 1), (2, 3)]
    assert rich["age"].layers is None
    with pytest.raises(KeyError, match="no direction named"):
        rich["nose"]
    assert parse_layers("0-2, 5") == (0, 1, 2, 5)
    assert parse_layers("") is None
    assert rich.with_layers("1-2").layers == (1, 2)


def test_concat(rng):
    a = Directions(unit_rows(rng, 2, 5), "w", names=["a", "b"], intercepts=[0.1, 0.2])
    b = Directions(unit_rows(rng, 1, 5), "w", names=["c"], scores={"acc": [0.5]})
    c = Directions.concat([a, b])
    assert c.names == ["a", "b", "c"]
    np.testing.assert_array_equal(c.intercepts, [0.1, 0.2, 0.0])
    assert np.isnan(c.scores["acc"][:2]).all() and c.scores["acc"][2] == 0.5
    with pytest.raises(ShapeError, match="concatenate"):
        Directions.concat([a, Directions(unit_rows(rng, 1, 5), "z")])


# ----------------------------------------------------------------------------- native format
def test_save_load_bit_identical(tmp_path, rich):
    path = rich.save(tmp_path / "dirs.safetensors")
    back = Directions.load(path)
    assert back.equals(rich)
    assert back.vectors.dtype == np.float32
    assert np.array_equal(back.vectors.view(np.uint32), rich.vectors.view(np.uint32))
    assert np.array_equal(back.intercepts, rich.intercepts)
    assert back.metadata == {"model": "toy", "seed": 3, "nested": {"a": [1, 2]}}
    # no temporary files left behind
    assert sorted(os.listdir(tmp_path)) == ["dirs.safetensors"]


def test_save_load_plain(tmp_path, rng):
    d = Directions(unit_rows(rng, 2, 7), "z")
    back = Directions.load(d.save(tmp_path / "d.safetensors"))
    assert back.equals(d) and back.intercepts is None and back.names == d.names


def test_load_errors(tmp_path, rng):
    with pytest.raises(CheckpointError, match="no such"):
        Directions.load(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(CheckpointError, match=str(bad.name)):
        Directions.load(bad)
    from safetensors.numpy import save_file

    other = tmp_path / "other.safetensors"
    save_file({"vectors": unit_rows(rng, 1, 3)}, str(other))
    with pytest.raises(CheckpointError, match="not a latentatlas directions file"):
        Directions.load(other)


# ----------------------------------------------------------------------------- InterFaceGAN
def test_interfacegan_import_export(tmp_path, rng):
    vec = unit_rows(rng, 1, 16)
    np.save(tmp_path / "smile_boundary.npy", vec)
    d = load_interfacegan(tmp_path / "smile_boundary.npy", space="w")
    assert d.names == ["smile"] and d.space == "w" and d.intercepts is None
    np.testing.assert_allclose(d.vectors, vec, atol=1e-7)

    d2 = Directions(vec, "w", names=["smile"], intercepts=[0.25])
    written = save_interfacegan(d2, tmp_path / "out")
    assert [p.name for p in written] == ["smile_boundary.npy", "smile_boundary_intercept.npy"]
    arr = np.load(written[0], allow_pickle=False)
    assert arr.shape == (1, 16) and arr.dtype == np.float32
    np.testing.assert_array_equal(arr, vec)
    back = load_interfacegan(written[0], space="w")  # picks up the intercept sidecar
    assert back.intercept(0) == pytest.approx(0.25)
    np.testing.assert_allclose(back.vectors, vec, atol=1e-7)


def test_interfacegan_rejects_bad_files(tmp_path, rng):
    np.save(tmp_path / "wp.npy", unit_rows(rng, 1, 3, 8))
    with pytest.raises(CheckpointError, match="load_higan"):
        load_interfacegan(tmp_path / "wp.npy")
    np.save(tmp_path / "two.npy", unit_rows(rng, 2, 8))
    with pytest.raises(CheckpointError, match=r"\(1, d\)"):
        load_interfacegan(tmp_path / "two.npy")
    (tmp_path / "junk.npy").write_bytes(b"not an npy file")
    with pytest.raises(CheckpointError, match="junk.npy"):
        load_interfacegan(tmp_path / "junk.npy")
    nan = np.full((1, 4), np.nan, dtype=np.float32)
    np.save(tmp_path / "nan.npy", nan)
    with pytest.raises(CheckpointError, match="NaN"):
        load_interfacegan(tmp_path / "nan.npy")


# ----------------------------------------------------------------------------- HiGAN
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_higan_pickled_dict_import(tmp_path, rng, protocol):
    boundary = unit_rows(rng, 1, 4, 8)
    payload = {
        "boundary": boundary,
        "meta_data": {"manipulate_layers": "2-3", "psi": np.float64(0.7), "note": "x"},
    }
    pkl = tmp_path / "clouds_boundary.pkl"
    pkl.write_bytes(pickle.dumps(payload, protocol=protocol))
    d = load_higan(pkl)
    assert d.space == "wp" and d.names == ["clouds"] and d.layers == (2, 3)
    np.testing.assert_allclose(d.vectors, boundary, atol=1e-7)
    assert d.metadata["higan_meta_data"]["psi"] == 0.7


def test_higan_npy_dict_and_array(tmp_path, rng):
    boundary = unit_rows(rng, 1, 4, 8)
    holder = np.empty((), dtype=object)
    holder[()] = {"boundary": boundary, "meta_data": {"manipulate_layers": [0, 1]}}
    np.save(tmp_path / "view_boundary.npy", holder, allow_pickle=True)
    d = load_higan(tmp_path / "view_boundary.npy")
    assert d.layers == (0, 1) and d.names == ["view"]
    np.testing.assert_allclose(d.vectors, boundary, atol=1e-7)
    # plain (1, L, d) and (1, d) arrays
    np.save(tmp_path / "plain.npy", boundary)
    assert load_higan(tmp_path / "plain.npy").vectors.shape == (1, 4, 8)
    np.save(tmp_path / "flat.npy", boundary[:, 0])
    flat = load_higan(tmp_path / "flat.npy")
    assert flat.space == "w" and flat.vectors.shape == (1, 8)


def test_higan_export_round_trip(tmp_path, rich):
    path = save_higan(rich, tmp_path / "smile.npy", key="smile")
    raw = np.load(path, allow_pickle=True).item()  # what HiGAN's manipulate.py does
    assert set(raw) == {"boundary", "meta_data"}
    assert raw["boundary"].shape == (1, 4, 8)
    assert raw["meta_data"]["manipulate_layers"] == "2,3"
    back = load_higan(path)
    assert back.layers == (2, 3)
    np.testing.assert_allclose(back.vectors, rich.vectors[:1], atol=1e-7)


class _Hostile:
    def __reduce__(self):
        return (os.system, ("echo owned > hostile_marker.txt",))


def test_hostile_pickles_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pkl = tmp_path / "evil.pkl"
    pkl.write_bytes(pickle.dumps({"boundary": _Hostile(), "meta_data": {}}))
    with pytest.raises(CheckpointError, match="refusing to unpickle"):
        load_higan(pkl)
    holder = np.empty((), dtype=object)
    holder[()] = {"boundary": _Hostile()}
    np.save(tmp_path / "evil.npy", holder, allow_pickle=True)
    with pytest.raises(CheckpointError, match="refusing"):
        load_higan(tmp_path / "evil.npy")
    with pytest.raises(CheckpointError):
        load_interfacegan(tmp_path / "evil.npy")
    assert not (tmp_path / "hostile_marker.txt").exists()
    # an ndarray subclass is refused too (only plain arrays are rebuilt)
    with pytest.raises(CheckpointError):
        safe_unpickle(pickle.dumps(np.ma.masked_array([1.0, 2.0])))
    with pytest.raises(CheckpointError, match="corrupt"):
        safe_unpickle(pickle.dumps({"a": 1})[:-3])
