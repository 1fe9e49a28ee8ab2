"""StyleGAN2 generator and discriminator with the official NVlabs StyleGAN2-ADA parameter names.

The state dict keys are the official ones (``mapping.fc{i}.*``, ``mapping.w_avg``,
``synthesis.b4.const``, ``synthesis.b{res}.conv0/conv1/torgb.*``; discriminator
``b{res}.fromrgb/conv0/conv1/skip.*``, ``b4.conv/fc/out.*``), so official StyleGAN2-ADA / StyleGAN3
pickles load with strict key matching (see :mod:`latentatlas.models.convert`). The resample
filters are rebuilt by the constructors and are not part of the state dict.

Two implementations share the parameters (``impl``):

- ``"reference"``: the official fused inference path op for op (per-sample grouped convolution),
  fp32, following the official CPU operator order so converted checkpoints can reproduce the
  official fp32 output (tested against files built in the tests; the NVlabs code itself is not
  run here).
- ``"fast"`` (default): shared-weight convolutions on style-scaled activations, demodulation as a
  matmul, demodulation + noise + bias in one ``addcmul`` pass, the lrelu gain deferred into the
  next layer's styles, toRGB as one batched matmul, and (``dtype="auto"``) bf16 + channels_last on
  CPUs / GPUs with native bf16. Differentiable, so training uses it too.

Finite-difference methods (Hessian penalty, OroJaR with small steps) should use
``set_impl(dtype="float32")``: bf16 has ~3 significant digits.

Over 600 lines: G and D of one architecture, with G's fast and reference paths side by side.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latentatlas.io.persistence import ConfigModule, register_model
from latentatlas.models.base import Generator, check_image_shape, log2_resolution
from latentatlas.models.layers import (
    LRELU_GAIN,
    LRELU_SLOPE,
    Conv2dLayer,
    FullyConnectedLayer,
    MappingNetwork,
    MinibatchStdLayer,
    bias_act,
    modulated_conv2d_fast,
    modulated_conv2d_reference,
    setup_filter,
    upsample2d,
    upsample2d_1331,
)
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.hardware import native_bf16_supported
from latentatlas.utils.rng import torch_generator

IMPLS = ("fast", "reference")
DTYPES = ("auto", "float32", "bfloat16")
NOISE_MODES = ("const", "random", "none")


def resolve_dtype(dtype: str, device: torch.device | str = "cpu") -> torch.dtype:
    """'auto' -> bfloat16 where native, else float32; 'float32' / 'bfloat16' as named."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if dtype == "auto":
        return torch.bfloat16 if native_bf16_supported(device) else torch.float32
    return getattr(torch, dtype)


