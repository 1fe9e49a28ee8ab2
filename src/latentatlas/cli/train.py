"""`latentatlas train gan | export-gan | widen-gan | ship-gan`: GANs (one process or torchrun).

Distributed: ``torchrun --nproc_per_node=N -m latentatlas.cli.train_gan_main [same options]``
(gloo on CPU, NCCL on CUDA); the global ``--batch`` is split across ranks.
"""

from __future__ import annotations

import click

from latentatlas.cli._app import (
    FINITE_NONNEG,
    FINITE_POSITIVE,
    UNIT,
    main,
    options_command_line,
)

# What launched us, recorded in the run's config (train_gan_main sets the torchrun form).
COMMAND_PREFIX = "latentatlas"

_PRESET_NAMES = ("celeba64", "shapes3d", "dsprites", "mnist", "auto")


def _train_group() -> click.Group:
    """The shared `train` group (other trainers may register commands on it too)."""
    existing = main.commands.get("train")
    if isinstance(existing, click.Group):
        return existing

    @main.group("train")
    def train() -> None:
        """Train models: GANs (train gan)."""

    return train


@_train_group().command("gan")
@click.option("--preset", type=click.Choice(_PRESET_NAMES), default=None,
              help="A zoo recipe (architecture + hyper-parameters), or auto: settings derived "
                   "from the data's size, channels and resolution (the default for a --data "
                   "folder / .npz); explicit options override it.")
@click.option("--arch", type=click.Choice(["stylegan2", "zgen"]), default=None,
              help="Generator family (default stylegan2).")
@click.option("--data", default=None,
              help="celeba | mnist | dsprites | shapes3d | a folder of images | an .npz with "
                   "an 'images' array.")
@click.option("--resolution", type=int, default=None, help="Image size (default 64).")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Run folder.")
@click.option("--kimg", type=FINITE_POSITIVE, default=None,
              help="Length in thousands of real images.")
@click.option("--steps", "total_steps", type=int, default=None, help="Length in steps.")
@click.option("--batch", type=int, default=None, help="Global batch (default 32).")
@click.option("--accum", "accum_steps", type=int, default=None, help="Gradient accumulation.")
@click.option("--resume", is_flag=True, help="Continue from the newest checkpoint in --out.")
@click.option("--overwrite", is_flag=True, help="Start over in an --out that holds a run.")
@click.option("--bf16/--no-bf16", default=None,
              help="bf16 compute (default: where native: AMX / AVX512-BF16 CPUs, Ampere+ GPUs).")
@click.option("--augment", type=click.Choice(["none", "diffaug", "ada"]), default=None,
              help="Differentiable augmentation (ada: adaptive p).")
@click.option("--augment-p", type=UNIT, default=None, help="Fixed / initial augment p.")
@click.option("--mirror/--no-mirror", default=None,
              help="Flip each real image left-right with probability 1/2 (doubles small data "
                   "sets of symmetric subjects, e.g. aligned faces).")
@click.option("--z-dim", type=int, default=None)
@click.option("--w-dim", type=int, default=None)
@click.option("--mapping-layers", type=int, default=None)
@click.option("--channel-base", type=int, default=None, help="G and D channel base.")
@click.option("--channel-max", type=int, default=None)
@click.option("--d-channel-base", type=int, default=None, help="D channel base (default: G's).")
@click.option("--g-lr", type=FINITE_POSITIVE, default=None)
@click.option("--d-lr", type=FINITE_POSITIVE, default=None)
@click.option("--r1-gamma", type=FINITE_NONNEG, default=None)
@click.option("--pl-weight", type=FINITE_NONNEG, default=None, help="Path-length weight (0: off).")
@click.option("--style-mixing", "style_mixing_prob", type=UNIT, default=None)
@click.option("--ema-kimg", type=FINITE_NONNEG, default=None)
@click.option("--seed", type=int, default=None)
@click.option("--checkpoint-every", type=int, default=None, help="Steps between checkpoints.")
@click.option("--sample-every", type=int, default=None, help="Steps between sample grids.")
@click.option("--log-every", type=int, default=None)
@click.option("--max-images", type=int, default=None, help="Use only the first N images.")
@click.option("--data-root", default=None, help="Folder / file of the real data set.")
@click.option("--orojar", "orojar_weight", type=FINITE_NONNEG, default=None,
              help="OroJaR weight lambda (0: off): orthogonal Jacobian of --reg-layers.")
