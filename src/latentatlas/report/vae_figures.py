"""VAE figures: latent traversals (grid and GIF, latents sorted by KL), reconstructions, samples.

All functions take NHWC float images in [0, 1] (as data sets give them) and write atomically
through :mod:`latentatlas.io.images`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from latentatlas.io.images import make_grid, save_gif, save_grid
from latentatlas.models.vae import VAE
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.rng import check_rng


@torch.no_grad()
def kl_per_dimension(model: VAE, images: np.ndarray) -> np.ndarray:
    """Mean KL(q(z_d|x) || N(0, 1)) of every latent dimension over ``images``: shape [latent_dim].

    Dimensions with KL near 0 are unused ("collapsed") by the model.
    """
    x = model._nhwc_to_tensor(images).to(next(model.parameters()).device)
    model.eval()
    mu, logvar = model.encode(x)
    per_dim = 0.5 * (mu.square() + logvar.exp() - logvar - 1.0)
    return per_dim.mean(0).float().cpu().numpy()


@torch.no_grad()
def latent_traversals(
    model: VAE,
    image: np.ndarray,
    values: np.ndarray | None = None,
    dims: np.ndarray | None = None,
) -> np.ndarray:
    """Decoded traversals around one image's posterior mean: [len(dims), len(values), H, W, C].

    Row r varies latent ``dims[r]`` over ``values`` (default ``linspace(-2, 2, 9)``) with the
    other latents fixed at the image's posterior mean. ``dims`` defaults to all latents.
    """
    values = np.linspace(-2.0, 2.0, 9) if values is None else np.asarray(values, np.float32)
    dims = np.arange(model.latent_dim) if dims is None else np.asarray(dims, np.int64)
    if dims.size and (dims.min() < 0 or dims.max() >= model.latent_dim):
        raise ShapeError(f"dims must be in [0, {model.latent_dim}), got {dims.tolist()}")
    image = np.asarray(image)
    x = model._nhwc_to_tensor(image[None] if image.ndim == 3 else image[:1])
    device = next(model.parameters()).device
    model.eval()
    mu = model.encode(x.to(device))[0][0]
    codes = mu.repeat(len(dims), len(values), 1)  # [D, V, latent]
    vals = torch.as_tensor(values, dtype=codes.dtype, device=device)
    for r, d in enumerate(dims):
        codes[r, :, d] = vals
    out = model.mean_image(model.decode(codes.reshape(-1, model.latent_dim)))
    out = out.cpu().numpy().transpose(0, 2, 3, 1)
    return out.reshape(len(dims), len(values), *out.shape[1:])


def save_traversals(
    model: VAE,
    images: np.ndarray,
    out_dir: str | os.PathLike,
    num_values: int = 9,
    limit: float = 2.0,
    prefix: str = "traversal",
) -> dict[str, Path]:
    """Traversal grid PNG + GIF for ``images[0]``, rows = latents sorted by KL (largest first).

    Writes ``{prefix}.png`` (rows: latents, columns: values in [-limit, limit]) and ``{prefix}.gif``
    (one frame per value showing every latent's row of the first ``min(4, N)`` images).
    """
    out_dir = Path(out_dir)
    kl = kl_per_dimension(model, images)
    order = np.argsort(-kl)
    values = np.linspace(-limit, limit, num_values)
    trav = latent_traversals(model, images[0], values, order)  # [D, V, H, W, C]
    paths = {"traversal_png": save_grid(trav.reshape(-1, *trav.shape[2:]),
                                        out_dir / f"{prefix}.png", nrow=num_values,
                                        value_range=(0, 1))}
    # GIF: frame v shows, for each of a few images (columns), every latent (rows) set to value v.
    per_image = [latent_traversals(model, img, values, order)
                 for img in images[: min(4, len(images))]]
    frames = []
    for v in range(num_values):
        tiles = np.stack([t[:, v] for t in per_image], axis=1)  # [D, n_img, H, W, C]
        frames.append(make_grid(tiles.reshape(-1, *tiles.shape[2:]), nrow=len(per_image),
                                value_range=(0, 1)))
    paths["traversal_gif"] = save_gif(frames, out_dir / f"{prefix}.gif", fps=6)
    return paths


def save_reconstructions(model: VAE, images: np.ndarray, path: str | os.PathLike,
                         n: int = 8) -> Path:
    """Grid with ``n`` originals (top row) above their mean reconstructions (bottom row)."""
    images = np.asarray(images)[:n]
    if images.ndim == 3:
        images = images[..., None]
    recon = model.reconstruct(images)
    return save_grid(np.concatenate([images, recon]), path, nrow=len(images), value_range=(0, 1))


def save_samples(model: VAE, path: str | os.PathLike, n: int = 64,
                 rng: np.random.Generator | int | None = 0) -> Path:
    """Grid of ``n`` decoded prior samples z ~ N(0, I)."""
    samples = model.sample_images(n, check_rng(rng))
    return save_grid(samples, path, value_range=(0, 1))


def save_vae_figures(model: VAE, images: np.ndarray, out_dir: str | os.PathLike,
                     rng: np.random.Generator | int | None = 0) -> dict[str, Path]:
    """All figures for a trained VAE: traversals (PNG + GIF), reconstructions and samples."""
    out_dir = Path(out_dir)
    paths = save_traversals(model, images, out_dir)
    paths["reconstructions_png"] = save_reconstructions(model, images,
                                                        out_dir / "reconstructions.png")
    paths["samples_png"] = save_samples(model, out_dir / "samples.png", rng=rng)
    return paths

