"""Train a :class:`~latentatlas.models.encoder.LatentEncoder` (image -> W+) for a generator.

Each step mixes two kinds of batches:

- **generated pairs**: z -> w (style-mixed at a random layer half of the time, so the targets
  cover W+), rendered by the generator; the encoder's code is pulled to the true one (latent MSE)
  and its rendering to the image (pixel MSE + embedding distance);
- **real images** (optional, e.g. CelebA's training split): only the rendering loss, plus a
  small penalty keeping the W+ layers close to their mean (codes that stay editable).

The embedding distance is :func:`embedding_distance` in a frozen attribute predictor's embedding
(the perceptual term; the same as :mod:`latentatlas.editing.inversion` uses). Training saves a
checkpoint (model, optimiser, RNG, step) every ``checkpoint_every`` steps into ``out/checkpoints``
and resumes from the newest one with ``resume=True``; the finished encoder is saved to
``out/model`` (config.json + model.safetensors) with a run record.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from latentatlas.io.images import to_model_images
from latentatlas.io.persistence import save_model
from latentatlas.models.encoder import LatentEncoder
from latentatlas.training.checkpoint import (
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from latentatlas.utils.errors import OptionError
from latentatlas.utils.runinfo import write_run_record


def embedding_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-row squared distance of unit-normalised embeddings, in [0, 4] ([N])."""
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-6)
    b = b / b.norm(dim=1, keepdim=True).clamp_min(1e-6)
    return (a - b).square().sum(dim=1)


