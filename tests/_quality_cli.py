"""Shared setup of the `latentatlas quality` CLI tests: a tiny MNIST-sized generator and a folder
of noise images, run through the CLI with the shipped MNIST predictor."""

import json

import numpy as np
import pytest
import torch


def run_quality_cli(tmp_path, n_real: int, extra_args: list[str]) -> dict:
    """Run `latentatlas quality` on a tiny Z-GAN vs ``n_real`` noise PNGs; the written JSON."""
    from click.testing import CliRunner
    from PIL import Image

    import latentatlas
    from latentatlas.cli import main
    from latentatlas.io import save_model
    from latentatlas.models import ZGenerator

    if "predictor_mnist" not in latentatlas.io.available_models():
        pytest.skip("predictor_mnist is not shipped")
    torch.manual_seed(0)
    save_model(ZGenerator(z_dim=4, img_resolution=32, img_channels=1, channel_base=64,
                          channel_max=8), tmp_path / "g")
    (tmp_path / "real").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n_real):
        Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(
            tmp_path / "real" / f"{i}.png")
    out = tmp_path / "q" / "quality.json"
    result = CliRunner().invoke(main, [
        "quality", "--model", str(tmp_path / "g"), "--data", str(tmp_path / "real"),
        "--predictor", "predictor_mnist", "--n-real", str(n_real), *extra_args,
        "--out", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())
