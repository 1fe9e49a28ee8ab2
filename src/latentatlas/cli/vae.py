"""`latentatlas vae train ...`: the VAE family."""

from __future__ import annotations

from pathlib import Path

import click

from latentatlas.cli._app import FINITE_NONNEG, FINITE_POSITIVE, argv_command_line, main

_OBJECTIVES = ("betavae", "annealedvae", "factorvae", "betatcvae", "dipvae1", "dipvae2")


@main.group()
def vae() -> None:
    """Disentangled VAEs: beta-VAE, AnnealedVAE, FactorVAE, beta-TCVAE, DIP-VAE I/II."""


@vae.command("train")
@click.option("--model", "objective", type=click.Choice(_OBJECTIVES), default="betavae",
              show_default=True, help="Objective.")
@click.option("--data", default="dsprites", show_default=True,
              help="dsprites | dsprites_color | dsprites_noisy | path/to/images.npy (NHWC, [0,1]).")
@click.option("--steps", type=click.IntRange(1), default=10_000, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Output folder.")
@click.option("--latent-dim", type=click.IntRange(1), default=10, show_default=True)
@click.option("--architecture", type=click.Choice(["dlib", "burgess"]), default="dlib",
              show_default=True)
@click.option("--likelihood", type=click.Choice(["bernoulli", "gaussian", "laplace"]),
              default="bernoulli", show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--lr", type=FINITE_POSITIVE, default=1e-4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--beta", type=FINITE_NONNEG, default=None, help="betavae (4) / betatcvae (6).")
@click.option("--gamma", type=FINITE_NONNEG, default=None,
              help="annealedvae (1000) / factorvae (10).")
@click.option("--c-max", type=FINITE_NONNEG, default=None, help="annealedvae capacity (25).")
@click.option("--iteration-threshold", type=click.IntRange(1), default=None,
              help="annealedvae capacity ramp length (100000).")
@click.option("--lambda-od", type=FINITE_NONNEG, default=None,
              help="dipvae off-diagonal weight (10).")
@click.option("--lambda-d-factor", type=FINITE_NONNEG, default=None,
              help="dipvae diagonal weight / lambda_od (10 for dipvae1, 1 for dipvae2).")
@click.option("--bf16", is_flag=True, help="bf16 autocast for the networks (CPU).")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.safetensors.")
@click.option("--checkpoint-every", type=click.IntRange(1), default=1000, show_default=True)
@click.option("--log-every", type=click.IntRange(1), default=100, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=None, help="torch CPU threads.")
def vae_train(objective: str, data: str, steps: int, out: str, latent_dim: int, architecture: str,
              likelihood: str, batch_size: int, lr: float, seed: int, beta: float | None,
              gamma: float | None, c_max: float | None, iteration_threshold: int | None,
              lambda_od: float | None, lambda_d_factor: float | None, bf16: bool, resume: bool,
              checkpoint_every: int, log_every: int, threads: int | None) -> None:
    """Train a VAE; writes OUT/model (model folder), checkpoint, log.jsonl, run.json, figures."""
    from latentatlas.pipelines.vae import train_vae_run

    if threads:
        import torch

        torch.set_num_threads(threads)
    hyper = {"beta": beta, "gamma": gamma, "c_max": c_max,
             "iteration_threshold": iteration_threshold, "lambda_od": lambda_od,
             "lambda_d_factor": lambda_d_factor}
    metrics, paths = train_vae_run(
        objective, data, out, steps=steps, latent_dim=latent_dim, architecture=architecture,
        likelihood=likelihood, batch_size=batch_size, lr=lr, seed=seed, hyper=hyper, bf16=bf16,
        resume=resume, checkpoint_every=checkpoint_every, log_every=log_every,
        command=argv_command_line())
    click.echo(f"trained {objective} for {metrics['final_step']} steps "
               f"({metrics['images_per_s']} images/s); model in {Path(out) / 'model'}")
    for k, p in paths.items():
        click.echo(f"  {k}: {p}")
