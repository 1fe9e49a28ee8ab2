"""A compact Z-only generator (DCGAN / ProGAN style) and its discriminator.

``ZGenerator``: z (+ one-hot class label) -> ``fc`` (a Linear layer to C x 4 x 4; SeFa factorises
its weight) -> one upsampling convolution per resolution doubling -> a 3x3 ``out`` convolution
-> tanh. Channels at resolution r are min(channel_base // r, channel_max), like StyleGAN2.

Named activations are the *pre-nonlinearity* outputs of each layer ("fc", "conv0", ...,
"out"), which is where OroJaR / the Hessian penalty regularise the simple GAN.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from latentatlas.io.persistence import ConfigModule, register_model
from latentatlas.models.base import Generator, check_image_shape, log2_resolution
from latentatlas.utils.checks import check_truncation
from latentatlas.utils.errors import ShapeError

NORMS = ("pixel", "batch", "none")
UPSAMPLES = ("transpose", "nearest")


class PixelNorm(nn.Module):
    """ProGAN pixel-wise feature normalisation: x / sqrt(mean_c(x^2) + eps). Batch independent."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "pixel":
        return PixelNorm()
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


@register_model
class ZGenerator(Generator):
    """DCGAN / ProGAN-style generator with only a z space.

    Args:
        z_dim: latent size.
        img_resolution: output size, a power of two in [16, 128].
        img_channels: 1 or 3.
        channel_base, channel_max: channels at resolution r: min(channel_base // r, channel_max).
        c_dim: number of classes for conditioning (0: unconditional). The one-hot label is
            concatenated to z before ``fc`` (its first z_dim input columns act on z).
        norm: "pixel" (ProGAN pixel norm, default: batch independent), "batch" or "none".
        upsample: "transpose" (4x4 stride-2 transposed conv, DCGAN) or "nearest" (nearest x2 +
            3x3 conv, ProGAN).
    """

    config_fields = (
        "z_dim", "img_resolution", "img_channels", "channel_base", "channel_max", "c_dim",
        "norm", "upsample",
    )

    def __init__(
        self,
        z_dim: int = 128,
        img_resolution: int = 64,
        img_channels: int = 3,
        channel_base: int = 4096,
        channel_max: int = 256,
        c_dim: int = 0,
        norm: str = "pixel",
        upsample: str = "transpose",
    ) -> None:
        super().__init__()
        log2 = log2_resolution(img_resolution, 16, 128)
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if upsample not in UPSAMPLES:
            raise ValueError(f"upsample must be one of {UPSAMPLES}, got {upsample!r}")
        if z_dim < 1 or img_channels < 1 or c_dim < 0:
            raise ValueError("z_dim and img_channels must be >= 1 and c_dim >= 0")
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.num_ws = 1
        resolutions = [2**i for i in range(2, log2 + 1)]
        ch = {r: max(1, min(channel_base // r, channel_max)) for r in resolutions}
        self.channels = ch
        self.fc = nn.Linear(z_dim + c_dim, ch[4] * 16)
        self.fc_norm = _norm(norm, ch[4])
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for r in resolutions[1:]:
            cin, cout = ch[r // 2], ch[r]
            if upsample == "transpose":
                conv: nn.Module = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)
            else:
                conv = nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, padding=1)
                )
            self.convs.append(conv)
            self.norms.append(_norm(norm, cout))
        self.out = nn.Conv2d(ch[img_resolution], img_channels, 3, padding=1)

    # ----------------------------------------------------------------- protocol
    def layer_names(self) -> list[str]:
        """ "fc", "conv0" .. "conv{K-1}" (one per resolution doubling), "out" (before tanh)."""
        return ["fc", *[f"conv{i}" for i in range(len(self.convs))], "out"]

    def _run(
        self, z: torch.Tensor, c: torch.Tensor | None, wanted: set[str]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        acts: dict[str, torch.Tensor] = {}
        c = self._check_c(c, z.shape[0])
        h = self.fc(torch.cat([z, c], dim=1) if c is not None else z)
        h = h.reshape(z.shape[0], -1, 4, 4)
        if "fc" in wanted:
            acts["fc"] = h
        x = F.leaky_relu(self.fc_norm(h), 0.2)
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            h = conv(x)
            if f"conv{i}" in wanted:
                acts[f"conv{i}"] = h
            x = F.leaky_relu(norm(h), 0.2)
        h = self.out(x)
        if "out" in wanted:
            acts["out"] = h
        return torch.tanh(h), acts

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1] from z [N, z_dim] (no input validation: the training hot path)."""
        return self._run(z, c, set())[0]

    def synthesize(
        self,
        latent: torch.Tensor,
        space: str = "z",
        c: torch.Tensor | None = None,
        noise_mode: str = "const",
    ) -> torch.Tensor:
        """Images in [-1, 1] (NCHW float32) from z as given (no truncation: :meth:`sample`
        truncates). There is no noise, and no W / W+ space (``space`` other than "z" raises)."""
        z = self.check_latent(latent, space).to(self.device)
        return self._run(z, c, set())[0]

    def activations(
        self,
        latent: torch.Tensor,
        space: str,
        layers: Sequence[str],
        noise_mode: str = "const",
        c: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Pre-nonlinearity outputs of the named layers for one forward pass (gradients flow)."""
        layers = self._check_layers(layers)
        z = self.check_latent(latent, space).to(self.device)
        _, acts = self._run(z, c, set(layers))
        return {n: acts[n] for n in layers}

    def truncate(
        self, latent: torch.Tensor, psi: float = 1.0, cutoff: int | None = None, space: str = "z"
    ) -> torch.Tensor:
        """z' = psi * z (towards the mean of z, 0). There are no layers to cut off."""
        check_truncation(psi)
        if cutoff is not None and psi != 1.0:
            raise ValueError(
                f"{type(self).__name__} has no W+ space; a truncation cutoff needs one"
            )
        latent = self.check_latent(latent, space)
        return latent * psi if psi != 1.0 else latent

    def sample(
        self,
        n: int,
        space: str = "z",
        rng=None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        c: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """n z codes, scaled by truncation_psi (see :meth:`Generator.sample`)."""
        return super().sample(n, space, rng, truncation_psi, truncation_cutoff, c)


@register_model
class ZDiscriminator(ConfigModule):
    """DCGAN-style discriminator: 4x4 stride-2 convolutions with lrelu down to 4x4, then a linear
    logit. No batch norm (WGAN-GP friendly). Conditional models add a projection term
    <embed(c), features>."""

    config_fields = ("img_resolution", "img_channels", "channel_base", "channel_max", "c_dim")

    def __init__(
        self,
        img_resolution: int = 64,
        img_channels: int = 3,
        channel_base: int = 4096,
        channel_max: int = 256,
        c_dim: int = 0,
    ) -> None:
        super().__init__()
        log2 = log2_resolution(img_resolution, 16, 128)
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.c_dim = c_dim
        resolutions = [2**i for i in range(log2, 1, -1)]
        ch = {r: max(1, min(channel_base // r, channel_max)) for r in resolutions}
        self.fromrgb = nn.Conv2d(img_channels, ch[img_resolution], 3, padding=1)
        self.convs = nn.ModuleList(
            nn.Conv2d(ch[r], ch[r // 2], 4, stride=2, padding=1) for r in resolutions[:-1]
        )
        feat = ch[4] * 16
        self.fc = nn.Linear(feat, 1)
        if c_dim:
            self.embed = nn.Linear(c_dim, feat, bias=False)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [N, 1] for images [N, C, R, R] in [-1, 1]."""
        check_image_shape(img, self.img_channels, self.img_resolution)
        x = F.leaky_relu(self.fromrgb(img), 0.2)
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
        feat = x.flatten(1)
        out = self.fc(feat)
        if self.c_dim:
            if c is None or c.shape != (img.shape[0], self.c_dim):
                raise ShapeError(f"conditional discriminator needs c of shape [N, {self.c_dim}]")
            out = out + (self.embed(c.float()) * feat).sum(dim=1, keepdim=True)
        return out
