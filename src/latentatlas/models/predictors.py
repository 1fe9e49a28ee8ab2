"""Compact CNN attribute predictors: images in the generator convention -> per-head outputs.

An :class:`AttributePredictor` has a small convolutional trunk, a penultimate embedding and one
linear output block per *head*. A head is a dict::

    {"name": "Smiling", "kind": "binary"}                       # one logit
    {"name": "digit", "kind": "multiclass", "num_classes": 10,  # num_classes logits
     "classes": ["0", "1", ...]}                                # optional class names
    {"name": "scale", "kind": "regression"}                     # one real value

Inputs follow the generator convention: float tensors, NCHW, values in [-1, 1]. Images whose
spatial size differs from ``resolution`` are resized inside :meth:`AttributePredictor.forward` with
bilinear interpolation (antialiased when shrinking), so a 256 px generator can be scored by a 64 px
predictor directly. Wrong channel counts, non-float dtypes, NaNs and values outside [-1, 1]
(beyond a small tolerance) raise :class:`~latentatlas.utils.errors.ShapeError`.

The trunk keeps spatial layout until the end (the last feature map is flattened, not averaged),
because aligned faces and sprite positions are *where* questions as much as *what* questions.

CPU speed: :meth:`AttributePredictor.set_fast` switches to channels_last memory format and bfloat16
autocast (AMX on recent Intel CPUs); outputs stay float32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from latentatlas.io.persistence import ConfigModule, register_model
from latentatlas.utils.errors import ShapeError

HEAD_KINDS = ("binary", "multiclass", "regression")

# Values a little outside [-1, 1] come from resampling / bf16 rounding; more is a convention error.
RANGE_TOLERANCE = 1e-3


def normalize_heads(heads: Sequence[dict[str, Any] | str]) -> list[dict[str, Any]]:
    """Validate head specs and fill defaults (a bare string is a binary head of that name)."""
    if not heads:
        raise ValueError("an AttributePredictor needs at least one head")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, head in enumerate(heads):
        if isinstance(head, str):
            head = {"name": head, "kind": "binary"}
        if not isinstance(head, dict) or "name" not in head:
            raise ValueError(f"heads[{i}] must be a dict with 'name' and 'kind', got {head!r}")
        name = str(head["name"])
        kind = head.get("kind", "binary")
        if kind not in HEAD_KINDS:
            raise ValueError(
                f"heads[{i}] ({name!r}): kind must be one of {HEAD_KINDS}, got {kind!r}"
            )
        if name in seen:
            raise ValueError(f"heads[{i}]: duplicate head name {name!r}")
        seen.add(name)
        spec: dict[str, Any] = {"name": name, "kind": kind}
        if kind == "multiclass":
            k = int(head.get("num_classes", 0))
            if k < 2:
                raise ValueError(f"head {name!r}: multiclass heads need num_classes >= 2")
            spec["num_classes"] = k
            classes = head.get("classes")
            if classes is not None:
                classes = [str(c) for c in classes]
                if len(classes) != k:
                    raise ValueError(f"head {name!r}: {len(classes)} class names for {k} classes")
                spec["classes"] = classes
        else:
            spec["num_classes"] = 1
        out.append(spec)
    return out


def check_images(
    images: torch.Tensor, channels: int | None = None, name: str = "images"
) -> torch.Tensor:
    """Validate a generator-convention image batch: float NCHW, finite, values in [-1, 1].

    Raises ShapeError with a hint when the batch looks like uint8 [0, 255], NHWC or [0, 1] data.
    """
    if not isinstance(images, torch.Tensor):
        raise ShapeError(
            f"{name} must be a torch.Tensor (float NCHW in [-1, 1]), got {type(images)}"
        )
    if not images.is_floating_point():
        raise ShapeError(
            f"{name} must be a float tensor in [-1, 1], got dtype {images.dtype}; convert uint8 "
            "images with images.float() / 127.5 - 1"
        )
    if images.ndim != 4:
        raise ShapeError(f"{name} must be a 4-D NCHW batch, got shape {list(images.shape)}")
    if channels is not None and images.shape[1] != channels:
        hint = ""
        if images.shape[-1] == channels:
            hint = " (it looks like NHWC: permute(0, 3, 1, 2) first)"
        raise ShapeError(
            f"{name} must have {channels} channel(s) in dim 1 (NCHW), got shape "
            f"{list(images.shape)}{hint}"
        )
    if images.numel() == 0:
        raise ShapeError(f"{name} is empty (shape {list(images.shape)})")
    with torch.no_grad():
        lo, hi = torch.aminmax(images.detach())
        lo_v, hi_v = float(lo), float(hi)
    if not (math.isfinite(lo_v) and math.isfinite(hi_v)):
        raise ShapeError(f"{name} contains NaN or Inf")
    if lo_v < -1 - RANGE_TOLERANCE or hi_v > 1 + RANGE_TOLERANCE:
        hint = " (looks like [0, 255] data: use x / 127.5 - 1)" if hi_v > 2 else ""
        raise ShapeError(
            f"{name} values must lie in [-1, 1]; got min {lo_v:.4g}, max {hi_v:.4g}{hint}. "
            "Clamp generator outputs with images.clamp(-1, 1)."
        )
    return images


class _ConvBNAct(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class _ResidualBlock(nn.Module):
    """Two 3x3 convs with an identity shortcut (same channels, same size)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = _ConvBNAct(channels, channels)
        self.conv2 = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.conv2(self.conv1(x)))


