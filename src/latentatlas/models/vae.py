"""Variational auto-encoders for disentanglement: encoders, decoders and the :class:`VAE` model.

Two architectures, both for square images whose side is a multiple of 16 (64 px by default) with
any number of channels:

- ``"dlib"``: disentanglement_lib's ``conv_encoder`` / ``deconv_decoder``. Encoder: conv 32-4-2,
  32-4-2, 64-2-2, 64-2-2 (filters-kernel-stride, ReLU), FC 256, then two linear heads (mean,
  log-variance). Decoder (as in disentanglement_lib): FC 256, FC 64*(s/16)^2 (1024 at 64 px),
  deconv 64-4-2, 32-4-2, 32-4-2, C-4-2.
- ``"burgess"``: Burgess et al. (2018), "Understanding disentangling in beta-VAE": four conv 32-4-2,
  FC 256, FC 256, Gaussian heads; the decoder mirrors it (FC 256, FC 256, FC 32*(s/16)^2, four
  deconv 32-4-2 with the last one to C channels).

TensorFlow's ``padding="same"`` with kernel 4 / stride 2 is PyTorch padding 1 (64 -> 32), and with
kernel 2 / stride 2 it is padding 0, so the shapes match disentanglement_lib exactly.

The decoder returns raw outputs ("logits"); the mean image is ``sigmoid(logits)`` for every
likelihood, as in disentanglement_lib (whose l2 loss also applies a sigmoid to the logits).
Images going into :meth:`VAE.encode` are float NCHW in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latentatlas.io.persistence import ConfigModule, register_model
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.rng import torch_generator

ARCHITECTURES = ("dlib", "burgess")
LIKELIHOODS = ("bernoulli", "gaussian", "laplace")


def _check_image_size(image_size: int) -> int:
    if image_size < 16 or image_size % 16:
        raise ShapeError(f"image_size must be a multiple of 16 (>= 16), got {image_size}")
    return image_size // 16


class _Encoder(nn.Module):
    """Conv stack -> FC stack -> Gaussian heads (posterior mean and log-variance)."""

    convs: nn.Sequential
    fc: nn.Sequential

    def _heads(self, width: int, latent_dim: int) -> None:
        self.mean = nn.Linear(width, latent_dim)
        self.logvar = nn.Linear(width, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.fc(self.convs(x))
        return self.mean(h), self.logvar(h)


class _Decoder(nn.Module):
    """FC stack (ReLU after each) to ``feat`` x side x side, then 4-2 transposed convolutions
    through ``deconv`` channels to the image channels (no activation on the last: logits)."""

    def __init__(self, channels: int, latent_dim: int, image_size: int, hidden: Sequence[int],
                 feat: int, deconv: Sequence[int]):
        super().__init__()
        self.side = _check_image_size(image_size)
        self.feat = feat
        dims = [latent_dim, *hidden, feat * self.side * self.side]
        fc: list[nn.Module] = []
        for d_in, d_out in zip(dims[:-1], dims[1:], strict=True):
            fc += [nn.Linear(d_in, d_out), nn.ReLU()]
        self.fc = nn.Sequential(*fc)
        chans = [feat, *deconv, channels]
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.ReLU()]
        self.deconvs = nn.Sequential(*layers[:-1])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], self.feat, self.side, self.side)
        return self.deconvs(h)


class DlibEncoder(_Encoder):
    """disentanglement_lib's conv encoder: conv 32-4-2, 32-4-2, 64-2-2, 64-2-2, FC 256, heads."""

    def __init__(self, channels: int, latent_dim: int, image_size: int = 64):
        super().__init__()
        side = _check_image_size(image_size)
        self.convs = nn.Sequential(
            nn.Conv2d(channels, 32, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 2, 2, 0), nn.ReLU(),
            nn.Conv2d(64, 64, 2, 2, 0), nn.ReLU(),
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(64 * side * side, 256), nn.ReLU())
        self._heads(256, latent_dim)


class DlibDecoder(_Decoder):
    """disentanglement_lib's deconv decoder: FC 256, FC 1024, deconv 64-4-2, 32-4-2, 32-4-2, C-4-2.

    (disentanglement_lib: dense 256, dense 1024 -> reshape 4x4x64, conv_transpose 64, 32, 32 and
    the output channels, all kernel 4 stride 2.)
    """

    def __init__(self, channels: int, latent_dim: int, image_size: int = 64):
        super().__init__(channels, latent_dim, image_size, hidden=[256], feat=64,
                         deconv=[64, 32, 32])


class BurgessEncoder(_Encoder):
    """Burgess et al. (2018) encoder: four conv 32-4-2 (ReLU), FC 256, FC 256, Gaussian heads."""

    def __init__(self, channels: int, latent_dim: int, image_size: int = 64):
        super().__init__()
        side = _check_image_size(image_size)
        layers: list[nn.Module] = []
        c_in = channels
        for _ in range(4):
            layers += [nn.Conv2d(c_in, 32, 4, 2, 1), nn.ReLU()]
            c_in = 32
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * side * side, 256), nn.ReLU(),
            nn.Linear(256, 256), nn.ReLU(),
        )
        self._heads(256, latent_dim)


class BurgessDecoder(_Decoder):
    """Burgess et al. (2018) decoder: FC 256, FC 256, FC 32*(s/16)^2, four deconv 32-4-2."""

    def __init__(self, channels: int, latent_dim: int, image_size: int = 64):
        super().__init__(channels, latent_dim, image_size, hidden=[256, 256], feat=32,
                         deconv=[32, 32, 32])


_NETWORKS: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {
    "dlib": (DlibEncoder, DlibDecoder),
    "burgess": (BurgessEncoder, BurgessDecoder),
}


