"""`latentatlas discover`: the direction-discovery leaderboard on one generator."""

from __future__ import annotations

import click

from latentatlas.cli._app import FINITE_POSITIVE, UNIT, main


@main.command()
@click.option("--model", "-m", "model_name", default="celeba64", show_default=True,
              help="Shipped generator name or a generator folder.")
@click.option("--methods", default="sefa,ganspace,stylespace", show_default=True,
              help="Comma-separated direction methods (see directions.registry), or "
                   "file:PATH of a saved Directions file (e.g. a long latent-discovery run).")
@click.option("--scorer", default="auto", show_default=True,
              help="Predictor name / folder or built-in scorer; auto: predictor_<model>.")
@click.option("--out", type=click.Path(file_okay=False), default="runs/discover",
              show_default=True, help="Output folder (re-running skips finished methods).")
@click.option("--attributes", default=None,
              help="Comma-separated factors / attributes (default: every factor, or the "
                   "binary heads with held-out AUC >= 0.85).")
@click.option("--top-k", type=click.IntRange(1), default=10, show_default=True)
@click.option("--n", "n", type=click.IntRange(2), default=128, show_default=True,
              help="Samples each direction is measured on.")
@click.option("--alpha", type=FINITE_POSITIVE, default=2.0, show_default=True,
              help="Move +-alpha standard deviations of the codes along each direction.")
@click.option("--threshold", type=UNIT, default=0.5, show_default=True,
              help="Purity a direction needs to count as dedicated to its factor.")
@click.option("--svm-n", type=click.IntRange(0), default=2000, show_default=True,
              help="Bank size of the supervised SVM upper bound (0: skip it).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(0), default=1, show_default=True,
              help="torch CPU threads; 0 keeps torch's default.")
@click.option("--no-progress", is_flag=True, help="No stage lines or progress bars.")
def discover(model_name, methods, scorer, out, attributes, top_k, n, alpha, threshold, svm_n,
             seed, threads, no_progress) -> None:
    """Every discovery method on one generator, labelled and ranked against its factors."""
    from latentatlas.pipelines.discover import discover as run_discover
    from latentatlas.pipelines.discover import table_markdown

    if threads:
        import torch

        torch.set_num_threads(threads)

    def split(text):
        return None if text is None else [a.strip() for a in text.split(",") if a.strip()]

    board = run_discover(model_name, out, methods=split(methods), scorer=scorer,
                         attributes=split(attributes), top_k=top_k, n=n, alpha=alpha,
                         threshold=threshold, svm_n=svm_n, seed=seed, progress=not no_progress)
    click.echo(table_markdown(board), nl=False)
    click.echo(f"report: {out}/index.html")
