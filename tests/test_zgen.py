"""ZGenerator / ZDiscriminator: protocol, shapes, activations, persistence, conditioning."""

from __future__ import annotations

import pytest
import torch

import latentatlas
from latentatlas.io import save_model
from latentatlas.models import ZDiscriminator, ZGenerator
from latentatlas.utils.errors import ShapeError


def tiny(**kw) -> ZGenerator:
    torch.manual_seed(0)
    args = dict(z_dim=6, img_resolution=16, img_channels=1, channel_base=128, channel_max=16)
    args.update(kw)
    return ZGenerator(**args).eval()


@pytest.mark.parametrize("res,upsample", [(16, "transpose"), (32, "nearest"), (64, "transpose")])
def test_shapes_range_and_layer_names(res: int, upsample: str) -> None:
    g = tiny(img_resolution=res, img_channels=3, upsample=upsample)
    z = g.sample_z(3, 0)
    img = g.synthesize(z, "z")
    assert img.shape == (3, 3, res, res)
    assert img.abs().max() <= 1.0
    n_up = {16: 2, 32: 3, 64: 4}[res]
    assert g.layer_names() == ["fc", *[f"conv{i}" for i in range(n_up)], "out"]
    assert g.spaces == ("z",) and g.latent_shape("z") == (6,)


def test_fc_activation_is_the_first_linear_layer() -> None:
    g = tiny()
    z = g.sample_z(4, 1)
    acts = g.activations(z, "z", ["fc", "conv1", "out"])
    expected_fc = (z @ g.fc.weight.T + g.fc.bias).reshape(4, -1, 4, 4)
    assert torch.allclose(acts["fc"], expected_fc, atol=1e-6)
    assert acts["conv1"].shape == (4, g.channels[16], 16, 16)
    # "out" is the pre-tanh output: tanh of it is the image.
    assert torch.allclose(torch.tanh(acts["out"]), g.synthesize(z, "z"), atol=1e-6)
    # SeFa reads the first layer's weight: one column per latent dimension.
    assert g.fc.weight.shape == (g.channels[4] * 16, 6)


def test_activations_have_gradients_wrt_z() -> None:
    g = tiny()
    z = g.sample_z(2, 2).requires_grad_(True)
    g.activations(z, "z", ["conv0"])["conv0"].sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_round_trip_bit_identical(tmp_path) -> None:
    for norm in ("pixel", "batch", "none"):
        g = tiny(norm=norm, c_dim=3)
        if norm == "batch":  # non-trivial running statistics must be saved too
            g.train()
            g(g.sample_z(8, 0), torch.eye(3)[torch.arange(8) % 3])
            g.eval()
        save_model(g, tmp_path / norm)
        g2 = latentatlas.load(tmp_path / norm)
        z, c = g.sample_z(3, 4), torch.eye(3)
        assert torch.equal(g.synthesize(z, "z", c=c), g2.synthesize(z, "z", c=c))


def test_pixel_norm_makes_samples_batch_independent() -> None:
    g = tiny(norm="pixel")
    z = g.sample_z(5, 3)
    assert torch.allclose(g.synthesize(z, "z")[:1], g.synthesize(z[:1], "z"), atol=1e-6)


def test_conditioning_and_errors() -> None:
    g = tiny(c_dim=2)
    z = g.sample_z(1, 0).repeat(2, 1)
    img = g.synthesize(z, "z", c=torch.eye(2))
    assert not torch.allclose(img[0], img[1])
    with pytest.raises(ShapeError, match="class-conditional"):
        g.synthesize(z, "z")
    with pytest.raises(ValueError, match="latent spaces"):
        g.synthesize(z, "w")
    with pytest.raises(ValueError, match="z_to_w|W space"):
        g.z_to_w(z)
    with pytest.raises(ShapeError):
        g.synthesize(torch.zeros(2, 7), "z")
    with pytest.raises(ValueError, match="power of two"):
        ZGenerator(img_resolution=256)


def test_truncation_scales_z_at_sampling_only() -> None:
    g = tiny()
    z = g.sample_z(2, 5)
    sampled = g.sample(2, "z", rng=5, truncation_psi=0.5)
    assert torch.equal(sampled, 0.5 * z)
    assert torch.equal(g.z_to_latent(z, "z", truncation_psi=0.5), 0.5 * z)
    # synthesize takes the sampled (truncated) code as it is: no second scaling.
    with torch.no_grad():
        assert torch.equal(g.synthesize(sampled, "z"), g.synthesize(0.5 * z, "z"))
    with pytest.raises(TypeError, match="truncation_psi"):
        g.synthesize(z, "z", truncation_psi=0.5)
    with pytest.raises(TypeError, match="truncation_cutoff"):
        g.synthesize(z, "z", truncation_cutoff=1)
    with pytest.raises(ValueError, match="cutoff"):
        g.sample(2, "z", rng=5, truncation_psi=0.5, truncation_cutoff=1)


@pytest.mark.parametrize("space", ["w", "wp"])
def test_z_only_generator_refuses_w_spaces(space) -> None:
    g = tiny()
    z = g.sample_z(2, 5)
    with pytest.raises(ValueError, match=r"Z-only generator.*got space='" + space):
        g.synthesize(z, space)
    with pytest.raises(ValueError, match="Z-only generator"):
        g.sample(2, space, rng=0)
    assert g.spaces == ("z",)


def test_discriminator_shapes_projection_and_save(tmp_path) -> None:
    torch.manual_seed(0)
    d = ZDiscriminator(img_resolution=32, img_channels=3, channel_base=128, channel_max=16, c_dim=2)
    img = torch.rand(4, 3, 32, 32) * 2 - 1
    c = torch.eye(2)[[0, 1, 0, 1]]
    out = d(img, c)
    assert out.shape == (4, 1)
    # The projection term: swapping labels changes the logits exactly by the embedding difference.
    flipped = d(img, 1 - c)
    assert not torch.allclose(out, flipped)
    save_model(d, tmp_path / "d")
    d2 = latentatlas.load(tmp_path / "d")
    assert torch.equal(d2(img, c), out)
    with pytest.raises(ShapeError):
        d(torch.rand(4, 3, 16, 16), c)
