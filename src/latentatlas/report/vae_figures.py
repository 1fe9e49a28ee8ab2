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


# ---------------------------------------------------------------------------------- model cards
_CARD_ROWS = (
    ("BetaVAE score (eval accuracy)", "beta_vae", "eval_accuracy"),
    ("FactorVAE score (eval accuracy)", "factor_vae", "eval_accuracy"),
    ("MIG", "mig", "discrete_mig"),
    ("DCI disentanglement", "dci", "disentanglement"),
    ("DCI completeness", "dci", "completeness"),
    ("DCI informativeness (test accuracy)", "dci", "informativeness_test"),
    ("SAP", "sap", "SAP_score"),
    ("Modularity", "modularity_explicitness", "modularity_score"),
    ("Explicitness (test)", "modularity_explicitness", "explicitness_score_test"),
    ("IRS", "irs", "IRS"),
    ("Gaussian total correlation (lower = more factorised)", "unsupervised",
     "gaussian_total_correlation"),
)


def metrics_table_markdown(scores: dict, baseline: dict | None = None) -> str:
    """Markdown table of the headline disentanglement scores (and a baseline column)."""

    def get(d: dict | None, metric: str, key: str) -> str:
        try:
            return f"{float(d[metric][key]):.3f}"  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            return "n/a"

    head = "| metric | this model |" + (" random-init encoder |" if baseline else "")
    sep = "|---|---:|" + ("---:|" if baseline else "")
    lines = [head, sep]
    for label, metric, key in _CARD_ROWS:
        row = f"| {label} | {get(scores, metric, key)} |"
        if baseline:
            row += f" {get(baseline, metric, key)} |"
        lines.append(row)
    return "\n".join(lines)


def write_vae_model_card(
    zoo_dir: str | os.PathLike,
    run_dir: str | os.PathLike,
    scores: dict,
    baseline: dict | None,
    *,
    title: str,
    train_command: str,
    metrics_command: str,
    baseline_command: str | None = None,
    hardware: str = "",
    notes: str = "",
) -> Path:
    """Assemble a shipped VAE folder from a finished training run.

    Copies ``run_dir/model`` (config.json + model.safetensors) into ``zoo_dir``, writes
    ``metrics.json`` (model and baseline scores), ``traversal.png`` (latents sorted by KL) and
    ``MODEL_CARD.md`` (data, steps, wall time, hardware, commands, every metric beside the
    random-init encoder's).
    """
    import json
    import shutil

    from latentatlas.io.persistence import load_model
    from latentatlas.utils.atomic import atomic_write_bytes, atomic_write_json

    zoo_dir, run_dir = Path(zoo_dir), Path(run_dir)
    zoo_dir.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors"):
        atomic_write_bytes(zoo_dir / name, (run_dir / "model" / name).read_bytes())
    run = json.loads((run_dir / "run.json").read_text("utf-8"))
    model = load_model(zoo_dir)
    atomic_write_json(zoo_dir / "metrics.json", {"model": scores, "random_init_encoder": baseline})
    from latentatlas.data.dsprites import DSpritesLike

    images = DSpritesLike().sample_observations(16, np.random.default_rng(1))
    kl = kl_per_dimension(model, DSpritesLike().sample_observations(1000,
                                                                    np.random.default_rng(2)))
    save_traversals(model, images, zoo_dir, prefix="traversal")
    gif = zoo_dir / "traversal.gif"
    if gif.exists():  # the zoo ships the PNG only (package data); the GIF stays in the run folder
        shutil.copyfile(gif, run_dir / "traversal_zoo.gif")
        gif.unlink()
    cfg = run["config"]
    metrics = dict(run["metrics"])
    log_lines = (run_dir / "log.jsonl").read_text("utf-8").splitlines()
    if log_lines and "final_recon" not in metrics:
        last_log = json.loads(log_lines[-1])
        metrics["final_recon"], metrics["final_kl"] = last_log["recon"], last_log["kl"]
    settings = scores.get("settings", {})
    objective = dict(cfg["objective"])
    objective_text = objective.pop("objective") + " (" + ", ".join(
        f"{k}={v}" for k, v in objective.items()) + ")"
    text = f"""# {title}

`latentatlas.load("{zoo_dir.name}")` returns a `VAE` (encoder mean = the representation).

## Model
- Objective: `{objective_text}`
- Architecture: {cfg['model']['architecture']} (disentanglement_lib conv encoder/decoder),
  {cfg['model']['latent_dim']} latents, {cfg['model']['likelihood']} likelihood on logits,
  {cfg['model']['image_size']}x{cfg['model']['image_size']}x{cfg['model']['channels']} inputs.

## Training
- Data: `{cfg['data']}`: latentatlas' procedural dSprites-like (binary, official 3x6x40x32x32
  grid), fresh random batches streamed from `DSpritesLike.sample_observations`.
- Steps: {metrics['final_step']} at batch {cfg['train']['batch_size']}
  ({metrics['final_step'] * cfg['train']['batch_size']:,} images), Adam lr {cfg['train']['lr']},
  betas {tuple(cfg['train']['betas'])}, seed {cfg['train']['seed']}, bf16 {cfg['train']['bf16']}.
- Wall time in the training loop: {metrics['train_seconds'] / 60:.1f} min
  ({metrics['images_per_s']} images/s).
- Hardware: {hardware}
- Final training losses: recon {metrics.get('final_recon', float('nan')):.1f},
  KL {metrics.get('final_kl', float('nan')):.2f} nats (one batch, last logged step).
- Reproduce: `{train_command}`

## Disentanglement metrics (dSprites-like, seed 0)
{metrics_table_markdown(scores, baseline)}

Sample sizes: `{json.dumps(settings.get('sizes', 'defaults'))}`.
Command: `{metrics_command}`{f'; baseline: `{baseline_command}`' if baseline_command else ''}.

KL per latent (nats, mean over 1000 images; the traversal rows are sorted by it):
{', '.join(f'{v:.2f}' for v in kl)}.

![latent traversals](traversal.png)

Rows: latents sorted by KL (largest first); columns: the latent set to -2 ... 2 with the others at
the posterior mean of one image.

## Notes and limitations
{notes}
"""
    atomic_write_bytes(zoo_dir / "MODEL_CARD.md", text.encode("utf-8"))
    return zoo_dir / "MODEL_CARD.md"
