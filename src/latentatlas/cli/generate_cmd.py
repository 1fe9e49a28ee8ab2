"""`latentatlas generate` (a grid of samples) and `latentatlas convert` (checkpoints)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from latentatlas.cli._app import main


def _command_line() -> str:
    return "latentatlas " + " ".join(shlex.quote(a) for a in sys.argv[1:])


@main.command()
@click.option(
    "--model",
    "-m",
    "model_name",
    required=True,
    help="Shipped model name or a model folder (see `latentatlas convert`).",
)
@click.option(
    "--n",
    "n",
    type=click.IntRange(1, 4096),
    default=16,
    show_default=True,
    help="Number of images.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of z (and labels).")
@click.option(
    "--truncation", type=float, default=1.0, show_default=True, help="Truncation psi (1: none)."
)
@click.option(
    "--truncation-cutoff",
    type=int,
    default=None,
    help="Truncate only the first W+ layers (StyleGAN2).",
)
@click.option(
    "--noise-mode",
    type=click.Choice(["const", "random", "none"]),
    default="const",
    show_default=True,
    help="StyleGAN2 noise inputs (random draws from --seed).",
)
@click.option(
    "--impl",
    type=click.Choice(["fast", "reference"]),
    default=None,
    help="StyleGAN2 synthesis implementation (default: the model's, fast).",
)
@click.option(
    "--dtype",
    type=click.Choice(["auto", "float32", "bfloat16"]),
    default=None,
    help="Compute dtype of the fast path (default: auto, bf16 where native).",
)
@click.option(
    "--class-index",
    type=int,
    default=None,
    help="Class label for conditional models (default: random labels).",
)
@click.option("--nrow", type=int, default=None, help="Images per grid row (default: sqrt(n)).")
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    required=True,
    help="Grid image (.png / .jpg); run.json is written beside it.",
)
def generate(
    model_name,
    n,
    seed,
    truncation,
    truncation_cutoff,
    noise_mode,
    impl,
    dtype,
    class_index,
    nrow,
    batch_size,
    out,
) -> None:
    """Sample N images from a generator into one grid image (plus run.json)."""
    import inspect
    import time

    import numpy as np
    import torch

    from latentatlas.io.images import save_grid
    from latentatlas.models import load
    from latentatlas.utils import LatentAtlasError, write_run_record

    try:
        g = load(model_name)
        if not hasattr(g, "synthesize"):
            raise click.ClickException(f"{model_name}: {type(g).__name__} is not a generator")
        if impl is not None or dtype is not None:
            if not hasattr(g, "set_impl"):
                raise click.ClickException("--impl / --dtype apply to StyleGAN2 generators only")
            g.set_impl(impl, dtype)
        rng = np.random.default_rng(seed)
        z = g.sample_z(n, rng)
        c = None
        if g.c_dim:
            if class_index is not None:
                if not 0 <= class_index < g.c_dim:
                    raise click.ClickException(f"--class-index must be in [0, {g.c_dim})")
                c = torch.zeros(n, g.c_dim)
                c[:, class_index] = 1
            else:
                c = g.sample_c(n, rng)
        elif class_index is not None:
            raise click.ClickException(f"{model_name} is unconditional: drop --class-index")
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
    except (LatentAtlasError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    metrics = {
        "images": n,
        "seconds": round(seconds, 3),
        "images_per_second": round(n / seconds, 2) if seconds > 0 else None,
        "pixel_min": float(imgs.min()),
        "pixel_max": float(imgs.max()),
        "compute_dtype": str(getattr(g, "compute_dtype", torch.float32)).replace("torch.", ""),
    }
    config = {
        "command_line": _command_line(),
        "model": str(model_name),
        "model_class": type(g).__name__,
        "n": n,
        "truncation": truncation,
        "truncation_cutoff": truncation_cutoff,
        "noise_mode": noise_mode,
        "impl": getattr(g, "impl", None),
        "class_index": class_index,
        "out": str(out_path),
    }
    write_run_record(
        Path(out_path).parent, command="generate", config=config, seed=seed, metrics=metrics
    )
    click.echo(
        f"wrote {out_path} ({n} images, {metrics['images_per_second']} images/s) and "
        f"{Path(out_path).parent / 'run.json'}"
    )


@main.command()
@click.argument("checkpoint", type=click.Path(exists=True))
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    required=True,
    help="Output model folder (config.json + model.safetensors + run.json).",
)
@click.option(
    "--network",
    default=None,
    help="Network inside the file (G_ema / G; rosinality g_ema / g). Default: EMA.",
)
def convert(checkpoint, out, network) -> None:
    """Convert a StyleGAN2-ADA / StyleGAN3-repo pickle or a rosinality .pt to a model folder.

    Nothing in the file is executed: pickles are read with an allow-list unpickler.
    """
    from latentatlas.io.persistence import read_config
    from latentatlas.models.convert import convert as convert_checkpoint
    from latentatlas.utils import LatentAtlasError, write_run_record

    try:
        folder = convert_checkpoint(checkpoint, out, network)
    except LatentAtlasError as e:
        raise click.ClickException(str(e)) from e
    config = read_config(folder)
    write_run_record(
        folder,
        command="convert",
        config={
            "command_line": _command_line(),
            "checkpoint": str(checkpoint),
            "network": network,
            "out": str(folder),
        },
        metrics={
            "source_format": config["metadata"].get("source_format"),
            "kwargs": config["kwargs"],
        },
    )
    click.echo(f"converted {checkpoint} ({config['metadata'].get('source_format')}) -> {folder}")
