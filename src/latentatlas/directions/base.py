"""The :class:`Directions` object every direction method returns, its file format and the
importers / exporters for InterFaceGAN and HiGAN boundary files.

File format
-----------
One ``.safetensors`` file. Tensors: ``vectors`` (float32 [K, d] or [K, L, d]), optionally
``intercepts`` (float64, shaped like ``vectors`` without the last axis) and ``scores.<metric>``
(float64, leading axis K). The safetensors header metadata holds ``format`` =
``"latentatlas.directions"``, ``format_version`` and ``json``: a JSON document with the space,
names, layers, method and free metadata. Nothing is pickled; loading executes nothing.

InterFaceGAN / HiGAN files
--------------------------
- InterFaceGAN boundaries are ``.npy`` arrays of shape (1, d) (unit normal, intercept discarded).
  We optionally read/write an intercept sidecar ``<stem>_intercept.npy`` (a scalar).
- HiGAN saves either plain (1, d) / (1, L, d) arrays or ``np.save`` of a dict
  ``{'boundary': array, 'meta_data': {'manipulate_layers': ...}}``: an object array whose payload is
  a pickle. We read that pickle with a restricted unpickler that only rebuilds numpy arrays, numpy
  scalars/dtypes and builtin containers; any other global is refused with :class:`CheckpointError`.

Over 600 lines: the Directions object, its safe unpickler and the InterFaceGAN / HiGAN formats.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from latentatlas.io.unpickle import NUMPY_GLOBALS, restricted_load
from latentatlas.utils.atomic import atomic_path, atomic_save_npy, to_json_text
from latentatlas.utils.errors import CheckpointError, ShapeError

SPACES = ("z", "w", "wp")
FORMAT_NAME = "latentatlas.directions"
FORMAT_VERSION = 1
#: Tolerance on ``| ||n|| - 1 |`` for stored float32 unit vectors.
UNIT_NORM_ATOL = 1e-4

LayerSpec = Sequence[int] | None
Key = int | str


# --------------------------------------------------------------------------- layer parsing
def parse_layers(spec: Any, num_layers: int | None = None, *, argname: str = "layers"):
    """Parse a layer selection into a sorted tuple of ints, or None (= all layers).

    Accepts None, an int, a sequence of ints, a ``range`` or a HiGAN-style string such as
    ``"0-3, 6"`` (inclusive dash ranges). An empty selection means all layers (None), as in HiGAN.
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        out: list[int] = []
        text = spec.replace(" ", "")
        if not text:
            return None
        for part in text.split(","):
            bounds = part.split("-")
            try:
                nums = [int(b) for b in bounds]
            except ValueError as e:
                raise ShapeError(f"{argname}: cannot parse layer spec {spec!r}") from e
            if len(nums) == 1:
                out.append(nums[0])
            elif len(nums) == 2 and nums[0] <= nums[1]:
                out.extend(range(nums[0], nums[1] + 1))
            else:
                raise ShapeError(f"{argname}: cannot parse layer spec {spec!r}")
        values = out
    elif isinstance(spec, (int, np.integer)):
        values = [int(spec)]
    else:
        try:
            raw = list(spec)
            values = [int(v) for v in raw]
            fractional = any(not float(v).is_integer() for v in raw)
        except (TypeError, ValueError) as e:
            raise ShapeError(f"{argname}: expected ints, got {spec!r}") from e
        if fractional:
            raise ShapeError(f"{argname}: layer indices must be integers, got {spec!r}")
    if not values:
        return None
    if min(values) < 0 or (num_layers is not None and max(values) >= num_layers):
        raise ShapeError(
            f"{argname}: layer indices {sorted(set(values))} out of range "
            f"[0, {num_layers if num_layers is not None else 'inf'})"
        )
    return tuple(sorted(set(values)))


