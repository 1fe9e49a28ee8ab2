"""Stage bookkeeping of explore: stage records with fingerprints (resume), log lines, JSON-safe
numbers."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from latentatlas.utils.atomic import atomic_write_json


def log(progress: bool, text: str) -> None:
    if progress:
        from tqdm.auto import tqdm

        tqdm.write(f"[explore] {text}", file=sys.stderr)


class StageBook:
    """Stage records in ``out/stages/<name>.json``: fingerprint, result, files, seconds."""

    def __init__(self, out: Path, progress: bool) -> None:
        self.dir = out / "stages"
        self.out = out
        self.progress = progress
        self.status: dict[str, str] = {}
        self.seconds: dict[str, float] = {}

    def cached(self, name: str, fingerprint: str) -> dict[str, Any] | None:
        path = self.dir / f"{name}.json"
        if not path.is_file():
            return None
        try:
            rec = json.loads(path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if rec.get("fingerprint") != fingerprint:
            return None
        if not all((self.out / f).exists() for f in rec.get("files", [])):
            return None
        self.status[name] = "skipped"
        self.seconds[name] = float(rec.get("seconds", 0.0))
        log(self.progress, f"stage {name}: finished earlier with the same settings, skipped")
        return rec["result"]

    def save(self, name: str, fingerprint: str, result: dict[str, Any], files: Sequence[str],
             seconds: float) -> None:
        self.status[name] = "ran"
        self.seconds[name] = seconds
        atomic_write_json(self.dir / f"{name}.json", {
            "fingerprint": fingerprint, "seconds": seconds, "files": list(files),
            "result": result})
        log(self.progress, f"stage {name}: done in {seconds:.1f} s")


def nan_to_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [nan_to_none(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return None if not np.isfinite(v) else v
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return nan_to_none(obj.tolist())
    return obj

