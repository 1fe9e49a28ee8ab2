"""Run records: every run writes its resolved config, seed, versions and metrics as JSON."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from pathlib import Path
from typing import Any

from latentatlas.utils.atomic import atomic_write_json


def environment_info() -> dict[str, Any]:
    import numpy
    import torch

    info: dict[str, Any] = {
        "latentatlas": __import__("latentatlas").__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cuda": torch.cuda.is_available(),
    }
    for mod in ("scipy", "sklearn", "safetensors"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # optional for the record
            pass
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def write_run_record(
    out_dir: str | os.PathLike,
    *,
    command: str,
    config: dict[str, Any],
    seed: int | None = None,
    metrics: dict[str, Any] | None = None,
    filename: str = "run.json",
) -> Path:
    """Write ``run.json`` (config, seed, versions, metrics, timestamp) atomically into out_dir."""
    record = {
        "command": command,
        "config": config,
        "seed": seed,
        "metrics": metrics or {},
        "environment": environment_info(),
        "finished_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return atomic_write_json(Path(out_dir) / filename, record)
