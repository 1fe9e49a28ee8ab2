"""The one restricted unpickler (latentatlas.io.unpickle), shared by checkpoint conversion and
boundary files: known answers for allowed data, refusals for everything else."""

from __future__ import annotations

import collections
import io
import os
import pickle

import numpy as np
import pytest

from latentatlas.directions.base import safe_unpickle as boundary_unpickle
from latentatlas.io.unpickle import NUMPY_GLOBALS, RestrictedUnpickler, restricted_load
from latentatlas.models.convert import safe_unpickle as network_unpickle
from latentatlas.utils.errors import CheckpointError

ALLOWED = {("collections", "OrderedDict"): collections.OrderedDict, **NUMPY_GLOBALS}


class _Hostile:
    def __reduce__(self):
        return (os.system, ("echo owned > hostile_marker.txt",))


def test_allowed_data_round_trips() -> None:
    payload = collections.OrderedDict(a=np.arange(6, dtype=np.float32).reshape(2, 3),
                                      b=np.float64(2.5), c=[1, "x", (2, 3)])
    for protocol in (4, pickle.HIGHEST_PROTOCOL):
        out = restricted_load(pickle.dumps(payload, protocol=protocol), ALLOWED)
        assert list(out) == ["a", "b", "c"] and isinstance(out, collections.OrderedDict)
        np.testing.assert_array_equal(out["a"], payload["a"])
        assert out["b"] == 2.5 and out["c"] == [1, "x", (2, 3)]


def test_non_allow_listed_globals_are_refused_before_anything_runs(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = pickle.dumps({"x": _Hostile()})
    with pytest.raises(CheckpointError, match=r"<bytes>: refusing to unpickle global '\w+\.sys"):
        restricted_load(data, ALLOWED)
    # The same refusal through both users of the shared unpickler, naming the file.
    path = tmp_path / "evil.pkl"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match="refus") as err:
        network_unpickle(path)
    assert str(path) in str(err.value)
    with pytest.raises(CheckpointError, match="refusing to unpickle"):
        boundary_unpickle(data, source="evil")
    # A global that is harmless but not on the list is refused too.
    with pytest.raises(CheckpointError, match="collections.Counter"):
        restricted_load(pickle.dumps(collections.Counter("ab")), ALLOWED)
    assert not (tmp_path / "hostile_marker.txt").exists()


def test_persistent_ids_subclasses_object_arrays_and_corruption_are_refused() -> None:
    class WithPid(pickle.Pickler):
        def persistent_id(self, obj):
            return "pid" if isinstance(obj, str) and obj == "ref" else None

    buf = io.BytesIO()
    WithPid(buf).dump(["ref"])
    with pytest.raises(CheckpointError, match="persistent ids"):
        RestrictedUnpickler(io.BytesIO(buf.getvalue()), ALLOWED).load()
    with pytest.raises(CheckpointError, match="refus"):
        restricted_load(pickle.dumps(np.ma.masked_array([1.0, 2.0])), ALLOWED)
    with pytest.raises(CheckpointError, match="array subclass"):  # the rebuilder's own check
        NUMPY_GLOBALS[("numpy._core.multiarray", "_reconstruct")](np.ma.MaskedArray, (0,), b"b")
    with pytest.raises(CheckpointError, match="system"):  # objects inside an object array
        restricted_load(pickle.dumps(np.array([_Hostile()], dtype=object)), ALLOWED)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        restricted_load(pickle.dumps({"a": 1})[:-3], ALLOWED)


class _HugeArray:
    """Pickles as numpy's own array rebuilder asked for 10 GB (an array's data travels in the
    pickle, so no honest pickle of a few hundred bytes can declare that)."""

    def __reduce__(self):
        return (_numpy_reconstruct(), (np.ndarray, (10**10,), b"b"))


class _HugeFrombuffer:
    def __reduce__(self):
        core = getattr(np, "_core", np.core)
        return (core.numeric._frombuffer, (b"\0" * 8, np.dtype("f4"), (10**9,), "C"))


def _numpy_reconstruct():
    core = getattr(np, "_core", None) or np.core
    return core.multiarray._reconstruct


@pytest.mark.parametrize("obj", [_HugeArray(), _HugeFrombuffer()])
def test_an_array_declaring_more_bytes_than_the_pickle_is_refused_before_allocation(obj):
    blob = pickle.dumps(obj)
    assert len(blob) < 1000
    with pytest.raises(CheckpointError, match=r"<bytes>: an array declares shape .* more than "
                                              r"the whole pickle holds"):
        restricted_load(blob, NUMPY_GLOBALS)
    # An honest array of the same kind still loads.
    arr = np.arange(1000, dtype=np.float32).reshape(10, 100)
    assert np.array_equal(restricted_load(pickle.dumps(arr), NUMPY_GLOBALS), arr)