def _make_noise(
    n: int, resolution: int, noise_generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    if noise_generator is not None:
        # Draw on the generator's device (CPU generators are the reproducible default).
        noise = torch.randn(
            n, 1, resolution, resolution, generator=noise_generator, device=noise_generator.device
        )
        return noise.to(device)
    return torch.randn(n, 1, resolution, resolution, device=device)


# --------------------------------------------------------------------------- synthesis layers
class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution (optionally 2x up) + noise + bias + lrelu (official names)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.resolution = resolution
        self.up = up
        self.use_noise = use_noise
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(), persistent=False)
        self.padding = kernel_size // 2
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        if use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def _noise(
        self, n: int, noise_mode: str, noise_generator: torch.Generator | None, device: torch.device
    ) -> torch.Tensor | None:
        if not self.use_noise or noise_mode == "none":
            return None
        if noise_mode == "const":
            return self.noise_const * self.noise_strength
        return _make_noise(n, self.resolution, noise_generator, device) * self.noise_strength

    def forward_reference(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        noise_mode: str = "const",
        noise_generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The official fused path (fp32)."""
        styles = self.affine(w)
        noise = self._noise(x.shape[0], noise_mode, noise_generator, x.device)
        x = modulated_conv2d_reference(
            x,
            self.weight,
            styles,
            noise=noise,
            up=self.up,
            padding=self.padding,
            resample_filter=self.resample_filter,
        )
        return bias_act(x, self.bias, act="lrelu", gain=LRELU_GAIN, clamp=self.conv_clamp)

    def forward_fast(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        in_scale: float = 1.0,
        noise_mode: str = "const",
        noise_generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The fast path on ``x`` = true input / ``in_scale``; returns true output / sqrt(2).

        The lrelu gain sqrt(2) is not applied here: the consumer folds it into its styles
        (a per-channel scale of the input passes linearly through the convolution), which
        saves one pass over the activation. The clamp is scaled to match.
        """
        n = x.shape[0]
        styles = self.affine(w)
        y, dcoefs = modulated_conv2d_fast(
            x,
            self.weight,
            styles,
            up=self.up,
            padding=self.padding,
            resample_filter=self.resample_filter,
            in_scale=in_scale,
        )
        dt = y.dtype
        noise = None
        if self.use_noise and noise_mode == "const":
            # One [O, H, W] offset (bias + const noise) for every sample; channels_last, or
            # addcmul would pick NCHW for its output (a copy in every consumer).
            offset = (
                self.bias.to(dt).reshape(1, -1, 1, 1)
                + (self.noise_const * self.noise_strength).to(dt)
            ).contiguous(memory_format=torch.channels_last)
        else:
            offset = self.bias.to(dt).reshape(1, -1, 1, 1)
            noise = self._noise(n, noise_mode, noise_generator, x.device)
        out = torch.addcmul(offset, y, dcoefs.to(dt).reshape(n, -1, 1, 1))
        if noise is not None:
            out = out.add_(noise.to(dt))
        out = F.leaky_relu_(out, LRELU_SLOPE)
        if self.conv_clamp is not None:
            c = self.conv_clamp / LRELU_GAIN
            out = out.clamp_(-c, c)
        return out


class ToRGBLayer(nn.Module):
    """Modulated 1x1 convolution, no demodulation (style / sqrt(C_in)), + bias; official names."""

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None
    ) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / np.sqrt(in_channels)

    def forward_reference(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d_reference(x, self.weight, styles, demodulate=False)
        return bias_act(x, self.bias, clamp=self.conv_clamp)

    def forward_fast(self, x: torch.Tensor, w: torch.Tensor, in_scale: float = 1.0) -> torch.Tensor:
        """Per-sample [out, in] weights applied with one batched matmul (no pass to modulate x)."""
        n, c, h, wd = x.shape
        styles = self.affine(w) * (self.weight_gain * in_scale)
        wmod = self.weight.reshape(1, -1, c) * styles.reshape(n, 1, c)  # [N, O, I]
        # channels_last activations are [N, H*W, C] in memory: a free view for the matmul.
        xs = x.permute(0, 2, 3, 1).reshape(n, h * wd, c)
        y = torch.baddbmm(
            self.bias.to(x.dtype).reshape(1, 1, -1), xs, wmod.transpose(1, 2).to(x.dtype)
        )
        y = y.reshape(n, h, wd, -1).permute(0, 3, 1, 2).float()
        if self.conv_clamp is not None:
            y = y.clamp(-self.conv_clamp, self.conv_clamp)
        return y


class SynthesisBlock(nn.Module):
    """One resolution of the skip synthesis network: const or conv0 (up), conv1, torgb."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.resolution = resolution
        self.img_channels = img_channels
        self.register_buffer("resample_filter", setup_filter(), persistent=False)
        self.num_conv = 0
        self.num_torgb = 1
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(
                in_channels, out_channels, w_dim, resolution, up=2, conv_clamp=conv_clamp
            )
            self.num_conv += 1
        self.conv1 = SynthesisLayer(
            out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp
        )
        self.num_conv += 1
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)

    def conv_layers(self) -> list[tuple[str, SynthesisLayer]]:
        return [(name, getattr(self, name)) for name in ("conv0", "conv1") if hasattr(self, name)]


class SynthesisNetwork(nn.Module):
    """W+ [N, num_ws, w_dim] -> image [N, C, R, R] (skip architecture, official names b{res})."""

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        log2 = log2_resolution(img_resolution, 4, 1024)
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        self.channels = {r: min(channel_base // r, channel_max) for r in self.block_resolutions}
        if min(self.channels.values()) < 1:
            raise ValueError(
                f"channel_base={channel_base} gives zero channels at {img_resolution} px"
            )
        self.num_ws = 0
        for res in self.block_resolutions:
            in_ch = self.channels[res // 2] if res > 4 else 0
            block = SynthesisBlock(in_ch, self.channels[res], w_dim, res, img_channels, conv_clamp)
            self.num_ws += block.num_conv
            setattr(self, f"b{res}", block)
        self.num_ws += 1  # the last toRGB; every other toRGB shares its w with the next conv0
        self.impl = "fast"
        self.dtype = "auto"

    def blocks(self) -> Iterator[tuple[int, SynthesisBlock]]:
        for res in self.block_resolutions:
            yield res, getattr(self, f"b{res}")

    def layer_names(self) -> list[str]:
        names = []
        for res, block in self.blocks():
            names += [f"b{res}.{name}" for name, _ in block.conv_layers()]
            names += [f"b{res}.torgb", f"b{res}.img"]
        return names

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "const",
        noise_generator: torch.Generator | None = None,
        record: Sequence[str] | None = None,
        impl: str | None = None,
        dtype: str | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Synthesise images (float32, NCHW). With ``record`` also return those activations.

        Activations are float32 and in true scale for both implementations.
        """
        impl = self.impl if impl is None else impl
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ShapeError(
                f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}"
            )
        wanted = set(record or ())
        unknown = wanted - set(self.layer_names())
        if unknown:
            raise ValueError(f"unknown layer names {sorted(unknown)}; known: {self.layer_names()}")
        acts: dict[str, torch.Tensor] = {}
        ws = ws.to(torch.float32)
        if impl == "reference":
            img = self._forward_reference(ws, noise_mode, noise_generator, wanted, acts)
        else:
            compute = resolve_dtype(self.dtype if dtype is None else dtype, ws.device)
            img = self._forward_fast(ws, noise_mode, noise_generator, wanted, acts, compute)
        return (img, acts) if record is not None else img

    def _forward_reference(self, ws, noise_mode, noise_generator, wanted, acts) -> torch.Tensor:
        x = img = None
        w_idx = 0
        for res, block in self.blocks():
            if block.in_channels == 0:
                x = block.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)
            for name, layer in block.conv_layers():
                x = layer.forward_reference(x, ws[:, w_idx], noise_mode, noise_generator)
                w_idx += 1
                if f"b{res}.{name}" in wanted:
                    acts[f"b{res}.{name}"] = x
            if img is not None:
                img = upsample2d(img, block.resample_filter)
            y = block.torgb.forward_reference(x, ws[:, w_idx])
            img = img + y if img is not None else y
            if f"b{res}.torgb" in wanted:
                acts[f"b{res}.torgb"] = y
            if f"b{res}.img" in wanted:
                acts[f"b{res}.img"] = img
        return img

    def _forward_fast(self, ws, noise_mode, noise_generator, wanted, acts, compute) -> torch.Tensor:
        x = img = None
        w_idx = 0
        scale = 1.0  # true activation = scale * x (the lrelu gain is deferred to the consumer)
        for res, block in self.blocks():
            if block.in_channels == 0:
                x = block.const.to(compute).unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
                x = x.contiguous(memory_format=torch.channels_last)
                scale = 1.0
            for name, layer in block.conv_layers():
                x = layer.forward_fast(x, ws[:, w_idx], scale, noise_mode, noise_generator)
                scale = LRELU_GAIN
                w_idx += 1
                if f"b{res}.{name}" in wanted:
                    acts[f"b{res}.{name}"] = x.float().contiguous() * scale
            if img is not None:
                img = upsample2d_1331(img)
            y = block.torgb.forward_fast(x, ws[:, w_idx], scale)
            img = img + y if img is not None else y
            if f"b{res}.torgb" in wanted:
                acts[f"b{res}.torgb"] = y
            if f"b{res}.img" in wanted:
                acts[f"b{res}.img"] = img
        return img


