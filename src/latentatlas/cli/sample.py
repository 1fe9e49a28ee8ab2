"""`latentatlas sample`: the latent bank."""

from __future__ import annotations

import click

from latentatlas.cli._app import main


@main.command("sample")
@click.option("--model", "-m", "model_name", required=True,
              help="Generator: shipped model name or model folder.")
@click.option("--n", "--num-samples", "n", type=click.IntRange(1), required=True,
              help="Number of samples (under torchrun write --num-samples: its parser takes --n "
                   "for an abbreviation of its own options).")
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
              help="Continue an unfinished bank in --out (--no-resume starts the same bank "
                   "over).")
@click.option("--overwrite", is_flag=True,
              help="Replace what --out holds (another bank, other files).")
@click.option("--ranks", type=click.IntRange(1), default=1, show_default=True,
              help="Local processes sharing the work (gloo on CPU, NCCL on CUDA); the bank is "
                   "the same. Or launch with `torchrun --nproc_per_node=N -m latentatlas sample`.")
@click.option("--device", default=None,
              help="cpu | cuda (each rank on cuda:LOCAL_RANK) | cuda:0 (default: cpu).")
def sample(model_name, n, scorers, out, seed, truncation, truncation_cutoff, batch_size,
           chunk_size, thumbnails, fast, threads, resume, overwrite, ranks, device) -> None:
    """Sample N latents, synthesise, score and store a latent bank (InterFaceGAN layout)."""
    import os

    from latentatlas.analysis.bank import sample_bank_job

    names = [s.strip() for s in scorers.split(",") if s.strip()]
    if not names:
        raise click.BadParameter("give at least one scorer", param_hint="--scorers")
    bank = sample_bank_job(model_name, names, n, out, ranks=ranks, device=device,
                           threads=threads, fast=fast, seed=seed, truncation_psi=truncation,
                           truncation_cutoff=truncation_cutoff, batch_size=batch_size,
                           chunk_size=chunk_size, keep_thumbnails=thumbnails > 0,
                           thumbnail_size=thumbnails or 32, resume=resume,
                           overwrite=overwrite)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 reports
        ips = bank.meta.get("images_per_second_last_session", 0.0)
        click.echo(f"bank {out}: {len(bank)} samples, {len(bank.names)} scores "
                   f"({', '.join(bank.names[:8])}{', ...' if len(bank.names) > 8 else ''}); "
                   f"{ips:.1f} images/s")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # A torchrun rank leaves without the interpreter's teardown, where gloo's threads now
        # and then abort a finished process (SIGABRT): the GAN trainer's ranks do the same.
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
