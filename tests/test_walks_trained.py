"""GANalyze and GAN steerability: known answers on toy generators, walks as model folders, exact
resume, the quantification and the bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests._toy_generator import ToyGenerator

import latentatlas
from latentatlas.analysis.ganalyze import ganalyze_curve
from latentatlas.analysis.steerability import steerability_curve, steerability_score
from latentatlas.directions import (
    GANalyze,
    GANalyzeTransformer,
    LinearSteerWalk,
    NonlinearSteerWalk,
    Steerability,
)
from latentatlas.directions.steerability import color, masked_l2, rotate, shift_x, shift_y, zoom
from latentatlas.models.base import Generator
from latentatlas.scoring.base import CallableScorer, ScoringError
from latentatlas.scoring.pixels import ObjectMomentsScorer
from latentatlas.utils.errors import OptionError, ShapeError

RES = 16


class BlobGenerator(Generator):
    """1 x 16 x 16 images of a Gaussian blob. ``shifts=True``: its centre is x = 8 + 2 z0 px
    (a shift_x of a half-widths is exactly z0 += 4 a), y = 8 + 2 z1 px; else it sits at the
    centre and z0 / z1 change its brightness and width. z2, z3 are unused."""

    def __init__(self, shifts: bool = True) -> None:
        super().__init__()
        self.z_dim, self.img_resolution, self.img_channels = 4, RES, 1
        self.shifts = shifts

    def synthesize(self, latent, space="z", c=None, noise_mode="const"):
        z = self.check_latent(latent, space)
        pix = torch.arange(RES, dtype=torch.float32) + 0.5
        if self.shifts:
            cx, cy = 8 + 2 * z[:, 0], 8 + 2 * z[:, 1]
            amp, sig = torch.full_like(cx, 0.9), torch.full_like(cx, 1.5)
        else:
            cx = cy = torch.full_like(z[:, 0], 8.0)
            amp, sig = 0.6 + 0.3 * torch.tanh(z[:, 0]), 1.5 + 0.5 * torch.tanh(z[:, 1])
        gx = torch.exp(-((pix[None] - cx[:, None]) ** 2) / (2 * sig[:, None] ** 2))
        gy = torch.exp(-((pix[None] - cy[:, None]) ** 2) / (2 * sig[:, None] ** 2))
        blob = gy[:, :, None] * gx[:, None, :]
        return (-1 + 2 * amp[:, None, None] * blob)[:, None]


class LinearImageGenerator(Generator):
    """Images [N, 1, 1, d (+ c_dim)]: z / 16, then the label; optional classes."""

    def __init__(self, z_dim: int = 8, c_dim: int = 0) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.img_resolution, self.img_channels = z_dim, c_dim, 1, 1

    def synthesize(self, latent, space="z", c=None, noise_mode="const"):
        z = self.check_latent(latent, space)
        parts = [z / 16] + ([self._check_c(c, z.shape[0])] if self.c_dim else [])
        return torch.cat(parts, 1)[:, None, None, :]


def _cos(a, b) -> float:
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


GRAD = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 0.0, -1.0, 0.25])


def linear_assessor(grad=GRAD) -> CallableScorer:
    g = torch.tensor(grad, dtype=torch.float32)
    return CallableScorer(lambda x: x.flatten(1)[:, : len(grad)] @ g, ["score"],
                          differentiable=True, clamp="none")


# --------------------------------------------------------------------------- GANalyze
def test_ganalyze_finds_the_gradient_of_a_linear_assessor():
    finder = GANalyze("score", steps=300, batch_size=16, lr=0.05)
    finder.fit(generator=LinearImageGenerator(), scorer=linear_assessor(), rng=0)
    assert abs(_cos(finder.walk_.theta.detach(), GRAD)) >= 0.95
    assert _cos(finder.directions_.vectors, GRAD) >= 0.95
    assert finder.losses_[-1] < finder.losses_[0]


def test_ganalyze_renormalises_per_sample_not_per_batch():
    walk = GANalyzeTransformer(3)
    with torch.no_grad():
        walk.theta.copy_(torch.tensor([[1.0, 0.0, 0.0]]))
    x = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 10.0]])
    out = walk.walk(x, 0.5)
    torch.testing.assert_close(out.norm(dim=1), x.norm(dim=1))
    # Each code's result does not depend on the other codes of the batch.
    torch.testing.assert_close(out[:1], walk.walk(x[:1], 0.5))
    torch.testing.assert_close(out[0], torch.tensor([0.5, 1.0, 0.0]) / np.hypot(0.5, 1.0))


def test_ganalyze_class_dependent_theta():
    g1 = -np.roll(GRAD, 3)
    gens = LinearImageGenerator(c_dim=2)
    t0, t1 = torch.tensor(GRAD, dtype=torch.float32), torch.tensor(g1, dtype=torch.float32)

    def assess(x):
        f = x.flatten(1)
        return (f[:, :8] @ t0) * f[:, 8] + (f[:, :8] @ t1) * f[:, 9]

    scorer = CallableScorer(assess, ["score"], differentiable=True, clamp="none")
    finder = GANalyze(steps=400, batch_size=16, lr=0.05, class_dependent=True)
    finder.fit(generator=gens, scorer=scorer, rng=1)
    theta = finder.walk_.theta.detach().numpy()
    assert _cos(theta[0], GRAD) >= 0.95 and _cos(theta[1], g1) >= 0.95
    assert finder.directions_.names == ["score|class0", "score|class1"]


def test_ganalyze_bad_inputs_are_one_line_errors():
    gen = LinearImageGenerator()
    with pytest.raises(ScoringError, match="unknown assessor column 'Smiling'"):
        GANalyze("Smiling", steps=1).fit(generator=gen, scorer=linear_assessor())
    numpy_scorer = CallableScorer(lambda x: x.flatten(1)[:, :1].numpy(), ["score"], clamp="none")
    with pytest.raises(ScoringError, match="differentiable"):
        GANalyze("score", steps=1).fit(generator=gen, scorer=numpy_scorer)
    moments = ObjectMomentsScorer(threshold=0.5)
    with pytest.raises(ScoringError, match="differentiable"):
        GANalyze("area", steps=1).fit(generator=gen, scorer=moments)
    with pytest.raises(OptionError, match="conditional"):
        GANalyze("score", steps=1, class_dependent=True).fit(generator=gen,
                                                             scorer=linear_assessor())


def test_ganalyze_curve_bigger_step_and_iterative():
    finder = GANalyze("score", steps=300, batch_size=16, lr=0.05)
    gen = LinearImageGenerator()
    finder.fit(generator=gen, scorer=linear_assessor(), rng=0)
    for mode in ("bigger_step", "iterative"):
        res = ganalyze_curve(gen, finder.walk_, linear_assessor(), "score", alpha=0.1,
                             mode=mode, n=128)
        assert res["k"] == [-3, -2, -1, 0, 1, 2, 3]
        curve = np.asarray(res["assessor_curve"])
        assert np.all(np.diff(curve) > 0)
        # Trained for a score change of a per unit a.
        assert res["slope"] == pytest.approx(1.0, abs=0.15)
        assert res["side_effects"][0]["column"] == "score"


def test_ganalyze_walk_saves_and_loads(tmp_path):
    walk = GANalyzeTransformer(8, n_classes=0)
    with torch.no_grad():
        walk.theta.normal_()
    walk.save(tmp_path / "w")
    loaded = latentatlas.load(str(tmp_path / "w"))
    x = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    np.testing.assert_array_equal(loaded.walk(x, 0.3), walk.walk(x, 0.3))


# --------------------------------------------------------------------------- transforms
def test_transforms_move_content_as_documented():
    gen = BlobGenerator()
    z = torch.zeros(1, 4)
    img = gen.synthesize(z)
    mom = ObjectMomentsScorer()
    # shift_x 0.25 half-widths = 2 px = z0 + 1.
    out, mask = shift_x(img, 0.25)
    torch.testing.assert_close(out, gen.synthesize(torch.tensor([[1.0, 0, 0, 0]])), atol=2e-3,
                               rtol=0)
    assert mask[0, 0, :, :2].sum() == 0 and mask[0, 0, :, 2:].min() == 1
    out, _ = shift_y(img, -0.25)
    torch.testing.assert_close(out, gen.synthesize(torch.tensor([[0, -1.0, 0, 0]])), atol=2e-3,
                               rtol=0)
    # zoom by 2: twice the width, four times the area (soft moments of a centred blob).
    area = mom(img)[0, 2]
    out, mask = zoom(img, 1.0)
    assert float(mask.min()) == 1.0
    assert float(mom(out)[0, 2]) == pytest.approx(4 * float(area), rel=0.05)
    _, mask = zoom(img, -1.0)
    assert 0.2 < float(mask.mean()) < 0.3  # the centre half of each side is valid
    # rotate: a horizontal bar turns counter-clockwise by 45 a degrees.
    bar = -torch.ones(1, 1, RES, RES)
    bar[:, :, 7:9, 2:14] = 1.0
    out, _ = rotate(bar, 0.5)  # 22.5 degrees
    assert float(mom(out)[0, 3]) == pytest.approx(22.5, abs=2.0)
    # colour: + a per channel, mask of ones.
    rgb = torch.zeros(2, 3, 4, 4)
    out, mask = color(rgb, torch.tensor([0.1, -0.2, 0.3]))
    torch.testing.assert_close(out[:, :, 0, 0], torch.tensor([[0.1, -0.2, 0.3]] * 2))
    assert float(mask.min()) == 1.0
    with pytest.raises(ShapeError, match="RGB"):
        color(img, 0.1)


def test_masked_l2_ignores_invalid_pixels():
    a, b = torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    b[..., 0, 0] = 5.0
    mask = torch.ones(1, 1, 2, 2)
    assert float(masked_l2(a, b, mask)) == pytest.approx(25 / 4)
    mask[..., 0, 0] = 0
    assert float(masked_l2(a, b, mask)) == 0.0


# --------------------------------------------------------------------------- steerability
ALPHAS = np.linspace(-0.5, 0.5, 11)


def _shift_walk(gen, **kw):
    finder = Steerability("shift_x", steps=200, batch_size=16, lr=0.05, **kw)
    return finder.fit(generator=gen, rng=0)


def test_linear_steer_walk_recovers_the_shift_coordinate_and_scores_one():
    gen = BlobGenerator()
    finder = _shift_walk(gen)
    w = finder.walk_.w.detach().numpy()[0]
    assert abs(_cos(w, [1, 0, 0, 0])) >= 0.95
    assert w[0] == pytest.approx(4.0, rel=0.1)  # a half-widths = 4 a in z0
    res = steerability_curve(gen, finder.walk_, "shift_x", ALPHAS, ObjectMomentsScorer(),
                             "centroid_x", n=32)
    assert res["score"]["range_fraction"] == pytest.approx(1.0)
    assert res["score"]["reach_fraction"] >= 0.95
    achieved = [r["achieved"] for r in res["curve"]]
    assert achieved[-1] == pytest.approx(0.22, abs=0.05)  # ~ a quarter of the width


def test_steerability_score_is_zero_on_a_generator_that_cannot_shift():
    gen = BlobGenerator(shifts=False)
    finder = _shift_walk(gen)
    res = steerability_curve(gen, finder.walk_, "shift_x", ALPHAS, ObjectMomentsScorer(),
                             "centroid_x", n=32, side_scorer=ObjectMomentsScorer())
    assert res["score"]["range_fraction"] == 0.0
    assert res["score"]["reach_fraction"] <= 0.05
    assert {r["column"] for r in res["side_effects"]} == set(ObjectMomentsScorer.names)


def test_steerability_score_definition():
    a = np.array([-2.0, -1, 0, 1, 2])
    s = steerability_score(a, 2 * a, [-2.0, -2.0, 0, 2.1, 4.0], tol=0.1)
    assert s["range"] == [-1.0, 2.0] and s["range_fraction"] == pytest.approx(0.75)
    assert s["reach_fraction"] == pytest.approx(0.75)
    assert steerability_score(a, 2 * a, 0 * a)["range_fraction"] == 0.0


def test_nonlinear_steer_walk_learns_the_shift_and_reverse():
    gen = BlobGenerator()
    finder = Steerability("shift_x", walk="nonlinear", steps=300, batch_size=16, lr=0.01,
                          n_steps=4, hidden=32)
    finder.fit(generator=gen, rng=0)
    walk = finder.walk_
    assert isinstance(walk, NonlinearSteerWalk)
    res = steerability_curve(gen, walk, "shift_x", np.linspace(-0.5, 0.5, 9),
                             ObjectMomentsScorer(), "centroid_x", n=32)
    ach = np.array([r["achieved"] for r in res["curve"]])
    tgt = np.array([r["target"] for r in res["curve"]])
    assert np.all(np.diff(ach) > 0)  # the reverse network walks the other way
    # Norm preservation limits it on this 4-d z: codes of small norm cannot move z0 by 2.
    assert res["score"]["reach_fraction"] >= 0.6 and res["score"]["range_fraction"] >= 0.5
    assert np.abs(ach - tgt).max() < 0.1
    # Norm preservation in z: every step keeps the code's norm.
    z = torch.randn(8, 4)
    torch.testing.assert_close(walk.walk(z, 0.5).norm(dim=1), z.norm(dim=1))


def test_nonlinear_walk_in_w_keeps_the_distance_to_w_avg():
    gen = ToyGenerator()
    walk = NonlinearSteerWalk(gen.w_dim, "w", hidden=8, step_alpha=0.1)
    with torch.no_grad():
        walk.center.copy_(gen.w_avg)
        for p in walk.parameters():
            p.normal_()
    w = gen.sample(6, "w", rng=0)
    out = walk.walk(w, torch.tensor([0.3, -0.2, 0.0, 0.1, -0.1, 0.5]))
    torch.testing.assert_close((out - gen.w_avg).norm(dim=1), (w - gen.w_avg).norm(dim=1))
    torch.testing.assert_close(out[2], w[2])
    assert walk.steps_of([0.3, -0.2, 0.04], 3).tolist() == [3, -2, 0]


def test_steer_walks_save_and_load_by_path(tmp_path):
    gen = BlobGenerator()
    for walk_type in ("linear", "nonlinear"):
        walk = Steerability("shift_x", walk=walk_type, steps=3).fit(generator=gen, rng=0).walk_
        walk.save(tmp_path / walk_type)
        loaded = latentatlas.load(str(tmp_path / walk_type))
        assert type(loaded) is type(walk)
        x = np.random.default_rng(1).standard_normal((4, 4)).astype(np.float32)
        np.testing.assert_array_equal(loaded.walk(x, 0.4), walk.walk(x, 0.4))


def test_colour_walk_has_one_slider_per_channel():
    walk = LinearSteerWalk(5, sliders=3)
    with torch.no_grad():
        walk.w.copy_(torch.eye(3, 5))
    x = torch.zeros(2, 5)
    out = walk.walk(x, torch.tensor([[0.1, 0.2, 0.3], [1.0, 0.0, 0.0]]))
    torch.testing.assert_close(out[:, :3], torch.tensor([[0.1, 0.2, 0.3], [1.0, 0.0, 0.0]]))
    torch.testing.assert_close(walk.walk(x, 0.5)[0, :3], torch.full((3,), 0.5))


def test_training_resumes_exactly(tmp_path):
    gen = BlobGenerator()
    full = Steerability("shift_x", steps=12, batch_size=4, lr=0.05).fit(generator=gen, rng=3)
    ck = tmp_path / "ck"
    Steerability("shift_x", steps=7, batch_size=4, lr=0.05, checkpoint=ck).fit(generator=gen,
                                                                               rng=3)
    resumed = Steerability("shift_x", steps=12, batch_size=4, lr=0.05, checkpoint=ck)
    resumed.fit(generator=gen, rng=3)
    torch.testing.assert_close(resumed.walk_.w, full.walk_.w, rtol=0, atol=0)
    assert resumed.losses_ == full.losses_
    # GANalyze shares the loop.
    a = GANalyze("score", steps=6, lr=0.05).fit(generator=LinearImageGenerator(),
                                                scorer=linear_assessor(), rng=2)
    GANalyze("score", steps=4, lr=0.05, checkpoint=tmp_path / "g").fit(
        generator=LinearImageGenerator(), scorer=linear_assessor(), rng=2)
    b = GANalyze("score", steps=6, lr=0.05, checkpoint=tmp_path / "g").fit(
        generator=LinearImageGenerator(), scorer=linear_assessor(), rng=2)
    torch.testing.assert_close(a.walk_.theta, b.walk_.theta, rtol=0, atol=0)


def test_steer_bad_inputs_are_one_line_errors():
    with pytest.raises(ShapeError, match="RGB generator"):
        Steerability("color").fit(generator=BlobGenerator(), rng=0)
    with pytest.raises(OptionError, match="unknown transform"):
        Steerability("shear").fit(generator=BlobGenerator(), rng=0)
    with pytest.raises(OptionError, match="walk must be"):
        Steerability("zoom", walk="spline").fit(generator=BlobGenerator(), rng=0)
    with pytest.raises(OptionError, match="space"):
        Steerability("zoom", space="w").fit(generator=BlobGenerator(), rng=0)


def test_colourfulness_is_a_differentiable_assessor():
    from latentatlas.scoring.pixels import ColourfulnessScorer

    s = ColourfulnessScorer()
    red = torch.zeros(1, 3, 4, 4)
    red[:, 0] = 1.0
    red[:, 1:] = -1.0
    assert float(s(red)[0, 0]) == pytest.approx(0.3 * np.hypot(1.0, 0.5), abs=1e-5)
    assert float(s(torch.zeros(1, 3, 4, 4))[0, 0]) == pytest.approx(0.0, abs=1e-5)
    x = torch.zeros(2, 3, 4, 4, requires_grad=True)
    s(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    # Half red, half green: the spread term.
    img = -torch.ones(1, 3, 2, 2)
    img[:, 0, 0] = 1.0
    img[:, 1, 1] = 1.0
    sd = 1.0  # rg = +-1 (sd 1, mean 0); yb = 0.5 everywhere (sd 0, mean 0.5)
    assert float(s(img)[0, 0]) == pytest.approx(sd + 0.3 * 0.5, abs=1e-5)


def test_training_leaves_the_generator_trainable_flags_alone():
    gen = ToyGenerator()
    gen.extra = torch.nn.Linear(2, 2)  # a trainable parameter
    flat = CallableScorer(lambda x: x.flatten(1)[:, :1], ["p0"], differentiable=True)
    GANalyze("p0", steps=1).fit(generator=gen, scorer=flat, rng=0)
    Steerability("shift_x", steps=1).fit(generator=gen, rng=0)
    assert all(p.requires_grad for p in gen.extra.parameters())


def test_orientation_changes_are_wrapped():
    from latentatlas.analysis.steerability import _wrap

    np.testing.assert_allclose(_wrap(np.array([170.0, -170.0, 30.0, 90.0]), 180.0),
                               [-10.0, 10.0, 30.0, -90.0])