# --------------------------------------------------------------------------- generator
@register_model
class StyleGAN2Generator(Generator):
    """StyleGAN2 (config F, skip generator) behind the :class:`Generator` protocol.

    Args:
        z_dim, w_dim, c_dim: latent and class-label sizes (c_dim 0: unconditional).
        img_resolution: output size, a power of two in [16, 1024].
        img_channels: 1 or 3 (any positive number works).
        mapping_layers: depth of the mapping network (official: 8; ADA "auto" / SG3: 2).
        channel_base, channel_max: channels at resolution r are min(channel_base // r, channel_max).
        conv_clamp: clamp of conv outputs (official ADA default None, StyleGAN3 repo 256).
        mapping_lr_multiplier: equalised-lr multiplier of the mapping network (0.01).
        embed_features, layer_features: mapping widths (default w_dim), as official.
        w_avg_beta: EMA decay of the tracked w_avg used by :meth:`update_w_avg`.
        num_fp16_res: recorded for conversion fidelity; ignored (fp32 / bf16 on CPU instead).
        impl: "fast" (default) or "reference" (official fused fp32 path).
        dtype: compute dtype of the fast path: "auto" (bf16 where native), "float32", "bfloat16".
    """

    config_fields = (
        "z_dim", "w_dim", "c_dim", "img_resolution", "img_channels", "mapping_layers",
        "channel_base", "channel_max", "conv_clamp", "mapping_lr_multiplier",
        "embed_features", "layer_features", "w_avg_beta", "num_fp16_res", "impl",
    )
    runtime_fields = ("dtype",)

    def __init__(
        self,
        z_dim: int = 512,
        w_dim: int = 512,
        c_dim: int = 0,
        img_resolution: int = 64,
        img_channels: int = 3,
        mapping_layers: int = 8,
        channel_base: int = 32768,
        channel_max: int = 512,
        conv_clamp: float | None = None,
        mapping_lr_multiplier: float = 0.01,
        embed_features: int | None = None,
        layer_features: int | None = None,
        w_avg_beta: float = 0.995,
        num_fp16_res: int = 0,
        impl: str = "fast",
        dtype: str = "auto",
    ) -> None:
        super().__init__()
        log2_resolution(img_resolution, 16, 1024)
        if min(z_dim, w_dim, img_channels, mapping_layers) < 1 or c_dim < 0:
            raise ValueError(
                "z_dim, w_dim, img_channels and mapping_layers must be >= 1, c_dim >= 0"
            )
        self.z_dim = z_dim
        self.w_dim = w_dim
        self.c_dim = c_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.w_avg_beta = w_avg_beta
        self.synthesis = SynthesisNetwork(
            w_dim, img_resolution, img_channels, channel_base, channel_max, conv_clamp
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            z_dim,
            c_dim,
            w_dim,
            num_layers=mapping_layers,
            embed_features=embed_features,
            layer_features=layer_features,
            lr_multiplier=mapping_lr_multiplier,
        )
        self.set_impl(impl, dtype)

    # ----------------------------------------------------------------- implementation choice
    def set_impl(self, impl: str | None = None, dtype: str | None = None) -> StyleGAN2Generator:
        """Choose the synthesis implementation ("fast" / "reference") and fast-path dtype."""
        if impl is not None:
            if impl not in IMPLS:
                raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
            self.synthesis.impl = impl
        if dtype is not None:
            resolve_dtype(dtype)  # validates the name
            self.synthesis.dtype = dtype
        return self

    @property
    def impl(self) -> str:
        return self.synthesis.impl

    @property
    def compute_dtype(self) -> torch.dtype:
        """The dtype the synthesis network computes in on this model's device."""
        if self.impl == "reference":
            return torch.float32
        return resolve_dtype(self.synthesis.dtype, self.device)

    # ----------------------------------------------------------------- mapping
    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    def z_to_w(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Mapping network: z [N, z_dim] (+ c [N, c_dim]) -> w [N, w_dim] (no truncation)."""
        z = self.check_latent(z, "z")
        return self.mapping(z, self._check_c(c, z.shape[0]))

    @torch.no_grad()
    def update_w_avg(self, w: torch.Tensor, beta: float | None = None) -> torch.Tensor:
        """EMA update of the tracked w_avg with mapped w: avg <- lerp(mean(w), avg, beta)."""
        beta = self.w_avg_beta if beta is None else beta
        w = self.check_latent(w.detach(), "w")
        self.mapping.w_avg.copy_(
            w.mean(dim=0).to(self.mapping.w_avg).lerp(self.mapping.w_avg, beta)
        )
        return self.mapping.w_avg

    # ----------------------------------------------------------------- synthesis
    def _to_wp(self, latent: torch.Tensor, space: str, c: torch.Tensor | None) -> torch.Tensor:
        """Any latent -> W+ as it is (z through the mapping network, untruncated)."""
        latent = self.check_latent(latent, space).to(self.device)
        if space == "z":
            latent = self.z_to_w(latent, c)
            space = "w"
        # For w / W+ latents a label c is ignored: the mapping already folded it into w.
        return self.w_to_wp(latent) if space == "w" else latent

    def synthesize(
        self,
        latent: torch.Tensor,
        space: str = "wp",
        c: torch.Tensor | None = None,
        noise_mode: str = "const",
        noise_rng: np.random.Generator | int | torch.Generator | None = None,
    ) -> torch.Tensor:
        """Images in roughly [-1, 1] (NCHW float32) from z, w or W+ latents, taken as they are
        (no truncation: truncated codes come from :meth:`sample` / :meth:`z_to_latent`).

        noise_mode: "const" (the stored noise maps: deterministic), "random" (fresh noise drawn
        from ``noise_rng``: a seed / numpy Generator / torch.Generator; None uses torch's global
        RNG, as in training) or "none". The class label ``c`` is used for z latents only (w and
        W+ already encode it). Gradients flow (wrap in ``torch.no_grad()`` to save memory).
        """
        wp = self._to_wp(latent, space, c)
        return self.synthesis(wp, noise_mode=noise_mode, noise_generator=self._noise_gen(noise_rng))

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str = "random",
    ) -> torch.Tensor:
        """Official-style call G(z, c): mapping with truncation, then synthesis (random noise by
        default)."""
        z = self.check_latent(z, "z").to(self.device)
        wp = self.z_to_latent(z, "wp", c, truncation_psi, truncation_cutoff)
        return self.synthesize(wp, "wp", noise_mode=noise_mode)

    @staticmethod
    def _noise_gen(noise_rng) -> torch.Generator | None:
        if noise_rng is None or isinstance(noise_rng, torch.Generator):
            return noise_rng
        return torch_generator(noise_rng)

    def layer_names(self) -> list[str]:
        """ "mapping" (w), then per block b{res}: conv0 (res > 4), conv1, torgb (the RGB
        contribution) and img (the running skip image), in forward order."""
        return ["mapping", *self.synthesis.layer_names()]

    def activations(
        self,
        latent: torch.Tensor,
        space: str,
        layers: Sequence[str],
        noise_mode: str = "const",
        c: torch.Tensor | None = None,
        noise_rng: np.random.Generator | int | torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """Named activations (post-activation layer outputs, float32) of one forward pass.

        "mapping" needs a z latent. Gradients flow to the latent and the parameters.
        """
        layers = self._check_layers(layers)
        out: dict[str, torch.Tensor] = {}
        latent = self.check_latent(latent, space)
        if "mapping" in layers:
            if space != "z":
                raise ValueError("the 'mapping' activation needs z latents (space='z')")
            w = self.z_to_w(latent, c)
            out["mapping"] = w
            latent, space, c = w, "w", None
        wp = self._to_wp(latent, space, c)
        synth_layers = [n for n in layers if n != "mapping"]
        if synth_layers:
            _, acts = self.synthesis(
                wp,
                noise_mode=noise_mode,
                noise_generator=self._noise_gen(noise_rng),
                record=synth_layers,
            )
            out.update(acts)
        return {n: out[n] for n in layers}

    def style_affines(self) -> dict[str, FullyConnectedLayer]:
        """The style affine layers by W+ index order name (for SeFa): "b{res}.conv0|conv1|torgb"."""
        out: dict[str, FullyConnectedLayer] = {}
        for res, block in self.synthesis.blocks():
            for name, layer in block.conv_layers():
                out[f"b{res}.{name}"] = layer.affine
            out[f"b{res}.torgb"] = block.torgb.affine
        return out

    def ws_index(self, layer: str) -> int:
        """The W+ index that drives ``layer`` ("b{res}.conv0|conv1|torgb")."""
        idx = 0
        for res, block in self.synthesis.blocks():
            for name, _ in block.conv_layers():
                if layer == f"b{res}.{name}":
                    return idx
                idx += 1
            if layer == f"b{res}.torgb":
                return idx
        raise ValueError(f"unknown layer {layer!r}; known: {list(self.style_affines())}")


# --------------------------------------------------------------------------- discriminator
class DiscriminatorBlock(nn.Module):
    """Resnet discriminator block: (fromrgb), conv0 3x3, conv1 3x3 down, skip 1x1 down."""

    def __init__(
        self,
        in_channels: int,
        tmp_channels: int,
        out_channels: int,
        img_channels: int,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(
                img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp
            )
        self.conv0 = Conv2dLayer(
            tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp
        )
        self.conv1 = Conv2dLayer(
            tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp
        )
        self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor) -> torch.Tensor:
        if self.in_channels == 0:
            x = self.fromrgb(img)
        y = self.skip(x, gain=np.sqrt(0.5))
        x = self.conv0(x)
        x = self.conv1(x, gain=np.sqrt(0.5))
        return y + x


class DiscriminatorEpilogue(nn.Module):
    """4x4 head: minibatch-std, conv 3x3, fc, out (projection onto cmap when conditional)."""

    def __init__(
        self,
        in_channels: int,
        cmap_dim: int,
        resolution: int = 4,
        mbstd_group_size: int | None = 4,
        mbstd_num_channels: int = 1,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = (
            MinibatchStdLayer(mbstd_group_size, mbstd_num_channels)
            if mbstd_num_channels > 0
            else None
        )
        self.conv = Conv2dLayer(
            in_channels + mbstd_num_channels,
            in_channels,
            3,
            activation="lrelu",
            conv_clamp=conv_clamp,
        )
        self.fc = FullyConnectedLayer(in_channels * resolution**2, in_channels, activation="lrelu")
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, cmap: torch.Tensor | None) -> torch.Tensor:
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.fc(x.flatten(1).float())
        x = self.out(x)
        if cmap is not None:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / np.sqrt(self.cmap_dim))
        return x


@register_model
class StyleGAN2Discriminator(ConfigModule):
    """StyleGAN2 resnet discriminator with minibatch-std, official parameter names.

    ``dtype`` ("float32" default, "bfloat16", "auto") sets the compute dtype of the convolution
    blocks (channels_last for bf16); the epilogue's dense layers run in fp32. Conditional (c_dim
    > 0) discriminators project the output onto an embedding of c from a mapping network.
    """

    config_fields = (
        "c_dim", "img_resolution", "img_channels", "channel_base", "channel_max",
        "conv_clamp", "cmap_dim", "mbstd_group_size", "mbstd_num_channels",
        "mapping_layers", "num_fp16_res",
    )
    runtime_fields = ("dtype",)

    def __init__(
        self,
        c_dim: int = 0,
        img_resolution: int = 64,
        img_channels: int = 3,
        channel_base: int = 32768,
        channel_max: int = 512,
        conv_clamp: float | None = None,
        cmap_dim: int | None = None,
        mbstd_group_size: int | None = 4,
        mbstd_num_channels: int = 1,
        mapping_layers: int = 8,
        num_fp16_res: int = 0,
        dtype: str = "float32",
    ) -> None:
        super().__init__()
        log2 = log2_resolution(img_resolution, 8, 1024)
        self.c_dim = c_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.block_resolutions = [2**i for i in range(log2, 2, -1)]
        ch = {r: min(channel_base // r, channel_max) for r in [*self.block_resolutions, 4]}
        if cmap_dim is None:
            cmap_dim = ch[4]
        if c_dim == 0:
            cmap_dim = 0
        for res in self.block_resolutions:
            in_ch = ch[res] if res < img_resolution else 0
            setattr(
                self,
                f"b{res}",
                DiscriminatorBlock(in_ch, ch[res], ch[res // 2], img_channels, conv_clamp),
            )
        if c_dim > 0:
            self.mapping = MappingNetwork(
                0, c_dim, cmap_dim, num_layers=mapping_layers, track_w_avg=False
            )
        self.b4 = DiscriminatorEpilogue(
            ch[4], cmap_dim, 4, mbstd_group_size, mbstd_num_channels, conv_clamp
        )
        resolve_dtype(dtype)
        self.dtype = dtype

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [N, 1] for images [N, C, R, R] in [-1, 1]."""
        check_image_shape(img, self.img_channels, self.img_resolution)
        compute = resolve_dtype(self.dtype, img.device)
        x = None
        img = img.to(compute)
        if compute != torch.float32:
            img = img.contiguous(memory_format=torch.channels_last)
        for res in self.block_resolutions:
            x = getattr(self, f"b{res}")(x, img)
        cmap = None
        if self.c_dim > 0:
            if c is None or c.shape != (img.shape[0], self.c_dim):
                raise ShapeError(f"conditional discriminator needs c of shape [N, {self.c_dim}]")
            cmap = self.mapping(None, c)
        return self.b4(x, cmap).float()