@dataclass
class VAEOutput:
    """One forward pass: posterior mean / log-variance, the sampled code and decoder logits."""

    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    logits: torch.Tensor


def reconstruction_loss(x: torch.Tensor, logits: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Per-sample negative log-likelihood (summed over pixels), shape [N], in float32.

    - ``bernoulli``: sigmoid cross-entropy on the logits (disentanglement_lib's default).
    - ``gaussian``: squared error of ``sigmoid(logits)``, summed (disentanglement_lib's l2 loss; the
      Gaussian NLL with variance 1/2 up to a constant).
    - ``laplace``: absolute error of ``sigmoid(logits)``, summed (Laplace NLL, scale 1, up to a
      constant).
    """
    logits = logits.float()
    x = x.float()
    if likelihood == "bernoulli":
        per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    elif likelihood == "gaussian":
        per_pixel = (torch.sigmoid(logits) - x).square()
    elif likelihood == "laplace":
        per_pixel = (torch.sigmoid(logits) - x).abs()
    else:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    return per_pixel.flatten(1).sum(1)


@register_model
class VAE(ConfigModule):
    """A VAE with a diagonal Gaussian posterior and an N(0, I) prior.

    Args:
        latent_dim: number of latent dimensions (10 in disentanglement_lib's study).
        channels: image channels (1 for dSprites, 3 for colour data).
        image_size: image side in pixels, a multiple of 16.
        architecture: ``"dlib"`` (disentanglement_lib) or ``"burgess"``.
        likelihood: ``"bernoulli"`` (on logits), ``"gaussian"`` or ``"laplace"``.
    """

    config_fields = ("latent_dim", "channels", "image_size", "architecture", "likelihood")

    def __init__(
        self,
        latent_dim: int = 10,
        channels: int = 1,
        image_size: int = 64,
        architecture: str = "dlib",
        likelihood: str = "bernoulli",
    ):
        super().__init__()
        if architecture not in _NETWORKS:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if latent_dim < 1 or channels < 1:
            raise ValueError(f"latent_dim and channels must be >= 1, got {latent_dim}, {channels}")
        enc_cls, dec_cls = _NETWORKS[architecture]
        self.latent_dim = int(latent_dim)
        self.channels = int(channels)
        self.image_size = int(image_size)
        self.architecture = architecture
        self.likelihood = likelihood
        self.encoder = enc_cls(channels, latent_dim, image_size)
        self.decoder = dec_cls(channels, latent_dim, image_size)

    # ------------------------------------------------------------------ core
    def check_images(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """Validate an NCHW image batch for this model."""
        expected = (self.channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ShapeError(
                f"{name} must have shape [N, {', '.join(map(str, expected))}] (NCHW), "
                f"got {list(x.shape)}"
            )
        return x

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior (mu, logvar), each [N, latent_dim], for images NCHW in [0, 1]."""
        return self.encoder(self.check_images(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder logits [N, C, H, W]; the mean image is ``sigmoid(logits)``."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ShapeError(f"z must have shape [N, {self.latent_dim}], got {list(z.shape)}")
        return self.decoder(z)

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z = mu + exp(logvar / 2) * eps with eps ~ N(0, I) drawn from ``generator``."""
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + torch.exp(0.5 * logvar) * eps

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> VAEOutput:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator)
        return VAEOutput(mu=mu, logvar=logvar, z=z, logits=self.decode(z))

    def reconstruction_loss(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """Per-sample NLL [N] under this model's likelihood (see :func:`reconstruction_loss`)."""
        return reconstruction_loss(x, logits, self.likelihood)

    @staticmethod
    def mean_image(logits: torch.Tensor) -> torch.Tensor:
        """The decoder's mean image in [0, 1] from its logits."""
        return torch.sigmoid(logits.float())

    # ------------------------------------------------------------------ numpy conveniences
    def _nhwc_to_tensor(self, images: np.ndarray) -> torch.Tensor:
        x = np.asarray(images)
        if x.ndim == 3 and self.channels == 1:
            x = x[..., None]
        expected = (self.image_size, self.image_size, self.channels)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ShapeError(
                f"images must be NHWC with shape [N, {', '.join(map(str, expected))}], "
                f"got {list(x.shape)}"
            )
        if not np.isfinite(x).all():
            raise ShapeError("images contain NaN or Inf")
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32))

    @torch.no_grad()
    def representation(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Posterior means [N, latent_dim] (float32 numpy) of NHWC float images in [0, 1].

        This is the ``representation_fn`` the disentanglement metrics take.
        """
        x = self._nhwc_to_tensor(images)
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        out = [
            self.encode(x[i : i + batch_size].to(device))[0].float().cpu()
            for i in range(0, x.shape[0], batch_size)
        ]
        self.train(was_training)
        if not out:
            return np.zeros((0, self.latent_dim), np.float32)
        return torch.cat(out).numpy()

    @torch.no_grad()
    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        """Mean reconstructions (decoder of the posterior mean), NHWC float32 in [0, 1]."""
        x = self._nhwc_to_tensor(images).to(next(self.parameters()).device)
        mu, _ = self.encode(x)
        return self.mean_image(self.decode(mu)).cpu().numpy().transpose(0, 2, 3, 1)

    @torch.no_grad()
    def sample_images(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """n images decoded from prior samples z ~ N(0, I), NHWC float32 in [0, 1]."""
        g = torch_generator(rng)
        z = torch.randn(n, self.latent_dim, generator=g).to(next(self.parameters()).device)
        return self.mean_image(self.decode(z)).cpu().numpy().transpose(0, 2, 3, 1)
