"""The suite on a GAN through a fitted z encoder (analysis.gan_disentanglement): planted
generators whose coordinates are (or are not) the data's factors."""

from __future__ import annotations

import numpy as np
import torch

from latentatlas.analysis.gan_disentanglement import fit_z_encoder, gan_disentanglement
from latentatlas.data.base import GroundTruthData
from latentatlas.models.base import Generator


class Quadrants(GroundTruthData):
    """4 factors of 6 values; quadrant i of an 8x8 image has brightness f_i / 5."""

    name = "quadrants"
    factor_names = ("a", "b", "c", "d")
    factors_num_values = (6, 6, 6, 6)
    observation_shape = (8, 8, 1)

    def sample_observations_from_factors(self, factors, rng):
        f = self._check_factors(factors) / 5.0
        img = np.zeros((len(f), 8, 8, 1), np.float32)
        for i, (r, c) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)]):
            img[:, r:r + 4, c:c + 4, 0] = f[:, i, None, None]
        return img


class QuadrantGAN(Generator):
    """Quadrant i = tanh(mix @ z)_i: ``mix`` = identity is the factors' own coordinates."""

    def __init__(self, mix: np.ndarray) -> None:
        super().__init__()
        self.z_dim, self.img_resolution, self.img_channels = 4, 8, 1
        self.mix = torch.as_tensor(mix, dtype=torch.float32)

    def synthesize(self, latent, space="z", c=None, noise_mode="const"):
        v = torch.tanh(self.check_latent(latent, space) @ self.mix.T)
        img = torch.zeros(v.shape[0], 1, 8, 8)
        for i, (r, c_) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)]):
            img[:, 0, r:r + 4, c_:c_ + 4] = v[:, i, None, None]
        return img


SIZES = {"mig": {"num_train": 2000}, "dci": {"num_train": 600, "num_test": 300}}


def test_the_encoder_recovers_z_and_the_suite_scores_a_planted_gan_above_a_mixed_one():
    planted = QuadrantGAN(np.eye(4))
    _, r2 = fit_z_encoder(planted, steps=400, seed=0)
    assert r2 > 0.8
    good = gan_disentanglement(planted, Quadrants(), metrics=("mig", "dci"), encoder_steps=400,
                               sizes=SIZES)
    rot = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))[0]
    mixed = gan_disentanglement(QuadrantGAN(rot), Quadrants(), metrics=("mig", "dci"),
                                encoder_steps=400, sizes=SIZES)
    assert good["encoder_r2"] > 0.8 and mixed["encoder_r2"] > 0.5
    assert good["mig"]["discrete_mig"] > 0.5
    assert good["mig"]["discrete_mig"] > mixed["mig"]["discrete_mig"] + 0.2
    assert good["dci"]["disentanglement"] > mixed["dci"]["disentanglement"] + 0.2
