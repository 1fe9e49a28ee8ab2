"""`latentatlas predictors train ...`: attribute predictors."""

from __future__ import annotations

import click

from latentatlas.cli._app import main

RECIPE_NAMES = ("celeba", "mnist", "dsprites", "shapes3d")


@main.group()
def predictors() -> None:
    """Train attribute predictors (the scorers behind banks and re-scoring)."""


@predictors.command("train")
@click.argument("dataset", type=click.Choice(RECIPE_NAMES), required=False)
@click.option("--data", default=None,
              help="Your data instead of a DATASET recipe: a folder of images or an .npz with "
                   "'images' (and label arrays).")
@click.option("--labels", default=None, type=click.Path(dir_okay=False),
              help="With --data: a CSV, a file column and one column per label (binary, "
                   "categorical or continuous; empty cells are missing).")
@click.option("--label-kind", "label_kinds", multiple=True, metavar="COLUMN=KIND",
              help="Declare a label's kind (binary | categorical | continuous) where the "
                   "inferred one is wrong; repeatable.")
@click.option("--resolution", type=click.IntRange(4), default=None,
              help="With --data: centre-crop and resize every image (default: native size, "
                   "at most 64).")
@click.option("--max-images", type=click.IntRange(1), default=None,
              help="With --data: only the first N images.")
@click.option("--hflip", is_flag=True,
              help="With --data: random left-right flips (only if no label depends on them).")
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
def train(dataset, data, labels, label_kinds, resolution, max_images, hflip, out, data_root,
          steps, batch_size, max_minutes, seed, threads, resume) -> None:
    """Train the DATASET predictor (or one for --data with --labels: one head per label column)
    and evaluate it on its held-out test split."""
    import torch

    from latentatlas.training.predictors_user import train_predictor_job

    torch.set_num_threads(threads)
    metrics = train_predictor_job(
        dataset, out, data=data, labels=labels, label_kinds=label_kinds,
        resolution=resolution, max_images=max_images, hflip=hflip, data_root=data_root,
        steps=steps, batch_size=batch_size, max_minutes=max_minutes, seed=seed,
        resume=resume)
    test = metrics["test"]
    click.echo(f"best step {metrics['best_step']} of {metrics['stopped_step']}; test loss "
               f"{test['loss']:.4f}")
    if test.get("mean_accuracy") is not None:
        click.echo(f"test mean accuracy {test['mean_accuracy']:.4f}")
    if test.get("mean_auc") is not None:
        click.echo(f"test mean ROC-AUC {test['mean_auc']:.4f}")
    click.echo(f"model: {out}/model  (card: {out}/MODEL_CARD.md)")
