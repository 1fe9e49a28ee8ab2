"""Restricted-variation training data (``train gan --factor-range``): factors drawn only from
sub-ranges, the restriction part of the run's identity (a resume onto other data refuses)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _gan_standins import TinyD, _TinyZG
from latentatlas.data.base import RestrictedFactors, parse_factor_ranges
from latentatlas.data.dsprites import DSpritesLike
from latentatlas.training.data import resolve_training_data
from latentatlas.training.gan import GANTrainConfig, GANTrainer
from latentatlas.utils.errors import CheckpointError, DataError


def test_sampled_factors_cover_exactly_the_restricted_ranges():
    base = DSpritesLike()
    data = RestrictedFactors(base, {"posX": (8, 24), "scale": (2, 3)})
    f = data.sample_factors(20000, np.random.default_rng(0))
    k, s = list(base.factor_names).index("posX"), list(base.factor_names).index("scale")
    assert set(np.unique(f[:, k])) == set(range(8, 24))  # all 16 values, nothing outside
    assert set(np.unique(f[:, s])) == {2}
    other = [i for i in range(base.num_factors) if i not in (k, s)]
    for i in other:  # the other factors keep their full range
        assert set(np.unique(f[:, i])) == set(range(base.factors_num_values[i]))
    assert data.num_observations == base.num_observations // 32 * 16 // 6
    grid = np.concatenate([fa for fa, _ in data.iterate_grid(batch_size=4096)])
    assert len(grid) == data.num_observations == len(np.unique(grid, axis=0))
    assert grid[:, k].min() == 8 and grid[:, k].max() == 23 and set(grid[:, s]) == {2}
    # Images are the base set's images of those factors.
    obs = data.sample_observations_from_factors(f[:3], np.random.default_rng(1))
    assert np.array_equal(obs, base.sample_observations_from_factors(f[:3],
                                                                     np.random.default_rng(1)))


@pytest.mark.parametrize("ranges, words", [
    ({"posZ": (0, 2)}, "no factor 'posZ'"),
    ({"posX": (8, 40)}, "<= 32"),
    ({"posX": (5, 5)}, "low < high"),
])
def test_bad_ranges_are_refused(ranges, words):
    with pytest.raises(ValueError, match=words):
        RestrictedFactors(DSpritesLike(), ranges)


def test_parse_factor_ranges():
    assert parse_factor_ranges(["posX=8:24", "scale=0:3"]) == {"posX": (8, 24), "scale": (0, 3)}
    for bad in ("posX", "posX=8", "posX=a:b", "=1:2"):
        with pytest.raises(ValueError, match="NAME=LOW:HIGH"):
            parse_factor_ranges([bad])


def test_factor_range_needs_a_procedural_set(tmp_path):
    np.savez(tmp_path / "imgs.npz", images=np.zeros((4, 8, 8, 1), np.uint8))
    with pytest.raises(DataError, match="procedural"):
        resolve_training_data(str(tmp_path / "imgs.npz"), 8, factor_ranges={"posX": (0, 2)})


def test_resume_onto_other_factor_ranges_refuses(tmp_path):
    cfg = GANTrainConfig(total_steps=2, batch=4, checkpoint_every=1, sample_every=1000,
                         log_every=1, progress=False, tensorboard=False)

    def trainer(ranges, steps):
        torch.manual_seed(0)
        source = resolve_training_data("dsprites", 64, factor_ranges=ranges)
        c = GANTrainConfig(**{**cfg.to_dict(), "total_steps": steps})
        return GANTrainer(_TinyZG(resolution=64), TinyD(resolution=64), source, c, tmp_path / "run")

    trainer({"posX": (8, 24)}, 1).train()
    with pytest.raises(CheckpointError, match=r"dsprites\[posX=8:24\].*'dsprites'"):
        trainer(None, 2).train(resume=True)
    assert trainer({"posX": (8, 24)}, 2).train(resume=True).step == 2
