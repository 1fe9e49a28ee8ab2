"""The walk protocol: Directions as the linear walk, the reference NonlinearWalk (a model folder),
and editing / rendering / HiGAN re-scoring with any walk, on the toy generator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import latentatlas
from _toy_generator import ATTRIBUTES, ToyGenerator, toy_scorer
from latentatlas.analysis import rescore
from latentatlas.directions import (
    Directions,
    NonlinearWalk,
    Walk,
    as_walk,
    is_walk,
    restrict_layers,
    walk_steps,
)
from latentatlas.editing import interpolate, jitter, move, render_edit_gif, render_edit_grid
from latentatlas.utils.errors import ShapeError


def unit(rng, *shape):
    v = rng.standard_normal(shape)
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


class ShiftDim0:
    """A walk with a known result: adds alpha to dim 0 of W+ layers 2-3 (or the given layers).
    On the toy generator, A = 0.5 (wp2_0 + wp3_0) + 0.1 wp1_0 grows by exactly alpha; B and C
    do not move."""

    space = "wp"
    name = "A"

    def walk(self, latent, alpha, layers=None):
        arr = latent.numpy() if isinstance(latent, torch.Tensor) else latent
        out = np.array(arr, dtype=np.float32, copy=True)
        sel = [2, 3] if layers is None else list(layers)
        out[:, sel, 0] += np.asarray(alpha, np.float32).reshape(-1, 1)
        return torch.from_numpy(out) if isinstance(latent, torch.Tensor) else out


# --------------------------------------------------------------------------- protocol
def test_protocol_membership(rng):
    d = Directions(unit(rng, 2, 4), "w")
    assert isinstance(d, Walk) and isinstance(NonlinearWalk(4), Walk) and is_walk(ShiftDim0())
    assert not is_walk(np.zeros(3)) and not isinstance(np.zeros(3), Walk)
    with pytest.raises(ShapeError, match="pick one"):
        as_walk(d)
    assert as_walk(d, key=1).equals(d[1])
    with pytest.raises(TypeError, match="not a walk"):
        as_walk(np.zeros(3))
    with pytest.raises(ShapeError, match="key="):
        as_walk(ShiftDim0(), key=0)


# --------------------------------------------------------------------------- the linear walk
def test_linear_walk_equals_move_bit_for_bit(rng):
    d = Directions(unit(rng, 3, 8), "w", names=["a", "b", "c"], layers=[None, [1, 2], "0-1"])
    z = rng.standard_normal((5, 8)).astype(np.float32)
    wp = rng.standard_normal((5, 4, 8)).astype(np.float32)
    per_code = np.linspace(-2, 3, 5)
    assert np.array_equal(d["a"].walk(z, 1.7), move(z, d, 1.7, key="a"))
    assert np.array_equal(d.walk(z, per_code, key=0), move(z, d, per_code, key=0))
    for key in ("a", "b", "c"):  # the direction's own layer selection by default
        assert np.array_equal(d.walk(wp, -1.25, key=key), move(wp, d, -1.25, key=key))
        assert np.array_equal(d.walk(wp, 2.0, layers=[3], key=key),
                              move(wp, d, 2.0, key=key, layers=[3]))
    moved = d.walk(wp, 2.0, key="b")
    assert np.array_equal(moved[:, [0, 3]], wp[:, [0, 3]])  # only layers 1-2 move
    t = torch.from_numpy(wp)
    out = d.walk(t, 0.5, key="c")
    assert isinstance(out, torch.Tensor) and torch.equal(out, move(t, d, 0.5, key="c"))
    layerwise = Directions(unit(rng, 1, 4, 8), "wp", layers=[1, 3])
    assert np.array_equal(layerwise.walk(wp, 1.5), move(wp, layerwise, 1.5))
    with pytest.raises(ShapeError, match="pick one"):
        d.walk(z, 1.0)
    with pytest.raises(ShapeError, match="alpha needs 1 or 5"):
        d.walk(z, [1.0, 2.0], key=0)


def test_walk_steps_and_restrict_layers(rng):
    d = Directions(unit(rng, 1, 6), "z")
    z = rng.standard_normal((3, 6)).astype(np.float32)
    steps = walk_steps(d, z, [-1.0, 0.0, 2.0])
    assert steps.shape == (3, 3, 6)
    assert np.array_equal(steps, interpolate(z, d, [-1.0, 0.0, 2.0], mode="offset"))
    wp = rng.standard_normal((2, 4, 6)).astype(np.float32)
    out = restrict_layers(wp, wp + 1.0, "1-2")
    assert np.array_equal(out[:, [0, 3]], wp[:, [0, 3]])
    assert np.array_equal(out[:, 1:3], wp[:, 1:3] + 1.0)
    with pytest.raises(ShapeError, match="W\\+ codes"):
        restrict_layers(z, z, [0])


# --------------------------------------------------------------------------- NonlinearWalk
def constant_field_walk(n: np.ndarray, **kw) -> NonlinearWalk:
    walk = NonlinearWalk(n.size, **kw)
    last = walk.field[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.from_numpy(n))
    return walk


def test_nonlinear_walk_known_answers(rng):
    n = unit(rng, 6)
    walk = constant_field_walk(n, step_size=0.5)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    assert np.array_equal(walk.walk(x, 0.0), x)  # alpha 0: unchanged, bit for bit
    # a constant field is the linear walk: 6 Euler steps of 0.5 n
    np.testing.assert_allclose(walk.walk(x, 3.0), x + 3.0 * n, atol=1e-5)
    np.testing.assert_allclose(walk.walk(x, -1.2), x - 1.2 * n, atol=1e-5)
    # per-code amounts: each code's result does not depend on the other codes' amounts
    curved = NonlinearWalk(6, hidden=16, depth=2, step_size=0.25)
    alphas = np.array([0.0, 0.3, -2.0, 1.1], np.float32)
    together = curved.walk(x, alphas)
    assert np.array_equal(together[0], x[0])
    for i in range(4):
        np.testing.assert_allclose(together[i], curved.walk(x[i : i + 1], alphas[i])[0],
                                   rtol=1e-5, atol=1e-6)
    # W+ codes: each layer's code moves through the field; a selection moves only those layers
    wp = rng.standard_normal((3, 4, 6)).astype(np.float32)
    full = curved.walk(wp, 1.5)
    for layer in range(4):
        np.testing.assert_allclose(full[:, layer], curved.walk(wp[:, layer], 1.5), atol=1e-6)
    part = curved.walk(wp, 1.5, layers=[1, 2])
    assert np.array_equal(part[:, [0, 3]], wp[:, [0, 3]])
    np.testing.assert_allclose(part[:, 1:3], full[:, 1:3], atol=1e-6)
    with pytest.raises(ShapeError, match="walk dim 6"):
        curved.walk(np.zeros((2, 5)), 1.0)
    with pytest.raises(ShapeError, match="W\\+ codes"):
        curved.walk(x, 1.0, layers=[0])


def test_nonlinear_walk_is_differentiable_for_torch_inputs():
    torch.manual_seed(0)
    walk = NonlinearWalk(4, hidden=8)
    out = walk.walk(torch.randn(3, 4), 1.0)
    out.pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in walk.parameters())


def test_nonlinear_walk_saves_as_a_model_folder_and_loads_back(tmp_path, rng):
    torch.manual_seed(1)
    walk = NonlinearWalk(5, space="wp", hidden=8, depth=2, step_size=0.3, name="smile")
    folder = walk.save(tmp_path / "smile_walk", metadata={"trained_on": "nothing"})
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["class"] == "NonlinearWalk"
    assert cfg["kwargs"] == {"dim": 5, "space": "wp", "hidden": 8, "depth": 2, "step_size": 0.3,
                             "name": "smile"}
    assert (folder / "model.safetensors").is_file()
    loaded = latentatlas.load(folder)
    assert isinstance(loaded, NonlinearWalk) and loaded.model_metadata == {"trained_on": "nothing"}
    assert (loaded.space, loaded.name) == ("wp", "smile")
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    for alpha in (0.0, 0.7, -2.5, np.array([1.0, -1.0, 0.1, 3.0])):
        assert np.array_equal(loaded.walk(x, alpha), walk.walk(x, alpha))
    with torch.no_grad():
        t = torch.from_numpy(x)
        assert torch.equal(loaded.walk(t, 1.3, layers="0-1"), walk.walk(t, 1.3, layers="0-1"))


def test_load_registers_walk_classes_in_a_fresh_process(tmp_path):
    """latentatlas.load imports the directions package only for classes models/ does not know."""
    NonlinearWalk(3, name="w3").save(tmp_path / "walk")
    code = ("import sys, latentatlas; latentatlas.load('mnist'); "
            "print('latentatlas.directions' in sys.modules); w = latentatlas.load(sys.argv[1]); "
            "print(type(w).__name__, w.name, 'latentatlas.directions' in sys.modules)")
    src = os.path.dirname(os.path.dirname(latentatlas.__file__))
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "walk")], env=env,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.split() == ["False", "NonlinearWalk", "w3", "True"]


# --------------------------------------------------------------------------- editing with walks
@pytest.fixture
def toy():
    return ToyGenerator(z_dim=6, num_ws=4)


def test_edits_accept_any_walk(toy):
    codes = toy.sample(5, space="wp", rng=0).numpy()
    walk = ShiftDim0()
    assert np.array_equal(move(codes, walk, 2.0), walk.walk(codes, 2.0))
    steps = interpolate(codes, walk, [-1.0, 0.0, 2.0])
    assert steps.shape == (5, 3, 4, 6)
    assert np.array_equal(steps[:, 1], codes) and np.array_equal(steps[:, 2], walk.walk(codes, 2.0))
    a = toy_scorer(toy.synthesize(torch.from_numpy(steps[:, 2]), space="wp"))
    a0 = toy_scorer(toy.synthesize(torch.from_numpy(codes), space="wp"))
    np.testing.assert_allclose(a - a0, np.tile([2.0, 0.0, 0.0], (5, 1)), atol=1e-5)
    assert np.array_equal(move(codes, walk, 1.0, layers=[1])[:, 1, 0], codes[:, 1, 0] + 1.0)
    jit = jitter(codes, walk, [0.0, 1.0], rng=0, noise_std=0.0)
    assert np.array_equal(jit, interpolate(codes, walk, [0.0, 1.0]))
    with pytest.raises(ShapeError, match="Directions only"):
        move(codes, walk, 1.0, truncation_psi=0.7)
    with pytest.raises(ShapeError, match="Directions only"):
        move(codes, walk, 1.0, key=2)
    nonlinear = NonlinearWalk(6, space="wp")
    out = move(torch.from_numpy(codes), nonlinear, 0.5)  # edits never track gradients
    assert isinstance(out, torch.Tensor) and not out.requires_grad


def test_render_grid_and_gif_accept_a_walk(toy, tmp_path, rng):
    codes = toy.sample(3, space="wp", rng=1).numpy()
    alphas = [-1.0, 0.0, 1.5]
    walk = ShiftDim0()
    grid = render_edit_grid(toy, codes, "wp", walk=walk, alphas=alphas, padding=1)
    assert np.array_equal(grid, render_edit_grid(toy, interpolate(codes, walk, alphas), "wp",
                                                 padding=1))
    d = Directions(unit(rng, 1, 6), "w", layers=[0, 1])
    by_walk = render_edit_grid(toy, codes, "wp", walk=d, alphas=alphas)
    by_codes = render_edit_grid(toy, interpolate(codes, d, alphas, mode="offset"), "wp")
    assert np.array_equal(by_walk, by_codes)
    gif_a = render_edit_gif(toy, codes, "wp", tmp_path / "a.gif", walk=walk, alphas=alphas,
                            boomerang=False)
    gif_b = render_edit_gif(toy, interpolate(codes, walk, alphas), "wp", tmp_path / "b.gif",
                            boomerang=False)
    assert gif_a.read_bytes() == gif_b.read_bytes()
    assert Image.open(gif_a).n_frames == 3
    with pytest.raises(ShapeError, match="needs alphas"):
        render_edit_grid(toy, codes, "wp", walk=walk)
    with pytest.raises(ShapeError, match="need walk"):
        render_edit_grid(toy, codes[:, None], "wp", alphas=alphas)


def test_rescore_accepts_a_walk_with_known_effects(toy):
    lam = 2.0
    res = rescore(toy, ShiftDim0(), toy_scorer, ATTRIBUTES, n=40, lam=lam, progress=False)
    assert res.direction_names == ["A"] and res.targets == [0]
    assert res.config["walk_compensation"] is False
    # the all-layer column moves every layer: A = 0.5 (wp2 + wp3) + 0.1 wp1 grows by 1.1 lam
    np.testing.assert_allclose(res.delta_all[0], [1.1 * lam, 0.0, 0.0], atol=1e-5)
    # one layer at a time: A = 0.5 (wp2 + wp3) + 0.1 wp1, so layer effects 0, 0.1, 0.5, 0.5
    np.testing.assert_allclose(res.delta_layers[0, :, 0], [0.0, 0.1 * lam, 0.5 * lam, 0.5 * lam],
                               atol=1e-5)
    assert res.layer_ranking("A")[:2] == [2, 3]
    # the same edit as a Directions (e0) scores the same
    d = Directions(np.eye(6, dtype=np.float32)[:1], "w", names=["A"], layers=[2, 3])
    ref = rescore(toy, d, toy_scorer, ATTRIBUTES, n=40, lam=lam, progress=False)
    np.testing.assert_allclose(res.scores, ref.scores, atol=1e-5)
    # several walks by name, non-linear ones included
    both = rescore(toy, {"shift": ShiftDim0(), "mlp": NonlinearWalk(6, space="wp")}, toy_scorer,
                   ATTRIBUTES, n=8, lam=lam, layers=None, targets={"shift": "A"},
                   progress=False)
    assert both.direction_names == ["shift", "mlp"] and both.scores.shape == (2, 8, 2, 3)
    np.testing.assert_allclose(both.delta_all[0], [1.1 * lam, 0.0, 0.0], atol=1e-5)
    with pytest.raises(ShapeError, match="unique"):
        rescore(toy, [ShiftDim0(), ShiftDim0()], toy_scorer, ATTRIBUTES, n=4, progress=False)
