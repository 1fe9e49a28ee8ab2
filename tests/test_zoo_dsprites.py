"""The shipped dsprites Z-GAN, judged by the shipped dSprites predictor (card: 10k samples cover
every shape, scale and position within 0.62-1.68x of uniform, and the orientation modulo each
shape's symmetry within 0.58-1.54x)."""

import numpy as np
import pytest
import torch

from _shipped_gan import requires_shipped, shipped_samples

pytestmark = requires_shipped("dsprites", "predictor_dsprites")


@pytest.mark.slow
def test_samples_cover_shapes_scales_and_folded_orientations():
    from latentatlas.data.dsprites import SHAPE_NAMES, SYMMETRY_PERIODS
    from latentatlas.metrics.quality import class_coverage, folded_orientation_coverage

    images, predictor = shipped_samples("dsprites", "predictor_dsprites", 1500, seed=11)
    assert images.shape == (1500, 1, 64, 64) and torch.isfinite(images).all()
    # Background black, a sprite of a few percent of the pixels: the dSprites look.
    lit = (images > 0).float().mean(dim=(1, 2, 3))
    assert float(lit.median()) < 0.1 and float((lit > 0.002).float().mean()) > 0.98
    cov = class_coverage(predictor, images)
    for head in ("shape", "scale"):  # ~500 / ~250 per value
        assert cov[head]["min_ratio"] >= 0.5 and cov[head]["max_ratio"] <= 2.0, (head, cov[head])
    # Coarse bins (3 grid steps: 3 / 6 / 13 per shape) so that ~40+ samples fall in each.
    folded = folded_orientation_coverage(predictor, images, SYMMETRY_PERIODS, 6 * np.pi / 39,
                                         group_names=SHAPE_NAMES)
    for shape in SHAPE_NAMES:
        assert folded[shape]["min_ratio"] >= 0.4, (shape, folded[shape])
