"""`latentatlas vae train ...` and `latentatlas metrics ...`: the VAE family and its metrics."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from latentatlas.cli._app import main

_OBJECTIVES = ("betavae", "annealedvae", "factorvae", "betatcvae", "dipvae1", "dipvae2")

#: Reduced sample sizes for a loaded 2-core CPU (``--sizes card``), used for the shipped models'
#: cards: encoding ~93k images instead of the ~2.4M the defaults need (the BetaVAE and FactorVAE
#: metrics encode 128 / 64 images per point). Accuracy-type scores then carry roughly +-0.05 of
#: sampling noise (100 evaluation points).
CARD_SIZES: dict[str, dict[str, int]] = {
    "beta_vae": {"num_train": 200, "num_eval": 100},
    "factor_vae": {"num_train": 200, "num_eval": 100, "num_variance_estimate": 2_000},
    "mig": {"num_train": 10_000},
    "dci": {"num_train": 2_000, "num_test": 1_000},
    "sap": {"num_train": 2_000, "num_test": 1_000},
    "modularity_explicitness": {"num_train": 5_000, "num_test": 2_500},
    "irs": {"num_train": 5_000},
    "unsupervised": {"num_train": 5_000},
}


def load_data(name: str):
    """A data set by name: ``dsprites`` (binary), ``dsprites_color`` / ``dsprites_noisy``, or a
    ``.npy`` file of NHWC float images in [0, 1] (train only)."""
    from latentatlas.utils.errors import DataError

    if name.endswith(".npy"):
        import numpy as np

        path = Path(name)
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        try:
            return np.load(path, allow_pickle=False, mmap_mode="r")
        except (ValueError, OSError) as e:
            raise DataError(f"{path}: not a readable .npy array ({e})") from e
    if name == "dsprites" or name.startswith("dsprites_"):
        from latentatlas.data.dsprites import DSpritesLike

        variant = "binary" if name == "dsprites" else name.split("_", 1)[1]
        return DSpritesLike(variant=variant)
    raise DataError(f"unknown data set {name!r}; use dsprites, dsprites_color, dsprites_noisy "
                    "or a .npy file of NHWC images in [0, 1]")


@main.group()
def vae() -> None:
    """Disentangled VAEs: beta-VAE, AnnealedVAE, FactorVAE, beta-TCVAE, DIP-VAE I/II."""


@vae.command("train")
@click.option("--model", "objective", type=click.Choice(_OBJECTIVES), default="betavae",
              show_default=True, help="Objective.")
@click.option("--data", default="dsprites", show_default=True,
              help="dsprites | dsprites_color | dsprites_noisy | path/to/images.npy (NHWC, [0,1]).")
@click.option("--steps", type=int, default=10_000, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Output folder.")
@click.option("--latent-dim", type=int, default=10, show_default=True)
@click.option("--architecture", type=click.Choice(["dlib", "burgess"]), default="dlib",
              show_default=True)
@click.option("--likelihood", type=click.Choice(["bernoulli", "gaussian", "laplace"]),
              default="bernoulli", show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--beta", type=float, default=None, help="betavae (4) / betatcvae (6).")
@click.option("--gamma", type=float, default=None, help="annealedvae (1000) / factorvae (10).")
@click.option("--c-max", type=float, default=None, help="annealedvae capacity (25).")
@click.option("--iteration-threshold", type=int, default=None,
              help="annealedvae capacity ramp length (100000).")
@click.option("--lambda-od", type=float, default=None, help="dipvae off-diagonal weight (10).")
@click.option("--lambda-d-factor", type=float, default=None,
              help="dipvae diagonal weight / lambda_od (10 for dipvae1, 1 for dipvae2).")
@click.option("--bf16", is_flag=True, help="bf16 autocast for the networks (CPU).")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.safetensors.")
@click.option("--checkpoint-every", type=int, default=1000, show_default=True)
@click.option("--log-every", type=int, default=100, show_default=True)
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
def vae_train(objective: str, data: str, steps: int, out: str, latent_dim: int, architecture: str,
              likelihood: str, batch_size: int, lr: float, seed: int, beta: float | None,
              gamma: float | None, c_max: float | None, iteration_threshold: int | None,
              lambda_od: float | None, lambda_d_factor: float | None, bf16: bool, resume: bool,
              checkpoint_every: int, log_every: int, threads: int | None) -> None:
    """Train a VAE; writes OUT/model (model folder), checkpoint, log.jsonl, run.json, figures."""
    import numpy as np
    import torch

    from latentatlas.models.vae import VAE
    from latentatlas.report.vae_figures import save_vae_figures
    from latentatlas.training.vae import VAETrainConfig, train_vae
    from latentatlas.training.vae_losses import make_objective

    if threads:
        torch.set_num_threads(threads)
    dataset = load_data(data)
    if isinstance(dataset, np.ndarray):
        channels = 1 if dataset.ndim == 3 else int(dataset.shape[-1])
        image_size = int(dataset.shape[1])
    else:
        image_size, _, channels = dataset.observation_shape
    hyper = {"beta": beta, "gamma": gamma, "c_max": c_max,
             "iteration_threshold": iteration_threshold, "lambda_od": lambda_od,
             "lambda_d_factor": lambda_d_factor}
    # Seeded initialisation of the networks (model and FactorVAE discriminator).
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = VAE(latent_dim=latent_dim, channels=channels, image_size=image_size,
                    architecture=architecture, likelihood=likelihood)
        obj = make_objective(objective, latent_dim=latent_dim,
                             **{k: v for k, v in hyper.items() if v is not None})
    config = VAETrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, bf16=bf16,
                            checkpoint_every=checkpoint_every, log_every=log_every)
    command = "latentatlas " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    metrics = train_vae(model, obj, dataset, out, config, resume=resume, command=command)
    rng = np.random.default_rng(seed + 1)
    images = (dataset.sample_observations(16, rng) if not isinstance(dataset, np.ndarray)
              else np.asarray(dataset[rng.integers(0, len(dataset), 16)], np.float32))
    if images.ndim == 3:
        images = images[..., None]
    paths = save_vae_figures(model, images, Path(out), rng=seed)
    click.echo(f"trained {objective} for {metrics['final_step']} steps "
               f"({metrics['images_per_s']} images/s); model in {Path(out) / 'model'}")
    for k, p in paths.items():
        click.echo(f"  {k}: {p}")


@main.command("metrics")
@click.option("--model", "model_name", required=True,
              help="A VAE model folder or a shipped model name (e.g. betavae_dsprites).")
@click.option("--data", default="dsprites", show_default=True,
              help="Ground-truth data set: dsprites | dsprites_color | dsprites_noisy.")
@click.option("--fast", is_flag=True, help="Smaller sample sizes (quick look).")
@click.option("--sizes", default=None,
              help="Per-metric sample sizes: 'card' (CARD_SIZES) or JSON like "
                   "'{\"mig\": {\"num_train\": 5000}}' (overrides --fast).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--random-init", is_flag=True,
              help="Score a randomly initialised encoder of the same architecture (baseline).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the scores as JSON here (plus <name>.run.json beside it).")
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
def metrics_cmd(model_name: str, data: str, fast: bool, sizes: str | None, seed: int,
                random_init: bool, out: str | None, threads: int | None) -> None:
    """Disentanglement metrics of a VAE's encoder mean on a ground-truth data set."""
    from latentatlas.metrics import headline_scores

    if threads:
        import torch

        torch.set_num_threads(threads)
    import json

    if sizes is None:
        sizes_dict = None
    elif sizes == "card":
        sizes_dict = CARD_SIZES
    else:
        try:
            sizes_dict = json.loads(sizes)
        except json.JSONDecodeError as e:
            raise click.BadParameter(f"not 'card' nor valid JSON: {e}",
                                     param_hint="--sizes") from e
    scores = evaluate_vae(model_name, data, fast=fast, seed=seed, random_init=random_init,
                          progress=True, sizes=sizes_dict)
    click.echo(format_table(headline_scores(scores)))
    click.echo("")
    click.echo(format_table({k: v for k, v in scores.items() if k != "settings"}))
    if out:
        from latentatlas.utils.atomic import atomic_write_json
        from latentatlas.utils.runinfo import write_run_record

        atomic_write_json(out, scores)
        command = "latentatlas " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        write_run_record(Path(out).parent, command=command,
                         config={"model": model_name, "data": data, "fast": fast,
                                 "sizes": sizes_dict, "random_init": random_init},
                         seed=seed, metrics=scores, filename=f"{Path(out).stem}.run.json")
        click.echo(f"wrote {out}")