def reconstruction_loss(
    predictor: Any, fake: torch.Tensor, target: torch.Tensor, target_emb: torch.Tensor | None,
    embedding_weight: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, pixel MSE, embedding distance), each [N]; ``fake`` is clamped to [-1, 1]."""
    fake = fake.float().clamp(-1, 1)
    pix = (fake - target).square().flatten(1).mean(dim=1)
    if predictor is None or embedding_weight == 0:
        return pix, pix, torch.zeros_like(pix)
    if target_emb is None:
        with torch.no_grad():
            target_emb = predictor.embed(target, validate=False)
    emb = embedding_distance(predictor.embed(fake, validate=False), target_emb)
    return pix + embedding_weight * emb, pix, emb


def _mixed_codes(generator: Any, n: int, gen: torch.Generator, mix_prob: float) -> torch.Tensor:
    z = torch.randn(n, generator.z_dim, generator=gen)
    wp = generator.w_to_wp(generator.z_to_w(z))
    if mix_prob > 0:
        z2 = torch.randn(n, generator.z_dim, generator=gen)
        wp2 = generator.w_to_wp(generator.z_to_w(z2))
        cut = torch.randint(1, generator.num_ws, (n,), generator=gen)
        mix = torch.rand(n, generator=gen) < mix_prob
        layer = torch.arange(generator.num_ws).view(1, -1)
        use2 = (layer >= cut.view(-1, 1)) & mix.view(-1, 1)
        wp = torch.where(use2.unsqueeze(-1), wp2, wp)
    return wp


def train_encoder(
    generator: Any,
    out: str | os.PathLike,
    *,
    predictor: Any = None,
    real_images: np.ndarray | None = None,
    steps: int = 2000,
    batch_size: int = 32,
    lr: float = 3e-4,
    real_fraction: float = 0.5,
    embedding_weight: float = 1.0,
    latent_weight: float = 1.0,
    mix_prob: float = 0.5,
    checkpoint_every: int = 200,
    resume: bool = False,
    seed: int = 0,
    generator_name: str | None = None,
    encoder_kwargs: dict[str, Any] | None = None,
    progress: bool = True,
    command: str = "",
) -> LatentEncoder:
    """Train an encoder for ``generator`` into ``out`` (see the module docstring); returns it.

    ``real_images``: uint8 NHWC at the generator's resolution (None: generated pairs only).
    """
    if "wp" not in getattr(generator, "spaces", ()):
        raise OptionError("an encoder needs a generator with a W+ space (StyleGAN-like)")
    if steps < 1 or batch_size < 2:
        raise OptionError("steps must be >= 1 and batch_size >= 2")
    if not 0 <= real_fraction <= 1:
        raise OptionError(f"real_fraction must be in [0, 1], got {real_fraction}")
    out = Path(out)
    ckpt_dir = out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    if real_images is None or len(real_images) == 0:
        real_fraction = 0.0
    n_real = int(round(batch_size * real_fraction))
    n_fake = batch_size - n_real

    torch.manual_seed(seed)
    enc = LatentEncoder(num_ws=generator.num_ws, w_dim=generator.w_dim,
                        in_channels=generator.img_channels,
                        resolution=generator.img_resolution, generator=generator_name,
                        **(encoder_kwargs or {}))
    enc.set_w_avg(generator.w_avg.detach().cpu())
    opt = torch.optim.Adam(enc.parameters(), lr=lr, betas=(0.9, 0.99))
    generator.eval().requires_grad_(False)
    if predictor is not None:
        predictor.eval().requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    np_rng = np.random.default_rng(seed)
    start = 0
    from latentatlas.utils.outputs import remove_stale_temporaries

    if resume:
        remove_stale_temporaries(out)  # left by a killed write (SIGKILL cannot be caught)
    if resume and list_checkpoints(ckpt_dir):
        step0, path = list_checkpoints(ckpt_dir)[-1]
        state = load_checkpoint(path)
        enc.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["torch_rng"])
        np_rng.bit_generator.state = json.loads(state["numpy_rng"])
        start = int(state["step"])
    log_path = out / "log.jsonl"
    if start == 0 and log_path.exists():
        log_path.unlink()
    elif log_path.exists():
        from latentatlas.utils.atomic import trim_jsonl_log

        trim_jsonl_log(log_path, start)

    def save(step: int) -> None:
        save_checkpoint({"model": enc.state_dict(), "optimizer": opt.state_dict(),
                         "torch_rng": gen.get_state(),
                         "numpy_rng": json.dumps(np_rng.bit_generator.state), "step": step},
                        checkpoint_path(ckpt_dir, step))
        prune_checkpoints(ckpt_dir, keep=2)

    enc.train()
    t0 = time.time()
    bar = tqdm(range(start, steps), desc="encoder", disable=not progress, initial=start,
               total=steps)
    for step in bar:
        frac = step / max(1, steps - 1)
        for group in opt.param_groups:  # cosine decay to 10 %
            group["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * frac)))
        with torch.no_grad():
            wp_true = _mixed_codes(generator, n_fake, gen, mix_prob)
            fake_img = generator.synthesize(wp_true, "wp").float().clamp(-1, 1)
        images = fake_img
        if n_real:
            idx = np_rng.integers(0, len(real_images), n_real)
            real = to_model_images(real_images[idx])
            flip = torch.from_numpy(np_rng.random(n_real) < 0.5)
            real = torch.where(flip.view(-1, 1, 1, 1), real.flip(-1), real)
            images = torch.cat([fake_img, real])
        wp_hat = enc(images, validate=False)
        recon = generator.synthesize(wp_hat, "wp")
        total, pix, emb = reconstruction_loss(predictor, recon, images, None, embedding_weight)
        lat = (wp_hat[:n_fake] - wp_true).square().mean()
        spread = (wp_hat - wp_hat.mean(dim=1, keepdim=True)).square().mean()
        loss = total.mean() + latent_weight * lat + 0.1 * spread
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 10 == 0 or step == steps - 1:
            pix, emb, lat = pix.detach(), emb.detach(), lat.detach()
            rec = {"step": step + 1, "loss": float(loss.detach()), "pixel_mse": float(pix.mean()),
                   "embedding": float(emb.mean()), "latent_mse": float(lat),
                   "pixel_mse_real": float(pix[n_fake:].mean()) if n_real else None,
                   "seconds": round(time.time() - t0, 1)}
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")
            bar.set_postfix(pix=f"{rec['pixel_mse']:.4f}", emb=f"{rec['embedding']:.3f}",
                            lat=f"{rec['latent_mse']:.4f}")
        if (step + 1) % checkpoint_every == 0 or step == steps - 1:
            save(step + 1)
    enc.eval()
    config = {"steps": steps, "batch_size": batch_size, "lr": lr, "real_fraction": real_fraction,
              "embedding_weight": embedding_weight, "latent_weight": latent_weight,
              "mix_prob": mix_prob, "seed": seed, "generator": generator_name,
              "real_images": 0 if real_images is None else int(len(real_images))}
    save_model(enc, out / "model", metadata={"trained_with": "latentatlas.training.encoder",
                                             **config})
    write_run_record(out, command=command or "train_encoder", config=config, seed=seed)
    return enc


def sample_pairs(generator: Any, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(W+ codes, images) of ``n`` generated faces, for tests and evaluation."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        wp = _mixed_codes(generator, n, gen, 0.0)
        return wp, generator.synthesize(wp, "wp").float().clamp(-1, 1)


__all__ = ["embedding_distance", "reconstruction_loss", "sample_pairs", "train_encoder"]
