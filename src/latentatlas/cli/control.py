"""GAN-Control: `latentatlas train control`, `latentatlas train controllers`, `latentatlas control`.

A grouped StyleGAN2 trained with the contrastive loss (one latent group per attribute), the
per-attribute controllers that map a wanted value to the group's w, and sampling with attribute
values set explicitly. See docs/gan_control.md.
"""

from __future__ import annotations

import click

from latentatlas.cli._app import FINITE_NONNEG, FINITE_POSITIVE, UNIT, main, options_command_line
from latentatlas.cli.train import _train_group


def _csv(value: str | None) -> list[str] | None:
    return [s.strip() for s in value.split(",") if s.strip()] if value else None


@_train_group().command("control")
@click.option("--base", default="shapes3d", show_default=True,
              help="StyleGAN2 to warm-start the synthesis network from (zoo name or folder).")
@click.option("--predictor", default="predictor_shapes3d", show_default=True,
              help="Frozen attribute network whose heads define the groups.")
@click.option("--data", default=None, help="Real images (default: the base model's data set).")
@click.option("--attributes", default=None,
              help="Comma-separated predictor heads to control (default: all heads).")
@click.option("--group-dim", type=click.IntRange(1), default=16, show_default=True,
              help="z and w columns per attribute group; 'other' gets the rest of w.")
@click.option("--distance", type=click.Choice(["l2", "l1", "cosine"]), default="l2",
              show_default=True)
@click.option("--temperature", type=FINITE_POSITIVE, default=4.0, show_default=True,
              help="Softmax temperature of the class-probability embeddings.")
@click.option("--pairs", "n_pairs", type=click.IntRange(1), default=56, show_default=True,
              help="Pairs per contrastive step (each shares one group).")
@click.option("--contrastive-weight", "weight", type=FINITE_POSITIVE, default=1.0,
              show_default=True)
@click.option("--contrastive-interval", "interval", type=click.IntRange(1), default=1,
              show_default=True, help="Every this many G steps (lazy).")
@click.option("--contrastive-warmup", "regularizer_only_steps", type=click.IntRange(0),
              default=None, help="First steps trained by the contrastive loss alone (no "
              "adversarial term; default 1500).")
@click.option("--warmup-lr", "regularizer_only_lr", type=FINITE_POSITIVE, default=None,
              help="G's learning rate in the warm-up (default 1e-3).")
@click.option("--n-real", type=click.IntRange(100), default=2000, show_default=True,
              help="Real images that set the thresholds.")
@click.option("--linear-start/--no-linear-start", "linear", default=True, show_default=True,
              help="Start each group on the base model's W directions of its attribute.")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Run folder.")
@click.option("--kimg", type=FINITE_POSITIVE, default=None, help="Length in thousands of images.")
@click.option("--steps", "total_steps", type=click.IntRange(1), default=None)
@click.option("--batch", type=click.IntRange(1), default=None, help="Global batch (32).")
@click.option("--g-lr", type=FINITE_POSITIVE, default=None)
@click.option("--d-lr", type=FINITE_POSITIVE, default=None)
@click.option("--seed", type=int, default=None)
@click.option("--checkpoint-every", type=click.IntRange(1), default=None)
@click.option("--sample-every", type=click.IntRange(1), default=None)
@click.option("--log-every", type=click.IntRange(1), default=None)
@click.option("--resume", is_flag=True, help="Continue from the newest checkpoint in --out.")
@click.option("--overwrite", is_flag=True, help="Start over in an --out that holds a run.")
@click.option("--threads", type=click.IntRange(1), default=None, help="torch CPU threads.")
@click.option("--device", default=None, help="cpu | cuda (default: CUDA if present).")
def train_control_cmd(base, predictor, data, attributes, group_dim, distance, temperature,
                      n_pairs, weight, interval, n_real, linear, out, resume, overwrite, threads,
                      device, **train) -> None:
    """Train a GAN-Control model (grouped StyleGAN2 + contrastive loss), resumable.

    \b
      latentatlas train control --out runs/shapes3d_control --kimg 300
    """
    from latentatlas.training.control_run import run_control

    run_control(out, base=base, predictor=predictor, data=data, attributes=_csv(attributes),
                group_dim=group_dim, distance=distance, temperature=temperature,
                n_pairs=n_pairs, weight=weight, interval=interval, n_real=n_real,
                linear=linear, overrides=train, resume=resume, overwrite=overwrite, threads=threads,
                device=device, command=options_command_line("latentatlas train control"),
                log=click.echo)


