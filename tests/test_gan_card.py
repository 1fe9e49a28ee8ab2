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
                   "generator": {"class": "StyleGAN2Generator",
                                 "kwargs": {"z_dim": 256, "dtype": "bfloat16"}},
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


def test_ship_gan_ships_auto_compute_dtype_and_keeps_the_training_one(tmp_path):
    run = _fake_run(tmp_path)
    old = {"class": "StyleGAN2Generator", "kwargs": {"z_dim": 4, "dtype": "bfloat16"},
           "metadata": {"steps": 7000}}
    (run / "model" / "config.json").write_text(json.dumps(old))
    shipped = json.loads((ship_gan(run, "faces", zoo_dir=tmp_path / "zoo") / "config.json")
                         .read_text())
    assert shipped["kwargs"] == {"z_dim": 4, "dtype": "auto"}
    assert shipped["metadata"] == {"steps": 7000, "training_dtype": "bfloat16"}
    card = (tmp_path / "zoo" / "faces" / "MODEL_CARD.md").read_text()
    assert "dtype='auto'" in card and "bfloat16" not in card


def test_ship_gan_refuses_unfinished_run(tmp_path):
    run = _fake_run(tmp_path)
    (run / "model" / "model.safetensors").unlink()
    with pytest.raises(DataError, match="model.safetensors: missing"):
        ship_gan(run, "faces", zoo_dir=tmp_path / "zoo")
    (run / "run.json").unlink()
    with pytest.raises(DataError, match="run.json: missing"):
        ship_gan(run, "faces", zoo_dir=tmp_path / "zoo")


def test_dsprites_card_judges_orientation_modulo_symmetry(tmp_path):
    run = _fake_run(tmp_path, preset="dsprites")
    q = json.loads(_quality(tmp_path, 10.0).read_text())

    def cov(counts):
        k = len(counts)
        return {"counts": counts, "mean_max_probability": 0.9, "min_ratio": min(counts) * k
                / sum(counts), "max_ratio": max(counts) * k / sum(counts)}

    q["class_coverage"] = {"shape": cov([30, 40, 30]), "orientation": cov([1, 30, 9])}
    q["folded_orientation_coverage"] = {
        "square": {**cov([10, 12, 9, 11]), "bins": 4, "bin_width_degrees": 22.5},
        "heart": {**cov([10, 0, 20]), "bins": 3, "bin_width_degrees": 120.0}}
    path = tmp_path / "q.json"
    path.write_text(json.dumps(q))
    card = (ship_gan(run, "sprites", path, zoo_dir=tmp_path / "zoo") / "MODEL_CARD.md").read_text()
    aims = card.split("## Against the aims of issue 5")[1]
    assert "- shape: every value found, frequencies within 2x of uniform: min 0.90x, max 1.20x " \
           "of uniform (met)" in aims
    assert "- orientation (40-way head, for reference only" in aims
    assert "orientation modulo the square's symmetry (4 bins of 22.5 deg): every value found, " \
           "frequencies within 2x of uniform: min 0.86x, max 1.14x of uniform (met)" in aims
    assert "orientation modulo the heart's symmetry (3 bins of 120.0 deg)" in aims
    assert aims.count("(NOT met)") == 1  # the heart's empty bin; the 40-way head is not judged
    assert "Predicted orientation of the samples predicted `heart`" in card
