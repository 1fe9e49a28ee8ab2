"""The Generator protocol shared by every generator in latentatlas.

Latent spaces
-------------
- ``"z"``: the input noise, shape [N, z_dim], N(0, I).
- ``"w"``: the mapping network's output, [N, w_dim] (StyleGAN-like generators only).
- ``"wp"`` (W+): one w per synthesis layer, [N, num_ws, w_dim].

A Z-only generator exposes just ``"z"`` and refuses ``"w"`` / ``"wp"``. Sampling W or W+ always goes
through the mapping network (sampling W from N(0, I) gives meaningless codes).

Truncation has one owner: sampling / mapping (:meth:`Generator.sample`,
:meth:`Generator.z_to_latent`, both built on :meth:`Generator.truncate`). ``synthesize(latent,
space)`` takes latents as they are and never truncates, so a truncated code (a bank's, an edited
one) is rendered exactly once-truncated. Generators with a W space truncate w / W+ toward
``w_avg``; Z-only generators scale z toward 0.

Images are float tensors in [-1, 1], NCHW.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from latentatlas.io.persistence import ConfigModule
from latentatlas.utils.checks import check_truncation
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.rng import check_rng, torch_generator

SPACES = ("z", "w", "wp")


def log2_resolution(resolution: int, lo: int, hi: int) -> int:
    """log2 of an image resolution that must be a power of two in [lo, hi] (ValueError if not)."""
    log2 = int(round(math.log2(resolution))) if resolution > 0 else -1
    if resolution < lo or resolution > hi or 2**log2 != resolution:
        raise ValueError(f"img_resolution must be a power of two in [{lo}, {hi}], got {resolution}")
    return log2


def check_image_shape(img: torch.Tensor, channels: int, resolution: int) -> None:
    """Refuse an image batch that is not [N, channels, resolution, resolution] (discriminators)."""
    expected = (channels, resolution, resolution)
    if img.ndim != 4 or tuple(img.shape[1:]) != expected:
        raise ShapeError(
            f"images must have shape [N, {', '.join(map(str, expected))}], got {list(img.shape)}"
        )


class Generator(ConfigModule):
    """Abstract base: subclasses set the attributes below and implement ``_synthesize_*``."""

    z_dim: int
    w_dim: int | None = None
    num_ws: int = 1
    c_dim: int = 0
    img_resolution: int
    img_channels: int

    # ----------------------------------------------------------------- latent spaces
    @property
    def spaces(self) -> tuple[str, ...]:
        return ("z", "w", "wp") if self.w_dim is not None else ("z",)

    def latent_shape(self, space: str) -> tuple[int, ...]:
        self._check_space(space)
        if space == "z":
            return (self.z_dim,)
        if space == "w":
            return (self.w_dim,)  # type: ignore[return-value]
        return (self.num_ws, self.w_dim)  # type: ignore[return-value]

    def _check_space(self, space: str) -> None:
        if space not in self.spaces:
            why = " (a Z-only generator: no mapping network, no W / W+)" \
                if self.spaces == ("z",) else ""
            raise ValueError(
                f"{type(self).__name__} has latent spaces {self.spaces}{why}; got space={space!r}"
            )

    def check_latent(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        """Validate a latent batch for ``space``: shape, finiteness. Returns it as a tensor."""
        self._check_space(space)
        if not isinstance(latent, torch.Tensor):
            latent = torch.as_tensor(np.asarray(latent), dtype=torch.float32)
        expected = self.latent_shape(space)
        if latent.ndim != len(expected) + 1 or tuple(latent.shape[1:]) != expected:
            raise ShapeError(
                f"latent for space {space!r} must have shape [N, {', '.join(map(str, expected))}], "
                f"got {list(latent.shape)}"
            )
        if not torch.isfinite(latent).all():
            raise ShapeError(f"latent for space {space!r} contains NaN or Inf")
        return latent

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    # ----------------------------------------------------------------- sampling and mapping
    def sample_z(self, n: int, rng: np.random.Generator | int | None = None) -> torch.Tensor:
        """n standard-normal z codes, reproducible for an int seed / numpy Generator."""
        g = torch_generator(rng)
        return torch.randn(n, self.z_dim, generator=g).to(self.device)

    def sample_c(self, n: int, rng: np.random.Generator | int | None = None) -> torch.Tensor | None:
        """Random one-hot class labels for conditional generators (None when unconditional)."""
        if not self.c_dim:
            return None
        g = torch_generator(rng)
        idx = torch.randint(0, self.c_dim, (n,), generator=g)
        return torch.nn.functional.one_hot(idx, self.c_dim).float().to(self.device)

    def _check_c(self, c: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """A label batch c [n, c_dim] on this device (None for unconditional generators)."""
        if not self.c_dim:
            if c is not None:
                raise ShapeError(f"{type(self).__name__} is unconditional (c_dim=0); got a label c")
            return None
        if c is None:
            raise ShapeError(
                f"this generator is class-conditional (c_dim={self.c_dim}); "
                f"pass c [N, {self.c_dim}]"
            )
        c = torch.as_tensor(c, dtype=torch.float32, device=self.device)
        if c.shape != (n, self.c_dim):
            raise ShapeError(f"c must have shape [{n}, {self.c_dim}], got {list(c.shape)}")
        return c

    def z_to_w(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Mapping network. Z-only generators raise."""
        raise ValueError(f"{type(self).__name__} has no W space (latent spaces: {self.spaces})")

    def w_to_wp(self, w: torch.Tensor) -> torch.Tensor:
        """Broadcast w [N, w_dim] to W+ [N, num_ws, w_dim]."""
        w = self.check_latent(w, "w")
        return w.unsqueeze(1).repeat(1, self.num_ws, 1)

    @property
    def w_avg(self) -> torch.Tensor:
        raise ValueError(f"{type(self).__name__} tracks no w_avg")

    def truncate(
        self, latent: torch.Tensor, psi: float = 1.0, cutoff: int | None = None, space: str = "w"
    ) -> torch.Tensor:
        """w' = w_avg + psi (w - w_avg); for W+ only on layers [0, cutoff) (all when None).

        Computed with ``torch.lerp`` like the official mapping network, so truncated outputs of
        converted StyleGAN checkpoints match the official ones bit for bit. A generator with a W
        space truncates w / W+ only: its z cannot carry truncation (psi != 1 on ``space="z"``
        raises). Z-only generators override this (z' = psi z).
        """
        check_truncation(psi, cutoff, getattr(self, "num_ws", None))
        if psi == 1.0:
            return latent
        latent = self.check_latent(latent, space)
        if space == "z":
            raise ValueError(
                f"{type(self).__name__} truncates w / W+ (toward w_avg), not z: use space 'w' or "
                "'wp' for truncated codes, or truncation_psi=1 in z"
            )
        avg = self.w_avg.to(latent)
        if space == "w" or cutoff is None:
            return avg.lerp(latent, psi)
        out = latent.clone()
        out[:, :cutoff] = avg.lerp(latent[:, :cutoff], psi)
        return out

    def z_to_latent(
        self,
        z: torch.Tensor,
        space: str = "wp",
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
    ) -> torch.Tensor:
        """z -> the latent of ``space`` (mapping network for W / W+), truncated.

        With :meth:`sample` (which calls it) this is the one place truncation happens;
        :meth:`synthesize` takes latents as they are.
        """
        self._check_space(space)
        check_truncation(truncation_psi, truncation_cutoff, getattr(self, "num_ws", None))
        if truncation_cutoff is not None and truncation_psi != 1.0 and space != "wp":
            if "wp" not in self.spaces:
                raise ValueError(f"{type(self).__name__} has no W+ space; a truncation cutoff "
                                 "needs one")
            raise ValueError(f"a truncation cutoff needs space='wp', got space={space!r}")
        if space == "z":
            return self.truncate(z, truncation_psi, space="z")
        w = self.z_to_w(z, c)
        if space == "w":
            return self.truncate(w, truncation_psi, space="w")
        return self.truncate(self.w_to_wp(w), truncation_psi, truncation_cutoff, space="wp")

    def sample(
        self,
        n: int,
        space: str = "wp",
        rng: np.random.Generator | int | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        c: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """n latents in ``space``, truncated (:meth:`z_to_latent`); seeded like
        :func:`~latentatlas.utils.rng.check_rng` (None: seed 0). W / W+ always go through the
        mapping network."""
        self._check_space(space)
        rng_np = check_rng(rng)
        z = self.sample_z(n, rng_np)
        if space != "z" and c is None and self.c_dim:
            c = self.sample_c(n, rng_np)
        with torch.no_grad():
            return self.z_to_latent(z, space, c, truncation_psi, truncation_cutoff)

    # ----------------------------------------------------------------- synthesis
    def synthesize(
        self,
        latent: torch.Tensor,
        space: str = "wp",
        c: torch.Tensor | None = None,
        noise_mode: str = "const",
    ) -> torch.Tensor:
        """Images in [-1, 1] (NCHW float32) from latents of any space, taken as they are (no
        truncation: that belongs to :meth:`sample` / :meth:`z_to_latent`)."""
        raise NotImplementedError

    def synthesize_batched(
        self,
        latents: Any,
        space: str = "wp",
        batch_size: int = 32,
        c: Any = None,
        progress: bool = False,
        desc: str = "synthesis",
        **synth_kwargs: Any,
    ) -> torch.Tensor:
        """:meth:`synthesize` over many latents in chunks of ``batch_size``, under
        ``torch.no_grad()``; float32 images [N, C, H, W] on the CPU (the same images as one
        ``synthesize`` call). ``c`` (labels, [N, c_dim]) is chunked alongside."""
        if batch_size < 1:
            raise ShapeError(f"batch_size must be >= 1, got {batch_size}")
        lat = latents if isinstance(latents, torch.Tensor) else torch.as_tensor(np.asarray(latents))
        lat = lat.float()
        if lat.shape[0] == 0:
            raise ShapeError("no latents to synthesise")
        out = []
        device = self.device
        with torch.no_grad():
            for start in tqdm(range(0, lat.shape[0], batch_size), desc=desc,
                              disable=not progress, leave=False):
                chunk = lat[start:start + batch_size].to(device)
                kw = dict(synth_kwargs)
                if c is not None:
                    kw["c"] = c[start:start + batch_size]
                out.append(self.synthesize(chunk, space=space, **kw).float().cpu())
        return torch.cat(out)

    def layer_names(self) -> Sequence[str]:
        """Names accepted by :meth:`activations`."""
        raise NotImplementedError

    def _check_layers(self, layers: Sequence[str]) -> list[str]:
        """``layers`` as a list; unknown names raise ValueError listing the known ones."""
        layers = list(layers)
        known = set(self.layer_names())
        unknown = [n for n in layers if n not in known]
        if unknown:
            raise ValueError(f"unknown layer names {unknown}; known: {list(self.layer_names())}")
        return layers

    def activations(
        self, latent: torch.Tensor, space: str, layers: Sequence[str], noise_mode: str = "const"
    ) -> dict[str, torch.Tensor]:
        """Named intermediate activations for one forward pass (for regularisers / analysis)."""
        raise NotImplementedError