@_train_group().command("controllers")
@click.option("--run", "run_dir", type=click.Path(file_okay=False, exists=True), required=True,
              help="A `train control` run folder (its model/ and control.json).")
@click.option("--continuous", default=None,
              help="Comma-separated ordered heads controlled as a number (their expected class "
                   "index) instead of a class, e.g. scale,orientation.")
@click.option("--samples", "n_samples", type=click.IntRange(100), default=20000,
              show_default=True, help="(w, attribute) pairs to train on.")
@click.option("--steps", type=click.IntRange(1), default=2000, show_default=True,
              help="Steps of the L1 fit (value -> the group's w).")
@click.option("--attribute-steps", type=click.IntRange(0), default=300, show_default=True,
              help="Then steps of attribute reconstruction through G and the predictor "
                   "(0: L1 alone, the reference's effective loss).")
@click.option("--attribute-weight", type=FINITE_POSITIVE, default=1.0, show_default=True)
@click.option("--keep-weight", type=FINITE_NONNEG, default=1.0, show_default=True,
              help="Weight of the other attributes' change in that tuning (0: off).")
@click.option("--anchors", "anchor_candidates", type=click.IntRange(0), default=16,
              show_default=True,
              help="Before the tuning, per class, the best of the L1 output and this many "
                   "training codes of the class becomes its anchor (0: off).")
@click.option("--anchor-rests", type=click.IntRange(1), default=16, show_default=True,
              help="Codes each anchor candidate is scored on.")
@click.option("--hidden", type=click.IntRange(1), default=512, show_default=True,
              help="Width of each controller MLP (4 layers, as the reference).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace existing controllers.")
@click.option("--threads", type=click.IntRange(1), default=None, help="torch CPU threads.")
def train_controllers_cmd(run_dir, continuous, n_samples, steps, attribute_steps,
                          attribute_weight, keep_weight, anchor_candidates, anchor_rests,
                          hidden, seed, overwrite, threads) -> None:
    """Fit the per-attribute controllers of a GAN-Control run into RUN/model/controllers."""
    from latentatlas.pipelines.control import train_controllers

    report = train_controllers(run_dir, continuous=_csv(continuous) or (), n_samples=n_samples,
                               steps=steps, attribute_steps=attribute_steps,
                               attribute_weight=attribute_weight, keep_weight=keep_weight,
                               anchor_candidates=anchor_candidates, anchor_rests=anchor_rests,
                               hidden=hidden, seed=seed,
                               overwrite=overwrite, threads=threads,
                               command=options_command_line("latentatlas train controllers"))
    for name, r in report["attributes"].items():
        click.echo(f"{name}: held-out L1 {r['heldout_l1']:.4f} vs {r['median_l1']:.4f} "
                   f"ignoring the value (ratio {r['ratio']:.3f})")
    click.echo(f"wrote {report['folder']}")


@main.command("control")
@click.option("--model", required=True,
              help="A GAN-Control model (zoo name, e.g. shapes3d_control, or a folder with "
                   "controllers/).")
@click.option("--set", "settings", multiple=True, metavar="NAME=VALUE", required=True,
              help="An attribute value to set (repeatable); the other groups are sampled.")
@click.option("--n", type=click.IntRange(1, 1024), default=16, show_default=True)
@click.option("--truncation", type=UNIT, default=1.0, show_default=True,
              help="Truncation psi of the sampled (not set) groups.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="PNG grid.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
def control_cmd(model, settings, n, truncation, seed, out, overwrite) -> None:
    """Samples with attribute values set explicitly: latentatlas control --model
    shapes3d_control --set floor_hue=3 --set shape=1 --n 16 --out grid.png"""
    from latentatlas.pipelines.control import control_grid, parse_settings

    path = control_grid(model, parse_settings(settings), n=n, truncation_psi=truncation,
                        seed=seed, out=out, overwrite=overwrite,
                        command=options_command_line("latentatlas control"))
    click.echo(f"wrote {path}")
