"""The Generator protocol shared by every generator in latentatlas.

Latent spaces
-------------
- ``"z"``: the input noise, shape [N, z_dim], N(0, I).
- ``"w"``: the mapping network's output, [N, w_dim] (StyleGAN-like generators only).
- ``"wp"`` (W+): one w per synthesis layer, [N, num_ws, w_dim].

A Z-only generator exposes just ``"z"``. Sampling W or W+ always goes through the mapping network
(sampling W from N(0, I) gives meaningless codes).

Images are float tensors in [-1, 1], NCHW.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from latentatlas.io.persistence import ConfigModule
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.rng import torch_generator

SPACES = ("z", "w", "wp")


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
            raise ValueError(
                f"{type(self).__name__} has latent spaces {self.spaces}; got space={space!r}"
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
        """w' = w_avg + psi (w - w_avg); for W+ only on layers [0, cutoff) (all when None)."""
        if psi == 1.0:
            return latent
        latent = self.check_latent(latent, space)
        avg = self.w_avg.to(latent)
        if space == "w":
            return avg + psi * (latent - avg)
        if space != "wp":
            raise ValueError("truncation applies to 'w' or 'wp' latents")
        out = latent.clone()
        stop = self.num_ws if cutoff is None else cutoff
        out[:, :stop] = avg + psi * (latent[:, :stop] - avg)
        return out

    def sample(
        self,
        n: int,
        space: str = "wp",
        rng: np.random.Generator | int | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        c: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sample n latents in ``space`` (W / W+ through the mapping network, with truncation)."""
        self._check_space(space)
        rng_np = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        z = self.sample_z(n, rng_np)
        if space == "z":
            return z
        if c is None and self.c_dim:
            c = self.sample_c(n, rng_np)
        with torch.no_grad():
            w = self.z_to_w(z, c)
        if space == "w":
            if truncation_cutoff is not None and truncation_psi != 1.0:
                raise ValueError("a truncation cutoff needs space='wp'")
            return self.truncate(w, truncation_psi, space="w")
        wp = self.w_to_wp(w)
        return self.truncate(wp, truncation_psi, truncation_cutoff, space="wp")

    # ----------------------------------------------------------------- synthesis
    def synthesize(
        self,
        latent: torch.Tensor,
        space: str = "wp",
        c: torch.Tensor | None = None,
        noise_mode: str = "const",
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
    ) -> torch.Tensor:
        """Images in [-1, 1] (NCHW float32) from latents of any space."""
        raise NotImplementedError

    def layer_names(self) -> Sequence[str]:
        """Names accepted by :meth:`activations`."""
        raise NotImplementedError

    def activations(
        self, latent: torch.Tensor, space: str, layers: Sequence[str], noise_mode: str = "const"
    ) -> dict[str, torch.Tensor]:
        """Named intermediate activations for one forward pass (for regularisers / analysis)."""
        raise NotImplementedError
