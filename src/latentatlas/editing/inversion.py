"""GAN inversion: find the W / W+ code whose rendering matches an image.

:func:`project` follows StyleGAN2's projector (``projector.py`` of NVlabs' stylegan2-ada-pytorch):

- start at ``w_avg`` (or at an encoder's codes, :class:`~latentatlas.models.LatentEncoder`),
- Adam on the code (``lr`` 0.03 by default: the projector's 0.1 drives W+ codes off the
  generator's manifold within 100 steps, and edits of such codes break; see docs/inversion.md)
  with a learning-rate ramp up (first 5 %) and cosine ramp down (last 25 %),
- Gaussian noise added to the code during the first 75 % of the steps, its scale
  ``w_std * 0.05 * (1 - t / 0.75)^2`` (``w_std``: the spread of sampled w around w_avg),
- loss: pixel MSE + ``embedding_weight`` x the distance in a frozen attribute predictor's
  embedding (the perceptual term; the projector's LPIPS when the user brings a predictor
  trained for it),
- with ``noise="optimize"``, the generator's per-layer noise maps are optimised per image too,
  under the projector's noise regularisation (squared autocorrelation of each map with its
  one-pixel shifts, over a pyramid down to 8 px, weight ``noise_weight``) and re-normalised to
  zero mean / unit variance after every step. The default ``noise="const"`` keeps the
  generator's fixed noise, so a code alone reproduces (and edits) the reconstruction.
- in W+, ``spread_weight`` x the squared deviation of the layers from their mean (in units of
  ``w_std^2``) keeps the code close to W, where the directions were found (not in the projector,
  which works in W; encoders such as e4e regularise the same way).

Every image in a batch is optimised independently (per-image losses are summed; Adam is
element-wise). Results come back as an :class:`InversionResult`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from latentatlas.models.predictors import check_images
from latentatlas.training.encoder import embedding_distance, reconstruction_loss
from latentatlas.utils.errors import OptionError, ShapeError
from latentatlas.utils.modules import frozen

NOISE_MODES = ("const", "optimize")


@dataclass
class InversionResult:
    """Codes ([N, d] for ``space="w"``, [N, L, d] for ``"wp"``), reconstructions (float NCHW in
    [-1, 1]), per-image pixel MSE and embedding distance, and optimised noise maps (by layer name;
    empty unless ``noise="optimize"``)."""

    codes: torch.Tensor
    space: str
    reconstructions: torch.Tensor
    pixel_mse: np.ndarray
    embedding_error: np.ndarray
    noises: dict[str, torch.Tensor] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)


def noise_layers(generator: Any) -> dict[str, torch.nn.Module]:
    """The generator's layers with a constant noise map (StyleGAN2 synthesis layers), by name."""
    return {name: m for name, m in generator.named_modules()
            if getattr(m, "use_noise", False) and hasattr(m, "noise_const")}


@contextlib.contextmanager
def custom_noise(generator: Any, noises: dict[str, torch.Tensor] | None) -> Iterator[None]:
    """Render with per-image noise maps ``{layer: [N, 1, H, W]}`` in place of the constant ones
    (noise_mode "const"); the generator's own maps come back on exit."""
    if not noises:
        yield
        return
    layers = noise_layers(generator)
    saved = {}
    try:
        for name, value in noises.items():
            if name not in layers:
                raise ShapeError(f"no noise layer {name!r} in this generator")
            saved[name] = layers[name]._buffers["noise_const"]
            layers[name]._buffers["noise_const"] = value
        yield
    finally:
        for name, value in saved.items():
            layers[name]._buffers["noise_const"] = value


def noise_regularisation(noises: list[torch.Tensor]) -> torch.Tensor:
    """StyleGAN2 projector's penalty: squared one-pixel autocorrelations over a pyramid, per
    image ([N])."""
    total = None
    for noise in noises:
        x = noise
        while True:
            term = ((x * torch.roll(x, 1, dims=3)).mean(dim=(1, 2, 3)).square()
                    + (x * torch.roll(x, 1, dims=2)).mean(dim=(1, 2, 3)).square())
            total = term if total is None else total + term
            if x.shape[2] <= 8:
                break
            x = torch.nn.functional.avg_pool2d(x, 2)
    return total if total is not None else torch.zeros(())


