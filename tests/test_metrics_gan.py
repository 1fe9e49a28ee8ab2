"""VP and PPL (latentatlas.metrics.gan) against closed forms and planted generators."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentatlas.metrics.gan import perceptual_path_length, slerp, variation_predictability
from latentatlas.models.base import Generator
from latentatlas.utils.errors import ShapeError


class Blocks(Generator):
    """z (4) -> 8x8 image whose quadrant i holds tanh(z_i): each dimension its own pixels."""

    def __init__(self, z_dim: int = 4) -> None:
        super().__init__()
        self.z_dim, self.img_resolution, self.img_channels = z_dim, 8, 1

    def synthesize(self, latent, space="z", c=None, noise_mode="const"):
        z = self.check_latent(latent, space)
        img = torch.zeros(z.shape[0], 1, 8, 8)
        for i, (r, c_) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)][: self.z_dim]):
            img[:, 0, r:r + 4, c_:c_ + 4] = torch.tanh(z[:, i])[:, None, None]
        return img


class Constant(Blocks):
    def synthesize(self, latent, space="z", c=None, noise_mode="const"):
        z = self.check_latent(latent, space)
        return torch.zeros(z.shape[0], 1, 8, 8)


class LinearW(Generator):
    """w = z (identity mapping, W space); image = M w (8x8)."""

    def __init__(self, dim: int = 3, seed: int = 0) -> None:
        super().__init__()
        self.z_dim = self.w_dim = dim
        self.img_resolution, self.img_channels = 8, 1
        self.M = torch.from_numpy(np.random.default_rng(seed).standard_normal((64, dim))
                                  .astype(np.float32))

    def z_to_w(self, z, c=None):
        return z

    def synthesize(self, latent, space="z", c=None, noise_mode="const"):
        x = self.check_latent(latent, space)
        return (x @ self.M.T).reshape(-1, 1, 8, 8)


VP_FAST = dict(n_pairs=2000, train_fraction=0.2, epochs=60)


def test_vp_is_chance_for_a_generator_that_ignores_its_input():
    res = variation_predictability(Constant(), seed=0, **VP_FAST)
    assert res["chance"] == 0.25
    assert abs(res["accuracy"] - 0.25) < 0.04  # 1900 test pairs: a few sd of Binomial noise
    assert res["n_train"] + res["n_val"] == 400 and res["n_test"] == 1600


def test_vp_is_about_one_when_each_dimension_writes_its_own_pixels():
    # (A pair whose two values of z_i nearly coincide shows no change: ~1, not exactly 1.)
    res = variation_predictability(Blocks(), seed=0, **VP_FAST)
    assert res["accuracy"] > 0.9
    assert 0 <= res["best_epoch"] < 60 and res["val_accuracy"] > 0.9


def test_ppl_is_zero_for_a_constant_generator_and_matches_the_linear_closed_form():
    assert perceptual_path_length(Constant(), n=64, seed=0)["ppl"] == 0.0
    g = LinearW()
    # lerp in W: d / eps^2 = ||M (w1 - w0)||^2 / 64 for every t: E = 2 tr(M^T M) / 64.
    expected = 2 * float((g.M.double() ** 2).sum()) / 64
    res = perceptual_path_length(g, space="w", n=4000, seed=0, epsilon=1e-2)
    se = res["ppl_sd"] / np.sqrt(res["n"])
    assert abs(res["ppl_mean_unfiltered"] - expected) < 4 * se + 1e-3 * expected
    # The end-point sampling of a linear map gives the same expectation.
    end = perceptual_path_length(g, space="w", n=4000, seed=1, epsilon=1e-2, sampling="end")
    assert abs(end["ppl_mean_unfiltered"] - expected) < 4 * end["ppl_sd"] / np.sqrt(4000) \
        + 1e-3 * expected


def test_slerp_keeps_the_endpoints_and_interpolates_norms():
    a, b = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert torch.allclose(slerp(a, b, torch.tensor([[0.0]])), a)
    assert torch.allclose(slerp(a, b, torch.tensor([[1.0]])), b, atol=1e-6)
    mid = slerp(a, b, torch.tensor([[0.5]]))
    assert torch.allclose(mid, torch.tensor([[2.0, 2.0]]) / np.sqrt(2), atol=1e-6)


def test_bad_inputs():
    with pytest.raises(ShapeError, match="space"):
        perceptual_path_length(Blocks(), space="w")
    with pytest.raises(ShapeError, match="sampling"):
        perceptual_path_length(Blocks(), sampling="middle")
    with pytest.raises(Exception, match="train_fraction"):
        variation_predictability(Blocks(), train_fraction=0.0)


def test_vp_along_directions_equals_vp_along_axes_for_the_identity_and_sees_a_rotation():
    ident = variation_predictability(Blocks(), seed=0, directions=np.eye(4), **VP_FAST)
    axes = variation_predictability(Blocks(), seed=0, **VP_FAST)
    assert ident == axes  # same draws, same pairs, same classifier
    # Along a 45-degree rotation of dims (0, 1), two quadrants change together: still
    # predictable from the image (the rotation is known), but no longer one block per class.
    c = 1 / np.sqrt(2)
    rot = np.array([[c, c, 0, 0], [c, -c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    res = variation_predictability(Blocks(), seed=0, directions=rot, **VP_FAST)
    assert res["chance"] == 0.25 and res["accuracy"] > 0.5
    with pytest.raises(ShapeError, match="orthonormal"):
        variation_predictability(Blocks(), directions=np.ones((2, 4)), **VP_FAST)
