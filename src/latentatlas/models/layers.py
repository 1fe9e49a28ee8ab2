"""Shared building blocks of the StyleGAN2 family (pure PyTorch, CPU-first).

The operators follow the semantics of the official NVlabs StyleGAN2-ADA code (facts in
ALGORITHMS.md): equalised learning rate, ``bias_act`` (bias, activation, gain, clamp in that
order), ``upfirdn2d`` with the normalised [1, 3, 3, 1] filter and gain ``up**2`` when upsampling,
``conv2d_resample`` (transposed conv + FIR for up, FIR + strided conv for down) and the two
modulated convolutions:

- :func:`modulated_conv2d_reference`: the official fused form, one grouped convolution with
  per-sample modulated and demodulated weights (fp32, op for op as the official inference path);
- :func:`modulated_conv2d_fast`: a shared-weight convolution on style-scaled activations, with the
  demodulation coefficients from one matmul ``rsqrt(styles^2 @ sum_k(weight^2)^T + eps)``
  (applied by the caller, fused with noise, bias and activation), optional bf16 + channels_last.

Both are differentiable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)
DEMOD_EPS = 1e-8
RESAMPLE_FILTER = (1, 3, 3, 1)

ACT_GAINS = {"linear": 1.0, "lrelu": LRELU_GAIN}


# --------------------------------------------------------------------------- element-wise ops
def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """x / sqrt(mean(x^2) + eps) along ``dim`` (the mapping network's input normalisation)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    act: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
    dim: int = 1,
) -> torch.Tensor:
    """Add bias along ``dim``, apply the activation, scale by ``gain``, clamp to [-clamp, clamp].

    ``gain`` defaults to the activation's own gain (sqrt(2) for lrelu, 1 for linear).
    """
    if act not in ACT_GAINS:
        raise ValueError(f"unknown activation {act!r}; known: {sorted(ACT_GAINS)}")
    gain = ACT_GAINS[act] if gain is None else float(gain)
    if b is not None:
        x = x + b.reshape([-1 if i == dim else 1 for i in range(x.ndim)])
    if act == "lrelu":
        x = F.leaky_relu(x, LRELU_SLOPE)
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


# --------------------------------------------------------------------------- resampling
def setup_filter(f: Sequence[float] = RESAMPLE_FILTER) -> torch.Tensor:
    """The 2-D normalised FIR filter (outer product of the 1-D taps, sum 1), float32."""
    f1 = torch.as_tensor(f, dtype=torch.float32)
    f2 = torch.outer(f1, f1)
    return f2 / f2.sum()