def evaluate_vae(model_name: str, data: str = "dsprites", fast: bool = False, seed: int = 0,
                 random_init: bool = False, progress: bool = False,
                 sizes: dict[str, dict[str, int]] | None = None) -> dict:
    """Load a VAE (folder or shipped name) and run the metric suite on its encoder mean.

    ``seed`` seeds every metric independently (as disentanglement_lib does); with
    ``random_init`` the scores are those of a freshly initialised encoder of the same
    architecture (torch seed ``seed``): the baseline a trained model must beat. ``sizes`` gives
    per-metric sample sizes (e.g. :data:`CARD_SIZES`) and runs every metric of the suite with
    them, each seeded with ``seed`` as :func:`compute_suite` does.
    """
    import numpy as np
    import torch

    from latentatlas.metrics import compute_suite
    from latentatlas.models import load
    from latentatlas.models.vae import VAE
    from latentatlas.utils.errors import CheckpointError

    model = load(model_name)
    if not isinstance(model, VAE):
        raise CheckpointError(f"{model_name}: is a {type(model).__name__}, not a VAE")
    if random_init:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = VAE(**model.init_kwargs).eval()
    dataset = load_data(data)
    if isinstance(dataset, np.ndarray):
        raise click.UsageError("metrics need a ground-truth data set (dsprites...), not an array")
    if sizes is None:
        return dict(compute_suite(dataset, model.representation, seed, fast=fast,
                                  progress=progress))
    import time

    from latentatlas.metrics import METRICS

    unknown = sorted(set(sizes) - set(METRICS))
    if unknown:
        raise click.BadParameter(f"unknown metrics {unknown}; known: {sorted(METRICS)}")
    results: dict = {}
    timings: dict[str, float] = {}
    for name, fn in METRICS.items():
        start = time.perf_counter()
        results[name] = fn(dataset, model.representation, np.random.default_rng(seed),
                           **sizes.get(name, {}))
        timings[name] = round(time.perf_counter() - start, 2)
        if progress:
            click.echo(f"  {name}: {timings[name]:.0f} s", err=True)
    results["timings_s"] = timings
    results["settings"] = {"fast": False, "sizes": {m: sizes.get(m, "defaults") for m in METRICS}}
    return results


def format_table(scores: dict) -> str:
    """Two-column text table of (flattened) scalar scores."""
    rows = []

    def walk(prefix: str, obj) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
            rows.append((prefix, float(obj)))

    walk("", scores)
    width = max((len(k) for k, _ in rows), default=6)
    lines = [f"{'metric':<{width}}  value", "-" * (width + 8)]
    lines += [f"{k:<{width}}  {v:.4f}" for k, v in rows]
    return "\n".join(lines)
