"""`latentatlas generate`: a grid of a generator's samples."""

from __future__ import annotations

from pathlib import Path

import click

from latentatlas.cli._app import argv_command_line, main


@main.command()
@click.option("--model", "-m", "model_name", required=True,
              help="Shipped model name or a model folder (see `latentatlas convert`).")
@click.option("--n", "n", type=click.IntRange(1, 4096), default=16, show_default=True,
              help="Number of images.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of z (and labels).")
@click.option("--truncation", type=float, default=1.0, show_default=True,
              help="Truncation psi (1: none).")
@click.option("--truncation-cutoff", type=int, default=None,
              help="Truncate only the first W+ layers (StyleGAN2).")
@click.option("--noise-mode", type=click.Choice(["const", "random", "none"]), default="const",
              show_default=True, help="StyleGAN2 noise inputs (random draws from --seed).")
@click.option("--impl", type=click.Choice(["fast", "reference"]), default=None,
              help="StyleGAN2 synthesis implementation (default: the model's, fast).")
@click.option("--dtype", type=click.Choice(["auto", "float32", "bfloat16"]), default=None,
              help="Compute dtype of the fast path (default: auto, bf16 where native).")
@click.option("--class-index", type=int, default=None,
              help="Class label for conditional models (default: random labels).")
@click.option("--nrow", type=int, default=None, help="Images per grid row (default: sqrt(n)).")
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="Grid image (.png / .jpg); run.json is written beside it.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out (and its run.json).")
def generate(model_name, n, seed, truncation, truncation_cutoff, noise_mode, impl, dtype,
             class_index, nrow, batch_size, out, overwrite) -> None:
    """Sample N images from a generator into one grid image (plus run.json)."""
    from latentatlas.report.samples import generate_grid
    out_path, metrics = generate_grid(
        model_name, out, n=n, seed=seed, truncation=truncation,
        truncation_cutoff=truncation_cutoff, noise_mode=noise_mode, impl=impl, dtype=dtype,
        class_index=class_index, nrow=nrow, batch_size=batch_size,
        command_line=argv_command_line(), overwrite=overwrite)
    click.echo(
        f"wrote {out_path} ({n} images, {metrics['images_per_second']} images/s) and "
        f"{Path(out_path).parent / 'run.json'}"
    )
