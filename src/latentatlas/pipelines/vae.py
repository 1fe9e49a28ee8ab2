"""Train a disentangled VAE and draw its figures: what ``latentatlas vae train`` does."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def train_vae_run(objective: str, data: str, out: str | os.PathLike, *, steps: int = 10_000,
                  latent_dim: int = 10, architecture: str = "dlib",
                  likelihood: str = "bernoulli", batch_size: int = 64, lr: float = 1e-4,
                  seed: int = 0, hyper: dict[str, Any] | None = None, bf16: bool = False,
                  resume: bool = False, checkpoint_every: int = 1000, log_every: int = 100,
                  command: str | None = None) -> tuple[dict[str, Any], dict[str, Path]]:
    """Train a VAE with ``objective`` (betavae, factorvae, ...) on ``data`` (a name of
    :func:`~latentatlas.data.vae_sets.load_vae_data`) into ``out``, then save its figures.

    ``hyper``: the objective's hyper-parameters (beta, gamma, c_max, ...; None values keep the
    objective's defaults). The networks are initialised from torch seed ``seed``. Returns the
    training metrics and the figure paths (see
    :func:`~latentatlas.report.vae_figures.save_vae_figures`).
    """
    import numpy as np
    import torch

    from latentatlas.data.vae_sets import load_vae_data
    from latentatlas.models.vae import VAE
    from latentatlas.report.vae_figures import save_vae_figures
    from latentatlas.training.vae import VAETrainConfig, train_vae
    from latentatlas.training.vae_losses import make_objective
    from latentatlas.utils.errors import OutputExistsError
    from latentatlas.utils.outputs import folder_is_empty

    if not resume and Path(out).is_dir() and not folder_is_empty(Path(out)):
        raise OutputExistsError(f"{out} is not empty; resume=True continues the VAE run there, "
                                "or choose another out")
    dataset = load_vae_data(data)
    if isinstance(dataset, np.ndarray):
        channels = 1 if dataset.ndim == 3 else int(dataset.shape[-1])
        image_size = int(dataset.shape[1])
    else:
        image_size, _, channels = dataset.observation_shape
    hyper = {k: v for k, v in (hyper or {}).items() if v is not None}
    # Seeded initialisation of the networks (model and FactorVAE discriminator).
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = VAE(latent_dim=latent_dim, channels=channels, image_size=image_size,
                    architecture=architecture, likelihood=likelihood)
        obj = make_objective(objective, latent_dim=latent_dim, **hyper)
    config = VAETrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, bf16=bf16,
                            checkpoint_every=checkpoint_every, log_every=log_every)
    metrics = train_vae(model, obj, dataset, out, config, resume=resume, command=command)
    rng = np.random.default_rng(seed + 1)
    images = (dataset.sample_observations(16, rng) if not isinstance(dataset, np.ndarray)
              else np.asarray(dataset[rng.integers(0, len(dataset), 16)], np.float32))
    if images.ndim == 3:
        images = images[..., None]
    paths = save_vae_figures(model, images, Path(out), rng=seed)
    return metrics, paths
