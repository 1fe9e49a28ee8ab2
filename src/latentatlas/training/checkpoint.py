"""Training checkpoints as single safetensors files: no pickle anywhere.

A checkpoint is any nest of dicts / lists / tuples whose leaves are tensors, numpy arrays or JSON
scalars (model and optimiser state dicts, RNG states, counters). Tensors go into the safetensors
payload under their path in the nest; the nest itself (with typed markers for tuples, int dict keys
and arrays) goes into the file's metadata as JSON. Loading therefore executes nothing from the
file, and a corrupt file is a :class:`CheckpointError` naming it.

Files are written atomically (temporary file + fsync + rename), so a crash mid-write leaves the
previous checkpoint intact; :func:`save_checkpoint` refuses to write NaN / Inf weights.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentatlas.utils.atomic import atomic_path
from latentatlas.utils.checks import disk_full
from latentatlas.utils.errors import CheckpointError, ResourceError

CHECKPOINT_FORMAT = "latentatlas-train-checkpoint-1"
_NAME_RE = re.compile(r"^ckpt-(\d{8,})\.safetensors$")


def _encode(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": path}
    if isinstance(obj, np.ndarray):
        arr = obj
        if arr.dtype == np.uint32:  # torch has limited uint32 support; int64 holds it exactly
            arr = arr.astype(np.int64)
        tensors[path] = torch.from_numpy(np.ascontiguousarray(arr).copy())
        return {"__ndarray__": path, "dtype": str(obj.dtype)}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"checkpoint dict keys must be str or int, got {k!r} at {path}")
            items.append([k, _encode(v, f"{path}.{k}", tensors)])
        return {"__dict__": items}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint (at {path})")


def _decode(obj: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors, where) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        key = obj["__tensor__"]
        if key not in tensors:
            raise CheckpointError(f"{where}: tensor {key!r} listed in the metadata is missing")
        return tensors[key]
    if "__ndarray__" in obj:
        key = obj["__ndarray__"]
        if key not in tensors:
            raise CheckpointError(f"{where}: array {key!r} listed in the metadata is missing")
        return tensors[key].numpy().astype(np.dtype(obj["dtype"]))
    if "__tuple__" in obj:
        return tuple(_decode(v, tensors, where) for v in obj["__tuple__"])
    if "__dict__" in obj:
        return {k: _decode(v, tensors, where) for k, v in obj["__dict__"]}
    raise CheckpointError(f"{where}: unknown entry in checkpoint metadata: {sorted(obj)[:3]}")


def nonfinite_tensors(state: Any, path: str = "") -> list[str]:
    """Paths of floating tensors in a nest that contain NaN or Inf."""
    bad: list[str] = []
    if isinstance(state, torch.Tensor):
        if state.is_floating_point() and not torch.isfinite(state).all():
            bad.append(path or "<tensor>")
    elif isinstance(state, dict):
        for k, v in state.items():
            bad += nonfinite_tensors(v, f"{path}.{k}" if path else str(k))
    elif isinstance(state, (list, tuple)):
        for i, v in enumerate(state):
            bad += nonfinite_tensors(v, f"{path}.{i}")
    return bad


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` atomically as one safetensors file; refuses NaN / Inf tensors."""
    from safetensors.torch import save_file

    bad = nonfinite_tensors(state)
    if bad:
        raise CheckpointError(
            f"{path}: refusing to write a checkpoint with NaN/Inf values in {bad[:5]} "
            "(the previous checkpoint is kept)"
        )
    tensors: dict[str, torch.Tensor] = {}
    structure = _encode(state, "s", tensors)
    metadata = {"format": CHECKPOINT_FORMAT, "structure": json.dumps(structure)}
    try:
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=metadata)
    except Exception as e:  # safetensors reports a full disk as its own error type
        reason = disk_full(e)
        if reason is None:
            raise
        raise ResourceError(
            f"{path}: the disk is full ({reason}); nothing half-written was kept and the "
            "previous checkpoint is intact: free space, then resume (train: --resume)") from e
    return Path(path)



def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """Read a checkpoint written by :func:`save_checkpoint` (tensors on ``map_location``)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        with safe_open(str(path), framework="pt", device=str(map_location)) as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open API)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}: cannot read checkpoint ({e})") from e
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: not a latentatlas training checkpoint (format {metadata.get('format')!r})"
        )
    try:
        structure = json.loads(metadata["structure"])
    except (KeyError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: checkpoint metadata is corrupt ({e})") from e
    return _decode(structure, tensors, str(path))


def checkpoint_path(folder: str | os.PathLike, step: int) -> Path:
    return Path(folder) / f"ckpt-{step:08d}.safetensors"


def list_checkpoints(folder: str | os.PathLike) -> list[tuple[int, Path]]:
    """(step, path) of the checkpoints in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _NAME_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def prune_checkpoints(folder: str | os.PathLike, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints (keep <= 0 keeps everything)."""
    if keep <= 0:
        return
    for _, p in list_checkpoints(folder)[:-keep]:
        p.unlink(missing_ok=True)
