"""The Generator protocol's owners: truncation only at sampling / mapping, one batched synthesis,
and the bank storing the codes the images were made from."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from latentatlas.analysis.bank import Bank, sample_bank, sample_latents
from latentatlas.models.stylegan2 import StyleGAN2Generator
from latentatlas.models.zgen import ZGenerator
from latentatlas.scoring import PixelStatsScorer
from latentatlas.utils.errors import ShapeError


def tiny_sg2(c_dim: int = 0) -> StyleGAN2Generator:
    torch.manual_seed(0)
    g = StyleGAN2Generator(z_dim=8, w_dim=8, c_dim=c_dim, img_resolution=16, mapping_layers=2,
                           channel_base=64, channel_max=8, impl="reference")
    with torch.no_grad():
        g.mapping.w_avg.normal_()  # a non-zero w_avg, so truncation is visible
    return g.eval()


def tiny_zgen(c_dim: int = 0) -> ZGenerator:
    torch.manual_seed(0)
    return ZGenerator(z_dim=6, img_resolution=16, img_channels=1, channel_base=64,
                      channel_max=16, c_dim=c_dim).eval()


# --------------------------------------------------------------------------- truncation
def test_sample_truncates_once_and_synthesize_never() -> None:
    g = tiny_sg2()
    psi, cutoff = 0.6, 2
    z = g.sample_z(5, np.random.default_rng(3))
    with torch.no_grad():
        w = g.z_to_w(z)
        avg = g.w_avg
        manual_w = avg + psi * (w - avg)
        manual_wp = g.w_to_wp(w).clone()
        manual_wp[:, :cutoff] = avg + psi * (manual_wp[:, :cutoff] - avg)
        sampled_w = g.sample(5, "w", rng=3, truncation_psi=psi)
        sampled_wp = g.sample(5, "wp", rng=3, truncation_psi=psi, truncation_cutoff=cutoff)
        torch.testing.assert_close(sampled_w, manual_w, atol=1e-6, rtol=0)
        torch.testing.assert_close(sampled_wp, manual_wp, atol=1e-6, rtol=0)
        # synthesize(sample(psi)) is the image of the once-truncated code, in every space.
        torch.testing.assert_close(g.synthesize(sampled_w, "w"),
                                   g.synthesize(manual_w, "w"), atol=1e-5, rtol=0)
        assert torch.equal(g.synthesize(sampled_wp, "wp"),
                           g.synthesize(g.z_to_latent(z, "wp", None, psi, cutoff), "wp"))
        # psi = 0 at sampling: every image is the w_avg image (synthesize adds nothing).
        zero = g.synthesize(g.sample(3, "w", rng=1, truncation_psi=0.0), "w")
        avg_img = g.synthesize(avg[None], "w")
        torch.testing.assert_close(zero, avg_img.expand_as(zero), atol=1e-5, rtol=0)


def test_synthesize_takes_no_truncation_arguments() -> None:
    for g, space in ((tiny_sg2(), "wp"), (tiny_zgen(), "z")):
        latent = g.sample(2, space, rng=0)
        with pytest.raises(TypeError, match="truncation_psi"):
            g.synthesize(latent, space, truncation_psi=0.5)
        with pytest.raises(TypeError, match="truncation_cutoff"):
            g.synthesize(latent, space, truncation_cutoff=1)


def test_w_generator_refuses_truncated_z() -> None:
    g = tiny_sg2()
    with pytest.raises(ValueError, match="truncates w / W\\+"):
        g.sample(2, "z", rng=0, truncation_psi=0.7)
    assert torch.equal(g.sample(2, "z", rng=0), g.sample_z(2, 0))  # psi = 1: plain z
    with pytest.raises(ValueError, match="cutoff needs space='wp'"):
        g.sample(2, "w", rng=0, truncation_psi=0.7, truncation_cutoff=1)


def test_forward_is_mapping_with_truncation_then_synthesis() -> None:
    g = tiny_sg2()
    z = g.sample_z(2, 4)
    with torch.no_grad():
        a = g(z, truncation_psi=0.5, truncation_cutoff=1, noise_mode="const")
        b = g.synthesize(g.z_to_latent(z, "wp", None, 0.5, 1), "wp")
    assert torch.equal(a, b)


def test_z_generator_truncation_is_scaling_at_sampling() -> None:
    g = tiny_zgen()
    z = g.sample_z(4, 2)
    assert torch.equal(g.sample(4, "z", rng=2, truncation_psi=0.25), 0.25 * z)
    assert torch.equal(g.sample(4, rng=2), z)  # ZGenerator's default space is z
    with pytest.raises(ValueError, match="Z-only generator"):
        g.z_to_latent(z, "wp")


# --------------------------------------------------------------------------- batched synthesis
@pytest.mark.parametrize("batch_size", [1, 3, 7, 50])
def test_synthesize_batched_equals_one_shot(batch_size) -> None:
    g = tiny_sg2()
    wp = g.sample(7, "wp", rng=5, truncation_psi=0.7)
    with torch.no_grad():
        one = g.synthesize(wp, "wp")
    many = g.synthesize_batched(wp.numpy(), "wp", batch_size=batch_size)
    assert many.dtype == torch.float32 and many.device.type == "cpu"
    torch.testing.assert_close(many, one, atol=1e-5, rtol=0)  # batch-size rounding only


def test_synthesize_batched_chunks_labels_and_noise_kwargs() -> None:
    g = tiny_zgen(c_dim=3)
    z = g.sample_z(5, 1)
    c = torch.eye(3)[[0, 1, 2, 0, 1]]
    with torch.no_grad():
        one = g.synthesize(z, "z", c=c)
    torch.testing.assert_close(g.synthesize_batched(z, "z", batch_size=2, c=c), one,
                               atol=1e-6, rtol=0)
    sg = tiny_sg2()
    wp = sg.sample(4, "wp", rng=0)
    a = sg.synthesize_batched(wp, "wp", batch_size=2, noise_mode="random", noise_rng=9)
    b = sg.synthesize_batched(wp, "wp", batch_size=2, noise_mode="random", noise_rng=9)
    assert torch.equal(a, b)
    with pytest.raises(ShapeError, match="batch_size"):
        sg.synthesize_batched(wp, "wp", batch_size=0)
    with pytest.raises(ShapeError, match="no latents"):
        sg.synthesize_batched(wp[:0], "wp")


# --------------------------------------------------------------------------- the bank
def test_bank_stores_codes_as_sampled(tmp_path) -> None:
    g = tiny_sg2()
    bank = sample_bank(g, PixelStatsScorer(3), 6, tmp_path / "sg", seed=1, truncation_psi=0.5,
                       truncation_cutoff=2, batch_size=4, progress=False)
    z, _ = sample_latents(g, 0, 6, seed=1)
    np.testing.assert_array_equal(bank.z, z.numpy())  # the mapping's input: never truncated
    with torch.no_grad():
        np.testing.assert_allclose(bank.w, g.z_to_latent(z, "w", None, 0.5).numpy(), atol=1e-6)
        np.testing.assert_allclose(bank.wp, g.z_to_latent(z, "wp", None, 0.5, 2).numpy(),
                                   atol=1e-6)
    assert bank.meta["truncated_arrays"] == ["w", "wp"]
    # Re-synthesising the stored W+ codes as they are gives the stored scores.
    img = g.synthesize_batched(np.array(bank.wp), "wp").clamp(-1, 1)
    np.testing.assert_allclose(bank.scores["brightness"][:, 0],
                               PixelStatsScorer(3)(img)[:, 0].numpy(), atol=1e-5)


def test_format_1_z_bank_is_read_as_truncated(tmp_path) -> None:
    g = tiny_zgen()
    bank = sample_bank(g, PixelStatsScorer(1), 5, tmp_path / "z", seed=0, truncation_psi=0.5,
                       progress=False)
    truncated = np.array(bank.z)
    # Rewrite it as format 1 did: the unscaled z on disk.
    meta_path = tmp_path / "z" / "bank.json"
    meta = json.loads(meta_path.read_text())
    meta["format"] = "latentatlas-bank-1"
    del meta["truncated_arrays"]
    meta_path.write_text(json.dumps(meta))
    np.save(tmp_path / "z" / "z.npy", truncated / 0.5)
    old = Bank.open(tmp_path / "z")
    np.testing.assert_allclose(old.z, truncated, atol=1e-7)