def w_statistics(generator: Any, n: int = 10000, seed: int = 123) -> tuple[torch.Tensor, float]:
    """(w_avg, w_std) as the projector computes them: the mean and RMS spread of sampled w."""
    with torch.no_grad():
        w = generator.sample(n, "w", rng=seed).float().cpu()
    avg = w.mean(dim=0)
    return avg, float((w - avg).square().sum(dim=1).mean().sqrt())


def project(
    generator: Any,
    images: torch.Tensor,
    *,
    space: str = "wp",
    predictor: Any = None,
    init: torch.Tensor | None = None,
    steps: int = 200,
    lr: float = 0.03,
    embedding_weight: float = 1.0,
    noise: str = "const",
    noise_weight: float = 1e5,
    spread_weight: float = 0.01,
    initial_noise_factor: float = 0.05,
    noise_ramp_length: float = 0.75,
    lr_rampdown_length: float = 0.25,
    lr_rampup_length: float = 0.05,
    w_std: float | None = None,
    seed: int = 0,
    progress: bool = False,
) -> InversionResult:
    """Project ``images`` (float NCHW in [-1, 1] at the generator's size) into ``space``.

    ``init``: starting codes ([N, d] or [N, L, d]; W+ codes are averaged over layers for
    ``space="w"``); default ``w_avg`` for every image. ``steps=0`` returns the initial codes'
    reconstructions (e.g. the encoder alone). See the module docstring for the rest.
    """
    if space not in ("w", "wp") or space not in getattr(generator, "spaces", ()):
        raise OptionError(f"inversion works in W ('w') or W+ ('wp') of a StyleGAN-like "
                          f"generator; got space={space!r}")
    if noise not in NOISE_MODES:
        raise OptionError(f"noise must be one of {NOISE_MODES}, got {noise!r}")
    if steps < 0:
        raise OptionError(f"steps must be >= 0, got {steps}")
    check_images(images, generator.img_channels)
    res = generator.img_resolution
    if tuple(images.shape[-2:]) != (res, res):
        raise ShapeError(f"images must be {res}x{res} (the generator's size), got "
                         f"{list(images.shape[-2:])}; prepare them with "
                         "latentatlas.data.faces.prepare_face")
    n = images.shape[0]
    images = images.detach().float()
    device = generator.device
    was_training = generator.training
    generator.eval()
    if predictor is not None:
        predictor.eval().requires_grad_(False)
    with frozen(generator):
        try:
            if init is None:
                start = generator.w_avg.detach().float().to(device).view(1, -1).repeat(n, 1)
            else:
                start = torch.as_tensor(init, dtype=torch.float32).to(device)
                if start.ndim == 3 and space == "w":
                    start = start.mean(dim=1)
            if start.ndim == 2 and space == "wp":
                start = start.unsqueeze(1).repeat(1, generator.num_ws, 1)
            code = generator.check_latent(start.clone(), space).requires_grad_(True)
            noise_maps: dict[str, torch.Tensor] = {}
            if noise == "optimize":
                for name, layer in noise_layers(generator).items():
                    base = layer.noise_const.detach().float()
                    noise_maps[name] = base.view(1, 1, *base.shape).repeat(n, 1, 1, 1).clone()
                    noise_maps[name].requires_grad_(True)
            if w_std is None:
                w_std = w_statistics(generator)[1] if steps else 0.0
            opt = torch.optim.Adam([code, *noise_maps.values()], lr=lr, betas=(0.9, 0.999))
            target_emb = None
            if predictor is not None and embedding_weight:
                with torch.no_grad():
                    target_emb = predictor.embed(images, validate=False)
            gen = torch.Generator().manual_seed(seed)
            history: list[dict[str, float]] = []
            for step in tqdm(range(steps), desc="inversion", disable=not progress, leave=False):
                t = step / steps
                w_noise_scale = (w_std * initial_noise_factor
                                 * max(0.0, 1.0 - t / noise_ramp_length)**2)
                lr_ramp = min(1.0, (1.0 - t) / lr_rampdown_length)
                lr_ramp = 0.5 - 0.5 * np.cos(lr_ramp * np.pi)
                lr_ramp = lr_ramp * min(1.0, t / lr_rampup_length)
                for group in opt.param_groups:
                    group["lr"] = lr * lr_ramp
                jitter = torch.randn(code.shape, generator=gen).to(device) * w_noise_scale
                with custom_noise(generator, noise_maps):
                    fake = generator.synthesize(code + jitter, space)
                loss, pix, emb = reconstruction_loss(predictor, fake, images, target_emb,
                                                     embedding_weight)
                if noise_maps:
                    loss = loss + noise_weight * noise_regularisation(list(noise_maps.values()))
                if spread_weight and space == "wp":  # keep W+ layers near their mean (editable)
                    dev = code - code.mean(dim=1, keepdim=True)
                    loss = loss + spread_weight * dev.square().sum(dim=(1, 2)) / max(w_std, 1e-8)**2
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()
                opt.step()
                with torch.no_grad():
                    for buf in noise_maps.values():  # the projector's normalisation
                        buf -= buf.mean(dim=(2, 3), keepdim=True)
                        buf *= buf.square().mean(dim=(2, 3), keepdim=True).rsqrt()
                if step % 10 == 0 or step == steps - 1:
                    history.append({"step": step + 1, "pixel_mse": float(pix.mean().detach()),
                                    "embedding": float(emb.mean().detach())})
            code = code.detach()
            noises = {k: v.detach() for k, v in noise_maps.items()}
            with torch.no_grad(), custom_noise(generator, noises):
                recon = generator.synthesize(code, space).float().clamp(-1, 1)
                _, pix, emb = reconstruction_loss(predictor, recon, images, target_emb,
                                                  embedding_weight if predictor is not None else 0)
                if predictor is not None and not embedding_weight:
                    emb = embedding_distance(predictor.embed(recon, validate=False),
                                             predictor.embed(images, validate=False))
        finally:
            generator.train(was_training)
    return InversionResult(code.cpu(), space, recon.cpu(), pix.cpu().numpy(),
                           emb.cpu().numpy(), {k: v.cpu() for k, v in noises.items()}, history)