def _parse_padding(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    if isinstance(padding, int):
        return padding, padding, padding, padding
    if len(padding) == 2:
        px, py = padding
        return px, px, py, py
    px0, px1, py0, py1 = padding
    return px0, px1, py0, py1


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by zero insertion, pad (or crop), convolve with the 2-D filter ``f``, downsample.

    ``padding`` is (x0, x1, y0, y1) or an int. The filter is scaled by ``gain`` (2-D: gain**1).
    """
    n, c, h, w = x.shape
    px0, px1, py0, py1 = _parse_padding(padding)
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    # True convolution = correlation with the flipped filter.
    fk = (f * gain).to(x.dtype).flip([0, 1])
    fk = fk[None, None].repeat(c, 1, 1, 1)
    x = F.conv2d(x, fk, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """FIR upsampling by ``up`` (gain up**2, output size exactly up * input)."""
    fw = f.shape[-1]
    p = ((fw + up - 1) // 2, (fw - up) // 2)
    return upfirdn2d(x, f, up=up, padding=(p[0], p[1], p[0], p[1]), gain=up * up)


def upsample2d_1331(x: torch.Tensor) -> torch.Tensor:
    """:func:`upsample2d` with the [1, 3, 3, 1] filter as two separable 2-tap polyphase passes.

    Zero insertion + the 4x4 FIR (gain 4) reduces to out[2m] = (x[m-1] + 3 x[m]) / 4 and
    out[2m+1] = (3 x[m] + x[m+1]) / 4 per axis with zero borders; this avoids a depthwise
    convolution over the zero-stuffed image (slow for 3 channels). Equal up to rounding.
    """
    n, c, h, w = x.shape
    xp = F.pad(x, [1, 1, 0, 0])
    mid = 3 * xp[..., 1:-1]
    x = torch.stack([xp[..., :-2] + mid, mid + xp[..., 2:]], dim=-1).reshape(n, c, h, 2 * w) / 4
    xp = F.pad(x, [0, 0, 1, 1])
    mid = 3 * xp[..., 1:-1, :]
    x = torch.stack([xp[..., :-2, :] + mid, mid + xp[..., 2:, :]], dim=-2)
    return x.reshape(n, c, 2 * h, 2 * w) / 4


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
    groups: int = 1,
    flip_weight: bool = True,
) -> torch.Tensor:
    """2-D convolution with optional FIR up/downsampling (the official op order and padding).

    ``flip_weight=False`` makes it a true convolution (the official code uses that for up=2).
    """
    out_channels, in_per_group, kh, kw = w.shape
    fw = 1 if f is None else f.shape[-1]
    px0 = px1 = padding
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2

    def conv(
        x: torch.Tensor,
        w: torch.Tensor,
        stride: int = 1,
        pad: int = 0,
        transpose: bool = False,
        flip: bool = True,
    ) -> torch.Tensor:
        if not flip:
            w = w.flip([2, 3])
        if transpose:
            return F.conv_transpose2d(x, w, stride=stride, padding=pad, groups=groups)
        return F.conv2d(x, w, stride=stride, padding=pad, groups=groups)

    if kw == 1 and kh == 1 and down > 1 and up == 1:
        x = upfirdn2d(x, f, down=down, padding=(px0, px1, px0, px1))
        return conv(x, w, flip=flip_weight)
    if kw == 1 and kh == 1 and up > 1 and down == 1:
        x = conv(x, w, flip=flip_weight)
        return upfirdn2d(x, f, up=up, padding=(px0, px1, px0, px1), gain=up * up)
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, padding=(px0, px1, px0, px1))
        return conv(x, w, stride=down, flip=flip_weight)
    if up > 1:
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
            w = w.reshape(groups * in_per_group, out_channels // groups, kh, kw)
        px0 -= kw - 1
        px1 -= kw - up
        pxt = max(min(-px0, -px1), 0)
        x = conv(x, w, stride=up, pad=pxt, transpose=True, flip=not flip_weight)
        x = upfirdn2d(x, f, padding=(px0 + pxt, px1 + pxt, px0 + pxt, px1 + pxt), gain=up * up)
        if down > 1:
            x = upfirdn2d(x, f, down=down)
        return x
    if up == 1 and down == 1 and px0 == px1 and px0 >= 0:
        return conv(x, w, pad=px0, flip=flip_weight)
    raise NotImplementedError(
        f"conv2d_resample: unsupported up={up}, down={down}, padding={padding}"
    )


# --------------------------------------------------------------------------- layers
class FullyConnectedLayer(nn.Module):
    """Equalised-lr dense layer: weight ~ N(0, 1/lr_mul^2), runtime gain lr_mul / sqrt(fan_in)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / np.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        x = x.matmul(w.t())
        return bias_act(x, b, act=self.activation)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, act={self.activation}"


class Conv2dLayer(nn.Module):
    """Equalised-lr convolution with optional FIR up/down-sampling, bias, activation and clamp."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.activation = activation
        self.up = up
        self.down = down
        self.conv_clamp = conv_clamp
        # Rebuilt by the constructor, so not part of the state dict.
        self.register_buffer("resample_filter", setup_filter(), persistent=False)
        self.padding = kernel_size // 2
        self.weight_gain = 1 / np.sqrt(in_channels * kernel_size**2)
        self.act_gain = ACT_GAINS[activation]
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        b = self.bias.to(x.dtype) if self.bias is not None else None
        x = conv2d_resample(
            x,
            w,
            f=self.resample_filter,
            up=self.up,
            down=self.down,
            padding=self.padding,
            flip_weight=(self.up == 1),
        )
        act_gain = self.act_gain * gain
        act_clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, b, act=self.activation, gain=act_gain, clamp=act_clamp)


class MappingNetwork(nn.Module):
    """z (+ embedded class label) -> w through ``num_layers`` lrelu FC layers (lr multiplier 0.01).

    Parameter names are the official ones (``fc{i}``, ``embed``, ``w_avg``). Returns w [N, w_dim]
    (the broadcast to W+ and truncation live in the generator).
    """

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_layers: int = 8,
        embed_features: int | None = None,
        layer_features: int | None = None,
        lr_multiplier: float = 0.01,
        track_w_avg: bool = True,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_layers = num_layers
        if embed_features is None:
            embed_features = w_dim
        if c_dim == 0:
            embed_features = 0
        if layer_features is None:
            layer_features = w_dim
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            layer = FullyConnectedLayer(
                features[idx], features[idx + 1], activation="lrelu", lr_multiplier=lr_multiplier
            )
            setattr(self, f"fc{idx}", layer)
        if track_w_avg:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None = None) -> torch.Tensor:
        x = None
        if self.z_dim > 0:
            x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        return x


class MinibatchStdLayer(nn.Module):
    """Append the mean (over channels and pixels) std-dev over groups of ``group_size`` samples."""

    def __init__(self, group_size: int | None, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n) if self.group_size is not None else n
        if n % g:
            raise ValueError(f"minibatch-std: batch size {n} is not a multiple of group size {g}")
        nf = self.num_channels
        y = x.reshape(g, -1, nf, c // nf, h, w)
        y = y - y.mean(dim=0)
        y = y.square().mean(dim=0)
        y = (y + 1e-8).sqrt()
        y = y.mean(dim=[2, 3, 4])
        y = y.reshape(-1, nf, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y.to(x.dtype)], dim=1)


# --------------------------------------------------------------------------- modulated convolution
def modulated_conv2d_reference(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
) -> torch.Tensor:
    """The official fused modulated convolution: per-sample weights, one grouped convolution.

    weight [O, I, k, k], styles [N, I]; noise (added after the convolution) broadcasts to the
    output. fp32 reference; ``flip_weight`` follows the official choice (up == 1).
    """
    n = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + DEMOD_EPS).rsqrt()
        w = w * dcoefs.reshape(n, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, in_channels, kh, kw)
    x = conv2d_resample(
        x, w.to(x.dtype), f=resample_filter, up=up, padding=padding, groups=n, flip_weight=(up == 1)
    )
    x = x.reshape(n, -1, *x.shape[2:])
    if noise is not None:
        x = x + noise
    return x


def demodulation_coefficients(
    weight: torch.Tensor, styles: torch.Tensor, weight_sq: torch.Tensor | None = None
) -> torch.Tensor:
    """Demodulation coefficients [N, O] as one matmul: rsqrt(s^2 @ sum_k(w^2)^T + eps).

    ``weight_sq`` may pass a precomputed ``sum_k(w^2)`` [O, I].
    """
    wsq = weight.square().sum(dim=[2, 3]) if weight_sq is None else weight_sq
    return (styles.square() @ wsq.t() + DEMOD_EPS).rsqrt()


def modulated_conv2d_fast(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    in_scale: float = 1.0,
    weight_sq: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Shared-weight modulated convolution; returns (conv output, demodulation coefficients).

    The caller applies the [N, O] coefficients (fused with noise, bias and activation), so the
    full-size activation is touched once. Runs in ``x.dtype`` (e.g. bf16, channels_last); the
    coefficients are computed in fp32. ``in_scale`` multiplies the input (a deferred gain of
    the previous layer) without entering the demodulation; ``weight_sq`` a precomputed sum_k(w^2).
    """
    n = x.shape[0]
    dcoefs = demodulation_coefficients(weight, styles, weight_sq) if demodulate else None
    if in_scale != 1.0:
        styles = styles * in_scale
    x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
    if up == 1:
        x = F.conv2d(x, weight.to(x.dtype), padding=padding)
    elif up == 2 and resample_filter is not None and weight.shape[-1] == 3 and padding == 1:
        # The official op order (stride-2 transposed 3x3 conv, then the 4x4 FIR with gain 4),
        # with the FIR's symmetric padding passed to the depthwise conv instead of F.pad.
        # Measured faster than folding both into one 6x6 kernel (4x the conv FLOPs).
        x = F.conv_transpose2d(x, weight.transpose(0, 1).to(x.dtype), stride=2)
        c = x.shape[1]
        fir = (resample_filter * 4).to(x.dtype)[None, None].expand(c, 1, -1, -1)
        x = F.conv2d(x, fir, padding=1, groups=c)
    else:
        x = conv2d_resample(
            x, weight.to(x.dtype), f=resample_filter, up=up, padding=padding, flip_weight=(up == 1)
        )
    return x, dcoefs