@register_model
class AttributePredictor(ConfigModule):
    """A compact CNN with one output block per head and a penultimate embedding.

    Args:
        in_channels: image channels (3 for RGB, 1 for MNIST / dSprites).
        resolution: the size the trunk runs at; other input sizes are resized to it.
        heads: head specs (see the module docstring) or bare names (binary heads).
        width: channels of the first stage; each downsampling stage doubles it up to max_width.
        max_width: channel cap.
        blocks_per_stage: residual blocks after each stride-2 downsampling conv.
        final_size: spatial size of the last feature map (downsampling stops there); it is
            flattened into the embedding layer.
        embedding_dim: size of the penultimate embedding (after ReLU).
        dropout: dropout before the output layer (training only).
        stem_stride: 2 halves the input right away (cheaper, for large inputs).
    """

    config_fields = (
        "in_channels", "resolution", "heads", "width", "max_width", "blocks_per_stage",
        "final_size", "embedding_dim", "dropout", "stem_stride",
    )

    def __init__(
        self,
        in_channels: int = 3,
        resolution: int = 64,
        heads: Sequence[dict[str, Any] | str] = ("attribute",),
        width: int = 32,
        max_width: int = 256,
        blocks_per_stage: int = 1,
        final_size: int = 4,
        embedding_dim: int = 256,
        dropout: float = 0.0,
        stem_stride: int = 1,
    ) -> None:
        super().__init__()
        if in_channels < 1 or resolution < 4:
            raise ValueError("in_channels must be >= 1 and resolution >= 4")
        if stem_stride not in (1, 2):
            raise ValueError("stem_stride must be 1 or 2")
        self.in_channels = int(in_channels)
        self.resolution = int(resolution)
        self.heads = normalize_heads(heads)
        self.embedding_dim = int(embedding_dim)

        layers: list[nn.Module] = [_ConvBNAct(in_channels, width, stride=stem_stride)]
        size = math.ceil(resolution / stem_stride)
        channels = width
        while size > final_size:
            nxt = min(channels * 2, max_width)
            layers.append(_ConvBNAct(channels, nxt, stride=2))
            layers.extend(_ResidualBlock(nxt) for _ in range(blocks_per_stage))
            channels = nxt
            size = math.ceil(size / 2)
        self.trunk = nn.Sequential(*layers)
        self.feature_shape = (channels, size, size)
        self.embed_layer = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * size * size, embedding_dim, bias=False),
            nn.BatchNorm1d(embedding_dim),
            nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        total = sum(h["num_classes"] for h in self.heads)
        self.output_layer = nn.Linear(embedding_dim, total)
        # Regression heads predict standardised values; these buffers (set by the trainer from
        # the training targets) map them back to target units. Logit columns keep (1, 0).
        self.register_buffer("output_scale", torch.ones(total))
        self.register_buffer("output_shift", torch.zeros(total))
        self.use_bf16 = False

    # ------------------------------------------------------------------ bookkeeping
    @property
    def head_names(self) -> list[str]:
        return [h["name"] for h in self.heads]

    def head(self, name: str) -> dict[str, Any]:
        for h in self.heads:
            if h["name"] == name:
                return h
        raise KeyError(f"no head {name!r}; heads: {', '.join(self.head_names)}")

    def head_slices(self) -> dict[str, slice]:
        """Column range of each head in :meth:`logits`' output."""
        out, start = {}, 0
        for h in self.heads:
            out[h["name"]] = slice(start, start + h["num_classes"])
            start += h["num_classes"]
        return out

    def set_target_standardisation(self, name: str, mean: float, std: float) -> None:
        """Regression head ``name`` outputs ``mean + std * (standardised prediction)``."""
        h = self.head(name)
        if h["kind"] != "regression":
            raise ValueError(f"head {name!r} is {h['kind']}; only regression heads are rescaled")
        if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
            raise ValueError(f"head {name!r}: need finite mean and std > 0, got {mean}, {std}")
        sl = self.head_slices()[name]
        self.output_scale[sl] = std
        self.output_shift[sl] = mean

    def set_fast(self, enabled: bool = True) -> AttributePredictor:
        """bfloat16 autocast + channels_last (fast on CPUs with AMX / AVX512-BF16)."""
        self.use_bf16 = bool(enabled)
        self.to(memory_format=torch.channels_last if enabled else torch.contiguous_format)
        return self

    # ------------------------------------------------------------------ forward passes
    def prepare(self, images: torch.Tensor, validate: bool = True) -> torch.Tensor:
        """Validate and resize a batch to ``resolution`` (bilinear; antialiased when shrinking)."""
        if validate:
            check_images(images, self.in_channels)
        h, w = images.shape[-2:]
        if (h, w) != (self.resolution, self.resolution):
            shrink = h > self.resolution or w > self.resolution
            images = F.interpolate(
                images,
                size=(self.resolution, self.resolution),
                mode="bilinear",
                align_corners=False,
                antialias=shrink,
            )
        if self.use_bf16:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def _autocast(self, device: torch.device):
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.use_bf16)

    def logits_and_embedding(
        self, images: torch.Tensor, validate: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw outputs of all heads concatenated [N, sum(num_classes)] and the embedding [N, D]."""
        x = self.prepare(images, validate)
        with self._autocast(x.device):
            emb = self.embed_layer(self.trunk(x))
            out = self.output_layer(self.dropout(emb))
        return out.float() * self.output_scale + self.output_shift, emb.float()

    def logits(self, images: torch.Tensor, validate: bool = True) -> torch.Tensor:
        """Raw outputs of all heads concatenated, [N, sum(num_classes)] (see head_slices)."""
        return self.logits_and_embedding(images, validate)[0]

    def embed(self, images: torch.Tensor, validate: bool = True) -> torch.Tensor:
        """Penultimate embedding [N, embedding_dim] (post-ReLU)."""
        x = self.prepare(images, validate)
        with self._autocast(x.device):
            emb = self.embed_layer(self.trunk(x))
        return emb.float()

    def split_outputs(self, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-head raw outputs: binary / regression -> [N]; multiclass -> [N, num_classes]."""
        out = {}
        for h, sl in zip(self.heads, self.head_slices().values(), strict=True):
            part = logits[:, sl]
            out[h["name"]] = part if h["kind"] == "multiclass" else part[:, 0]
        return out

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-head raw outputs (logits for binary / multiclass heads, values for regression)."""
        return self.split_outputs(self.logits(images))

    def predict(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-head predictions: binary -> P(positive) [N]; multiclass -> class probabilities
        [N, K]; regression -> value [N]."""
        out = {}
        for h, (name, raw) in zip(self.heads, self.forward(images).items(), strict=True):
            if h["kind"] == "binary":
                out[name] = torch.sigmoid(raw)
            elif h["kind"] == "multiclass":
                out[name] = torch.softmax(raw, dim=1)
            else:
                out[name] = raw
        return out
