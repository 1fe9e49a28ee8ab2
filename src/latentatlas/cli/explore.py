"""`latentatlas explore`: the main job (boundaries, layers, edits, report) on one generator."""

from __future__ import annotations

import click

from latentatlas.cli._app import main


@main.command()
@click.option("--model", "-m", "model_name", default="celeba64", show_default=True,
              help="Shipped generator name or a generator folder.")
@click.option("--predictor", default=None,
              help="Shipped predictor name or a predictor folder (its heads are the attributes; "
                   "default: the one paired with a shipped --model).")
@click.option("--out", type=click.Path(file_okay=False), default="runs/explore",
              show_default=True, help="Output folder (re-running resumes finished stages).")
@click.option("--n", "n", type=click.IntRange(4), default=None,
              help="Bank size (default 4000; --quick: 384).")
@click.option("--n-edit", type=click.IntRange(2), default=None,
              help="Samples the +2 edits are measured on (default 500; --quick: 64).")
@click.option("--n-rescore", type=click.IntRange(1), default=None,
              help="Samples of the per-layer HiGAN re-scoring (default 32; --quick: 8).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--truncation", type=float, default=0.7, show_default=True,
              help="Truncation psi of the bank's codes.")
@click.option("--space", type=click.Choice(["w", "z", "wp"]), default=None,
              help="Latent space of the boundaries (default: w when the generator has one, else "
                   "z); wp adds one SVM per W+ layer.")
@click.option("--attributes", default=None,
              help="Comma-separated heads or columns (default: every predictor head with "
                   "held-out AUC >= 0.85 / accuracy >= 0.8 / R^2 >= 0.5).")
@click.option("--scorers", default=None,
              help="Comma-separated extra scorers: pixel, moments, morpho (thickness, slant...).")
@click.option("--ordered", default=None,
              help="Comma-separated multiclass heads whose classes are ordered (default: the "
                   "zoo's record, or the predictor's ordered_factors metadata).")
@click.option("--focus", default=None,
              help="Comma-separated attributes to edit and re-score (default: up to 4, "
                   "Smiling, Male, Eyeglasses, Young first).")
@click.option("--threads", type=click.IntRange(0), default=1, show_default=True,
              help="torch CPU threads; 0 keeps torch's default. One thread was measured 2.8-6x "
                   "faster than two on a busy 2-core machine (docs/explore.md).")
@click.option("--quick", is_flag=True, help="Tiny sizes: a smoke run in well under a minute.")
@click.option("--no-progress", is_flag=True, help="No stage lines or progress bars.")
@click.option("--overwrite", is_flag=True,
              help="Replace an --out that holds a run of another generator or predictor.")
def explore(model_name, predictor, out, n, n_edit, n_rescore, seed, truncation, space,
            attributes, scorers, ordered, focus, threads, quick, no_progress, overwrite) -> None:
    """Find which directions and layers control which semantics; write report.html."""
    from latentatlas.pipelines.explore import explore as run_explore

    if threads:
        import torch

        torch.set_num_threads(threads)

    def split(text):
        return None if text is None else [a.strip() for a in text.split(",") if a.strip()]

    result = run_explore(
        model_name, out, predictor=predictor, n=n, seed=seed, truncation_psi=truncation,
        space=space, attributes=split(attributes), quick=quick, progress=not no_progress,
        n_edit=n_edit, n_rescore=n_rescore, focus=split(focus),
        scorers=split(scorers) or (), ordered=split(ordered), overwrite=overwrite)
    summary = result.metrics["summary"]
    click.echo(f"{'attribute':<22} {'val acc':>8} {'edit ok':>8}")
    for a in result.attributes:
        row = summary[a]
        succ = row.get("edit_success_fraction")
        click.echo(f"{a:<22} {row['val_accuracy']:>8.3f} "
                   f"{'' if succ is None else format(succ, '.3f'):>8}")
    click.echo(f"report: {result.files['report']}")