@click.option("--hessian-penalty", "hessian_weight", type=FINITE_NONNEG, default=None,
              help="Hessian-penalty weight lambda (0: off) on --reg-layers.")
@click.option("--reg-layers", default=None,
              help="Generator layers the penalties act on, comma-separated (e.g. "
                   "conv0,conv1,conv2,conv3 for zgen; 'image': the output, the default).")
@click.option("--reg-estimator", type=click.Choice(["fd", "jvp"]), default=None,
              help="Finite differences (the references', default) or exact JVPs.")
@click.option("--reg-warmup-kimg", type=FINITE_NONNEG, default=None,
              help="Ramp the penalty weights linearly from 0 over this many kimg.")
@click.option("--infogan", "infogan_weight", type=FINITE_NONNEG, default=None,
              help="InfoGAN weight (0: off): a Q network regresses the first --infogan-codes "
                   "z dimensions from G(z).")
@click.option("--infogan-codes", type=click.IntRange(min=0), default=None,
              help="How many leading z dimensions are continuous InfoGAN codes (default: all "
                   "not categorical).")
@click.option("--infogan-categorical", type=click.IntRange(min=0), default=None,
              help="How many z dimensions after the continuous codes are categorical codes "
                   "(equiprobable bins of the coordinate; default 0).")
@click.option("--infogan-categories", type=click.IntRange(min=2), default=None,
              help="Values of each categorical code (default 10).")
@click.option("--vp-loss", "vp_weight", type=FINITE_NONNEG, default=None,
              help="GAN-VP weight (0: off; the reference's 0.1): a predictor of which z "
                   "dimension changed between two images, trained with G.")
@click.option("--reg-interval", type=click.IntRange(min=1), default=None,
              help="Compute the penalties every N generator steps (lazy; default 1).")
@click.option("--reg-batch-shrink", type=click.IntRange(min=1), default=None,
              help="Compute the penalties on 1/N of the batch (default 1).")
@click.option("--factor-range", "factor_range", multiple=True, metavar="NAME=LOW:HIGH",
              help="Procedural sets: draw factor NAME only from class indices LOW..HIGH-1 "
                   "(repeatable), e.g. posX=8:24 for dSprites' middle half.")
@click.option("--threads", type=int, default=None, help="torch CPU threads per process.")
@click.option("--device", default=None, help="cpu | cuda | cuda:0 (default: CUDA if present).")
def gan_command(preset, out, resume, overwrite, threads, device, max_images, data_root,
                factor_range, orojar_weight, hessian_weight, reg_layers, reg_estimator,
                reg_warmup_kimg, reg_interval, reg_batch_shrink, infogan_weight, infogan_codes,
                infogan_categorical, infogan_categories,
                vp_weight, **cli) -> None:
    """Train a GAN; writes OUT/checkpoints, samples, metrics.jsonl, model/ (G_ema) and run.json.

    \b
    Zoo recipes (about 2.5 h each on a 2-core CPU; resumable with --resume):
      latentatlas train gan --preset celeba64 --out runs/zoo_celeba64
      latentatlas train gan --preset shapes3d --out runs/zoo_shapes3d
      latentatlas train gan --preset dsprites --out runs/zoo_dsprites
      latentatlas train gan --preset mnist    --out runs/zoo_mnist
    """
    from latentatlas.data.base import parse_factor_ranges
    from latentatlas.training.gan_run import run_gan

    prefix = COMMAND_PREFIX if COMMAND_PREFIX != "latentatlas" else "latentatlas train gan"
    run_gan(out, preset=preset, overrides=cli, resume=resume, threads=threads, device=device,
            max_images=max_images, data_root=data_root, command=options_command_line(prefix),
            log=click.echo, overwrite=overwrite,
            factor_ranges=parse_factor_ranges(factor_range) or None,
            regularizers={"orojar": orojar_weight, "hessian": hessian_weight,
                          "layers": reg_layers, "estimator": reg_estimator,
                          "warmup_kimg": reg_warmup_kimg, "interval": reg_interval,
                          "batch_shrink": reg_batch_shrink, "infogan": infogan_weight,
                          "infogan_codes": infogan_codes,
                          "infogan_categorical": infogan_categorical,
                          "infogan_categories": infogan_categories, "vp": vp_weight})



