"""The one restricted unpickler: pickles are loaded with an allow-list of globals, never more.

A pickle can run any code when it is loaded (a global such as ``os.system`` is looked up, then
called). :class:`RestrictedUnpickler` resolves only the globals of the allow-list it is given and
refuses every other one *when it is looked up*, before anything could be called. Callers bring
their allow-list (StyleGAN network pickles in :mod:`latentatlas.models.convert`, boundary files
in :mod:`latentatlas.directions.base`); :data:`NUMPY_GLOBALS` are the numpy rebuilders both need,
in checked forms (plain arrays, no object dtypes).
"""

from __future__ import annotations

import contextvars
import io
import math
import os
import pickle
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np

from latentatlas.utils.errors import CheckpointError

Allowed = Mapping[tuple[str, str], Any]

#: Bytes the pickle being loaded holds: no array it declares may be larger (an array's data
#: travels inside the pickle, so a larger declared shape can only be an attack or corruption).
_PICKLE_BYTES: contextvars.ContextVar[int | None] = contextvars.ContextVar("_PICKLE_BYTES",
                                                                           default=None)


def _check_declared_size(shape: Any, dtype: Any) -> None:
    """Refuse an array whose declared size exceeds the bytes of the pickle it comes from, before
    numpy allocates it."""
    try:
        dims = [int(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,))]
        itemsize = np.dtype(dtype).itemsize
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"array with a malformed shape / dtype ({e})") from None
    if any(d < 0 for d in dims):
        raise CheckpointError(f"array with a negative dimension {tuple(dims)}")
    nbytes = math.prod(dims) * itemsize
    limit = _PICKLE_BYTES.get()
    if limit is not None and nbytes > limit:
        raise CheckpointError(
            f"an array declares shape {tuple(dims)} ({nbytes} bytes), more than the whole pickle "
            f"holds ({limit} bytes): corrupt or hostile file; nothing was allocated")


def _safe_reconstruct(cls: Any, shape: Any, dtype_code: Any) -> np.ndarray:
    if cls is not np.ndarray:
        raise CheckpointError(f"refusing to rebuild array subclass {cls!r}")
    _check_declared_size(shape, dtype_code)
    return np.ndarray.__new__(np.ndarray, shape, dtype_code)


def _safe_frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise CheckpointError("refusing an object-dtype buffer")
    _check_declared_size(shape, dtype)
    arr = np.frombuffer(bytes(buf), dtype=dtype)
    return arr.reshape(shape, order="F" if order == "F" else "C").copy()


def _numpy_scalar_fn() -> Any:
    core = getattr(np, "_core", None)
    mod = getattr(core, "multiarray", None) if core is not None else None
    if mod is None:  # numpy < 2
        mod = np.core.multiarray  # type: ignore[attr-defined]
    return mod.scalar


def _safe_scalar(dtype: Any, *args: Any) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise CheckpointError(f"refusing numpy scalar of dtype {dtype!r}")
    return _numpy_scalar_fn()(dtype, *args)


#: numpy arrays, dtypes and scalars (numpy 1 and 2 module names), rebuilt by checked functions.
NUMPY_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{(mod, "_reconstruct"): _safe_reconstruct
       for mod in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(mod, "scalar"): _safe_scalar
       for mod in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(mod, "_frombuffer"): _safe_frombuffer
       for mod in ("numpy.core.numeric", "numpy._core.numeric")},
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals of ``allowed``; any other raises
    :class:`CheckpointError` naming it (``what`` says what the allow-list is for)."""

    def __init__(self, file: BinaryIO, allowed: Allowed, source: str = "<pickle>",
                 what: str = "plain data", encoding: str = "ASCII") -> None:
        super().__init__(file, encoding=encoding)
        self.source = source
        self.allowed = allowed
        self.what = what

    def find_class(self, module: str, name: str) -> Any:
        obj = self.allowed.get((module, name))
        if obj is None:
            raise CheckpointError(
                f"{self.source}: refusing to unpickle global '{module}.{name}': only {self.what} "
                "is allowed (refused: this file may run code when unpickled; nothing was executed)"
            )
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise CheckpointError(f"{self.source}: persistent ids ({pid!r}) are not allowed")


def restricted_load(data: bytes | str | os.PathLike, allowed: Allowed, source: str | None = None,
                    what: str = "plain data", encoding: str = "ASCII") -> Any:
    """Unpickle ``data`` (bytes, or a file path) with :class:`RestrictedUnpickler`.

    Refused globals and persistent ids raise :class:`CheckpointError`; so does a truncated or
    corrupt pickle (whatever exception the pickle machinery raised), and a numpy array that
    declares more bytes than the pickle holds (refused before allocation)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        source = source or "<bytes>"
        opened: Any = io.BytesIO(bytes(data))
        size = len(opened.getbuffer())
    else:
        source = source or str(data)
        opened = open(data, "rb")  # noqa: SIM115 - closed below
        size = os.fstat(opened.fileno()).st_size
    token = _PICKLE_BYTES.set(size)
    try:
        with opened as f:
            return RestrictedUnpickler(f, allowed, source, what, encoding).load()
    except CheckpointError as e:
        if str(e).startswith(source):
            raise
        raise CheckpointError(f"{source}: {e}") from e
    except Exception as e:  # truncated / corrupt pickles raise many different types
        raise CheckpointError(
            f"{source}: truncated or corrupt pickle ({type(e).__name__}: {e})"
        ) from e
    finally:
        _PICKLE_BYTES.reset(token)
