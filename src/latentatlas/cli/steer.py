"""`latentatlas steer`: learn a walk that reproduces an image transformation, and score it."""

from __future__ import annotations

import click

from latentatlas.cli._app import FINITE_POSITIVE, main


@main.command()
@click.option("--model", "-m", "model_name", required=True,
              help="Shipped generator name or a generator folder.")
@click.option("--transform", type=click.Choice(["zoom", "shift_x", "shift_y", "rotate", "color"]),
              required=True)
@click.option("--walk", "walk_type", type=click.Choice(["linear", "nonlinear"]),
              default="linear", show_default=True)
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Output folder (re-running resumes the training; a finished run is kept).")
@click.option("--space", type=click.Choice(["z", "w"]), default="z", show_default=True)
@click.option("--steps", type=click.IntRange(1), default=300, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True)
@click.option("--lr", type=FINITE_POSITIVE, default=1e-3, show_default=True)
@click.option("--alpha-max", type=FINITE_POSITIVE, default=None,
              help="Training range (default per transform: shift 0.5, zoom 1, rotate 1, color "
                   "0.5).")
@click.option("--n-steps", type=click.IntRange(1), default=5, show_default=True,
              help="Non-linear walk: the largest number of MLP steps.")
@click.option("--measure", default=None,
              help="SCORER:COLUMN measuring the attribute (default: image moments, "
                   "pixel:brightness for color; e.g. shapes3d:scale).")
@click.option("--n-eval", type=click.IntRange(2), default=64, show_default=True)
@click.option("--tol", type=FINITE_POSITIVE, default=0.25, show_default=True,
              help="Relative tolerance of the steerability score.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(0), default=1, show_default=True,
              help="torch CPU threads; 0 keeps torch's default.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def steer(model_name, transform, walk_type, out, space, steps, batch_size, lr, alpha_max, n_steps,
          measure, n_eval, tol, seed, threads, no_progress) -> None:
    """GAN steerability: a walk that follows zoom / shift / rotate / colour edits."""
    from latentatlas.pipelines.walks import run_steer

    if threads:
        import torch

        torch.set_num_threads(threads)
    res = run_steer(model_name, transform, out, walk=walk_type, space=space, steps=steps,
                    batch_size=batch_size, lr=lr, alpha_max=alpha_max, n_steps=n_steps,
                    measure=measure, n_eval=n_eval, tol=tol, seed=seed,
                    progress=not no_progress)
    s = res["score"]
    click.echo(f"{transform} ({walk_type}): steerability {s['range_fraction']:.2f} "
               f"(alpha range {s['range'][0]:g}..{s['range'][1]:g}), reach "
               f"{s['reach_fraction']:.2f}")
    click.echo(f"walk: {out}/walk  results: {out}/results.json")
