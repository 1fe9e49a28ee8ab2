"""Edits: distance semantics with intercepts, offsets, layer-selective W+ edits with truncation
compensation, joint edits, jittering, style mixing, and rendering grids / GIFs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _toy_generator import ToyGenerator
from latentatlas.directions import Directions
from latentatlas.editing import (
    interpolate,
    jitter,
    joint_edit,
    move,
    render_edit_gif,
    render_edit_grid,
    style_mix,
    truncation_strengths,
)
from latentatlas.utils.errors import ShapeError


def unit(rng, *shape):
    v = rng.standard_normal(shape)
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def test_distance_semantics_with_intercept(rng):
    d = Directions(unit(rng, 1, 8), "w", names=["smile"], intercepts=[0.75])
    codes = rng.standard_normal((5, 8)).astype(np.float32)
    targets = [-3.0, -0.5, 0.0, 2.0]
    out = interpolate(codes, d, targets)
    assert isinstance(out, np.ndarray) and out.shape == (5, 4, 8) and out.dtype == np.float32
    dist = d.signed_distance(out.reshape(-1, 8)).reshape(5, 4)
    np.testing.assert_allclose(dist, np.broadcast_to(targets, (5, 4)), atol=1e-5)
    # the move is along the normal only: the orthogonal part is unchanged
    n = d.vector(0)
    resid = out - (out @ n)[..., None] * n
    np.testing.assert_allclose(resid, np.broadcast_to((codes - (codes @ n)[:, None] * n)[:, None],
                                                      resid.shape), atol=1e-5)
    # without an intercept the hyperplane passes through the origin (InterFaceGAN)
    d0 = Directions(d.vectors, "w")
    np.testing.assert_allclose(interpolate(codes, d0, [1.0])[:, 0] @ n, 1.0, atol=1e-5)


def test_offset_mode_and_torch_io(rng):
    d = Directions(unit(rng, 1, 6), "z")
    codes = torch.randn(3, 6)
    out = interpolate(codes, d, [0.0, 1.5], mode="offset")
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out[:, 0], codes)
    torch.testing.assert_close(out[:, 1], codes + 1.5 * torch.from_numpy(d.vector(0)))
    torch.testing.assert_close(move(codes, d, 1.5), out[:, 1])


def test_wplus_edits_are_offsets_and_layer_selective(rng):
    d = Directions(unit(rng, 1, 8), "w", names=["a"], layers=[2, 3])
    wp = rng.standard_normal((4, 5, 8)).astype(np.float32)
    out = interpolate(wp, d, [-1.0, 2.0])
    n = d.vector(0)
    for j, t in enumerate([-1.0, 2.0]):
        np.testing.assert_array_equal(out[:, j, [0, 1, 4]], wp[:, [0, 1, 4]])  # untouched
        np.testing.assert_allclose(out[:, j, 2:4], wp[:, 2:4] + t * n, atol=1e-6)
    # layers=None overrides the direction's own selection: every layer moves
    allm = interpolate(wp, d, [2.0], layers=None)
    np.testing.assert_allclose(allm[:, 0], wp + 2.0 * n, atol=1e-6)
    # per-layer [K, L, d] directions use each layer's own vector
    per = Directions(unit(rng, 1, 5, 8), "wp")
    np.testing.assert_allclose(move(wp, per, 1.0), wp + per.vector(0), atol=1e-6)


def test_truncation_compensation(rng):
    np.testing.assert_array_equal(truncation_strengths(5, 0.7, 2), [0.7, 0.7, 1, 1, 1])
    np.testing.assert_array_equal(truncation_strengths(3, 0.5, None), [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(truncation_strengths(3, 0.5, 0), [1, 1, 1])
    d = Directions(unit(rng, 1, 4), "w")
    wp = np.zeros((1, 5, 4), np.float32)
    out = interpolate(wp, d, [1.0], truncation_psi=0.7, truncation_cutoff=2)[0, 0]
    scale = np.linalg.norm(out, axis=1)
    np.testing.assert_allclose(scale, [0.7, 0.7, 1, 1, 1], atol=1e-6)
    # compensating truncation: editing the truncated code on layer l by psi * n equals
    # truncating the edited untruncated code
    g = ToyGenerator(z_dim=4, num_ws=5)
    w = torch.randn(3, 4)
    wp_full = g.w_to_wp(w)
    edited_then_truncated = g.truncate(wp_full + torch.from_numpy(d.vector(0)), 0.7, 2, space="wp")
    truncated_then_edited = move(g.truncate(wp_full, 0.7, 2, space="wp"), d, 1.0,
                                 truncation_psi=0.7, truncation_cutoff=2)
    torch.testing.assert_close(truncated_then_edited, edited_then_truncated)


def test_joint_edit(rng):
    d = Directions(unit(rng, 3, 6), "w", names=["a", "b", "c"])
    codes = rng.standard_normal((2, 6)).astype(np.float32)
    out = joint_edit(codes, d, {"a": 1.0, "c": -2.0})
    np.testing.assert_allclose(out, codes + d.vector("a") - 2.0 * d.vector("c"), atol=1e-6)
    steps = joint_edit(codes, d, [1.0, 0.0, 0.0], steps=[0.0, 0.5, 1.0])
    assert steps.shape == (2, 3, 6)
    np.testing.assert_allclose(steps[:, 1], codes + 0.5 * d.vector("a"), atol=1e-6)


def test_style_mix(rng):
    a = rng.standard_normal((3, 5, 4)).astype(np.float32)
    b = rng.standard_normal((3, 5, 4)).astype(np.float32)
    out = style_mix(a, b, "3-4")
    np.testing.assert_array_equal(out[:, :3], a[:, :3])
    np.testing.assert_array_equal(out[:, 3:], b[:, 3:])
    w = rng.standard_normal((1, 4)).astype(np.float32)
    out_w = style_mix(a, w, [0])
    np.testing.assert_array_equal(out_w[:, 0], np.broadcast_to(w, (3, 4)))
    with pytest.raises(ShapeError):
        style_mix(a[:, 0], b, [0])


def test_jitter(rng):
    d = Directions(unit(rng, 1, 4), "w", layers=[0])
    wp = rng.standard_normal((2, 5, 4)).astype(np.float32)
    a = jitter(wp, d, [0.0, 1.0], rng=3, noise_std=0.1, noise_layers=[4])
    b = jitter(wp, d, [0.0, 1.0], rng=3, noise_std=0.1, noise_layers=[4])
    c = jitter(wp, d, [0.0, 1.0], rng=4, noise_std=0.1, noise_layers=[4])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    base = interpolate(wp, d, [0.0, 1.0])
    np.testing.assert_array_equal(a[:, :, :4], base[:, :, :4])  # noise only on layer 4
    assert np.abs(a[:, :, 4] - base[:, :, 4]).max() > 0
    pool = rng.standard_normal((7, 5, 4)).astype(np.float32)
    r = jitter(wp, d, [0.0, 1.0, 2.0], rng=0, resample_codes=pool, resample_layers="3-4")
    for i in range(2):
        for j in range(3):
            assert any(np.array_equal(r[i, j, 3:], p[3:]) for p in pool)
    np.testing.assert_array_equal(r[:, :, :3], interpolate(wp, d, [0.0, 1.0, 2.0])[:, :, :3])


def test_edit_errors(rng):
    d = Directions(unit(rng, 1, 4), "w")
    with pytest.raises(ShapeError, match="dim"):
        interpolate(np.zeros((2, 5)), d, [1.0])
    with pytest.raises(ShapeError, match="W\\+"):
        interpolate(np.zeros((2, 4)), Directions(unit(rng, 1, 3, 4), "wp"), [1.0])
    with pytest.raises(ShapeError, match="NaN"):
        interpolate(np.full((2, 4), np.nan), d, [1.0])
    with pytest.raises(ShapeError, match="distances"):
        interpolate(np.zeros((2, 4)), d, [])
    with pytest.raises(ShapeError, match="layers"):
        interpolate(np.zeros((2, 3, 4)), d, [1.0], layers=[7])


def test_render_grid_and_gif(tmp_path, rng):
    from PIL import Image

    g = ToyGenerator(z_dim=4, num_ws=4)
    d = Directions(np.eye(4, dtype=np.float32)[:1], "w")
    wp = g.sample(3, space="wp", rng=0)
    codes = interpolate(wp, d, np.linspace(-2, 2, 5))
    grid = render_edit_grid(g, codes, "wp", path=tmp_path / "grid.png", batch_size=4)
    assert grid.shape == (3 * (4 + 2) + 2, 5 * (4 + 2) + 2, 3) and grid.dtype == np.uint8
    assert np.array_equal(np.asarray(Image.open(tmp_path / "grid.png")), grid)
    # the edited pixel group (attribute A) brightens along each row
    a_pixels = grid[2, [2 + j * 6 for j in range(5)], 0].astype(int)
    assert (np.diff(a_pixels) >= 0).all() and a_pixels[-1] > a_pixels[0]
    gif = render_edit_gif(g, codes, "wp", tmp_path / "edit.gif", boomerang=True)
    with Image.open(gif) as im:
        assert im.n_frames == 2 * 5 - 2
