"""Frechet distance and KID: closed forms and unbiasedness."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from latentatlas.metrics.quality import (
    frechet_distance,
    frechet_distance_from_stats,
    generator_quality,
    kernel_distance,
    sample_quality,
)
from latentatlas.utils.errors import ShapeError


def test_frechet_of_diagonal_gaussians_is_the_closed_form():
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var_a, var_b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = ((mu_a - mu_b) ** 2).sum() + ((np.sqrt(var_a) - np.sqrt(var_b)) ** 2).sum()
    got = frechet_distance_from_stats(mu_a, np.diag(var_a), mu_b, np.diag(var_b))
    assert got == pytest.approx(expected, rel=1e-10)  # 5 + 1 + 1 + 4 = 11


def test_frechet_of_full_covariances_matches_sqrtm(rng):
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    cov_a, cov_b = a @ a.T, b @ b.T + np.eye(6)
    mu_a, mu_b = rng.normal(size=6), rng.normal(size=6)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    expected = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root)
    assert frechet_distance_from_stats(mu_a, cov_a, mu_b, cov_b) == pytest.approx(expected,
                                                                                  rel=1e-8)


def test_frechet_of_samples_converges_to_the_gaussian_value(rng):
    x = rng.normal(size=(20000, 4))
    y = rng.normal(size=(20000, 4)) * 2.0 + 1.0
    # (1 per dim mean shift)^2 * 4 + (1 - 2)^2 * 4 = 8
    assert frechet_distance(x, y) == pytest.approx(8.0, rel=0.03)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ShapeError, match="NaN"):
        frechet_distance(np.full((5, 2), np.nan), x[:, :2])


def test_kid_is_unbiased_for_one_distribution_and_positive_for_a_shift(rng):
    x, y = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
    same, same_std = kernel_distance(x, y, num_subsets=30, subset_size=400, rng=1)
    shifted, _ = kernel_distance(x, y + 0.5, num_subsets=30, subset_size=400, rng=1)
    assert abs(same) < 3 * same_std / np.sqrt(30) + 1e-3
    assert shifted > 50 * abs(same) and shifted > 0.01


def test_sample_quality_reports_the_real_floor_and_ranks_a_worse_generator(rng):
    real = rng.integers(0, 256, size=(400, 8, 8, 1), dtype=np.uint8)
    good = torch.from_numpy(rng.integers(0, 256, size=(200, 1, 8, 8))).float() / 127.5 - 1
    bad = good * 0.3 + 0.5  # squeezed, shifted grey values

    def embed(x):  # a fixed "embedding": spatial means of 4 quadrants and the std
        q = torch.nn.functional.avg_pool2d(x, 4).flatten(1)
        return torch.cat([q, x.flatten(1).std(dim=1, keepdim=True)], dim=1)

    q_good = sample_quality(real, good, embed, rng=0, kid_subsets=20, kid_subset_size=100)
    q_bad = sample_quality(real, bad, embed, rng=0, kid_subsets=20, kid_subset_size=100)
    assert q_good["n_real_half"] == 200 and q_good["n_fake"] == 200
    assert q_good["frechet_floor"] == q_bad["frechet_floor"] > 0
    assert q_good["frechet_ratio"] < 3 and q_bad["frechet_ratio"] > 20
    assert q_bad["kid"] > 10 * max(q_good["kid"], q_good["kid_floor"], 1e-4)


def test_generator_quality_samples_a_z_generator():
    from latentatlas.models import ZGenerator

    torch.manual_seed(0)
    G = ZGenerator(z_dim=4, img_resolution=16, img_channels=1, channel_base=64, channel_max=16)
    real = np.random.default_rng(0).integers(0, 256, size=(40, 16, 16, 1), dtype=np.uint8)
    q = generator_quality(G.eval(), real, lambda x: x.mean(dim=[2, 3]).repeat(1, 3) +
                          torch.arange(3.0) * x.std(dim=[1, 2, 3])[:, None], rng=0,
                          kid_subsets=5, kid_subset_size=20)
    assert q["n_fake"] == 20 and np.isfinite(q["frechet"]) and q["frechet_floor"] >= 0


class _FakeClassifier(torch.nn.Module):
    """'Classifies' images by their mean brightness into 4 bins (probability 0.7 on the bin)."""

    heads = [{"name": "bin", "kind": "multiclass", "num_classes": 4}]

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def predict(self, x):
        k = ((x.mean(dim=[1, 2, 3]) + 1) / 2 * 4).clamp(0, 3.999).long()
        p = torch.full((x.shape[0], 4), 0.1)
        p[torch.arange(x.shape[0]), k] = 0.7
        return {"bin": p}


def test_class_coverage_counts_confidence_and_uniformity():
    from latentatlas.metrics.quality import class_coverage

    levels = torch.tensor([-0.75, -0.25, 0.25, 0.75]).repeat_interleave(torch.tensor([10, 10,
                                                                                      5, 15]))
    images = levels.view(-1, 1, 1, 1).expand(-1, 1, 4, 4).clone()
    cov = class_coverage(_FakeClassifier(), images, batch_size=7)["bin"]
    assert cov["counts"] == [10, 10, 5, 15]
    assert cov["mean_max_probability"] == pytest.approx(0.7)
    assert cov["min_ratio"] == pytest.approx(0.5) and cov["max_ratio"] == pytest.approx(1.5)


def test_quality_cli_with_the_shipped_mnist_predictor(tmp_path):
    from _quality_cli import run_quality_cli

    q = run_quality_cli(tmp_path, 40, ["--kid-subsets", "3", "--kid-subset-size", "10",
                                       "--threads", "2"])
    assert torch.get_num_threads() == 2  # --threads applied (conftest restores one thread)
    assert q["n_real_half"] == 20 and q["n_fake"] == 20 and q["embedding_dim"] == 128
    assert q["frechet_floor"] >= 0 and q["frechet"] > 0
    assert sum(q["class_coverage"]["digit"]["counts"]) == 20
    assert (tmp_path / "q" / "quality.run.json").is_file()


def test_folded_angle_coverage_counts_symmetric_twins_in_one_bin():
    from latentatlas.metrics.quality import folded_angle_coverage

    quarter = np.pi / 2
    # Group 0 (period 90 deg, 4 bins of 22.5 deg): 0.1 rad and its 90/180-degree twins land in
    # bin 0; 0.5 rad (28.6 deg) in bin 1; 1.2 rad (68.8 deg) and its 270-degree twin in bin 3.
    angles = [0.1, 0.1 + quarter, 0.1 + 2 * quarter, 0.5, 1.2, 1.2 + 3 * quarter,
              # group 1 (period 360 deg, 16 bins): 1.0 -> bin 2; 4.0 and -2.0 (= 4.28) -> bin 10
              1.0, 4.0, -2.0]
    groups = [0, 0, 0, 0, 0, 0, 1, 1, 1]
    cov = folded_angle_coverage(angles, groups, [quarter, 2 * np.pi], bin_width=np.pi / 8,
                                group_names=["square", "heart"])
    assert cov["square"]["bins"] == 4 and cov["heart"]["bins"] == 16
    assert cov["square"]["counts"] == [3, 1, 0, 2]
    assert cov["square"]["min_ratio"] == 0.0
    assert cov["square"]["max_ratio"] == pytest.approx(3 / 6 * 4)
    heart = np.array(cov["heart"]["counts"])
    assert heart.sum() == 3 and heart[2] == 1 and heart[10] == 2
    # Evenly spread angles are uniform; bad input is named.
    even = folded_angle_coverage(np.arange(64) * np.pi / 32 + 0.01, np.zeros(64, int),
                                 [quarter], bin_width=np.pi / 8)["0"]
    assert even["counts"] == [16, 16, 16, 16] and even["min_ratio"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="NaN"):
        folded_angle_coverage([np.nan], [0], [quarter], bin_width=0.1)
    with pytest.raises(ValueError, match="groups"):
        folded_angle_coverage([0.0], [2], [quarter], bin_width=0.1)
