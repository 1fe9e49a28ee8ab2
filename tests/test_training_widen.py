"""Function-preserving generator widening (warm start of a wider StyleGAN2 from a trained run)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from _gan_standins import blob_images
from latentatlas.models import StyleGAN2Discriminator, StyleGAN2Generator, ZGenerator
from latentatlas.training.checkpoint import list_checkpoints, load_checkpoint
from latentatlas.training.gan import GANTrainConfig, GANTrainer
from latentatlas.training.widen import (
    fan_in_scale,
    max_image_difference,
    widen_generator,
    widen_run,
    widen_tensor,
)
from latentatlas.utils.errors import DataError, LatentAtlasError

# 16 px: base 128 -> channels 32/16/8 at 4/8/16 px; base 256 -> 32/32/16 (4 px capped at 32).
KW = dict(z_dim=8, w_dim=8, mapping_layers=1, img_resolution=16, img_channels=1, channel_max=32,
          dtype="float32")


def _trained_like(seed: int = 0) -> StyleGAN2Generator:
    """A narrow G whose weights are far from their initialisation (as after training)."""
    torch.manual_seed(seed)
    G = StyleGAN2Generator(channel_base=128, **KW)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return G


def test_widened_generator_draws_the_same_images():
    old = _trained_like()
    torch.manual_seed(1)
    wide = StyleGAN2Generator(channel_base=256, **KW)
    fresh = {k: v.clone() for k, v in wide.state_dict().items()}
    assert max_image_difference(old, wide) > 0.1  # the check can fail
    widen_generator(old, wide)
    assert max_image_difference(old, wide) < 1e-5
    assert max_image_difference(old, wide, seed=5) < 1e-5  # other z too
    assert sum(p.numel() for p in wide.parameters()) > 1.5 * sum(p.numel()
                                                                for p in old.parameters())
    # The rule, on one conv (8 -> 16 outputs from 16 -> 32 inputs) and one toRGB (8 -> 16 inputs).
    key = "synthesis.b16.conv0.weight"
    o, w, f = old.state_dict()[key], wide.state_dict()[key], fresh[key]
    assert o.shape == (8, 16, 3, 3) and w.shape == (16, 32, 3, 3)
    assert torch.allclose(w[:8, :16], o * math.sqrt(32 / 16))  # runtime gain 1/sqrt(fan_in)
    assert torch.equal(w[:8, 16:], torch.zeros(8, 16, 3, 3))  # new inputs -> old outputs: 0
    assert torch.equal(w[8:], f[8:])  # new outputs keep the fresh initialisation
    rgb_old = old.state_dict()["synthesis.b16.torgb.weight"]
    rgb = wide.state_dict()["synthesis.b16.torgb.weight"]
    assert torch.allclose(rgb[:, :8], rgb_old * math.sqrt(2)) and not rgb[:, 8:].any()
    bias = wide.state_dict()["synthesis.b16.conv0.bias"]
    assert torch.equal(bias[:8], old.state_dict()["synthesis.b16.conv0.bias"])


def test_widening_rules_and_refusals():
    assert fan_in_scale(torch.Size([4, 2, 3, 3]), torch.Size([8, 8, 3, 3])) == 2.0
    assert fan_in_scale(torch.Size([4]), torch.Size([8])) == 1.0
    with pytest.raises(LatentAtlasError, match="cannot widen shape"):
        widen_tensor(torch.zeros(4, 4), torch.zeros(2, 4), "x")
    # A generator the rule does not preserve (no equalised-lr / demodulation) is refused.
    torch.manual_seed(0)
    a = ZGenerator(z_dim=4, img_resolution=16, img_channels=1, channel_base=64, channel_max=8)
    b = ZGenerator(z_dim=4, img_resolution=16, img_channels=1, channel_base=128, channel_max=16)
    with pytest.raises(LatentAtlasError, match="changed the generator's images"):
        widen_generator(a, b)


def _cfg(**kw) -> GANTrainConfig:
    base = dict(total_steps=2, batch=4, r1_interval=2, checkpoint_every=2, sample_every=1000,
                log_every=1, progress=False, tensorboard=False, seed=3)
    base.update(kw)
    return GANTrainConfig(**base)


def test_widened_run_resumes_with_the_same_images_then_trains_the_new_channels(tmp_path):
    from click.testing import CliRunner

    from latentatlas.cli import main

    data = blob_images(16, resolution=16)
    torch.manual_seed(0)
    D = StyleGAN2Discriminator(img_resolution=16, img_channels=1, channel_base=64, channel_max=8)
    narrow = GANTrainer(StyleGAN2Generator(channel_base=128, **KW), D, data, _cfg(),
                        tmp_path / "run")
    narrow.train()
    args = ["train", "widen-gan", "--run", str(tmp_path / "run"), "--channel-base", "256"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "wide")])
    assert result.exit_code == 0, result.output
    assert "draws the same images" in result.output
    config = json.loads((tmp_path / "wide" / "training_config.json").read_text())
    assert config["generator"]["kwargs"]["channel_base"] == 256
    assert config["widened_from"]["step"] == 2
    # Resume in the new folder with the wide G and the same D.
    torch.manual_seed(0)
    D2 = StyleGAN2Discriminator(img_resolution=16, img_channels=1, channel_base=64, channel_max=8)
    wide = GANTrainer(StyleGAN2Generator(channel_base=256, **KW), D2, data, _cfg(total_steps=4),
                      tmp_path / "wide")
    assert wide.resume() == 2
    assert max_image_difference(narrow.G_ema, wide.G_ema) < 1e-5
    assert max_image_difference(narrow.G, wide.G) < 1e-5
    for k, v in narrow.D.state_dict().items():
        assert torch.equal(v, wide.D.state_dict()[k]), k
    # Adam: trained entries' second moments scaled by 1/c^2, new entries at their mean.
    names = [n for n, _ in wide.G.named_parameters()]
    i = names.index("synthesis.b16.conv1.weight")
    old_v = narrow.opt_G.state_dict()["state"][i]["exp_avg_sq"]
    new_v = wide.opt_G.state_dict()["state"][i]["exp_avg_sq"]
    assert new_v.shape == (16, 16, 3, 3)
    assert torch.allclose(new_v[:8, :8], old_v / 2.0)
    assert torch.allclose(new_v[8:], torch.full_like(new_v[8:], (old_v / 2.0).mean().item()))
    wide.train(resume=True)
    assert wide.step == 4
    w = wide.G.state_dict()["synthesis.b16.conv1.weight"]
    assert w[:8, 8:].abs().max() > 0  # the zero weights from the new channels moved
    assert all(torch.isfinite(p).all() for p in wide.G.parameters())
    assert [s for s, _ in list_checkpoints(tmp_path / "wide" / "checkpoints")] == [2, 4]
    assert load_checkpoint(tmp_path / "wide" / "checkpoints" / "ckpt-00000004.safetensors")[
        "step"] == 4
    # Refusals: a non-empty output folder, unknown options.
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "wide")])
    assert result.exit_code == 1 and "not empty" in result.output
    with pytest.raises(DataError, match="unknown generator options"):
        widen_run(tmp_path / "run", tmp_path / "w3", {"width": 2})
    result = CliRunner().invoke(main, ["train", "widen-gan", "--run", str(tmp_path / "run"),
                                       "--out", str(tmp_path / "w4")])
    assert result.exit_code == 2 and "channel-base" in result.output
