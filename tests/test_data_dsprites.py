"""dSprites-like: official grid and values, exact renders, variants, export, real-data agreement."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.data import DSpritesLike, DSpritesReal, GroundTruthTorchDataset, load_dsprites_npz
from latentatlas.data.dsprites import SHAPE_NAMES, render_reference
from latentatlas.utils.errors import DataError, ShapeError


@pytest.fixture(scope="module")
def ds() -> DSpritesLike:
    return DSpritesLike()


def test_official_grid_sizes_and_order(ds):
    assert tuple(ds.factor_names) == ("shape", "scale", "orientation", "posX", "posY")
    assert tuple(ds.factors_num_values) == (3, 6, 40, 32, 32)
    assert ds.num_observations == 737_280
    assert ds.observation_shape == (64, 64, 1)
    # Row-major with posY fastest: the official strides.
    assert ds.factor_bases.tolist() == [245_760, 40_960, 1024, 32, 1]
    assert ds.factors_to_index(np.array([[0, 0, 0, 0, 1], [0, 0, 0, 1, 0], [2, 5, 39, 31, 31]])
                               ).tolist() == [1, 32, 737_279]


def test_index_factor_round_trip(ds, rng):
    idx = np.concatenate([[0, 1, 31, 32, 737_279], rng.integers(0, 737_280, size=2000)])
    factors = ds.index_to_factors(idx)
    assert np.array_equal(ds.factors_to_index(factors), idx)
    f = ds.sample_factors(500, rng)
    assert np.array_equal(ds.index_to_factors(ds.factors_to_index(f)), f)


def test_official_latent_values(ds):
    v = ds.latents_values(np.array([[0, 0, 0, 0, 0], [2, 5, 39, 31, 31], [1, 2, 20, 16, 3]]))
    assert np.allclose(v[0], [1, 0.5, 0, 0, 0])
    assert np.allclose(v[1], [3, 1.0, 2 * np.pi, 1, 1])
    assert np.allclose(v[2], [2, 0.7, 20 * 2 * np.pi / 39, 16 / 31, 3 / 31])


def test_square_render_has_closed_form_extent(ds):
    # Scale 1 square (half side 9.6) centred at pixel coordinate 16: pixel centres j + 0.5 in
    # (6.4, 25.6) are on, i.e. rows and columns 6..25: exactly 20 x 20 pixels.
    img = ds.render(np.array([[0, 5, 0, 0, 0]]))[0]
    rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
    assert img.sum() == 400 and (rows.min(), rows.max(), cols.min(), cols.max()) == (6, 25, 6, 25)
    assert set(np.unique(img)) == {0, 1}


def test_fast_renderer_matches_reference(ds, rng):
    f = ds.sample_factors(1000, rng)
    assert np.array_equal(ds.render(f), render_reference(f))
    # Without the outline fix-up, positions are rounded to 1/4 px: nearly the same pixels,
    # and exact where the sub-pixel phase is 0 (positions 0 and 31).
    rounded = DSpritesLike(exact=False)
    a, b = rounded.render(f) > 0, render_reference(f) > 0
    iou = (a & b).sum(axis=(1, 2)) / (a | b).sum(axis=(1, 2))
    assert 0.95 < iou.mean() < 1.0
    f[:, 3], f[:, 4] = rng.choice([0, 31], 1000), rng.choice([0, 31], 1000)
    assert np.array_equal(rounded.render(f), render_reference(f))


def test_factor_changes_move_the_sprite(ds):
    imgs = ds.render(np.array([[0, 5, 0, 0, 0], [0, 5, 0, 31, 0], [0, 5, 0, 0, 31]]))
    cols = [np.flatnonzero(im.any(axis=0)).mean() for im in imgs]
    rows = [np.flatnonzero(im.any(axis=1)).mean() for im in imgs]
    # posX moves columns by 32 px over the range, posY rows.
    assert cols[1] - cols[0] == pytest.approx(32, abs=0.6) and rows[1] == rows[0]
    assert rows[2] - rows[0] == pytest.approx(32, abs=0.6) and cols[2] == cols[0]


def test_binary_is_deterministic(ds, rng):
    f = ds.sample_factors(64, rng)
    a = ds.sample_observations_from_factors(f, np.random.default_rng(1))
    b = ds.sample_observations_from_factors(f, np.random.default_rng(2))
    assert a.dtype == np.float32 and a.shape == (64, 64, 64, 1)
    assert np.array_equal(a, b)


def test_color_variant(rng):
    ds = DSpritesLike("color")
    f = ds.sample_factors(32, rng)
    binary = DSpritesLike().render(f).astype(bool)
    x = ds.sample_observations_from_factors(f, np.random.default_rng(3))
    assert x.shape == (32, 64, 64, 3)
    assert (x[~binary] == 0).all()
    for img, mask in zip(x, binary, strict=True):
        colours = np.unique(img[mask], axis=0)
        assert len(colours) == 1 and (colours >= 0.5).all() and (colours <= 1).all()
    assert np.array_equal(x, ds.sample_observations_from_factors(f, np.random.default_rng(3)))
    assert not np.array_equal(x, ds.sample_observations_from_factors(f, np.random.default_rng(4)))


def test_noisy_variant(rng):
    ds = DSpritesLike("noisy")
    f = ds.sample_factors(32, rng)
    binary = DSpritesLike().render(f).astype(bool)
    x = ds.sample_observations_from_factors(f, np.random.default_rng(5))
    assert (x[binary] == 1).all()
    background = x[~binary]
    assert background.min() >= 0 and background.max() < 1
    assert background.mean() == pytest.approx(0.5, abs=0.01)
    assert np.array_equal(x, ds.sample_observations_from_factors(f, np.random.default_rng(5)))
    assert not np.array_equal(x, ds.sample_observations_from_factors(f, np.random.default_rng(6)))


def test_scream_variant_inverts_sprite(rng):
    texture = np.full((80, 90, 3), 0.2, np.float32)
    ds = DSpritesLike("scream", texture=texture)
    f = ds.sample_factors(8, rng)
    binary = DSpritesLike().render(f).astype(bool)
    x = ds.sample_observations_from_factors(f, rng)
    for img, mask in zip(x, binary, strict=True):
        bg = np.unique(img[~mask], axis=0)
        fg = np.unique(img[mask], axis=0)
        assert len(bg) == 1 and len(fg) == 1
        assert np.allclose(bg + fg, 1.0)  # sprite = 1 - background
        assert ((bg >= 0.1) & (bg <= 0.6)).all()  # (0.2 + U(0, 1)) / 2
    with pytest.raises(DataError, match="texture"):
        DSpritesLike("scream")


def test_empty_batch(ds):
    empty = ds.sample_observations_from_factors(np.zeros((0, 5), np.int64), 0)
    assert empty.shape == (0, 64, 64, 1)


def test_bad_arguments(ds):
    with pytest.raises(DataError, match="unknown variant"):
        DSpritesLike("sparkly")
    with pytest.raises(ShapeError, match="orientation"):
        ds.render(np.array([[0, 0, 40, 0, 0]]))
    with pytest.raises(ShapeError):
        ds.render(np.zeros((3, 4), np.int64))


def test_export_npz_round_trip(ds, tmp_path):
    idx = np.array([0, 1, 5000, 400_000, 737_279])
    path = ds.export_npz(tmp_path / "sub.npz", indices=idx)
    loaded = load_dsprites_npz(path)  # no pickle needed
    assert loaded.imgs.dtype == np.uint8 and loaded.imgs.shape == (5, 64, 64)
    assert np.array_equal(loaded.imgs, ds.render(ds.index_to_factors(idx)))
    assert loaded.latents_classes.shape == (5, 6) and (loaded.latents_classes[:, 0] == 0).all()
    assert np.array_equal(loaded.factors, ds.index_to_factors(idx))
    assert np.allclose(loaded.latents_values[:, 0], 1.0)
    assert np.allclose(loaded.factor_values, ds.latents_values(ds.index_to_factors(idx)))
    assert loaded.metadata["latents_sizes"] == [1, 3, 6, 40, 32, 32]
    with np.load(path, allow_pickle=False) as npz:
        assert set(npz.files) == {"imgs", "latents_classes", "latents_values", "metadata"}


def test_torch_adapter(ds):
    import torch

    dataset = GroundTruthTorchDataset(ds, length=10, seed=0, random=False)
    image, factors = dataset[3]
    assert image.shape == (1, 64, 64) and image.dtype == torch.float32
    assert factors.tolist() == ds.index_to_factors(3)[0].tolist()
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=4)))
    assert batch[0].shape == (4, 1, 64, 64)
    assert torch.equal(batch[0][3], image)


# ---------------------------------------------------------------------------- real data
def test_real_subset_layout_matches_our_grid(shared_data, ds):
    real = load_dsprites_npz(shared_data / "dsprites" / "dsprites_subset.npz")
    assert real.imgs.shape == (20_000, 64, 64) and real.factors.shape == (20_000, 5)
    assert real.metadata is None  # pickled metadata is skipped without allow_pickle
    with np.load(shared_data / "dsprites" / "dsprites_subset.npz") as npz:
        original = npz["original_dataset_indices"]
    assert np.array_equal(ds.factors_to_index(real.factors), original)
    assert np.allclose(ds.latents_values(real.factors), real.factor_values)
    meta = load_dsprites_npz(shared_data / "dsprites" / "dsprites_subset.npz", allow_pickle=True)
    assert list(meta.metadata["latents_sizes"]) == [3, 6, 40, 32, 32]


def test_iou_against_real_subset(shared_data, ds):
    real = load_dsprites_npz(shared_data / "dsprites" / "dsprites_subset.npz")
    ours, theirs = ds.render(real.factors) > 0, real.imgs > 0
    iou = (ours & theirs).sum(axis=(1, 2)) / (ours | theirs).sum(axis=(1, 2))
    for k, name in enumerate(SHAPE_NAMES):
        assert iou[real.factors[:, 0] == k].mean() >= 0.85, name
    assert iou.mean() >= 0.99  # measured 0.998


def test_dsprites_real_ground_truth(shared_data, rng):
    real = DSpritesReal(shared_data / "dsprites" / "dsprites_subset.npz")
    assert real.num_images == 20_000 and not real.complete_grid
    factors, obs = real.sample(16, rng)
    assert obs.shape == (16, 64, 64, 1)
    raw = load_dsprites_npz(shared_data / "dsprites" / "dsprites_subset.npz")
    row = int(np.flatnonzero((raw.factors == factors[0]).all(axis=1))[0])
    assert np.array_equal(obs[0, ..., 0], raw.imgs[row].astype(np.float32))
    absent = np.setdiff1d(np.arange(737_280), real.factors_to_index(raw.factors))[:1]
    with pytest.raises(DataError, match="not in this file"):
        real.sample_observations_from_factors(real.index_to_factors(absent), rng)


def test_iterate_grid_follows_official_order(ds):
    factors, obs = next(ds.iterate_grid(batch_size=40))
    assert np.array_equal(factors, ds.index_to_factors(np.arange(40)))
    assert factors[:, 4].tolist() == list(range(32)) + list(range(8))  # posY fastest
    assert np.array_equal(obs[..., 0], ds.render(factors).astype(np.float32))
