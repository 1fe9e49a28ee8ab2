"""The shipped celeba64 generator with the shipped CelebA predictor: varied faces, editable
semantics (a small, fast version of what `latentatlas explore` measures on 4,000 samples)."""

import numpy as np
import pytest
import torch

import latentatlas
from latentatlas.directions import SVMBoundary
from latentatlas.io.registry import available_models

pytestmark = pytest.mark.skipif("celeba64" not in available_models(),
                                reason="celeba64 is not shipped")


@pytest.fixture(scope="module")
def scored():
    from latentatlas.scoring import PredictorScorer

    g = latentatlas.load("celeba64").eval()
    scorer = PredictorScorer("predictor_celeba64", attributes=["Smiling", "Male"])
    w = g.sample(640, space="w", rng=0, truncation_psi=0.7)
    with torch.no_grad():
        probs = np.concatenate([scorer(g.synthesize(w[i:i + 64], space="w")).numpy()
                                for i in range(0, len(w), 64)])
    return g, scorer, w.numpy(), probs


def test_samples_are_finite_images_in_range(scored):
    g, _, w, _ = scored
    with torch.no_grad():
        x = g.synthesize(torch.from_numpy(w[:8]), space="w")
    assert x.shape == (8, 3, 64, 64)
    assert torch.isfinite(x).all()
    # Trained generators stay near the data range [-1, 1] (random ones overshoot to ~10).
    assert float(x.abs().quantile(0.99)) < 1.5


def test_both_sexes_and_both_expressions_occur(scored):
    *_, probs = scored
    smiling, male = (probs > 0.5).mean(axis=0)
    assert 0.15 < smiling < 0.85
    assert 0.15 < male < 0.85


def test_smiling_boundary_edit_raises_smiling_on_held_out_samples(scored):
    g, scorer, w, probs = scored
    boundary = SVMBoundary(space="w", chosen_num_or_ratio=0.25, seed=0, progress=False).fit(
        w[:512], probs[:512, 0])
    normal = torch.from_numpy(boundary.directions_.vectors[0].astype(np.float32))
    held = torch.from_numpy(w[512:576])
    with torch.no_grad():
        after = scorer(g.synthesize(held + 2.0 * normal, space="w")).numpy()
    assert np.mean(after[:, 0] > probs[512:576, 0]) >= 0.8