def _jsonable(obj: Any) -> Any:
    """Convert numpy scalars / arrays / tuples inside metadata to plain JSON types."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, bytes):
        return obj.decode("latin1")
    return obj


# --------------------------------------------------------------------------- Directions
class Directions:
    """K latent directions with their space, names, layer selection, intercepts and scores.

    Parameters
    ----------
    vectors:
        float [K, d] (one unit vector per direction) or [K, L, d] (W+ per-layer directions,
        each layer's vector unit norm). A single [d] vector is accepted as K=1.
    space:
        ``"z"``, ``"w"`` or ``"wp"``. [K, L, d] vectors need ``"wp"``. [K, d] vectors with
        ``"wp"`` are applied identically to every selected layer.
    names:
        K unique names (default ``direction_0`` ...).
    layers:
        Which W+ layers an edit moves: None (all), one selection shared by all directions (an int,
        a sequence of ints, a ``"2-5"`` string), or a list of K such selections (one per direction).
    intercepts:
        Optional offsets b so that the signed distance of a code x to direction k's hyperplane is
        ``n_k . x + b_k``. Shape ``vectors.shape[:-1]`` ([K] or [K, L]).
    method:
        Which method produced the directions (e.g. ``"interfacegan_svm"``).
    scores:
        Training metrics: ``{metric: array with leading axis K}`` (e.g. ``val_accuracy``).
    metadata:
        Free JSON-serialisable dict.
    normalize:
        Rescale vectors to unit norm (intercepts are divided by the same norms so the
        hyperplanes stay the same) instead of rejecting non-unit input.
    """

    def __init__(
        self,
        vectors: Any,
        space: str,
        names: Sequence[str] | None = None,
        layers: Any = None,
        intercepts: Any = None,
        method: str = "manual",
        scores: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        normalize: bool = False,
    ) -> None:
        if space not in SPACES:
            raise ShapeError(f"space must be one of {SPACES}, got {space!r}")
        vec = np.array(vectors, dtype=np.float64 if normalize else np.float32, copy=True)
        if vec.ndim == 1:
            vec = vec[None]
        if vec.ndim not in (2, 3) or vec.shape[0] == 0 or vec.shape[-1] == 0:
            raise ShapeError(f"vectors must have shape [K, d] or [K, L, d], got {vec.shape}")
        if vec.ndim == 3 and space != "wp":
            raise ShapeError(f"per-layer vectors {vec.shape} need space='wp', got {space!r}")
        if not np.isfinite(vec).all():
            raise ShapeError("vectors contain NaN or Inf")
        norms = np.linalg.norm(vec.astype(np.float64), axis=-1)

        icpt = None
        if intercepts is not None:
            icpt = np.array(intercepts, dtype=np.float64, copy=True)
            if icpt.shape != vec.shape[:-1]:
                icpt = icpt.reshape(-1) if icpt.size == int(np.prod(vec.shape[:-1])) else icpt
                if icpt.size != int(np.prod(vec.shape[:-1])):
                    raise ShapeError(
                        f"intercepts must have shape {vec.shape[:-1]}, got {np.shape(intercepts)}"
                    )
                icpt = icpt.reshape(vec.shape[:-1])
            if not np.isfinite(icpt).all():
                raise ShapeError("intercepts contain NaN or Inf")

        if normalize:
            if (norms == 0).any():
                raise ShapeError("cannot normalise a zero direction vector")
            vec = vec / norms[..., None]
            if icpt is not None:
                icpt = icpt / norms
            vec = vec.astype(np.float32)
        else:
            bad = np.abs(norms - 1.0) > UNIT_NORM_ATOL
            if bad.any():
                raise ShapeError(
                    f"direction vectors must be unit norm (|norm - 1| <= {UNIT_NORM_ATOL}); "
                    f"norms range {norms.min():.6g}..{norms.max():.6g}. Pass normalize=True to "
                    "rescale them."
                )
        self.vectors: np.ndarray = np.ascontiguousarray(vec, dtype=np.float32)
        self.intercepts: np.ndarray | None = icpt
        self.space: str = space
        k = self.vectors.shape[0]

        if names is None:
            names = [f"direction_{i}" for i in range(k)]
        if isinstance(names, str):
            names = [names]
        names = [str(n) for n in names]
        if len(names) != k:
            raise ShapeError(f"got {len(names)} names for {k} directions")
        if len(set(names)) != k:
            raise ShapeError(f"direction names must be unique, got {names}")
        self.names: list[str] = names

        self._layer_sets: list[tuple[int, ...] | None] = self._parse_layer_arg(layers, k)
        self.method: str = str(method)

        self.scores: dict[str, np.ndarray] = {}
        for metric, values in (scores or {}).items():
            arr = np.array(values, dtype=np.float64, copy=True)
            if arr.ndim == 0 or arr.shape[0] != k:
                raise ShapeError(
                    f"scores[{metric!r}] must have a leading axis of length {k}, got {arr.shape}"
                )
            self.scores[str(metric)] = arr
        meta = _jsonable(dict(metadata or {}))
        try:
            json.dumps(meta, allow_nan=True)
        except TypeError as e:
            raise ShapeError(f"metadata must be JSON-serialisable: {e}") from e
        self.metadata: dict[str, Any] = meta

    def _parse_layer_arg(self, layers: Any, k: int) -> list[tuple[int, ...] | None]:
        nl = self.num_layers
        per_direction = (
            isinstance(layers, (list, tuple))
            and len(layers) == k
            and any(v is None or isinstance(v, (list, tuple, range, str)) for v in layers)
        )
        if per_direction:
            return [parse_layers(v, nl, argname=f"layers[{i}]") for i, v in enumerate(layers)]
        shared = parse_layers(layers, nl)
        return [shared] * k

    # ------------------------------------------------------------------ shape info
    @property
    def dim(self) -> int:
        """Latent dimension d."""
        return int(self.vectors.shape[-1])

    @property
    def num_layers(self) -> int | None:
        """L for per-layer [K, L, d] vectors, else None."""
        return int(self.vectors.shape[1]) if self.vectors.ndim == 3 else None

    @property
    def is_layerwise(self) -> bool:
        return self.vectors.ndim == 3

    @property
    def layers(self) -> tuple[int, ...] | None | list[tuple[int, ...] | None]:
        """The shared layer selection, or the per-direction list when they differ."""
        first = self._layer_sets[0]
        if all(s == first for s in self._layer_sets):
            return first
        return list(self._layer_sets)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.vectors.shape))
        return (
            f"Directions({shape}, space={self.space!r}, method={self.method!r}, "
            f"names={self.names[:6]}{'...' if len(self) > 6 else ''})"
        )

    # ------------------------------------------------------------------ indexing
    def index(self, key: Key) -> int:
        """Position of a direction given its name or (possibly negative) index."""
        if isinstance(key, (int, np.integer)):
            i = int(key)
            if not -len(self) <= i < len(self):
                raise IndexError(f"direction index {i} out of range for {len(self)} directions")
            return i % len(self)
        if isinstance(key, str):
            try:
                return self.names.index(key)
            except ValueError:
                raise KeyError(f"no direction named {key!r}; have {self.names}") from None
        raise TypeError(f"direction key must be a name or an int, not {type(key).__name__}")

    def vector(self, key: Key) -> np.ndarray:
        """The unit vector ([d] or [L, d]) of one direction."""
        return self.vectors[self.index(key)]

    def intercept(self, key: Key) -> float | np.ndarray | None:
        """The intercept (float, or [L] per layer) of one direction, or None."""
        if self.intercepts is None:
            return None
        b = self.intercepts[self.index(key)]
        return float(b) if np.ndim(b) == 0 else b

    def layers_of(self, key: Key) -> tuple[int, ...] | None:
        """The layer selection of one direction (None = all layers)."""
        return self._layer_sets[self.index(key)]

    def __getitem__(self, key: Key | slice | Sequence[Key]) -> Directions:
        """A new Directions with the selected direction(s): a name, an index, a slice or a list."""
        if isinstance(key, slice):
            idx = list(range(len(self)))[key]
        elif isinstance(key, (str, int, np.integer)):
            idx = [self.index(key)]
        else:
            idx = [self.index(k) for k in key]
        if not idx:
            raise KeyError("empty selection of directions")
        return Directions(
            self.vectors[idx],
            self.space,
            names=[self.names[i] for i in idx],
            layers=[self._layer_sets[i] for i in idx],
            intercepts=None if self.intercepts is None else self.intercepts[idx],
            method=self.method,
            scores={m: v[idx] for m, v in self.scores.items()},
            metadata=self.metadata,
        )

    def with_layers(self, layers: Any) -> Directions:
        """A copy with another layer selection (shared or one per direction)."""
        out = self[:]
        out._layer_sets = out._parse_layer_arg(layers, len(out))
        return out

    @classmethod
    def concat(cls, parts: Sequence[Directions], method: str | None = None) -> Directions:
        """Stack several Directions of the same space and shape into one."""
        if not parts:
            raise ShapeError("concat needs at least one Directions")
        first = parts[0]
        for p in parts[1:]:
            if p.space != first.space or p.vectors.shape[1:] != first.vectors.shape[1:]:
                raise ShapeError(
                    f"cannot concatenate {p.space} {p.vectors.shape[1:]} with "
                    f"{first.space} {first.vectors.shape[1:]}"
                )
        has_icpt = [p.intercepts is not None for p in parts]
        icpt = None
        if any(has_icpt):
            icpt = np.concatenate(
                [
                    p.intercepts if p.intercepts is not None else np.zeros(p.vectors.shape[:-1])
                    for p in parts
                ]
            )
        metrics = set().union(*(p.scores for p in parts))
        scores = {}
        for m in metrics:
            cols = []
            for p in parts:
                if m in p.scores:
                    cols.append(p.scores[m])
                else:
                    shape = next(q.scores[m].shape[1:] for q in parts if m in q.scores)
                    cols.append(np.full((len(p), *shape), np.nan))
            scores[m] = np.concatenate(cols)
        methods = {p.method for p in parts}
        return cls(
            np.concatenate([p.vectors for p in parts]),
            first.space,
            names=[n for p in parts for n in p.names],
            layers=[s for p in parts for s in p._layer_sets],
            intercepts=icpt,
            method=method or (methods.pop() if len(methods) == 1 else "mixed"),
            scores=scores,
            metadata={"parts": [p.metadata for p in parts]} if len(parts) > 1 else first.metadata,
        )

    def signed_distance(self, latents: Any, key: Key = 0) -> np.ndarray:
        """n . x + b for codes [N, d] (or [N, L, d] against per-layer vectors: [N, L])."""
        x = np.asarray(latents, dtype=np.float64)
        n = self.vector(key).astype(np.float64)
        b = self.intercept(key)
        if x.shape[-1] != self.dim:
            raise ShapeError(f"latents last axis {x.shape[-1]} != direction dim {self.dim}")
        dist = (x * n).sum(-1) if n.ndim == 2 else x @ n
        return dist + (0.0 if b is None else b)

    # ------------------------------------------------------------------ the linear walk
    def walk(self, latent: Any, alpha: Any, layers: Any = None, key: Key | None = None) -> Any:
        """The linear walk (the :class:`~latentatlas.directions.walks.Walk` protocol): codes
        moved by ``alpha`` along one direction, ``x + alpha n`` on its layer selection.

        ``latent``: [N, d] or [N, L, d], numpy or torch (returned in the same type, float32).
        ``alpha``: a number or one per code. ``layers``: None for the direction's own layer
        selection, else another one. ``key``: which direction (optional when there is one).
        Equal, bit for bit, to :func:`latentatlas.editing.move` (the offset edit)."""
        from latentatlas.directions.walks import linear_walk

        return linear_walk(self, latent, alpha, layers=layers, key=key)

    def equals(self, other: Directions) -> bool:
        """True when both hold bit-identical arrays and the same names/space/layers/metadata."""
        same_icpt = (self.intercepts is None) == (other.intercepts is None) and (
            self.intercepts is None or np.array_equal(self.intercepts, other.intercepts)
        )
        return (
            self.space == other.space
            and self.names == other.names
            and self._layer_sets == other._layer_sets
            and self.method == other.method
            and self.vectors.dtype == other.vectors.dtype
            and np.array_equal(self.vectors, other.vectors)
            and same_icpt
            and self.scores.keys() == other.scores.keys()
            and all(
                np.array_equal(v, other.scores[k], equal_nan=True) for k, v in self.scores.items()
            )
            and self.metadata == other.metadata
        )

    # ------------------------------------------------------------------ native file format
    def save(self, path: str | os.PathLike) -> Path:
        """Write one ``.safetensors`` file atomically (see the module docstring)."""
        from safetensors.numpy import save_file

        path = Path(path)
        tensors: dict[str, np.ndarray] = {"vectors": np.ascontiguousarray(self.vectors)}
        if self.intercepts is not None:
            tensors["intercepts"] = np.ascontiguousarray(self.intercepts)
        for metric, values in self.scores.items():
            tensors[f"scores.{metric}"] = np.ascontiguousarray(values)
        doc = {
            "space": self.space,
            "names": self.names,
            "layers": [None if s is None else list(s) for s in self._layer_sets],
            "method": self.method,
            "score_names": list(self.scores),
            "metadata": self.metadata,
        }
        header = {
            "format": FORMAT_NAME,
            "format_version": str(FORMAT_VERSION),
            "json": to_json_text(doc, indent=None),
        }
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=header)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Directions:
        """Read a file written by :meth:`save`; raises CheckpointError naming the file."""
        from safetensors import SafetensorError, safe_open

        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such directions file")
        try:
            with safe_open(str(path), framework="numpy") as f:
                header = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from e
        if header.get("format") != FORMAT_NAME:
            raise CheckpointError(
                f"{path}: not a latentatlas directions file (format={header.get('format')!r})"
            )
        try:
            version = int(header.get("format_version", "0"))
        except ValueError:
            version = -1
        if not 1 <= version <= FORMAT_VERSION:
            raise CheckpointError(
                f"{path}: directions format_version {header.get('format_version')!r} "
                f"unsupported (this latentatlas reads <= {FORMAT_VERSION})"
            )
        try:
            doc = json.loads(header["json"])
        except (KeyError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{path}: corrupt JSON header ({e})") from e
        if "vectors" not in tensors:
            raise CheckpointError(f"{path}: no 'vectors' tensor")
        try:
            return cls(
                tensors["vectors"],
                doc["space"],
                names=doc["names"],
                layers=doc.get("layers"),
                intercepts=tensors.get("intercepts"),
                method=doc.get("method", "manual"),
                scores={m: tensors[f"scores.{m}"] for m in doc.get("score_names", [])},
                metadata=doc.get("metadata", {}),
            )
        except (ShapeError, KeyError, TypeError) as e:
            raise CheckpointError(f"{path}: inconsistent directions file ({e})") from e

    # ------------------------------------------------------------------ interop
    @classmethod
    def from_interfacegan(
        cls,
        path: str | os.PathLike,
        name: str | None = None,
        space: str = "z",
        intercept: float | str | os.PathLike | None = None,
    ) -> Directions:
        """See :func:`load_interfacegan`."""
        return load_interfacegan(path, name=name, space=space, intercept=intercept)

    def to_interfacegan(self, folder: str | os.PathLike) -> list[Path]:
        """See :func:`save_interfacegan`."""
        return save_interfacegan(self, folder)

    @classmethod
    def from_higan(
        cls, path: str | os.PathLike, name: str | None = None, space: str | None = None
    ) -> Directions:
        """See :func:`load_higan`."""
        return load_higan(path, name=name, space=space)

    def to_higan(self, path: str | os.PathLike, key: Key = 0, with_meta: bool = True) -> Path:
        """See :func:`save_higan`."""
        return save_higan(self, path, key=key, with_meta=with_meta)


# --------------------------------------------------------------------------- restricted unpickler
def _safe_codecs_encode(text: str, encoding: str = "utf-8") -> bytes:
    # Protocol-2 pickles store bytes as _codecs.encode(str, 'latin1').
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise CheckpointError("refusing _codecs.encode call")
    return text.encode(encoding)


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    **{("builtins", t.__name__): t for t in (dict, list, tuple, set, frozenset, str, int, float,
                                             bool, complex, bytes, bytearray)},
    ("collections", "OrderedDict"): dict,
    ("_codecs", "encode"): _safe_codecs_encode,
    **NUMPY_GLOBALS,
}


def safe_unpickle(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` allowing only numpy arrays, numpy scalars and builtin containers (the
    restricted unpickler of :mod:`latentatlas.io.unpickle`)."""
    return restricted_load(bytes(data), _ALLOWED_GLOBALS, source,
                           what="numpy arrays and builtin containers (boundary files)",
                           encoding="latin1")


def _read_npy_safely(path: Path) -> Any:
    """np.load without pickles; an object-dtype .npy payload goes through the safe unpickler."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as f:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(f)
            else:
                shape, _, dtype = fmt.read_array_header_2_0(f)
            if dtype.hasobject:
                obj = safe_unpickle(f.read(), source=str(path))
                if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.shape == ():
                    obj = obj.item()
                return obj
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise CheckpointError(f"{path}: not a readable .npy file ({e})") from e
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise CheckpointError(f"{path}: not a readable .npy file ({e})") from e


def _to_unit_rows(arr: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise CheckpointError(f"{path}: boundary contains NaN or Inf")
    norms = np.linalg.norm(arr, axis=-1)
    if (norms == 0).any():
        raise CheckpointError(f"{path}: boundary has a zero vector")
    return arr, norms


# --------------------------------------------------------------------------- InterFaceGAN
def _default_name(path: Path) -> str:
    stem = path.stem
    return stem[: -len("_boundary")] if stem.endswith("_boundary") and len(stem) > 9 else stem


def load_interfacegan(
    path: str | os.PathLike,
    name: str | None = None,
    space: str = "z",
    intercept: float | str | os.PathLike | None = None,
) -> Directions:
    """Import an InterFaceGAN boundary ``.npy`` of shape (1, d) (or (d,)).

    The vector is renormalised (InterFaceGAN stores unit norm up to float32 rounding).
    ``intercept`` is a number, a path to a scalar ``.npy``, or None: then a sidecar
    ``<stem>_intercept.npy`` beside the file is used when it exists.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such boundary file")
    arr = _read_npy_safely(path)
    if not isinstance(arr, np.ndarray) or arr.dtype.hasobject:
        raise CheckpointError(f"{path}: expected a numeric (1, d) array; use load_higan for dicts")
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[0] != 1:
        raise CheckpointError(
            f"{path}: InterFaceGAN boundaries have shape (1, d), got {arr.shape}"
            + ("; per-layer (1, L, d) arrays load with load_higan" if arr.ndim == 3 else "")
        )
    vec, norms = _to_unit_rows(arr, path)
    b = None
    if intercept is None:
        sidecar = path.with_name(path.stem + "_intercept.npy")
        if sidecar.is_file():
            intercept = sidecar
    if isinstance(intercept, (str, os.PathLike)):
        ipath = Path(intercept)
        raw = _read_npy_safely(ipath) if ipath.is_file() else None
        if raw is None:
            raise CheckpointError(f"{ipath}: no such intercept file")
        raw = np.asarray(raw, dtype=np.float64)
        if raw.size != 1 or not np.isfinite(raw).all():
            raise CheckpointError(f"{ipath}: intercept must be one finite number, got {raw.shape}")
        b = float(raw.reshape(()))
    elif intercept is not None:
        b = float(intercept)
    return Directions(
        vec,
        space,
        names=[name or _default_name(path)],
        intercepts=None if b is None else [b],
        method="interfacegan_import",
        metadata={"source": str(path), "source_norm": float(norms[0])},
        normalize=True,
    )


def save_interfacegan(directions: Directions, folder: str | os.PathLike) -> list[Path]:
    """Write ``<folder>/<name>_boundary.npy`` (1, d) float32 per direction (+ intercept sidecar).

    If ``folder`` ends in ``.npy`` and there is one direction, that exact path is written.
    """
    if directions.is_layerwise:
        raise ShapeError("InterFaceGAN boundaries are (1, d); per-layer directions: use save_higan")
    folder = Path(folder)
    out: list[Path] = []
    for i, name in enumerate(directions.names):
        if folder.suffix == ".npy":
            if len(directions) != 1:
                raise ShapeError(f"{folder}: one .npy path given for {len(directions)} directions")
            target = folder
        else:
            target = folder / f"{name}_boundary.npy"
        out.append(atomic_save_npy(target, directions.vectors[i : i + 1].astype(np.float32)))
        if directions.intercepts is not None:
            side = target.with_name(target.stem + "_intercept.npy")
            out.append(atomic_save_npy(side, np.asarray(directions.intercepts[i], np.float64)))
    return out


# --------------------------------------------------------------------------- HiGAN
def load_higan(
    path: str | os.PathLike, name: str | None = None, space: str | None = None
) -> Directions:
    """Import a HiGAN boundary: a (1, d) / (1, L, d) ``.npy`` array, or HiGAN's dict
    ``{'boundary': ..., 'meta_data': {'manipulate_layers': ...}}`` saved with ``np.save`` (or
    pickled to a ``.pkl``), read with the restricted unpickler (never arbitrary objects).

    ``space`` defaults to ``"wp"`` for (1, L, d) and ``"w"`` for (1, d) boundaries.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such boundary file")
    if path.suffix == ".npy":
        obj = _read_npy_safely(path)
    else:
        obj = safe_unpickle(path.read_bytes(), source=str(path))
        if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.shape == ():
            obj = obj.item()
    layers = None
    meta: dict[str, Any] = {"source": str(path)}
    if isinstance(obj, dict):
        if "boundary" not in obj:
            raise CheckpointError(f"{path}: HiGAN dict has no 'boundary' key (keys: {list(obj)})")
        meta_data = obj.get("meta_data") or {}
        if not isinstance(meta_data, dict):
            raise CheckpointError(f"{path}: 'meta_data' must be a dict")
        layers = meta_data.get("manipulate_layers")
        meta["higan_meta_data"] = _jsonable(meta_data)
        arr = obj["boundary"]
    else:
        arr = obj
    if not isinstance(arr, np.ndarray) or arr.dtype.hasobject:
        raise CheckpointError(f"{path}: boundary is not a numeric array")
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim not in (2, 3) or arr.shape[0] != 1:
        raise CheckpointError(
            f"{path}: HiGAN boundaries have shape (1, d) or (1, L, d), got {arr.shape}"
        )
    if space is None:
        space = "wp" if arr.ndim == 3 else "w"
    vec, norms = _to_unit_rows(arr, path)
    meta["source_norm"] = norms.reshape(-1).tolist()
    try:
        return Directions(
            vec,
            space,
            names=[name or _default_name(path)],
            layers=parse_layers(layers, arr.shape[1] if arr.ndim == 3 else None),
            method="higan_import",
            metadata=meta,
            normalize=True,
        )
    except ShapeError as e:
        raise CheckpointError(f"{path}: {e}") from e


def save_higan(
    directions: Directions, path: str | os.PathLike, key: Key = 0, with_meta: bool = True
) -> Path:
    """Write one direction in HiGAN's format: ``np.save`` of ``{'boundary': (1, [L,] d),
    'meta_data': {'manipulate_layers': [...]}}`` when ``with_meta`` (HiGAN's manipulate.py reads
    this), else the plain array. Written atomically."""
    i = directions.index(key)
    arr = directions.vectors[i : i + 1].astype(np.float32)
    path = Path(path)
    if not with_meta:
        return atomic_save_npy(path, arr)
    layers = directions.layers_of(i)
    payload = {
        "boundary": arr,
        "meta_data": {
            "manipulate_layers": "" if layers is None else ",".join(str(v) for v in layers),
            "name": directions.names[i],
            "space": directions.space,
        },
    }
    holder = np.empty((), dtype=object)
    holder[()] = payload
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        # Writing a pickle is safe; only reading one needs the restricted unpickler.
        np.save(f, holder, allow_pickle=True)
    return path