@_train_group().command("export-gan")
@click.option("--run", "run_dir", type=click.Path(file_okay=False, exists=True), required=True,
              help="A `train gan` run folder (finished or not).")
@click.option("--step", type=int, default=None, help="Checkpoint step (default: the newest).")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Model folder to write (config.json + model.safetensors).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out model folder.")
def export_gan_command(run_dir, step, out, overwrite) -> None:
    """Save a checkpoint's G_ema as a model folder (for `latentatlas quality`, `load`, ...)."""
    from latentatlas.training.export import export_generator

    click.echo(f"exported {export_generator(run_dir, out, step, overwrite=overwrite)}")


@_train_group().command("widen-gan")
@click.option("--run", "run_dir", type=click.Path(file_okay=False, exists=True), required=True,
              help="A `train gan` run folder with a checkpoint.")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="New run folder (must be new or empty).")
@click.option("--channel-base", type=int, default=None, help="The wider generator's channel base.")
@click.option("--channel-max", type=int, default=None, help="The wider generator's channel max.")
@click.option("--step", type=int, default=None, help="Checkpoint step (default: the newest).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Initialisation of the new channels.")
def widen_gan_command(run_dir, out, channel_base, channel_max, step, seed) -> None:
    """Continue a run with a wider generator: copy a checkpoint into a new run folder with G,
    G_ema and G's Adam state widened so that the generator draws the same images (new channels
    start with zero outgoing weights); D and everything else unchanged. Then resume it with
    `latentatlas train gan ... --out OUT --resume --channel-base NEW --d-channel-base OLD`."""
    from latentatlas.training.widen import widen_run

    kwargs = {k: v for k, v in (("channel_base", channel_base), ("channel_max", channel_max))
              if v is not None}
    if not kwargs:
        raise click.UsageError("give --channel-base and/or --channel-max")
    path = widen_run(run_dir, out, kwargs, step=step, seed=seed)
    click.echo(f"wrote {path}; the generator draws the same images as before (checked)")


@_train_group().command("ship-gan")
@click.option("--run", "run_dir", type=click.Path(file_okay=False, exists=True), required=True,
              help="A finished `train gan` run folder.")
@click.option("--name", required=True, help="Zoo name (e.g. celeba64).")
@click.option("--quality", "quality_json", type=click.Path(dir_okay=False, exists=True),
              default=None, help="JSON written by `latentatlas quality --out`.")
@click.option("--zoo-dir", type=click.Path(file_okay=False), default=None,
              help="Zoo folder (default: the package's latentatlas/zoo).")
@click.option("--notes", "notes_file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A Markdown file appended to the model card as its Notes section.")
@click.option("--overwrite", is_flag=True, help="Replace an existing zoo entry of --name.")
def ship_gan_command(run_dir, name, quality_json, zoo_dir, notes_file, overwrite) -> None:
    """Copy a run's G_ema into the zoo with its sample grid and a MODEL_CARD.md."""
    from pathlib import Path

    from latentatlas.training.gan_card import ship_gan

    notes = Path(notes_file).read_text("utf-8") if notes_file else None
    dest = ship_gan(run_dir, name, quality_json, zoo_dir, notes=notes, overwrite=overwrite)
    click.echo(f"shipped {name} -> {dest}")
