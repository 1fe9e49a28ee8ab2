"""The shipped mnist Z-GAN, judged by the shipped MNIST classifier (card: mean max-probability
0.945 over 5,000 samples, every digit within 0.88-1.23x of uniform)."""

import numpy as np
import pytest
import torch

import latentatlas
from latentatlas.io.registry import available_models

pytestmark = pytest.mark.skipif("mnist" not in available_models(), reason="mnist not shipped")


def test_samples_are_confident_varied_digits():
    from latentatlas.scoring import PredictorScorer

    g = latentatlas.load("mnist").eval()
    scorer = PredictorScorer("predictor_mnist")
    z = g.sample(256, space="z", rng=0)
    with torch.no_grad():
        images = g.synthesize(z, space="z")
        probs = scorer(images).numpy()
    assert images.shape == (256, 1, 32, 32) and torch.isfinite(images).all()
    assert probs.shape == (256, 10)
    assert float(probs.max(axis=1).mean()) >= 0.85
    counts = np.bincount(probs.argmax(axis=1), minlength=10)
    assert counts.min() >= 5  # uniform would be 25.6 per digit
