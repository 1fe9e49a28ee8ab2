"""Shared low-level helpers: errors, atomic file writes, RNG handling, run records, progress."""

from latentatlas.utils.atomic import (
    atomic_path,
    atomic_save_npy,
    atomic_write_bytes,
    atomic_write_json,
)
from latentatlas.utils.errors import (
    CheckpointError,
    DataError,
    LatentAtlasError,
    ShapeError,
)
from latentatlas.utils.rng import check_rng, torch_generator
from latentatlas.utils.runinfo import environment_info, write_run_record

__all__ = [
    "CheckpointError",
    "DataError",
    "LatentAtlasError",
    "ShapeError",
    "atomic_path",
    "atomic_save_npy",
    "atomic_write_bytes",
    "atomic_write_json",
    "check_rng",
    "environment_info",
    "torch_generator",
    "write_run_record",
]
