"""A grid of a generator's samples with its run record: what ``latentatlas generate`` writes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def generate_grid(model: str | os.PathLike, out: str | os.PathLike, *, n: int = 16,
                  seed: int = 0, truncation: float = 1.0, truncation_cutoff: int | None = None,
                  noise_mode: str = "const", impl: str | None = None, dtype: str | None = None,
                  class_index: int | None = None, nrow: int | None = None,
                  batch_size: int = 32, command_line: str | None = None,
                  overwrite: bool = False) -> tuple[Path, dict[str, Any]]:
    """Sample ``n`` images of generator ``model`` (shipped name or folder) from z of ``seed`` into
    one grid image ``out`` and write run.json beside it (config incl. ``command_line``, metrics).

    ``impl`` / ``dtype`` switch a StyleGAN2's synthesis path; ``class_index`` fixes the label of a
    conditional model (default: random labels from ``seed``); ``noise_mode="random"`` draws the
    noise inputs from ``seed`` too. Returns the grid's path and the metrics (images / s, pixel
    range, compute dtype). Bad requests raise :class:`LatentAtlasError` (or ValueError from the
    generator, e.g. a truncation cutoff for a Z-only generator). An existing ``out``, or a
    run.json beside it written by another command, is refused unless ``overwrite``.
    """
    import inspect
    import time

    import numpy as np
    import torch

    from latentatlas.io.images import _format, save_grid
    from latentatlas.models import load
    from latentatlas.utils import LatentAtlasError, write_run_record
    from latentatlas.utils.checks import check_number
    from latentatlas.utils.outputs import check_new_file, check_run_record

    check_new_file(out, overwrite)
    _format(out)
    check_run_record(Path(out).parent, "generate", overwrite)
    check_number("n", n, 1, integer=True)
    if nrow is not None:
        check_number("nrow", nrow, 1, n, integer=True)
    g = load(model)
    if not hasattr(g, "synthesize"):
        raise LatentAtlasError(f"{model}: {type(g).__name__} is not a generator")
    from latentatlas.utils.checks import check_allocation

    res, ch = int(g.img_resolution), int(getattr(g, "img_channels", 3))
    # The images (float32), their clamped copy and the uint8 grid are held at once.
    check_allocation(n * ch * res * res * (4 * 2 + 1), f"{n} images of {ch}x{res}x{res}",
                     "use a smaller --n")
    if impl is not None or dtype is not None:
        if not hasattr(g, "set_impl"):
            raise LatentAtlasError("--impl / --dtype apply to StyleGAN2 generators only")
        g.set_impl(impl, dtype)
    rng = np.random.default_rng(seed)
    z = g.sample_z(n, rng)
    c = None
    if g.c_dim:
        if class_index is not None:
            if not 0 <= class_index < g.c_dim:
                raise LatentAtlasError(f"--class-index must be in [0, {g.c_dim})")
            c = torch.zeros(n, g.c_dim)
            c[:, class_index] = 1
        else:
            c = g.sample_c(n, rng)
    elif class_index is not None:
        raise LatentAtlasError(f"{model} is unconditional: drop --class-index")
    extra = {}
    if noise_mode == "random" and "noise_rng" in inspect.signature(g.synthesize).parameters:
        extra["noise_rng"] = rng
    t0 = time.perf_counter()
    space = "wp" if "wp" in g.spaces else "z"
    with torch.no_grad():
        latents = g.z_to_latent(z, space, c, truncation, truncation_cutoff)
    imgs = g.synthesize_batched(latents, space, batch_size=batch_size,
                                c=c if space == "z" else None, noise_mode=noise_mode, **extra)
    seconds = time.perf_counter() - t0
    out_path = save_grid(imgs.clamp(-1, 1), out, nrow=nrow, value_range=(-1.0, 1.0))
    metrics = {
        "images": n,
        "seconds": round(seconds, 3),
        "images_per_second": round(n / seconds, 2) if seconds > 0 else None,
        "pixel_min": float(imgs.min()),
        "pixel_max": float(imgs.max()),
        "compute_dtype": str(getattr(g, "compute_dtype", torch.float32)).replace("torch.", ""),
    }
    config = {
        "command_line": command_line,
        "model": str(model),
        "model_class": type(g).__name__,
        "n": n,
        "truncation": truncation,
        "truncation_cutoff": truncation_cutoff,
        "noise_mode": noise_mode,
        "impl": getattr(g, "impl", None),
        "class_index": class_index,
        "out": str(out_path),
    }
    write_run_record(Path(out_path).parent, command="generate", config=config, seed=seed,
                     metrics=metrics)
    return Path(out_path), metrics
