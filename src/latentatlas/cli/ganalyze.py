"""`latentatlas ganalyze`: learn a GANalyze walk toward an assessor's score."""

from __future__ import annotations

import click

from latentatlas.cli._app import FINITE_POSITIVE, main


@main.command()
@click.option("--model", "-m", "model_name", required=True,
              help="Shipped generator name or a generator folder.")
@click.option("--assessor", required=True,
              help="SCORER:COLUMN, a differentiable scorer column (celeba:Smiling, "
                   "pixel:brightness, mnist:digit_3, ...).")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Output folder (re-running resumes the training; a finished run is kept).")
@click.option("--space", type=click.Choice(["z", "w"]), default="z", show_default=True)
@click.option("--steps", type=click.IntRange(1), default=500, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True)
@click.option("--lr", type=FINITE_POSITIVE, default=1e-3, show_default=True)
@click.option("--alpha-max", type=FINITE_POSITIVE, default=0.5, show_default=True,
              help="Training amounts a ~ U(-alpha_max, alpha_max).")
@click.option("--class-dependent", is_flag=True, help="One theta per class (conditional G).")
@click.option("--alpha", type=FINITE_POSITIVE, default=0.1, show_default=True,
              help="Test step: bigger_step and iterative with k = -3..3.")
@click.option("--logits", is_flag=True,
              help="A predictor assessor in logit units (probabilities saturate).")
@click.option("--n-eval", type=click.IntRange(2), default=64, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(0), default=1, show_default=True,
              help="torch CPU threads; 0 keeps torch's default.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def ganalyze(model_name, assessor, out, space, steps, batch_size, lr, alpha_max, class_dependent,
             alpha, logits, n_eval, seed, threads, no_progress) -> None:
    """GANalyze: T(z, a) = z + a theta trained so the assessor's score moves by a."""
    from latentatlas.pipelines.walks import run_ganalyze

    if threads:
        import torch

        torch.set_num_threads(threads)
    res = run_ganalyze(model_name, assessor, out, space=space, steps=steps,
                       batch_size=batch_size, lr=lr, alpha_max=alpha_max,
                       class_dependent=class_dependent, alpha=alpha, logits=logits,
                       n_eval=n_eval,
                       seed=seed, progress=not no_progress)
    click.echo(f"{res['assessor']}: mean score change per unit alpha "
               f"{res['slope_per_unit_alpha']:.3f} (trained for 1)")
    click.echo(f"walk: {out}/walk  results: {out}/results.json")
