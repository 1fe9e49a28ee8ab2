"""`latentatlas predictors train ...`: attribute predictors."""

from __future__ import annotations

import click

from latentatlas.cli._app import main

RECIPE_NAMES = ("celeba", "mnist", "dsprites", "shapes3d")


@main.group()
def predictors() -> None:
    """Train attribute predictors (the scorers behind banks and re-scoring)."""


@predictors.command("train")
@click.argument("dataset", type=click.Choice(RECIPE_NAMES))
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Run folder: checkpoint, log.jsonl, model/, metrics.json, MODEL_CARD.md.")
@click.option("--data-root", default=None, type=click.Path(),
              help="Data folder (default: $LATENTATLAS_DATA or ../shared/data).")
@click.option("--steps", type=click.IntRange(1), default=None,
              help="Training steps (default: the recipe's).")
@click.option("--batch-size", type=click.IntRange(1), default=None)
@click.option("--max-minutes", type=float, default=None,
              help="Wall-clock budget for training; the LR schedule follows it.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True,
              help="torch CPU threads (1 is fastest on a shared, loaded machine).")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Continue from the checkpoint in --out.")
def train(dataset, out, data_root, steps, batch_size, max_minutes, seed, threads, resume) -> None:
    """Train the DATASET predictor and evaluate it on its held-out test split."""
    import torch

    from latentatlas.training.predictors import train_recipe

    torch.set_num_threads(threads)
    overrides = {"max_seconds": max_minutes * 60} if max_minutes else None
    metrics = train_recipe(dataset, out, data_root=data_root, steps=steps, batch_size=batch_size,
                           seed=seed, resume=resume, overrides=overrides)
    test = metrics["test"]
    click.echo(f"best step {metrics['best_step']} of {metrics['stopped_step']}; test loss "
               f"{test['loss']:.4f}")
    if test.get("mean_accuracy") is not None:
        click.echo(f"test mean accuracy {test['mean_accuracy']:.4f}")
    if test.get("mean_auc") is not None:
        click.echo(f"test mean ROC-AUC {test['mean_auc']:.4f}")
    click.echo(f"model: {out}/model  (card: {out}/MODEL_CARD.md)")
