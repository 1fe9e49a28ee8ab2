"""The shipped encoder_celeba64: loads, fits celeba64, and beats w_avg on held-out real faces."""

from __future__ import annotations

import pytest
import torch

import latentatlas
from latentatlas.io import available_models

pytestmark = pytest.mark.skipif(
    not {"encoder_celeba64", "celeba64"} <= set(available_models()),
    reason="encoder_celeba64 / celeba64 not shipped")


def test_encoder_is_small_documented_and_fits_celeba64():
    folder = available_models()["encoder_celeba64"]
    assert (folder / "MODEL_CARD.md").is_file()
    assert (folder / "model.safetensors").stat().st_size < 6 << 20
    enc, gen = latentatlas.load("encoder_celeba64"), latentatlas.load("celeba64")
    assert (enc.num_ws, enc.w_dim, enc.resolution) == (gen.num_ws, gen.w_dim, 64)
    assert enc.generator == "celeba64"
    torch.testing.assert_close(enc.w_avg, gen.w_avg)


def test_encoder_reconstructs_held_out_faces_better_than_w_avg(shared_data):
    from latentatlas.data.loaders import load_celeba
    from latentatlas.io.images import to_model_images

    data = load_celeba(shared_data / "celeba", max_images=9016, progress=False)
    x = to_model_images(data.images[9000:9016])
    enc, gen = latentatlas.load("encoder_celeba64"), latentatlas.load("celeba64")
    with torch.no_grad():
        rec = gen.synthesize(enc.encode(x), "wp").float().clamp(-1, 1)
        avg = gen.synthesize(gen.w_avg.view(1, -1).repeat(16, 1), "w").float().clamp(-1, 1)
    mse_enc = float((rec - x).square().mean())
    mse_avg = float((avg - x).square().mean())
    assert mse_enc < 0.6 * mse_avg
    assert mse_enc < 0.15
