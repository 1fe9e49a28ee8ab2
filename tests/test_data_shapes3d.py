"""Shapes3D-like: official grid and values, every factor visible, geometry properties."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.data import Shapes3DLike
from latentatlas.data.shapes3d import (
    camera_rays,
    hit_object,
    hue_to_rgb,
    official_factor_values,
    render_coefficients,
    render_reference,
)


@pytest.fixture(scope="module")
def ds() -> Shapes3DLike:
    return Shapes3DLike()


def test_official_grid(ds):
    assert tuple(ds.factor_names) == (
        "floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
    assert tuple(ds.factors_num_values) == (10, 10, 10, 8, 4, 15)
    assert ds.num_observations == 480_000
    vals = official_factor_values()
    assert np.allclose(vals["scale"], np.linspace(0.75, 1.25, 8))
    assert np.allclose(vals["orientation"], np.linspace(-30, 30, 15))
    assert np.allclose(vals["floor_hue"], np.arange(10) / 10)
    v = ds.factor_values(np.array([[9, 0, 3, 7, 2, 14]]))[0]
    assert np.allclose(v, [0.9, 0.0, 0.3, 1.25, 2, 30])


def test_index_factor_round_trip(ds, rng):
    idx = np.concatenate([[0, 1, 14, 15, 479_999], rng.integers(0, 480_000, 2000)])
    assert np.array_equal(ds.factors_to_index(ds.index_to_factors(idx)), idx)
    assert ds.factors_to_index(np.array([[0, 0, 0, 0, 1, 0]]))[0] == 15


def test_hue_to_rgb_known_colours():
    rgb = hue_to_rgb(np.array([0.0, 1 / 3, 2 / 3]), saturation=1.0)
    assert np.allclose(rgb, np.eye(3))
    assert np.allclose(hue_to_rgb(np.array([0.5]), saturation=0.8), [[0.2, 1.0, 1.0]])


def test_every_adjacent_pair_of_every_factor_differs(ds):
    rng = np.random.default_rng(0)
    bases = ds.sample_factors(3, rng)
    for base in bases:
        for k, size in enumerate(ds.factors_num_values):
            shapes = range(4) if k == 5 else [base[4]]  # orientation: check every shape
            for shape in shapes:
                f = np.repeat(base[None], size, axis=0)
                f[:, 4] = shape if k != 4 else f[:, 4]
                f[:, k] = np.arange(size)
                x = ds.sample_observations_from_factors(f, rng)
                changed = (np.abs(np.diff(x, axis=0)) > 0.02).any(axis=-1).sum(axis=(1, 2))
                assert (changed >= 3).all(), (ds.factor_names[k], shape, changed)


def test_observations_are_deterministic_and_in_range(ds, rng):
    f = ds.sample_factors(50, rng)
    a = ds.sample_observations_from_factors(f, np.random.default_rng(1))
    b = ds.sample_observations_from_factors(f, np.random.default_rng(2))
    assert a.shape == (50, 64, 64, 3) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1


def test_fast_path_matches_reference_renderer(ds, rng):
    f = ds.sample_factors(6, rng)
    assert np.allclose(ds.sample_observations_from_factors(f), render_reference(f), atol=1e-5)


def test_colour_coefficients_partition_the_pixel(ds):
    # Every pixel shows object, floor or wall: with all three colours white and no shading
    # the image is the sum of coefficients; the coverage weights (before shading) sum to 1.
    coef = ds.coefficients
    assert coef.shape == (8, 4, 15, 64 * 64, 3)
    assert (coef >= 0).all() and (coef.sum(-1) <= 1 + 1e-6).all()
    assert (coef.sum(-1) >= 0.3 - 1e-6).all()  # at least the ambient light everywhere


def test_object_area_grows_with_scale(ds):
    for shape in range(4):
        area = [(ds.coefficients[s, shape, 7, :, 0] > 0).sum() for s in range(8)]
        assert all(b > a for a, b in zip(area, area[1:], strict=False)), (shape, area)
        # Apparent area scales roughly with scale^2 (perspective makes it a bit more).
        assert area[-1] / area[0] == pytest.approx((1.25 / 0.75) ** 2, rel=0.25)


def test_scene_is_mirror_symmetric_in_orientation(ds):
    # Room and objects are symmetric about x = 0: the silhouette at +theta mirrors -theta
    # (the light is not symmetric, so only coverage is compared).
    for shape in range(4):
        for k in range(15):
            a = ds.coefficients[4, shape, k, :, 0].reshape(64, 64) > 0
            b = ds.coefficients[4, shape, 14 - k, :, 0].reshape(64, 64)[:, ::-1] > 0
            assert (a != b).sum() <= 4, (shape, k)


def test_sphere_ray_hits_at_closed_form_distance():
    origin = np.array([0.0, 1.0, -5.0])
    d = np.array([[0.0, 0.0, 1.0]])
    for scale in (0.75, 1.0, 1.25):
        # The scaled sphere (centre (0, scale, 0), radius scale) is hit 5 - scale away.
        t, normal = hit_object(2, (origin * [1, scale, 1])[None], d, scale)
        assert t[0] == pytest.approx(5.0 - scale)
        assert np.allclose(normal[0], [0, 0, -1])
    o, dirs = camera_rays(0.0, 8)
    assert np.allclose(np.linalg.norm(dirs, axis=1), 1.0)
    assert o[0] == pytest.approx(0.0) and o[2] < 0


def test_render_coefficients_shape():
    c = render_coefficients(0, np.array([1.0]), 0.0, size=16, supersample=1)
    assert c.shape == (1, 3, 16, 16)
