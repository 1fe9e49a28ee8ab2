"""Shipping a finished GAN run into the zoo: copied files, card numbers, aims verdicts, errors."""

import json

import pytest

from latentatlas.training.gan_card import ship_gan
from latentatlas.utils.errors import DataError


def _fake_run(tmp_path, preset="celeba64"):
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text('{"class": "X"}')
    (run / "model" / "model.safetensors").write_bytes(b"\0" * 2048)
    (run / "samples").mkdir()
    (run / "samples" / "final.png").write_bytes(b"png-bytes")
    record = {
        "command": "latentatlas train gan --preset celeba64 --out runs/zoo_celeba64",
        "config": {"preset": preset, "arch": "stylegan2", "bf16": True, "world_size": 1,
                   "generator": {"class": "StyleGAN2Generator", "kwargs": {"z_dim": 256}},
                   "data": {"name": "celeba", "size": 10000, "resolution": 64, "channels": 3},
                   "train": {"batch": 32, "r1_gamma": 0.05, "seed": 0}},
        "metrics": {"steps": 7000, "kimg": 224.0, "train_seconds_total": 7200.0,
                    "images_per_s_mean": 31.1},
        "environment": {"processor": "x86_64", "cpu_count": 2, "torch_threads": 1,
                        "torch": "2.13.0+cpu"},
    }
    (run / "run.json").write_text(json.dumps(record))
    return run


def _quality(tmp_path, ratio):
    q = {"predictor": "predictor_celeba64", "n_fake": 5000, "truncation_psi": 1.0,
         "n_real_half": 5000, "frechet": 2.0 * ratio, "frechet_floor": 2.0,
         "frechet_ratio": ratio, "kid": 0.004, "kid_std": 0.001, "kid_floor": 0.001,
         "kid_floor_std": 0.0005}
    path = tmp_path / f"q{ratio}.json"
    path.write_text(json.dumps(q))
    return path


@pytest.mark.parametrize("ratio, verdict", [(3.5, "(met)"), (4.5, "(NOT met)")])
def test_ship_gan_copies_weights_and_writes_measured_card(tmp_path, ratio, verdict):
    run = _fake_run(tmp_path)
    dest = ship_gan(run, "faces", _quality(tmp_path, ratio), zoo_dir=tmp_path / "zoo",
                    notes="Trained in two sittings.")
    assert (dest / "model.safetensors").read_bytes() == b"\0" * 2048
    assert (dest / "samples.png").read_bytes() == b"png-bytes"
    card = (dest / "MODEL_CARD.md").read_text()
    assert "7000 steps of batch 32 = 224.0 kimg" in card
    assert "training time 2.00 h" in card
    assert f"| Frechet distance | {2.0 * ratio:.4g} | 2 | {ratio:.2f} |" in card
    assert f"ratio {ratio:.2f} {verdict}" in card
    assert card.rstrip().endswith("## Notes\n\nTrained in two sittings.")


def test_ship_gan_refuses_unfinished_run(tmp_path):
    run = _fake_run(tmp_path)
    (run / "model" / "model.safetensors").unlink()
    with pytest.raises(DataError, match="model.safetensors: missing"):
        ship_gan(run, "faces", zoo_dir=tmp_path / "zoo")
    (run / "run.json").unlink()
    with pytest.raises(DataError, match="run.json: missing"):
        ship_gan(run, "faces", zoo_dir=tmp_path / "zoo")
