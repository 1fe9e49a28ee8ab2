"""The shipped shapes3d StyleGAN2, judged by the shipped Shapes3D predictor (card: 10k samples
cover floor hue 0.58-1.87x and object hue 0.60-1.37x of uniform, mean max-probability >= 0.95;
scale, shape, orientation and wall hue not yet within 2x)."""

import pytest
import torch

from _shipped_gan import requires_shipped, shipped_samples

pytestmark = requires_shipped("shapes3d", "predictor_shapes3d")


@pytest.mark.slow
def test_samples_are_scenes_whose_hues_the_predictor_reads_confidently():
    from latentatlas.metrics.quality import class_coverage

    images, predictor = shipped_samples("shapes3d", "predictor_shapes3d", 800, seed=5)
    assert images.shape == (800, 3, 64, 64) and torch.isfinite(images).all()
    cov = class_coverage(predictor, images)
    assert set(cov) == {"floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"}
    for head in ("floor_hue", "object_hue"):  # ~80 per hue if uniform
        assert cov[head]["mean_max_probability"] >= 0.9, (head, cov[head])
        assert cov[head]["min_ratio"] >= 0.3 and cov[head]["max_ratio"] <= 2.5, (head, cov[head])
    # Every shape is drawn (the card: cubes over-represented, 65 %).
    assert min(cov["shape"]["counts"]) > 0
