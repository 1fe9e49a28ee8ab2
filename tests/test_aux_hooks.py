"""InfoGAN's Q and GAN-VP's predictor as trainer hooks (training.aux_hooks): their networks
learn what they should on a planted generator, the trainer steps and checkpoints them, and a run
with them resumes bit-identically."""

from __future__ import annotations

import pytest
import torch

from _gan_standins import TinyD, _TinyZG, blob_images
from latentatlas.models.base import Generator
from latentatlas.training.aux_hooks import InfoGANHook, VariationPredictabilityHook
from latentatlas.training.gan import GANTrainConfig, GANTrainer
from latentatlas.utils.errors import CheckpointError


class Blocks(Generator):
    """z (4) -> 8x8 image whose quadrant i holds tanh(z_i)."""

    def __init__(self) -> None:
        super().__init__()
        self.z_dim, self.img_resolution, self.img_channels = 4, 8, 1

    def synthesize(self, latent, space="z", c=None, noise_mode="const"):
        z = self.check_latent(latent, space)
        img = torch.zeros(z.shape[0], 1, 8, 8)
        for i, (r, c_) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)]):
            img[:, 0, r:r + 4, c_:c_ + 4] = torch.tanh(z[:, i])[:, None, None]
        return img


def _fit(hook, steps=300):
    G, gen = Blocks(), torch.Generator().manual_seed(0)
    for step in range(steps):
        z = torch.randn(32, 4, generator=gen)
        hook(G, z, None, G.synthesize(z), step).backward()
        hook.optimizer_step()
    return hook


def test_infogan_q_recovers_the_codes_of_a_planted_generator():
    hook = _fit(InfoGANHook(4, 1, 8, n_codes=2, weight=1.0, lr=2e-3))
    assert hook.parts["mse"] < 0.3  # codes have variance 1; tanh loses only the tails


def test_vp_predictor_tells_which_dimension_changed():
    hook = _fit(VariationPredictabilityHook(4, 1, 8, weight=1.0, lr=2e-3))
    assert hook.parts["accuracy"] > 0.8 and hook.parts["ce"] < 0.6


def _cfg(**kw) -> GANTrainConfig:
    base = dict(total_steps=6, batch=8, r1_interval=2, checkpoint_every=3, sample_every=1000,
                log_every=1, progress=False, tensorboard=False, seed=3)
    base.update(kw)
    return GANTrainConfig(**base)


def test_a_run_with_network_hooks_resumes_bit_identically(tmp_path):
    data = blob_images(24)

    def make(out, steps, with_vp=True):
        torch.manual_seed(1)
        hooks = [InfoGANHook(4, 1, 8, weight=0.5)]
        if with_vp:
            hooks.append(VariationPredictabilityHook(4, 1, 8, weight=0.1))
        return GANTrainer(_TinyZG(), TinyD(), data, _cfg(total_steps=steps), out,
                          regularizers=hooks)

    full = make(tmp_path / "full", 6)
    full.train()
    make(tmp_path / "part", 3).train()
    resumed = make(tmp_path / "part", 6)
    assert resumed.train(resume=True).step == 6
    for a, b in zip(full.G.state_dict().values(), resumed.G.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for ha, hb in zip(full.regularizers, resumed.regularizers, strict=True):
        for a, b in zip(ha.net.state_dict().values(), hb.net.state_dict().values(), strict=True):
            assert torch.equal(a, b)
    # A checkpoint without a hook's network cannot resume a run that has the hook.
    make(tmp_path / "plain", 3, with_vp=False).train()
    with pytest.raises(CheckpointError, match="'vp' network"):
        make(tmp_path / "plain", 6).train(resume=True)


def test_infogan_q_recovers_categorical_codes_of_a_planted_generator():
    hook = InfoGANHook(4, 1, 8, n_codes=1, categorical=2, categories=4, weight=1.0, lr=2e-3)
    # The classes are the equiprobable bins of the coordinates.
    z = torch.tensor([[0.0, -1.0, -0.1, 0.0], [0.0, 0.1, 0.7, 0.0]])
    assert hook.classes(z).tolist() == [[0, 1], [2, 3]]
    big = torch.randn(40000, 4, generator=torch.Generator().manual_seed(1))
    counts = torch.bincount(hook.classes(big)[:, 0], minlength=4).float() / 40000
    assert torch.allclose(counts, torch.full((4,), 0.25), atol=0.01)
    _fit(hook)
    # Blocks writes tanh(z_i) into quadrant i: the bins are readable from the image.
    assert hook.parts["accuracy"] > 0.85 and "mse" in hook.parts


def test_infogan_code_counts_are_checked():
    from latentatlas.utils.errors import OptionError

    with pytest.raises(OptionError, match="infogan_codes"):
        InfoGANHook(4, 1, 8, n_codes=3, categorical=2)
    with pytest.raises(OptionError, match="infogan_categories"):
        InfoGANHook(4, 1, 8, categorical=1, categories=1)
    assert InfoGANHook(4, 1, 8, categorical=4).n_codes == 0
