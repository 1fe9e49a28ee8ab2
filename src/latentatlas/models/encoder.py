"""A small image -> W+ encoder: the instant initialisation of GAN inversion.

:class:`LatentEncoder` maps generator-convention images (float NCHW in [-1, 1]) to W+ codes
[N, num_ws, w_dim] as ``w_avg + base(e) + delta(e)``: ``e`` is a compact CNN embedding, ``base``
one w shared by every layer and ``delta`` a per-layer offset (small at initialisation, so an
untrained encoder starts at ``w_avg``). ``w_avg`` is a buffer copied from the generator the
encoder was trained for, so a saved encoder (config.json + model.safetensors) loads with
``latentatlas.load`` and works on its own. Images of another size are resized (bilinear,
antialiased when shrinking) to ``resolution`` first.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from latentatlas.io.persistence import ConfigModule, register_model
from latentatlas.models.predictors import check_images


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1),
        nn.LeakyReLU(0.2, inplace=True),
    )


@register_model
class LatentEncoder(ConfigModule):
    """CNN encoder: images [N, C, R, R] in [-1, 1] -> W+ codes [N, num_ws, w_dim].

    Args:
        num_ws, w_dim: the generator's W+ shape.
        in_channels, resolution: the generator's image shape (other sizes are resized).
        width, max_width: channels of the first stage, doubled per stride-2 stage up to the cap.
        final_size: spatial size of the last feature map (flattened into the embedding).
        embedding_dim: size of the embedding both heads read.
        generator: the generator's name or folder (documentation only: which model the codes
            belong to; the studio and ``invert`` check it).
    """

    config_fields = (
        "num_ws", "w_dim", "in_channels", "resolution", "width", "max_width", "final_size",
        "embedding_dim", "generator",
    )

    def __init__(
        self,
        num_ws: int = 10,
        w_dim: int = 256,
        in_channels: int = 3,
        resolution: int = 64,
        width: int = 32,
        max_width: int = 96,
        final_size: int = 4,
        embedding_dim: int = 192,
        generator: str | None = None,
    ) -> None:
        super().__init__()
        if num_ws < 1 or w_dim < 1 or resolution < final_size or final_size < 1:
            raise ValueError("num_ws, w_dim >= 1 and resolution >= final_size >= 1 are required")
        self.num_ws, self.w_dim = int(num_ws), int(w_dim)
        self.in_channels, self.resolution = int(in_channels), int(resolution)
        self.generator = generator
        layers: list[nn.Module] = [_block(in_channels, width, 1)]
        size, ch = resolution, width
        while size > final_size:
            nxt = min(ch * 2, max_width)
            layers += [_block(ch, nxt, 2), _block(nxt, nxt, 1)]
            ch, size = nxt, math.ceil(size / 2)
        layers.append(nn.Conv2d(ch, 64, 1))
        self.trunk = nn.Sequential(*layers)
        self.embed = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * size * size, embedding_dim),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.base = nn.Linear(embedding_dim, w_dim)
        self.delta = nn.Linear(embedding_dim, num_ws * w_dim)
        for head in (self.base, self.delta):
            nn.init.normal_(head.weight, std=1e-3)
            nn.init.zeros_(head.bias)
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def set_w_avg(self, w_avg: torch.Tensor) -> LatentEncoder:
        """Copy the generator's w_avg (the code an untrained encoder returns)."""
        self.w_avg.copy_(torch.as_tensor(w_avg, dtype=torch.float32).reshape(self.w_dim))
        return self

    def forward(self, images: torch.Tensor, validate: bool = True) -> torch.Tensor:
        if validate:
            check_images(images, self.in_channels)
        if images.shape[-1] != self.resolution or images.shape[-2] != self.resolution:
            shrink = images.shape[-1] > self.resolution
            images = F.interpolate(images, size=(self.resolution, self.resolution),
                                   mode="bilinear", align_corners=False, antialias=shrink)
        e = self.embed(self.trunk(images))
        base = self.base(e).unsqueeze(1)
        delta = self.delta(e).view(-1, self.num_ws, self.w_dim)
        return self.w_avg.view(1, 1, -1) + base + delta

    def encode(self, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """W+ codes of many images, in chunks, without gradients (float32 on the CPU)."""
        out = []
        with torch.no_grad():
            for s in range(0, images.shape[0], batch_size):
                out.append(self(images[s:s + batch_size]).float().cpu())
        return torch.cat(out)
