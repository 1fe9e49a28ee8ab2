"""The latent bank: layout, determinism, exact resume, validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from latentatlas.analysis.bank import Z_BLOCK, Bank, sample_bank, sample_latents
from latentatlas.models.base import Generator
from latentatlas.scoring import BaseScorer, CallableScorer, PixelStatsScorer, ScoringError
from latentatlas.utils.errors import DataError, OutputExistsError


class TinyGenerator(Generator):
    """A deterministic stand-in: tanh-MLP mapping, linear synthesis to 8x8 RGB in (-1, 1)."""

    def __init__(self, z_dim: int = 4, w_dim: int = 3, num_ws: int = 2) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.z_dim, self.w_dim, self.num_ws = z_dim, w_dim, num_ws
        self.img_resolution, self.img_channels = 8, 3
        self.map = torch.nn.Linear(z_dim, w_dim)
        self.synth = torch.nn.Linear(num_ws * w_dim, 3 * 8 * 8)
        self.register_buffer("_w_avg", torch.full((w_dim,), 0.1))

    @property
    def w_avg(self) -> torch.Tensor:
        return self._w_avg

    def z_to_w(self, z, c=None):
        return torch.tanh(self.map(self.check_latent(z, "z")))

    def synthesize(self, latent, space="wp", c=None, noise_mode="const"):
        if space == "z":
            latent = self.z_to_w(latent)
            space = "w"
        if space == "w":
            latent = self.w_to_wp(latent)
        return torch.tanh(self.synth(latent.flatten(1))).view(-1, 3, 8, 8)


def mean_red(images: torch.Tensor) -> torch.Tensor:
    return images[:, 0].mean((1, 2))


def scorers():
    return [PixelStatsScorer(3), CallableScorer(mean_red, ["red_raw"], differentiable=True)]


class FlakyScorer(BaseScorer):
    """Scores like `mean_red`, but raises on its `fail_on_call`-th call (simulated crash)."""

    names = ["red_raw"]

    def __init__(self, fail_on_call: int | None = None) -> None:
        self.calls = 0
        self.fail_on_call = fail_on_call

    def _score(self, images):
        self.calls += 1
        if self.fail_on_call is not None and self.calls == self.fail_on_call:
            raise RuntimeError("simulated crash")
        return mean_red(images)[:, None]


ARRAYS = ("z", "w", "wp")


def assert_same_bank(a: Bank, b: Bank) -> None:
    for key in ARRAYS:
        np.testing.assert_array_equal(a.latents(key), b.latents(key))
    assert a.names == b.names
    for name in a.names:
        np.testing.assert_array_equal(a.scores[name], b.scores[name])


def test_layout_and_values(tmp_path):
    g = TinyGenerator().eval()
    bank = sample_bank(g, scorers(), n=40, out=tmp_path / "b", seed=3, truncation_psi=0.7,
                       truncation_cutoff=1, batch_size=16, chunk_size=32, progress=False,
                       keep_thumbnails=True, thumbnail_size=4)
    assert bank.z.shape == (40, 4) and bank.w.shape == (40, 3) and bank.wp.shape == (40, 2, 3)
    assert bank.thumbnails.shape == (40, 3, 4, 4) and bank.thumbnails.dtype == np.uint8
    assert bank.names == [*PixelStatsScorer(3).names, "red_raw"]
    for name in bank.names:
        assert (tmp_path / "b" / f"{name}_scores.npy").is_file()
        assert bank.scores[name].shape == (40, 1)
    # InterFaceGAN layout: plain .npy files readable without latentatlas.
    np.testing.assert_array_equal(np.load(tmp_path / "b" / "z.npy"), bank.z)
    # Latents: z from the seeded blocks; w truncated on all layers; wp only below the cutoff.
    z, _ = sample_latents(g, 0, 40, seed=3)
    np.testing.assert_array_equal(bank.z, z.numpy())
    with torch.no_grad():
        w_raw = g.z_to_w(z)
        avg = g.w_avg
        np.testing.assert_allclose(bank.w, (avg + 0.7 * (w_raw - avg)).numpy(), atol=1e-6)
        np.testing.assert_allclose(bank.wp[:, 0], bank.w, atol=1e-6)
        np.testing.assert_allclose(bank.wp[:, 1], w_raw.numpy(), atol=1e-6)
        images = g.synthesize(torch.from_numpy(np.array(bank.wp)), space="wp")
    np.testing.assert_allclose(bank.scores["red_raw"][:, 0], mean_red(images).numpy(), atol=1e-6)
    meta = json.loads((tmp_path / "b" / "bank.json").read_text())
    assert meta["seed"] == 3 and meta["truncation_psi"] == 0.7 and meta["truncation_cutoff"] == 1
    assert meta["complete"] and meta["n"] == 40 and "torch" in meta["environment"]
    assert (tmp_path / "b" / "run.json").is_file()
    assert bank.scores_matrix(["red_raw"]).shape == (40, 1)


def test_independent_of_batch_and_chunk_size_and_prefix(tmp_path):
    g = TinyGenerator().eval()
    n = Z_BLOCK + 30  # crosses a z block boundary
    a = sample_bank(g, scorers(), n, tmp_path / "a", seed=1, batch_size=64, chunk_size=n,
                    progress=False)
    b = sample_bank(g, scorers(), n, tmp_path / "b", seed=1, batch_size=13, chunk_size=50,
                    progress=False)
    np.testing.assert_array_equal(a.z, b.z)
    np.testing.assert_allclose(a.wp, b.wp, atol=1e-6)
    np.testing.assert_allclose(a.scores_matrix(), b.scores_matrix(), atol=1e-5)
    small = sample_bank(g, scorers(), 20, tmp_path / "c", seed=1, progress=False)
    np.testing.assert_array_equal(small.z, a.z[:20])
    other = sample_bank(g, scorers(), 20, tmp_path / "d", seed=2, progress=False)
    assert not np.array_equal(other.z, small.z)


def test_resume_after_crash_equals_uninterrupted(tmp_path):
    g = TinyGenerator().eval()
    kw = dict(n=70, seed=5, truncation_psi=0.8, batch_size=8, chunk_size=16, progress=False)
    full = sample_bank(g, FlakyScorer(), out=tmp_path / "full", **kw)
    # Calls per chunk: 2 batches of 8; the 6th call is in chunk 2 (chunks 0 and 1 complete).
    with pytest.raises(RuntimeError, match="simulated crash"):
        sample_bank(g, FlakyScorer(fail_on_call=6), out=tmp_path / "r", **kw)
    progress = json.loads((tmp_path / "r" / "progress.json").read_text())
    assert progress["completed_chunks"] == 2
    with pytest.raises(DataError, match="no bank.json"):
        Bank.open(tmp_path / "r")
    resumed_scorer = FlakyScorer()
    resumed = sample_bank(g, resumed_scorer, out=tmp_path / "r", **kw)
    assert resumed_scorer.calls == 5  # chunks 2..4 only: 2 + 2 + 1 batches (70 = 4*16 + 6)
    assert_same_bank(full, resumed)
    # A finished bank is returned as is; other settings are refused.
    again = FlakyScorer()
    sample_bank(g, again, out=tmp_path / "r", **kw)
    assert again.calls == 0
    with pytest.raises(OutputExistsError, match="other settings"):
        sample_bank(g, FlakyScorer(), out=tmp_path / "r", **{**kw, "seed": 6})


def test_nan_scores_refused(tmp_path):
    def nan_at_7(images):
        out = mean_red(images).clone()
        if out.shape[0] > 7:
            out[7] = float("nan")
        return out

    g = TinyGenerator().eval()
    with pytest.raises(ScoringError, match=r"NaN/Inf score.*image 7.*'bad'"):
        sample_bank(g, CallableScorer(nan_at_7, ["bad"]), 16, tmp_path / "b", progress=False)


def test_open_refuses_mismatched_lengths_and_nan(tmp_path):
    g = TinyGenerator().eval()
    sample_bank(g, scorers(), 12, tmp_path / "b", progress=False)
    np.save(tmp_path / "b" / "red_raw_scores.npy", np.zeros((11, 1), np.float32))
    with pytest.raises(DataError, match="11 rows.*n=12.*mismatched"):
        Bank.open(tmp_path / "b")
    bad = np.zeros((12, 1), np.float32)
    bad[4] = np.nan
    np.save(tmp_path / "b" / "red_raw_scores.npy", bad)
    with pytest.raises(ScoringError, match="red_raw.*row 4"):
        Bank.open(tmp_path / "b")
    (tmp_path / "b" / "wp.npy").unlink()
    with pytest.raises(DataError, match="wp.npy: missing"):
        Bank.open(tmp_path / "b", check_finite=False)


def test_duplicate_score_names_refused(tmp_path):
    with pytest.raises(ScoringError, match="duplicate"):
        sample_bank(TinyGenerator(), [PixelStatsScorer(3), PixelStatsScorer(3)], 4,
                    tmp_path / "b", progress=False)


def test_with_stylegan2_generator(tmp_path):
    from latentatlas.models.stylegan2 import StyleGAN2Generator

    torch.manual_seed(0)
    g = StyleGAN2Generator(z_dim=8, w_dim=8, img_resolution=16, mapping_layers=2,
                           channel_base=64, channel_max=8).eval()
    bank = sample_bank(g, PixelStatsScorer(3), 6, tmp_path / "sg", seed=0, truncation_psi=0.5,
                       batch_size=4, progress=False)
    assert bank.wp.shape == (6, g.num_ws, 8)
    with torch.no_grad():
        img = g.synthesize(torch.from_numpy(np.array(bank.wp)), space="wp").clamp(-1, 1)
    np.testing.assert_allclose(bank.scores["brightness"][:, 0],
                               PixelStatsScorer(3)(img)[:, 0].numpy(), atol=1e-4)


def test_cli_sample(tmp_path):
    from click.testing import CliRunner

    from latentatlas.cli import main
    from latentatlas.io.persistence import save_model
    from latentatlas.models.stylegan2 import StyleGAN2Generator

    torch.manual_seed(0)
    g = StyleGAN2Generator(z_dim=8, w_dim=8, img_resolution=16, mapping_layers=2,
                           channel_base=64, channel_max=8)
    save_model(g, tmp_path / "g")
    args = ["sample", "--model", str(tmp_path / "g"), "--n", "5", "--scorers", "pixel,moments",
            "--out", str(tmp_path / "bank"), "--seed", "2", "--truncation", "0.7",
            "--batch-size", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    bank = Bank.open(tmp_path / "bank")
    assert len(bank) == 5 and "centroid_x" in bank.names and bank.meta["truncation_psi"] == 0.7
    bad = CliRunner().invoke(main, [*args[:6], "nope", *args[7:]])
    assert bad.exit_code == 1 and "unknown scorer 'nope'" in bad.output


def test_z_only_generator(tmp_path):
    from latentatlas.models.zgen import ZGenerator

    torch.manual_seed(0)
    g = ZGenerator(z_dim=6, img_resolution=16, img_channels=1, channel_base=64,
                   channel_max=16).eval()
    bank = sample_bank(g, PixelStatsScorer(1), 5, tmp_path / "z", seed=0, truncation_psi=0.5,
                       progress=False)
    assert bank.w is None and bank.wp is None and bank.z.shape == (5, 6)
    # The bank stores z as sampled, i.e. truncated (scaled toward 0), and synthesize takes it as
    # it is (format 2; format 1 stored the unscaled z and scaled it inside synthesize).
    z, _ = sample_latents(g, 0, 5, seed=0)
    np.testing.assert_array_equal(bank.z, 0.5 * z.numpy())
    assert bank.meta["format"] == "latentatlas-bank-2" and bank.meta["truncated_arrays"] == ["z"]
    with torch.no_grad():
        img = g.synthesize(torch.from_numpy(np.array(bank.z)))
    np.testing.assert_allclose(bank.scores["brightness"][:, 0],
                               PixelStatsScorer(1)(img)[:, 0].numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="cutoff"):
        sample_bank(g, PixelStatsScorer(1), 5, tmp_path / "z2", truncation_cutoff=2,
                    progress=False)


# ------------------------------------------------------------------ several ranks
def _bank_files(folder) -> dict[str, np.ndarray]:
    return {p.name: np.load(p) for p in sorted(folder.glob("*.npy"))}


def _ranks_setup(tmp_path):
    from latentatlas.io.persistence import save_model
    from latentatlas.models.stylegan2 import StyleGAN2Generator

    torch.manual_seed(0)
    g = StyleGAN2Generator(z_dim=8, w_dim=8, img_resolution=16, mapping_layers=2,
                           channel_base=64, channel_max=8)
    save_model(g, tmp_path / "g")
    # 37 samples: three chunks of 16 / 16 / 5, batches of 3 (odd per-rank counts, a short tail).
    return ["sample", "--model", str(tmp_path / "g"), "--n", "37", "--scorers", "pixel,moments",
            "--seed", "3", "--truncation", "0.7", "--batch-size", "3", "--chunk-size", "16",
            "--thumbnails", "8", "--threads", "1"]


def test_two_ranks_write_the_single_process_bank(tmp_path):
    from click.testing import CliRunner

    from latentatlas.cli import main

    args = _ranks_setup(tmp_path)
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "one")])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "two"), "--ranks", "2"])
    assert result.exit_code == 0, result.output
    assert "bank " in result.output and "37 samples" in result.output
    one, two = _bank_files(tmp_path / "one"), _bank_files(tmp_path / "two")
    assert set(one) == set(two) and {"z.npy", "wp.npy", "thumbnails.npy"} <= set(one)
    for name, arr in one.items():
        assert arr.dtype == two[name].dtype and arr.tobytes() == two[name].tobytes(), name
    bank = Bank.open(tmp_path / "two")
    assert bank.meta["complete"] and bank.meta["completed_chunks"] == 3
    run = json.loads((tmp_path / "two" / "run.json").read_text())
    assert run["metrics"]["ranks"] == 2 and run["metrics"]["images_generated_this_session"] == 37
    # Resuming the finished bank with a different number of ranks changes nothing.
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "two"), "--ranks", "2"])
    assert result.exit_code == 0, result.output
    assert _bank_files(tmp_path / "two")["wp.npy"].tobytes() == one["wp.npy"].tobytes()
    # An error on rank 0 (another bank's folder) stops every rank instead of hanging the others.
    result = CliRunner().invoke(main, [*args, "--seed", "4", "--out", str(tmp_path / "two"),
                                       "--ranks", "2"])
    assert result.exit_code == 1 and "other settings" in result.output


def test_torchrun_two_cpu_processes_write_the_single_process_bank(tmp_path):
    import os
    import subprocess
    import sys

    from latentatlas.analysis.bank import sample_bank_job

    args = _ranks_setup(tmp_path)
    args[args.index("--n")] = "--num-samples"  # torchrun's own parser refuses --n
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "latentatlas", *args, "--out", str(tmp_path / "two")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert proc.stdout.count("37 samples") == 1  # rank 0 reports
    torch.set_num_threads(1)
    sample_bank_job(tmp_path / "g", ["pixel", "moments"], 37, tmp_path / "one", seed=3,
                    truncation_psi=0.7, batch_size=3, chunk_size=16, keep_thumbnails=True,
                    thumbnail_size=8, progress=False)
    one, two = _bank_files(tmp_path / "one"), _bank_files(tmp_path / "two")
    assert set(one) == set(two)
    for name, arr in one.items():
        assert arr.tobytes() == two[name].tobytes(), name
