"""`latentatlas predictors train ...` and `latentatlas sample` (the latent bank)."""

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

    torch.set_num_threads(threads)
    overrides = {"max_seconds": max_minutes * 60} if max_minutes else None
    if (dataset is None) == (data is None):
        raise click.UsageError("give a DATASET recipe or --data FOLDER_OR_NPZ (not both)")
    if data is not None:
        from latentatlas.data.labels import parse_kinds
        from latentatlas.training.predictors_user import train_user_predictor
        from latentatlas.utils.errors import DataError

        try:
            metrics = train_user_predictor(
                data, out, labels=labels, resolution=resolution, kinds=parse_kinds(label_kinds),
                max_images=max_images, steps=steps, batch_size=batch_size, hflip=hflip,
                seed=seed, resume=resume, overrides=overrides)
        except DataError as e:  # bad data or labels: one clear message, no traceback
            raise click.ClickException(str(e)) from e
    else:
        from latentatlas.training.predictors import train_recipe

        metrics = train_recipe(dataset, out, data_root=data_root, steps=steps,
                               batch_size=batch_size, seed=seed, resume=resume,
                               overrides=overrides)
    test = metrics["test"]
    click.echo(f"best step {metrics['best_step']} of {metrics['stopped_step']}; test loss "
               f"{test['loss']:.4f}")
    if test.get("mean_accuracy") is not None:
        click.echo(f"test mean accuracy {test['mean_accuracy']:.4f}")
    if test.get("mean_auc") is not None:
        click.echo(f"test mean ROC-AUC {test['mean_auc']:.4f}")
    click.echo(f"model: {out}/model  (card: {out}/MODEL_CARD.md)")


@main.command("sample")
@click.option("--model", "-m", "model_name", required=True,
              help="Generator: shipped model name or model folder.")
@click.option("--n", "n", type=click.IntRange(1), required=True, help="Number of samples.")
@click.option("--scorers", default="pixel", show_default=True,
              help="Comma-separated: celeba, mnist, dsprites, shapes3d (shipped predictors), "
                   "pixel, moments, morpho, or predictor model folders.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Bank folder.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--truncation", type=float, default=1.0, show_default=True,
              help="Truncation psi (1: none).")
@click.option("--truncation-cutoff", type=int, default=None,
              help="Truncate only the first W+ layers.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--chunk-size", type=click.IntRange(1), default=4096, show_default=True,
              help="Samples per committed chunk (resume granularity).")
@click.option("--thumbnails", type=click.IntRange(0), default=0, show_default=True,
              help="Keep uint8 thumbnails of this size (0: none).")
@click.option("--fast/--no-fast", default=True, show_default=True,
              help="bf16 + channels_last for predictor scorers.")
@click.option("--threads", type=click.IntRange(1), default=None,
              help="torch CPU threads (default: torch's).")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Continue an unfinished bank in --out (--no-resume overwrites it).")
def sample(model_name, n, scorers, out, seed, truncation, truncation_cutoff, batch_size,
           chunk_size, thumbnails, fast, threads, resume) -> None:
    """Sample N latents, synthesise, score and store a latent bank (InterFaceGAN layout)."""
    import torch

    from latentatlas.analysis.bank import sample_bank
    from latentatlas.models import load
    from latentatlas.scoring import make_scorer

    if threads:
        torch.set_num_threads(threads)
    generator = load(model_name)
    channels = int(getattr(generator, "img_channels", 3))
    built = [make_scorer(s, channels=channels, fast=fast) for s in scorers.split(",") if s.strip()]
    if not built:
        raise click.BadParameter("give at least one scorer", param_hint="--scorers")
    bank = sample_bank(generator, built, n, out, seed=seed, truncation_psi=truncation,
                       truncation_cutoff=truncation_cutoff, batch_size=batch_size,
                       chunk_size=chunk_size, keep_thumbnails=thumbnails > 0,
                       thumbnail_size=thumbnails or 32, resume=resume, model_name=model_name)
    ips = bank.meta.get("images_per_second_last_session", 0.0)
    click.echo(f"bank {out}: {len(bank)} samples, {len(bank.names)} scores "
               f"({', '.join(bank.names[:8])}{', ...' if len(bank.names) > 8 else ''}); "
               f"{ips:.1f} images/s")
