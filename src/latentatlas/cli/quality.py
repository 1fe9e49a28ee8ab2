"""`latentatlas quality`: sample quality of a generator (Frechet distance, KID, coverage)."""

from __future__ import annotations

import click

from latentatlas.cli._app import main, options_command_line


@main.command("quality")
@click.option("--model", "model_path", required=True, help="Generator: zoo name or model folder.")
@click.option("--data", required=True, help="celeba | mnist | dsprites | shapes3d | a folder.")
@click.option("--predictor", required=True, help="Predictor (zoo name or folder) to embed with.")
@click.option("--n-real", type=int, default=10000, show_default=True,
              help="Real images (split in two halves: reference and floor).")
@click.option("--n-fake", type=int, default=None, help="Generated images (default n-real / 2).")
@click.option("--truncation-psi", type=float, default=1.0, show_default=True)
@click.option("--kid-subsets", type=int, default=100, show_default=True)
@click.option("--kid-subset-size", type=int, default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--data-root", default=None, help="Folder / file of the real data set.")
@click.option("--inception-weights", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Also standard FID: pytorch-fid's pt_inception-2015-12-05-6726825d.pth (or "
                   "the same tensors as .safetensors); slow on a CPU.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the result as JSON here (and run.json beside it).")
@click.option("--threads", type=click.IntRange(1), default=None,
              help="torch CPU threads (default: torch's own choice).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
def quality_command(model_path, data, predictor, n_real, n_fake, truncation_psi, kid_subsets,
                    kid_subset_size, seed, data_root, inception_weights, out, threads,
                    overwrite) -> None:
    """Frechet distance and KID of a generator vs real data in a predictor's embedding, next to
    the real-vs-real floor; plus class confidence / coverage for multiclass predictor heads."""
    import json

    import torch

    from latentatlas.analysis.quality import evaluate_quality

    if threads:
        torch.set_num_threads(threads)
    result = evaluate_quality(
        model_path, data, predictor, n_real=n_real, n_fake=n_fake, truncation_psi=truncation_psi,
        kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, seed=seed, data_root=data_root,
        inception_weights=inception_weights, out=out,
        command=options_command_line("latentatlas quality"), overwrite=overwrite)
    click.echo(json.dumps(result, indent=2))
