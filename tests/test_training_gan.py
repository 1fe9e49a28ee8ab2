"""GAN trainer: losses (closed forms), augmentation, checkpoints, resume, NaN stop, DDP, CLI."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from _gan_standins import TinyD, _TinyStyleG, _TinyZG, blob_images
from latentatlas.data import load_image_folder
from latentatlas.training.augment import Augmenter
from latentatlas.training.checkpoint import (
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from latentatlas.training.data import ArraySource
from latentatlas.training.gan import GANTrainConfig, GANTrainer, TrainingDivergedError
from latentatlas.training.losses import d_logistic_loss, path_lengths, r1_penalty
from latentatlas.utils.errors import CheckpointError, DataError

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"



def _cfg(**kw) -> GANTrainConfig:
    base = dict(total_steps=6, batch=8, r1_interval=2, checkpoint_every=2, sample_every=1000,
                log_every=1, progress=False, tensorboard=False, seed=3)
    base.update(kw)
    return GANTrainConfig(**base)


class _Hook:
    """A generator regulariser hook: 0 * mean(images), NaN or a 'kill' at a chosen step."""

    def __init__(self, name="probe", interval=1, nan_at=None, kill_at=None):
        self.name, self.interval, self.nan_at, self.kill_at = name, interval, nan_at, kill_at
        self.calls: list[int] = []

    def __call__(self, G, z, ws, images, step):
        self.calls.append(step)
        if step == self.kill_at:
            raise KeyboardInterrupt("simulated kill")
        value = images.float().mean() * 0.0
        return value + float("nan") if step == self.nan_at else value


# ------------------------------------------------------------------ losses: closed forms
def test_r1_penalty_of_a_linear_discriminator_is_the_squared_weight_norm():
    a = torch.randn(1, 2, 3, 3)
    x = torch.randn(4, 2, 3, 3, requires_grad=True)
    logits = (x * a).sum(dim=[1, 2, 3]) + 0.5
    torch.testing.assert_close(r1_penalty(logits, x), a.square().sum().expand(4))


def test_d_logistic_loss_value():
    real, fake = torch.tensor([2.0]), torch.tensor([-1.0])
    expected = math.log1p(math.exp(-1.0)) + math.log1p(math.exp(-2.0))
    assert float(d_logistic_loss(real, fake)) == pytest.approx(expected, rel=1e-6)


def test_path_lengths_of_a_linear_generator():
    # images = sum_l ws_l @ M: J^T y = M y for every layer, so the length is ||M y|| exactly.
    m = torch.randn(5, 12)
    ws = torch.randn(3, 2, 5, requires_grad=True)
    images = (ws @ m).sum(dim=1).view(3, 1, 3, 4)
    noise = torch.randn(3, 1, 3, 4)
    y = noise.view(3, 12) / math.sqrt(12)
    expected = (y @ m.T).square().sum(dim=1).sqrt()  # each of the 2 layers: ||M y||^2, mean
    torch.testing.assert_close(path_lengths(images, ws, noise), expected)


# ------------------------------------------------------------------ augmentation
def test_augment_translation_moves_a_pixel_and_identity_at_p0():
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 4, 4] = 1.0
    aug = Augmenter("diffaug", p=1.0, ops=("translation",))
    y = aug(x, torch.Generator().manual_seed(0))
    # One pixel moved by at most 1 (= round(8 * 0.125)) in each direction, never lost or doubled.
    assert torch.equal(y.sum(dim=[1, 2, 3]), torch.ones(64))
    pos = y.view(64, -1).argmax(dim=1)
    assert ((pos // 8 - 4).abs() <= 1).all() and ((pos % 8 - 4).abs() <= 1).all()
    assert (pos != 4 * 8 + 4).any()
    assert torch.equal(Augmenter("diffaug", p=0.0)(x, torch.Generator()), x)


def test_augment_is_differentiable_and_ada_p_moves_by_the_rule():
    aug = Augmenter("ada", ada_interval=4, ada_kimg=1.0)
    assert aug.p == 0.0
    for _ in range(4):
        aug.accumulate(torch.ones(50))  # D very sure about reals: r_t = 1 > 0.6 -> p grows
    aug.update(step=4)
    assert aug.p == pytest.approx(200 / 1000)
    x = torch.randn(8, 3, 8, 8, requires_grad=True)
    aug.p = 1.0
    aug(x, torch.Generator().manual_seed(1)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    state = aug.state_dict()
    other = Augmenter("ada")
    other.load_state_dict(state)
    assert other.p == 1.0


# ------------------------------------------------------------------ checkpoint files
def test_checkpoint_round_trip_nests_and_refuses_nan(tmp_path):
    state = {"a": torch.arange(3.0), 7: (1, "x", None, [torch.ones(2, dtype=torch.bfloat16)]),
             "np": np.arange(4, dtype=np.uint32), "f": float("inf")}
    path = save_checkpoint(state, tmp_path / "ckpt-00000001.safetensors")
    back = load_checkpoint(path)
    assert torch.equal(back["a"], state["a"]) and back[7][:3] == (1, "x", None)
    assert back[7][3][0].dtype == torch.bfloat16 and back["np"].dtype == np.uint32
    assert back["f"] == float("inf")
    with pytest.raises(CheckpointError, match="NaN"):
        save_checkpoint({"w": torch.tensor([float("nan")])}, path)
    assert torch.equal(load_checkpoint(path)["a"], state["a"])  # the good file is intact
    path.write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError, match="ckpt-00000001"):
        load_checkpoint(path)


# ------------------------------------------------------------------ training behaviour
def _logit_gap(trainer: GANTrainer, real: torch.Tensor, z: torch.Tensor) -> float:
    with torch.no_grad():
        fake = trainer.G.synthesize(trainer.G.w_to_wp(trainer.G.z_to_w(z)), space="wp")
        return float(trainer.D(real).mean() - trainer.D(fake).mean())


def test_d_separates_first_then_g_closes_the_gap_and_checkpoints(tmp_path):
    torch.manual_seed(0)
    data = blob_images(256)
    trainer = GANTrainer(_TinyStyleG(), TinyD(), data, _cfg(d_lr=0.01, g_lr=0.01, r1_gamma=0.0),
                         tmp_path / "run")
    real = torch.from_numpy(data[:64]).float().permute(0, 3, 1, 2) / 127.5 - 1
    z = torch.randn(64, 8, generator=torch.Generator().manual_seed(5))
    gap0 = _logit_gap(trainer, real, z)
    for step in range(8):
        trainer.discriminator_step(step)
    gap_d = _logit_gap(trainer, real, z)
    for step in range(8):
        trainer.generator_step(step)
    gap_g = _logit_gap(trainer, real, z)
    assert gap_d > gap0 + 2.0, (gap0, gap_d)  # D learns to tell real from fake (~+3.3..4.2)
    assert gap_g < gap_d / 2, (gap_d, gap_g)  # G steps fool the (frozen) D again (~0 or < 0)
    # A short full run writes checkpoints, samples, metrics, the model folder and run.json.
    result = trainer.train()
    assert [s for s, _ in list_checkpoints(tmp_path / "run" / "checkpoints")] == [2, 4, 6]
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt["step"] == 6 and set(ckpt["G"]) == set(trainer.G.state_dict())
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2, 3, 4, 5, 6]
    assert (tmp_path / "run" / "samples" / "final.png").is_file()
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["config"]["train"]["batch"] == 8 and run["metrics"]["steps"] == 6
    from latentatlas.io import load_model

    loaded = load_model(result.model_dir)
    torch.testing.assert_close(loaded.state_dict(), trainer.G_ema.state_dict(), rtol=0, atol=0)


def test_ema_is_the_stylegan2_ada_half_life_average(tmp_path):
    # ema_kimg = batch / 1000 and no ramp-up: beta = 0.5 ** (batch / (ema_kimg * 1000)) = 0.5.
    torch.manual_seed(0)
    trainer = GANTrainer(_TinyZG(), TinyD(), blob_images(32), _cfg(ema_kimg=0.008,
                         ema_rampup=None), tmp_path / "run")
    before = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    trainer.train_step(0)
    for k, v in trainer.G.state_dict().items():
        assert not torch.equal(v, before[k])
        torch.testing.assert_close(trainer.G_ema.state_dict()[k], (v + before[k]) / 2)


def test_real_stylegan2_trains_with_r1_pl_mixing_and_tracks_w_avg(tmp_path):
    from latentatlas.models import StyleGAN2Discriminator, StyleGAN2Generator

    torch.manual_seed(0)
    G = StyleGAN2Generator(z_dim=8, w_dim=8, mapping_layers=1, img_resolution=16,
                           img_channels=1, channel_base=64, channel_max=8, dtype="float32")
    D = StyleGAN2Discriminator(img_resolution=16, img_channels=1, channel_base=64,
                               channel_max=8)
    cfg = _cfg(total_steps=2, batch=4, r1_interval=1, pl_weight=2.0, pl_interval=1,
               checkpoint_every=10)
    trainer = GANTrainer(G, D, blob_images(16, resolution=16), cfg, tmp_path / "run")
    result = trainer.train()
    assert {"r1", "pl_penalty", "loss_G", "loss_D"} <= set(result.metrics)
    assert all(math.isfinite(v) for v in result.metrics.values())
    w_avg = trainer.G_ema.w_avg
    assert torch.isfinite(w_avg).all() and w_avg.abs().sum() > 0  # tracked and copied to G_ema
    assert [s for s, _ in list_checkpoints(trainer.ckpt_dir)] == [2]
    # The saved model computes in bf16 only where native, whatever the training dtype was.
    saved = json.loads((result.model_dir / "config.json").read_text())
    # dtype is a declared runtime field: not saved, so a loaded model uses the default "auto".
    assert "dtype" not in saved["kwargs"] and G.init_kwargs["dtype"] == "float32"
    from latentatlas.io import load_model

    assert load_model(result.model_dir).synthesis.dtype == "auto"
    assert saved["metadata"]["training_dtype"] == "float32"
    # The rank-consistency hash covers every tensor, 0-dim ones included.
    from latentatlas.utils.fingerprint import module_fingerprint as state_digest

    twin = copy.deepcopy(trainer.G)
    assert state_digest(twin, trainer.D) == state_digest(trainer.G, trainer.D)
    scalars = [v for v in twin.state_dict(keep_vars=True).values() if v.ndim == 0]
    assert scalars  # e.g. the noise strengths
    with torch.no_grad():
        scalars[0] += 1
    assert state_digest(twin, trainer.D) != state_digest(trainer.G, trainer.D)


def _states_equal(a: dict, b: dict) -> list[str]:
    return [k for k in a if not torch.equal(a[k], b[k])]


@pytest.mark.parametrize("gen_cls", [_TinyStyleG, _TinyZG])
def test_resume_after_a_kill_is_bit_identical(tmp_path, gen_cls):
    data = blob_images(40)  # 40 images, batch 8: the run crosses an epoch boundary
    cfg = _cfg(total_steps=7, pl_weight=2.0, pl_interval=2, augment="ada", ada_interval=2,
               accum_steps=2, style_mixing_prob=0.5, mirror=True)

    def make(hook):
        torch.manual_seed(1)
        return GANTrainer(gen_cls(), TinyD(), data, cfg, tmp_path / f"run_{hook.kill_at}",
                          regularizers=[hook])

    full = make(_Hook())
    full.train()
    killed = make(_Hook(kill_at=5))  # dies inside step 6, after the checkpoint of step 4
    with pytest.raises(KeyboardInterrupt):
        killed.train()
    assert [s for s, _ in list_checkpoints(killed.ckpt_dir)] == [2, 4]
    torch.manual_seed(123)  # a different global state: resume must not depend on it
    resumed = make(_Hook(kill_at=None))
    resumed.out_dir = resumed.ckpt_dir.parent.with_name("run_5")
    resumed.ckpt_dir = resumed.out_dir / "checkpoints"
    result = resumed.train(resume=True)
    assert result.step == 7
    for name in ("G", "D", "G_ema"):
        a, b = getattr(full, name).state_dict(), getattr(resumed, name).state_dict()
        assert _states_equal(a, b) == [], name
    assert resumed.augmenter.state_dict() == full.augmenter.state_dict()
    sa, sb = full.opt_G.state_dict()["state"], resumed.opt_G.state_dict()["state"]
    assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)
    steps = [json.loads(x)["step"] for x in (resumed.out_dir / "metrics.jsonl").read_text()
             .splitlines()]
    assert steps == list(range(1, 8))  # the lost step-5 line was dropped, then re-logged


def test_mirror_flips_about_half_of_the_reals_left_right_reproducibly(tmp_path):
    data = blob_images(64, seed=2)
    plain = GANTrainer(_TinyStyleG(), TinyD(), data, _cfg(batch=64), tmp_path / "a")
    mirrored = GANTrainer(_TinyStyleG(), TinyD(), data, _cfg(batch=64, mirror=True),
                          tmp_path / "b")
    a, b = plain._real_batch(5, 0), mirrored._real_batch(5, 0)
    same = (a == b).flatten(1).all(1)
    flipped = (a.flip(3) == b).flatten(1).all(1)
    symmetric = (a.flip(3) == a).flatten(1).all(1)
    assert bool((same | flipped).all())  # each image is itself or its exact left-right mirror
    n_flipped = int((flipped & ~symmetric).sum())
    assert 16 <= n_flipped <= 48  # Binomial(64, 1/2) within 4 sigma
    assert torch.equal(mirrored._real_batch(5, 0), b)  # a function of (seed, step, micro-batch)


def test_resume_applies_this_runs_learning_rates_not_the_saved_ones(tmp_path):
    # Optimizer.load_state_dict restores the saved lr; a resume with a lower --g-lr/--d-lr
    # (the advice after a divergence, or a final low-lr phase) must really use the new values.
    data = blob_images(16)
    torch.manual_seed(0)
    GANTrainer(_TinyStyleG(), TinyD(), data, _cfg(total_steps=2), tmp_path / "run").train()
    torch.manual_seed(0)
    slow = GANTrainer(_TinyStyleG(), TinyD(), data,
                      _cfg(total_steps=4, g_lr=1e-4, d_lr=2e-4, betas=(0.5, 0.9)),
                      tmp_path / "run")
    assert slow.resume() == 2
    assert {g["lr"] for g in slow.opt_G.param_groups} == {1e-4}
    assert {g["lr"] for g in slow.opt_D.param_groups} == {2e-4}
    assert {g["betas"] for g in slow.opt_D.param_groups} == {(0.5, 0.9)}
    # The Adam moments themselves were restored, not reset.
    saved = load_checkpoint(list_checkpoints(tmp_path / "run" / "checkpoints")[-1][1])
    first = next(iter(saved["opt_G"]["state"].values()))["exp_avg_sq"]
    assert torch.equal(next(iter(slow.opt_G.state.values()))["exp_avg_sq"], first)


def test_nan_from_a_regulariser_stops_with_the_last_good_checkpoint(tmp_path):
    torch.manual_seed(0)
    trainer = GANTrainer(_TinyStyleG(), TinyD(), blob_images(64), _cfg(total_steps=10),
                         tmp_path / "run", regularizers=[_Hook("orojar", nan_at=4)])
    with pytest.raises(TrainingDivergedError, match=r"step 5.*'orojar'.*ckpt-00000004"):
        trainer.train()
    found = list_checkpoints(tmp_path / "run" / "checkpoints")
    assert [s for s, _ in found] == [2, 4]
    state = load_checkpoint(found[-1][1])
    assert state["step"] == 4
    assert all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())
    # The in-memory weights were not stepped with NaN gradients either.
    assert all(torch.isfinite(p).all() for p in trainer.G.parameters())


# ------------------------------------------------------------------ bad data
def test_bad_data_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="contains no images"):
        load_image_folder(tmp_path / "empty", 8)
    with pytest.raises(DataError, match="empty"):
        ArraySource(np.zeros((0, 8, 8, 1), np.uint8))
    with pytest.raises(DataError, match="channels"):
        ArraySource(np.zeros((4, 8, 8, 4), np.uint8))
    with pytest.raises(DataError, match="3 channel.*generator makes 1"):
        GANTrainer(_TinyZG(), TinyD(), np.zeros((4, 8, 8, 3), np.uint8), _cfg(), tmp_path / "r")
    with pytest.raises(DataError, match="NaN"):
        ArraySource(np.full((4, 8, 8, 1), np.nan, np.float32))


def test_sources_depend_only_on_seed_and_step():
    from latentatlas.data.base import GroundTruthData
    from latentatlas.training.data import GroundTruthSource, resize_images

    class Bars(GroundTruthData):
        name, factor_names, factors_num_values = "bars", ("row",), (8,)
        observation_shape = (8, 8, 1)

        def sample_observations_from_factors(self, factors, rng):
            out = np.zeros((len(factors), 8, 8, 1), np.float32)
            out[np.arange(len(factors)), factors[:, 0]] = 1.0
            return out

    src = GroundTruthSource(Bars(), seed=4)
    a, b = src.batch(7, 0, 16, 16), src.batch(7, 0, 16, 16)
    assert np.array_equal(a, b) and not np.array_equal(a, src.batch(8, 0, 16, 16))
    arr = ArraySource(blob_images(10), seed=2)
    # Each epoch is a permutation: 10 images, batch 5 -> steps 0 and 1 cover every index once.
    assert sorted(np.concatenate([arr.indices(0, 5), arr.indices(1, 5)])) == list(range(10))
    assert np.array_equal(arr.indices(3, 5), ArraySource(blob_images(10), seed=2).indices(3, 5))
    padded = resize_images(np.full((2, 28, 28, 1), 255, np.uint8), 32)
    assert padded.shape == (2, 32, 32, 1) and padded[:, :2].max() == 0 and padded[:, 2:30, 2:30]\
        .min() == 255
    assert resize_images(np.full((2, 20, 20, 3), 7, np.uint8), 16).max() == 7


# ------------------------------------------------------------------ CLI, presets, torchrun DDP
def _image_folder(folder: Path, n: int = 24, size: int = 20) -> Path:
    from PIL import Image

    folder.mkdir()
    for i, img in enumerate(blob_images(n, seed=1, resolution=size)):
        Image.fromarray(img[..., 0]).save(folder / f"{i:03d}.png")
    return folder


def test_cli_trains_from_a_folder_and_rejects_an_empty_one(tmp_path):
    from click.testing import CliRunner

    from latentatlas.cli import main

    folder = _image_folder(tmp_path / "imgs")
    args = ["train", "gan", "--arch", "zgen", "--resolution", "16", "--steps", "2", "--batch",
            "4", "--channel-base", "64", "--channel-max", "8", "--z-dim", "4", "--threads", "1"]
    result = CliRunner().invoke(main, [*args, "--data", str(folder), "--out",
                                       str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["command"].startswith("latentatlas train gan --arch zgen")
    assert run["config"]["data"]["size"] == 24 and run["config"]["data"]["channels"] == 1
    # No --bf16 / --no-bf16: bf16 exactly where the CPU computes it natively.
    from latentatlas.utils.hardware import native_bf16_supported

    assert run["config"]["bf16"] is native_bf16_supported("cpu")
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
    assert run["metrics"]["train_seconds_total"] > 0
    quality = {"predictor": "p", "n_fake": 10, "n_real_half": 10, "truncation_psi": 1.0,
               "frechet": 8.0, "frechet_floor": 2.0, "frechet_ratio": 4.0, "kid": 0.01,
               "kid_std": 0.001, "kid_floor": 0.0, "kid_floor_std": 0.001,
               "class_coverage": {"digit": {"mean_max_probability": 0.8, "counts": [3, 0],
                                            "min_ratio": 0.0, "max_ratio": 2.0}}}
    (tmp_path / "q.json").write_text(json.dumps(quality))
    result = CliRunner().invoke(main, ["train", "ship-gan", "--run", str(tmp_path / "run"),
                                       "--name", "tiny", "--quality", str(tmp_path / "q.json"),
                                       "--zoo-dir", str(tmp_path / "zoo")])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "zoo" / "tiny" / "MODEL_CARD.md").read_text()
    assert "2 steps of batch 4" in card and "| Frechet distance | 8 | 2 | 4.00 |" in card
    assert (tmp_path / "zoo" / "tiny" / "samples.png").is_file()
    from latentatlas.io import load_model

    assert load_model(tmp_path / "zoo" / "tiny").z_dim == 4
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, [*args, "--data", str(tmp_path / "empty"), "--out",
                                       str(tmp_path / "run2")])
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert "contains no images" in result.output and "Traceback" not in result.output


def test_export_gan_saves_any_checkpoints_g_ema_as_a_model(tmp_path):
    from click.testing import CliRunner

    from latentatlas.cli import main
    from latentatlas.io import load_model
    from latentatlas.training.export import export_generator

    folder = _image_folder(tmp_path / "imgs")
    run = tmp_path / "run"
    result = CliRunner().invoke(main, [
        "train", "gan", "--arch", "zgen", "--resolution", "16", "--steps", "4", "--batch", "4",
        "--channel-base", "64", "--channel-max", "8", "--z-dim", "4", "--threads", "1",
        "--checkpoint-every", "2", "--data", str(folder), "--out", str(run)])
    assert result.exit_code == 0, result.output
    # Default: the newest checkpoint, whose G_ema is exactly the finished run's model/.
    newest = load_model(export_generator(run, tmp_path / "e4"))
    final = load_model(run / "model")
    for (k, a), b in zip(newest.state_dict().items(), final.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    result = CliRunner().invoke(main, ["train", "export-gan", "--run", str(run), "--step", "2",
                                       "--out", str(tmp_path / "e2")])
    assert result.exit_code == 0, result.output
    early = load_model(tmp_path / "e2")
    saved = load_checkpoint(run / "checkpoints" / "ckpt-00000002.safetensors")["G_ema"]
    for k, v in early.state_dict().items():
        assert torch.equal(v, saved[k]), k
    assert any(not torch.equal(a, b) for a, b in zip(early.state_dict().values(),
                                                     newest.state_dict().values(), strict=True))
    config = json.loads((tmp_path / "e2" / "config.json").read_text())
    assert config["metadata"]["steps"] == 2 and config["metadata"]["kimg"] == 0.008
    with pytest.raises(CheckpointError, match=r"no checkpoint at step 3; have steps \[2, 4\]"):
        export_generator(run, tmp_path / "e3", step=3)
    (run / "training_config.json").unlink()
    with pytest.raises(DataError, match="training_config.json: missing"):
        export_generator(run, tmp_path / "e5")


def test_presets_fix_architecture_and_explicit_options_win():
    from latentatlas.training.gan_presets import GAN_PRESETS
    from latentatlas.training.gan_run import resolve_gan_settings

    assert set(GAN_PRESETS) == {"celeba64", "shapes3d", "dsprites", "mnist"}
    s = resolve_gan_settings("dsprites", {"kimg": 2.0, "seed": 5})
    assert s["arch"] == "zgen" and s["generator"]["z_dim"] == 8 and 6 <= 8 <= 10
    assert s["train"]["kimg"] == 2.0 and s["train"]["seed"] == 5
    assert s["train"]["batch"] == GAN_PRESETS["dsprites"]["train"]["batch"]
    s = resolve_gan_settings("celeba64", {"total_steps": 10})
    assert s["arch"] == "stylegan2" and "kimg" not in s["train"]
    GANTrainConfig.from_dict(s["train"])  # every preset key is a trainer option


def test_torchrun_two_cpu_processes_hold_identical_weights(tmp_path):
    folder = _image_folder(tmp_path / "imgs")
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "latentatlas.cli.train_gan_main", "--arch", "zgen", "--data", str(folder),
           "--resolution", "16", "--steps", "3", "--batch", "8", "--channel-base", "64",
           "--channel-max", "8", "--z-dim", "4", "--checkpoint-every", "2", "--threads", "1",
           "--augment", "ada", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    run = json.loads((out / "run.json").read_text())
    digests = run["metrics"]["rank_state_sha256"]
    assert run["config"]["world_size"] == 2 and len(digests) == 2 and digests[0] == digests[1]
    assert [s for s, _ in list_checkpoints(out / "checkpoints")] == [2, 3]
    assert run["command"].startswith("torchrun --nproc_per_node=2")


def test_model_card_aims_follow_the_issue():
    from latentatlas.training.gan_card import _aims

    q = {"frechet_ratio": 3.5, "class_coverage": {
        "shape": {"mean_max_probability": 0.99, "counts": [5, 9, 6], "min_ratio": 0.75,
                  "max_ratio": 1.35},
        "scale": {"mean_max_probability": 0.99, "counts": [1, 19], "min_ratio": 0.1,
                  "max_ratio": 1.9}}}
    assert "ratio 3.50 (met)" in _aims("celeba64", q)[0]
    shapes = _aims("shapes3d", q)
    assert shapes[0].endswith("(met)") and shapes[1].endswith("(NOT met)")
    assert "not measured" in _aims("mnist", None)[0]