def invert(
    generator: Any,
    images: torch.Tensor,
    *,
    space: str = "wp",
    encoder: Any = None,
    predictor: Any = None,
    steps: int = 200,
    batch_size: int = 25,
    progress: bool = True,
    **kwargs: Any,
) -> InversionResult:
    """:func:`project` over many images in batches, initialised by ``encoder`` when given
    (``steps=0``: the encoder alone). ``kwargs`` go to :func:`project`."""
    if batch_size < 1:
        raise OptionError(f"batch_size must be >= 1, got {batch_size}")
    if encoder is not None:
        check_encoder(encoder, generator)
    w_std = kwargs.pop("w_std", None)
    if w_std is None and steps:
        w_std = w_statistics(generator)[1]
    parts = []
    for s in tqdm(range(0, images.shape[0], batch_size), desc="invert", disable=not progress):
        chunk = images[s:s + batch_size]
        init = encoder.encode(chunk) if encoder is not None else None
        parts.append(project(generator, chunk, space=space, predictor=predictor, init=init,
                             steps=steps, w_std=w_std, **kwargs))
    return InversionResult(
        torch.cat([p.codes for p in parts]), space,
        torch.cat([p.reconstructions for p in parts]),
        np.concatenate([p.pixel_mse for p in parts]),
        np.concatenate([p.embedding_error for p in parts]),
        {k: torch.cat([p.noises[k] for p in parts]) for k in parts[0].noises},
        parts[0].history,
    )


def check_encoder(encoder: Any, generator: Any) -> None:
    """Refuse an encoder whose W+ shape does not fit the generator (one line)."""
    want = (generator.num_ws, generator.w_dim)
    got = (getattr(encoder, "num_ws", None), getattr(encoder, "w_dim", None))
    if got != want:
        raise OptionError(f"the encoder outputs W+ codes of shape {list(got)}, the generator "
                          f"needs {list(want)}; use the encoder trained for this generator")
