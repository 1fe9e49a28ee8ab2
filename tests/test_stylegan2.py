"""StyleGAN2 generator / discriminator: protocol behaviour, official names, fast path accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import latentatlas
from latentatlas.io import save_model
from latentatlas.models import StyleGAN2Discriminator, StyleGAN2Generator
from latentatlas.models.layers import (
    demodulation_coefficients,
    modulated_conv2d_fast,
    modulated_conv2d_reference,
    setup_filter,
    upfirdn2d,
)
from latentatlas.utils.errors import ShapeError


def tiny_generator(res: int = 16, c_dim: int = 0, **kw) -> StyleGAN2Generator:
    """A tiny generator with non-zero noise strengths and biases, so every term matters."""
    torch.manual_seed(0)
    g = StyleGAN2Generator(
        z_dim=16,
        w_dim=16,
        c_dim=c_dim,
        img_resolution=res,
        channel_base=256,
        channel_max=32,
        mapping_layers=2,
        **kw,
    ).eval()
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("noise_strength") or (
                name.startswith("synthesis") and name.endswith(".bias") and "affine" not in name
            ):
                p.normal_(0, 0.3)
        g.mapping.w_avg.normal_(0, 1)
    return g


# --------------------------------------------------------------------------- shapes and names
@pytest.mark.parametrize("res,expected", [(16, 6), (32, 8), (64, 10)])
def test_num_ws_matches_official_count(res: int, expected: int) -> None:
    g = StyleGAN2Generator(
        z_dim=8, w_dim=8, img_resolution=res, channel_base=128, channel_max=8, mapping_layers=1
    )
    assert g.num_ws == expected == 2 * int(math.log2(res)) - 2
    assert g.latent_shape("wp") == (expected, 8)
    img = g.synthesize(g.sample(2, "wp", rng=0))
    assert img.shape == (2, 3, res, res)


def test_official_parameter_names() -> None:
    g = StyleGAN2Generator(
        z_dim=8,
        w_dim=8,
        c_dim=3,
        img_resolution=16,
        channel_base=128,
        channel_max=8,
        mapping_layers=2,
    )
    keys = set(g.state_dict())
    expected = {
        "mapping.embed.weight",
        "mapping.fc0.weight",
        "mapping.fc1.bias",
        "mapping.w_avg",
        "synthesis.b4.const",
        "synthesis.b4.conv1.weight",
        "synthesis.b4.conv1.noise_const",
        "synthesis.b4.conv1.noise_strength",
        "synthesis.b4.conv1.affine.weight",
        "synthesis.b4.conv1.affine.bias",
        "synthesis.b4.torgb.weight",
        "synthesis.b8.conv0.bias",
        "synthesis.b16.torgb.affine.bias",
    }
    assert expected <= keys
    assert not any("resample_filter" in k for k in keys)  # rebuilt by the constructor
    assert "synthesis.b4.conv0.weight" not in keys
    # toRGB has no noise; affine biases start at 1.
    assert not any(k.startswith("synthesis.b8.torgb.noise") for k in keys)
    assert torch.all(g.synthesis.b8.conv0.affine.bias == 1)
    d = StyleGAN2Discriminator(img_resolution=16, channel_base=128, channel_max=8)
    dkeys = set(d.state_dict())
    assert {
        "b16.fromrgb.weight",
        "b16.conv0.weight",
        "b16.conv1.bias",
        "b16.skip.weight",
        "b8.conv0.weight",
        "b4.conv.weight",
        "b4.fc.weight",
        "b4.out.bias",
    } <= dkeys
    assert "b8.fromrgb.weight" not in dkeys and "b16.skip.bias" not in dkeys


# --------------------------------------------------------------------------- operators
def test_upfirdn2d_upsample_of_constant_is_constant_inside() -> None:
    f = setup_filter()
    assert torch.isclose(f.sum(), torch.tensor(1.0))
    x = torch.ones(1, 1, 6, 6)
    from latentatlas.models.layers import upsample2d

    y = upsample2d(x, f)
    assert y.shape == (1, 1, 12, 12)
    # Gain 4 with zero insertion keeps a constant signal constant away from the border.
    assert torch.allclose(y[..., 2:-2, 2:-2], torch.ones(1, 1, 8, 8))


def test_upfirdn2d_matches_explicit_formula() -> None:
    torch.manual_seed(1)
    x = torch.randn(1, 1, 5, 5)
    f = setup_filter()
    y = upfirdn2d(x, f, padding=(1, 2, 1, 2))
    xp = F.pad(x, [1, 2, 1, 2])
    expected = torch.zeros(1, 1, 5, 5)
    for i in range(5):
        for j in range(5):  # true convolution with the (symmetric) filter
            expected[0, 0, i, j] = (xp[0, 0, i : i + 4, j : j + 4] * f.flip([0, 1])).sum()
    assert torch.allclose(y, expected, atol=1e-6)


@pytest.mark.parametrize("up", [1, 2])
def test_fast_modulated_conv_equals_grouped_reference(up: int) -> None:
    torch.manual_seed(3)
    x, w, s = torch.randn(3, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.randn(3, 4)
    f = setup_filter()
    ref = modulated_conv2d_reference(x, w, s, up=up, padding=1, resample_filter=f)
    y, d = modulated_conv2d_fast(x, w, s, up=up, padding=1, resample_filter=f)
    assert torch.allclose(y * d[:, :, None, None], ref, atol=1e-5)
    # Demodulation: per-sample modulated weights have unit norm per output channel.
    wm = w[None] * s[:, None, :, None, None] * d[:, :, None, None, None]
    assert torch.allclose(wm.square().sum([2, 3, 4]), torch.ones(3, 5), atol=1e-5)
    assert torch.allclose(demodulation_coefficients(w, s), d)


# --------------------------------------------------------------------------- protocol behaviour
def test_save_load_round_trip_is_bit_identical(tmp_path) -> None:
    g = tiny_generator(16, c_dim=2)
    save_model(g, tmp_path / "g")
    g2 = latentatlas.load(tmp_path / "g")
    assert isinstance(g2, StyleGAN2Generator) and not g2.training
    z = g.sample_z(3, 1)
    c = g.sample_c(3, 1)
    for impl in ("reference", "fast"):
        g.set_impl(impl)
        g2.set_impl(impl)
        with torch.no_grad():
            assert torch.equal(g.synthesize(z, "z", c=c), g2.synthesize(z, "z", c=c))
    assert torch.equal(g.w_avg, g2.w_avg)


def test_z_w_wp_consistency() -> None:
    g = tiny_generator(16).set_impl("reference")
    z = g.sample_z(2, 5)
    with torch.no_grad():
        a = g.synthesize(z, "z")
        w = g.z_to_w(z)
        b = g.synthesize(w, "w")
        c = g.synthesize(g.w_to_wp(w), "wp")
    assert torch.equal(a, b) and torch.equal(a, c)
    # forward() is G(z, c) with random noise; const noise is deterministic.
    assert torch.equal(g.synthesize(z, "z"), a)


def test_truncation_psi_zero_gives_w_avg_image() -> None:
    g = tiny_generator(16)
    z = g.sample_z(3, 2)
    with torch.no_grad():
        img = g.synthesize(g.z_to_latent(z, "wp", truncation_psi=0.0), "wp")
        avg = g.synthesize(g.w_to_wp(g.w_avg[None]), "wp")
    assert torch.allclose(img, avg.expand_as(img), atol=1e-6)
    # Cutoff: only the first layers move towards w_avg.
    wp = g.sample(2, "wp", rng=3)
    t = g.truncate(wp, 0.5, cutoff=2, space="wp")
    assert torch.allclose(t[:, :2], g.w_avg + 0.5 * (wp[:, :2] - g.w_avg))
    assert torch.equal(t[:, 2:], wp[:, 2:])


def test_last_layer_wp_edit_leaves_4x4_features_untouched() -> None:
    g = tiny_generator(32)
    wp = g.sample(2, "wp", rng=4)
    edited = wp.clone()
    edited[:, -1] += 3.0
    layers = ["b4.conv1", "b16.conv1", "b32.conv1", "b32.torgb", "b32.img"]
    with torch.no_grad():
        a = g.activations(wp, "wp", layers)
        b = g.activations(edited, "wp", layers)
    assert torch.equal(a["b4.conv1"], b["b4.conv1"])
    assert torch.equal(a["b16.conv1"], b["b16.conv1"])
    assert torch.equal(a["b32.conv1"], b["b32.conv1"])  # the last w only drives the last toRGB
    assert not torch.allclose(a["b32.torgb"], b["b32.torgb"])
    # An edit of the first w changes the 4x4 features.
    edited0 = wp.clone()
    edited0[:, 0] += 3.0
    with torch.no_grad():
        c = g.activations(edited0, "wp", ["b4.conv1"])
    assert not torch.allclose(a["b4.conv1"], c["b4.conv1"])


def test_activations_final_image_equals_synthesis_and_mapping_is_w() -> None:
    g = tiny_generator(16).set_impl("reference")
    z = g.sample_z(2, 6)
    with torch.no_grad():
        acts = g.activations(z, "z", ["mapping", "b16.img", "b8.conv0"])
        assert torch.equal(acts["mapping"], g.z_to_w(z))
        assert torch.equal(acts["b16.img"], g.synthesize(z, "z"))
    assert acts["b8.conv0"].shape == (2, 32, 8, 8)
    with pytest.raises(ValueError, match="unknown layer"):
        g.activations(z, "z", ["b4.conv0"])


def test_noise_modes_random_is_reproducible_with_seed() -> None:
    g = tiny_generator(16)
    wp = g.sample(2, "wp", rng=7)
    with torch.no_grad():
        a = g.synthesize(wp, noise_mode="random", noise_rng=11)
        b = g.synthesize(wp, noise_mode="random", noise_rng=11)
        c = g.synthesize(wp, noise_mode="random", noise_rng=12)
        const = g.synthesize(wp, noise_mode="const")
        none = g.synthesize(wp, noise_mode="none")
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert not torch.allclose(const, none)
    with pytest.raises(ValueError, match="noise_mode"):
        g.synthesize(wp, noise_mode="loud")


def test_update_w_avg_is_an_ema() -> None:
    g = tiny_generator(16)
    old = g.w_avg.clone()
    w = torch.randn(5, 16)
    g.update_w_avg(w, beta=0.9)
    assert torch.allclose(g.w_avg, 0.9 * old + 0.1 * w.mean(0), atol=1e-6)


def test_class_conditioning_changes_w_and_is_checked() -> None:
    g = tiny_generator(16, c_dim=3)
    z = g.sample_z(2, 0).repeat(3, 1)[:3]
    c = torch.eye(3)
    w = g.z_to_w(z, c)
    assert not torch.allclose(w[0], w[1])
    with pytest.raises(ShapeError, match="class-conditional"):
        g.z_to_w(z)
    assert g.sample(3, "w", rng=0).shape == (3, 16)  # labels are sampled when omitted
    # For W+ latents the label is already folded into w: passing it changes nothing.
    wp = g.w_to_wp(w.detach())
    with torch.no_grad():
        assert torch.equal(g.synthesize(wp, "wp", c=c), g.synthesize(wp, "wp"))
        assert torch.equal(g.synthesize(z, "z", c=c), g.synthesize(wp, "wp"))


def test_bad_latents_raise_shape_errors() -> None:
    g = tiny_generator(16)
    with pytest.raises(ShapeError, match="shape"):
        g.synthesize(torch.zeros(2, 5), "z")
    with pytest.raises(ShapeError, match="NaN"):
        g.synthesize(torch.full((1, 16), float("nan")), "w")
    with pytest.raises(ValueError, match="power of two"):
        StyleGAN2Generator(img_resolution=48)


# --------------------------------------------------------------------------- fast path
def test_fast_path_matches_reference() -> None:
    g = tiny_generator(32)
    z = g.sample_z(4, 8)
    with torch.no_grad():
        ref = g.set_impl("reference").synthesize(z, "z", noise_mode="random", noise_rng=1)
        fast32 = g.set_impl("fast", "float32").synthesize(z, "z", noise_mode="random", noise_rng=1)
        bf16 = g.set_impl("fast", "bfloat16").synthesize(z, "z", noise_mode="random", noise_rng=1)
    assert torch.allclose(fast32, ref, atol=1e-4)
    # bf16 keeps ~3 significant digits: relative to the image scale the error stays small.
    assert (bf16 - ref).abs().max() < 0.03 * ref.abs().max()
    assert bf16.dtype == torch.float32


def test_fast_path_with_conv_clamp_matches_reference() -> None:
    g = tiny_generator(16, conv_clamp=0.5)
    wp = g.sample(2, "wp", rng=9)
    with torch.no_grad():
        ref = g.set_impl("reference").synthesize(wp)
        fast = g.set_impl("fast", "float32").synthesize(wp)
    assert torch.allclose(fast, ref, atol=1e-5)
    assert ref.abs().max() <= 0.5 * 3 + 1e-5  # every toRGB output is clamped to 0.5


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_gradients_flow_through_fast_path(dtype: str) -> None:
    g = tiny_generator(16).set_impl("fast", dtype).train()
    wp = g.sample(2, "wp", rng=0).requires_grad_(True)
    img = g.synthesize(wp, noise_mode="random", noise_rng=0)
    img.square().mean().backward()
    assert wp.grad is not None and torch.isfinite(wp.grad).all() and wp.grad.abs().sum() > 0
    for name in (
        "synthesis.b4.const",
        "synthesis.b16.conv0.weight",
        "synthesis.b8.conv1.noise_strength",
        "synthesis.b16.torgb.affine.weight",
        "mapping.fc0.weight",
    ):
        p = dict(g.named_parameters())[name]
        if name.startswith("mapping"):
            assert p.grad is None  # W+ input: the mapping network is not in the graph
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_fast_gradients_match_reference_gradients() -> None:
    g = tiny_generator(16)
    wp = g.sample(2, "wp", rng=1)
    grads = []
    for impl in ("reference", "fast"):
        g.set_impl(impl, "float32")
        g.zero_grad()
        x = wp.clone().requires_grad_(True)
        g.synthesize(x).sum().backward()
        grads.append((x.grad.clone(), g.synthesis.b8.conv0.weight.grad.clone()))
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-4)
    assert torch.allclose(grads[0][1], grads[1][1], atol=1e-4)


# --------------------------------------------------------------------------- discriminator
def test_discriminator_shapes_mbstd_and_grad() -> None:
    torch.manual_seed(0)
    d = StyleGAN2Discriminator(img_resolution=16, channel_base=128, channel_max=16)
    img = torch.randn(4, 3, 16, 16, requires_grad=True)
    out = d(img)
    assert out.shape == (4, 1)
    out.sum().backward()
    assert img.grad.abs().sum() > 0
    # minibatch-std: identical images in a group give a zero std feature: D(x) sees the batch.
    same = img.detach()[:1].repeat(4, 1, 1, 1)
    assert not torch.allclose(d(same)[0], out[0].detach())
    with pytest.raises(ShapeError):
        d(torch.randn(4, 3, 8, 8))
    dc = StyleGAN2Discriminator(
        c_dim=2, img_resolution=16, channel_base=128, channel_max=16, mapping_layers=2
    )
    assert dc(img.detach(), torch.eye(2)[[0, 1, 0, 1]]).shape == (4, 1)


def test_discriminator_bf16_close_to_fp32() -> None:
    torch.manual_seed(0)
    d = StyleGAN2Discriminator(img_resolution=16, channel_base=128, channel_max=16)
    img = torch.rand(4, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        a = d(img)
        d.dtype = "bfloat16"
        b = d(img)
    assert np.allclose(a.numpy(), b.numpy(), atol=0.05 * float(a.abs().max()) + 1e-3)


def test_fast_path_follows_in_place_parameter_updates() -> None:
    g = tiny_generator(16).set_impl("fast", "float32")
    wp = g.sample(2, "wp", rng=2)
    with torch.no_grad():
        g.synthesize(wp)
        g.synthesis.b8.conv1.weight.mul_(torch.rand_like(g.synthesis.b8.conv1.weight))
        g.synthesis.b16.conv0.noise_strength.fill_(2.0)
        g.synthesis.b16.conv1.bias.add_(1.0)
        fast = g.synthesize(wp)
        ref = g.set_impl("reference").synthesize(wp)
    assert torch.allclose(fast, ref, atol=1e-4)
    # load_state_dict (in-place copies into the parameters).
    other = tiny_generator(16)
    with torch.no_grad():
        other.synthesis.b4.conv1.bias.add_(0.5)
        g.load_state_dict(other.state_dict())
        a = g.set_impl("fast", "float32").synthesize(wp)
        b = other.set_impl("reference").synthesize(wp)
    assert torch.allclose(a, b, atol=1e-4)


def test_ws_index_and_style_affines_follow_the_official_layout() -> None:
    g = tiny_generator(16)
    expected = {
        "b4.conv1": 0,
        "b4.torgb": 1,
        "b8.conv0": 1,
        "b8.conv1": 2,
        "b8.torgb": 3,
        "b16.conv0": 3,
        "b16.conv1": 4,
        "b16.torgb": 5,
    }
    assert {name: g.ws_index(name) for name in g.style_affines()} == expected
    assert g.style_affines()["b8.conv1"] is g.synthesis.b8.conv1.affine
    # Editing the w of b8.conv1 changes b8.conv1 but not b8.conv0 (which reads ws[1]).
    wp = g.sample(2, "wp", rng=1)
    edited = wp.clone()
    edited[:, g.ws_index("b8.conv1")] += 2.0
    with torch.no_grad():
        a = g.activations(wp, "wp", ["b8.conv0", "b8.conv1"])
        b = g.activations(edited, "wp", ["b8.conv0", "b8.conv1"])
    assert torch.equal(a["b8.conv0"], b["b8.conv0"])
    assert not torch.allclose(a["b8.conv1"], b["b8.conv1"])
    with pytest.raises(ValueError, match="unknown layer"):
        g.ws_index("b32.conv0")
