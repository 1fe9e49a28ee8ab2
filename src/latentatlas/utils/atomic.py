"""Atomic file writes: write to a temporary file in the same folder, fsync, then os.replace.

A crash, a full disk or Ctrl-C mid-write never leaves a half-written file under the final name:
the old file (if any) stays intact and the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is moved onto ``path`` atomically.

    ``suffix`` defaults to the final path's suffix, so libraries that look at the extension
    (PIL, numpy) write the right format.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=(path.suffix if suffix is None else suffix)
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give the result the permissions a normal open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, tuple)):
        return list(obj)
    if hasattr(obj, "item") and callable(obj.item):  # torch scalars
        return obj.item()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def to_json_text(obj: Any, indent: int | None = 2) -> str:
    return json.dumps(obj, indent=indent, default=_json_default, sort_keys=False, allow_nan=True)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    return atomic_write_bytes(path, (to_json_text(obj, indent) + "\n").encode("utf-8"))


def atomic_save_npy(path: str | os.PathLike, array: np.ndarray) -> Path:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return atomic_write_bytes(path, buf.getvalue())


def trim_jsonl_log(path: str | os.PathLike, up_to_step: int) -> None:
    """Keep only the lines of a JSONL training log with ``step <= up_to_step`` (atomically).

    After a resume from the checkpoint of ``up_to_step`` the later lines belong to the lost,
    uncheckpointed part and are logged again; a line torn by a crash is dropped. No file: no-op.
    """
    path = Path(path)
    if not path.is_file():
        return
    kept = []
    for line in path.read_text("utf-8").splitlines():
        try:
            if json.loads(line).get("step", 0) <= up_to_step:
                kept.append(line)
        except json.JSONDecodeError:  # a line cut by a crash
            continue
    atomic_write_bytes(path, ("\n".join(kept) + "\n" if kept else "").encode("utf-8"))
