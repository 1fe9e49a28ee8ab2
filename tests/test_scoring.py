"""Scorers against closed forms: pixel statistics, moments of ellipses, morphometry of strokes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from latentatlas.models.predictors import AttributePredictor
from latentatlas.scoring import (
    CallableScorer,
    CombinedScorer,
    MorphometryScorer,
    ObjectMomentsScorer,
    PixelStatsScorer,
    PredictorScorer,
    ScoringError,
    make_scorer,
    zhang_suen_thinning,
)
from latentatlas.utils.errors import ShapeError


def constant(rgb, n=2, size=8) -> torch.Tensor:
    """A batch of constant images of colour ``rgb`` (values in [0, 1]) in the [-1, 1] convention."""
    c = torch.tensor(rgb, dtype=torch.float32).view(1, -1, 1, 1)
    return (c * 2 - 1).expand(n, -1, size, size).contiguous()


# ----------------------------------------------------------------------------- pixel statistics
@pytest.mark.parametrize(
    "rgb, hue",
    [((1, 0, 0), 0.0), ((1, 1, 0), 1 / 6), ((0, 1, 0), 1 / 3), ((0, 1, 1), 1 / 2),
     ((0, 0, 1), 2 / 3), ((1, 0, 1), 5 / 6), ((1, 0.5, 0), 1 / 12)],
)
def test_pixel_stats_constant_colours(rgb, hue):
    r, g, b = rgb
    scores = PixelStatsScorer(3)(constant(rgb))
    assert scores.shape == (2, 7)
    expected = [0.299 * r + 0.587 * g + 0.114 * b, r, g, b, hue,
                (max(rgb) - min(rgb)) / max(rgb), 0.0]
    torch.testing.assert_close(scores[0], torch.tensor(expected), atol=1e-6, rtol=0)


def test_pixel_stats_grey_and_contrast():
    s = PixelStatsScorer(3)
    grey = s(constant((0.25, 0.25, 0.25)))[0]
    torch.testing.assert_close(grey, torch.tensor([0.25, 0.25, 0.25, 0.25, 0.0, 0.0, 0.0]),
                               atol=1e-6, rtol=0)
    black = s(constant((0, 0, 0)))[0]
    assert black[5] == 0.0  # saturation of black is 0, not NaN
    # Half black, half white: mean luma 0.5, RMS contrast 0.5.
    img = -torch.ones(1, 3, 4, 4)
    img[..., 2:] = 1.0
    out = s(img)[0]
    assert abs(out[0] - 0.5) < 1e-6 and abs(out[6] - 0.5) < 1e-6
    one = PixelStatsScorer(1)
    assert one.names == ["brightness", "contrast"]
    torch.testing.assert_close(one(constant((0.75,)))[0], torch.tensor([0.75, 0.0]))


def test_pixel_stats_differentiable_and_validated():
    x = (torch.rand(2, 3, 8, 8) * 1.8 - 0.9).requires_grad_(True)
    PixelStatsScorer(3)(x)[:, 0].sum().backward()
    # d(mean luma)/dx = weight / (2 * H * W) for every pixel of each channel.
    torch.testing.assert_close(x.grad[0, 1], torch.full((8, 8), 0.587 / 128))
    with pytest.raises(ShapeError, match="3 channel"):
        PixelStatsScorer(3)(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ShapeError, match="NaN"):
        PixelStatsScorer(3)(torch.full((1, 3, 4, 4), float("nan")))
    with pytest.raises(ShapeError, match=r"reach 255.*127.5"):
        PixelStatsScorer(3)(torch.full((1, 3, 4, 4), 255.0))
    # Slight generator overshoot is clamped: 1.2 scores like 1.0.
    torch.testing.assert_close(PixelStatsScorer(3)(torch.full((1, 3, 4, 4), 1.2)),
                               PixelStatsScorer(3)(torch.ones(1, 3, 4, 4)))


# ----------------------------------------------------------------------------- object moments
def ellipse(h, w, cx, cy, a, b, theta_deg) -> torch.Tensor:
    """Filled ellipse (pixel units, y down), rotated counter-clockwise on screen, in [-1, 1]."""
    th = math.radians(theta_deg)
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    dx, dy_up = xx - cx, -(yy - cy)
    u = dx * math.cos(th) + dy_up * math.sin(th)
    v = -dx * math.sin(th) + dy_up * math.cos(th)
    mask = ((u / a) ** 2 + (v / b) ** 2 <= 1).astype(np.float32)
    return torch.from_numpy(mask * 2 - 1)[None, None]


@pytest.mark.parametrize("theta", [30.0, -50.0, 0.0, 90.0])
def test_moments_of_ellipse(theta):
    h, w = 64, 80
    cx, cy, a, b = 34.0, 27.0, 18.0, 7.0
    img = ellipse(h, w, cx, cy, a, b, theta).expand(1, 3, h, w)
    for scorer in (ObjectMomentsScorer(), ObjectMomentsScorer(threshold=0.5)):
        x, y, area, orient = scorer(img)[0].tolist()
        assert abs(x - cx / w) < 2e-3 and abs(y - cy / h) < 2e-3
        assert abs(area - math.pi * a * b / (h * w)) < 0.03 * area  # pixel discretisation
        diff = (orient - theta + 90) % 180 - 90  # orientation is defined modulo 180 degrees
        assert abs(diff) < 1.0


def test_moments_light_background_and_empty():
    img = -ellipse(32, 32, 10, 20, 6, 3, 0.0)  # dark ellipse on white
    x, y, area, _ = ObjectMomentsScorer(background="light")(img)[0].tolist()
    assert abs(x - 10 / 32) < 2e-3 and abs(y - 20 / 32) < 2e-3
    empty = ObjectMomentsScorer()(-torch.ones(1, 1, 8, 8))[0].tolist()
    assert empty == [0.5, 0.5, 0.0, 0.0]


# ----------------------------------------------------------------------------- morphometry
def stroke(x0, y0, x1, y1, radius, size=28, supersample=8) -> np.ndarray:
    """Anti-aliased capsule (segment with round caps) of the given radius, [0, 1] intensity."""
    g = (np.arange(size * supersample) + 0.5) / supersample
    yy, xx = np.meshgrid(g, g, indexing="ij")
    p = np.stack([xx - x0, yy - y0], -1)
    d = np.array([x1 - x0, y1 - y0])
    t = np.clip((p @ d) / (d @ d), 0, 1)
    inside = np.linalg.norm(p - t[..., None] * d, axis=-1) <= radius
    return inside.astype(np.float32).reshape(size, supersample, size, supersample).mean((1, 3))


@pytest.mark.parametrize("thickness", [2.0, 3.0, 4.0, 5.0])
@pytest.mark.parametrize("slant", [0.0, 15.0, -20.0])
def test_morphometry_recovers_thickness_and_slant(thickness, slant):
    # A stroke from (14 - d/2, 22) to (14 + d/2, 6): 16 px tall, leaning right for slant > 0.
    d = math.tan(math.radians(slant)) * 16
    img = stroke(14 - d / 2, 22, 14 + d / 2, 6, thickness / 2)
    out = dict(zip(MorphometryScorer.names,
                   MorphometryScorer()(torch.from_numpy(img * 2 - 1)[None, None])[0].tolist(),
                   strict=True))
    assert abs(out["thickness"] - thickness) < 0.25
    assert abs(out["slant"] - slant) < 1.5
    # Height: 16 px of segment plus the two round caps.
    assert abs(out["height"] - (16 + thickness)) < 1.0
    # Area of a capsule: 2 r L + pi r^2 (L the segment length).
    r, length = thickness / 2, math.hypot(d, 16)
    assert abs(out["area"] - (2 * r * length + math.pi * r * r)) < 0.06 * out["area"]


def test_morphometry_width_of_upright_bar_and_empty_image():
    img = np.zeros((28, 28), np.float32)
    img[4:24, 10:16] = 1.0  # 6 px wide, 20 px tall
    out = MorphometryScorer()(torch.from_numpy(img * 2 - 1)[None, None])[0].tolist()
    area, length, thick, slant, width, height = out
    assert area == pytest.approx(120.0, abs=0.5) and width == pytest.approx(6.0, abs=0.01)
    assert height == pytest.approx(20.0, abs=0.01) and slant == pytest.approx(0.0, abs=1e-6)
    assert thick == pytest.approx(6.0, abs=0.3)
    assert MorphometryScorer()(-torch.ones(1, 1, 28, 28))[0].tolist() == [0.0] * 6


def test_zhang_suen_thins_a_bar_to_one_pixel():
    mask = np.zeros((12, 30), bool)
    mask[3:9, 2:28] = True
    skel = zhang_suen_thinning(mask)
    assert skel.any() and not (skel & ~mask).any()
    assert skel.sum(axis=0).max() == 1  # one pixel per column: a 1-px line
    assert skel[:, 8:22].sum() == 14


# ----------------------------------------------------------------------------- predictor scorers
def tiny_predictor() -> AttributePredictor:
    torch.manual_seed(0)
    heads = ["smile", {"name": "digit", "kind": "multiclass", "num_classes": 3},
             {"name": "age", "kind": "regression"}]
    return AttributePredictor(3, 16, heads, width=8, max_width=16, blocks_per_stage=0,
                              embedding_dim=12).eval()


def test_predictor_scorer_outputs_and_selection():
    model = tiny_predictor()
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    probs = PredictorScorer(model)
    assert probs.names == ["smile", "digit_0", "digit_1", "digit_2", "age"]
    p = probs(x)
    raw = model.logits(x)
    torch.testing.assert_close(p[:, 0], torch.sigmoid(raw[:, 0]))
    torch.testing.assert_close(p[:, 1:4].sum(1), torch.ones(4))
    torch.testing.assert_close(p[:, 4], raw[:, 4])
    torch.testing.assert_close(PredictorScorer(model, output="logits")(x), raw)
    sub = PredictorScorer(model, attributes=["age", "digit"])
    assert sub.names == ["digit_0", "digit_1", "digit_2", "age"]
    assert PredictorScorer(model, attributes=["digit_1"], prefix="m.").names == ["m.digit_1"]
    with pytest.raises(ScoringError, match=r"unknown attribute.*'Smiling'.*available: smile"):
        PredictorScorer(model, attributes=["Smiling"])
    emb = PredictorScorer(model, output="embeddings")
    assert emb(x).shape == (4, 12) and emb.names[0] == "emb_000"
    torch.testing.assert_close(probs.embed(x), model.embed(x))
    np.testing.assert_allclose(probs.score_numpy(x.numpy(), batch_size=3), p.detach().numpy(),
                               atol=1e-6)


def test_predictor_scorer_is_differentiable_and_clamps():
    scorer = PredictorScorer(tiny_predictor(), attributes=["smile"])
    x = (torch.rand(2, 3, 32, 32) * 2.2 - 1.1).requires_grad_(True)  # overshoots, other size
    scorer(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_callable_scorer_refuses_nan_and_bad_shapes():
    x = torch.zeros(3, 1, 4, 4)
    ok = CallableScorer(lambda im: im.mean((1, 2, 3)), ["mean"])
    assert ok(x).shape == (3, 1)
    bad = CallableScorer(lambda im: torch.tensor([0.0, float("nan"), 1.0]), ["m"])
    with pytest.raises(ScoringError, match="image 1.*'m'"):
        bad(x)
    nan_if_bright = CallableScorer(
        lambda im: torch.where(im.mean((1, 2, 3)) > 0.5, float("nan"), 0.0), ["m"])
    images = torch.zeros(6, 1, 4, 4)
    images[4] = 1.0
    with pytest.raises(ScoringError, match="image 4"):  # the offset of the second batch counts
        nan_if_bright.score_numpy(images, batch_size=3)
    wrong = CallableScorer(lambda im: np.zeros((3, 2)), ["a"])
    with pytest.raises(ScoringError, match=r"shape \[3, 2\]"):
        wrong(x)


def test_combined_and_registry():
    both = CombinedScorer([PixelStatsScorer(3), ObjectMomentsScorer(3)])
    assert both(constant((1, 1, 1))).shape == (2, 11)
    with pytest.raises(ScoringError, match="duplicate"):
        CombinedScorer([PixelStatsScorer(3), PixelStatsScorer(3)])
    assert isinstance(make_scorer("pixel", channels=1), PixelStatsScorer)
    assert isinstance(make_scorer("morpho"), MorphometryScorer)
    with pytest.raises(ScoringError, match="unknown scorer 'nope'"):
        make_scorer("nope")


def test_generator_overshoot_is_clamped_not_refused():
    # Random-init StyleGAN2 images reach ~10; they are clamped to [-1, 1] and scored.
    images = torch.full((2, 3, 4, 4), 12.0)
    images[1] = -12.0
    scores = PixelStatsScorer(3)(images)
    exact = PixelStatsScorer(3)(images.clamp(-1, 1))
    assert torch.equal(scores, exact)


# ----------------------------------------------------------------------------- the factory
def _bright_red(images: torch.Tensor) -> torch.Tensor:
    bright = torch.sigmoid(20 * images.mean(dim=(1, 2, 3)))
    red = torch.sigmoid(20 * (images[:, 0] - images[:, 2]).mean(dim=(1, 2)))
    return torch.stack([bright, red], dim=1)


def _scorer() -> CallableScorer:
    return CallableScorer(_bright_red, ["bright", "red"], channels=3, description="bright_red")


def test_display_clamp_accepts_overshooting_generator_output():
    # (was explore's ClampedScorer wrapper; now the clamp policy of the one factory)
    images = torch.linspace(-100, 100, 2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    with pytest.raises((ScoringError, ShapeError)):
        _scorer()(images)  # plain scorers refuse values beyond +-64 (a convention error)
    scores = make_scorer(_scorer(), clamp="display")(images)
    torch.testing.assert_close(scores, _scorer()(images.clamp(-1, 1)))
    with pytest.raises((ScoringError, ShapeError)):
        make_scorer(_scorer(), clamp="display")(torch.full((1, 3, 4, 4), float("nan")))
    assert make_scorer(_scorer(), clamp="display").spec()["clamped_to"] == [-1.0, 1.0]
    with pytest.raises(ShapeError, match="Inf"):
        make_scorer(_scorer(), clamp="display")(torch.full((1, 3, 4, 4), float("inf")))


def test_factory_sources_columns_and_policies():
    plain = _scorer()
    assert make_scorer(plain) is plain and plain.clamp == "validate"
    shown = make_scorer(plain, clamp="display")
    assert shown is not plain and shown.clamp == "display" and plain.clamp == "validate"
    assert "clamped_to" not in plain.spec()
    x = constant((1, 0, 0))
    # A column selection of any scorer, in the given order.
    sub = make_scorer(plain, ["red", "bright"])
    assert sub.names == ["red", "bright"]
    torch.testing.assert_close(sub(x), plain(x)[:, [1, 0]])
    with pytest.raises(ScoringError, match="unknown attribute"):
        make_scorer(plain, ["blue"])
    # Lists (of scorers or names) combine; a non-Base scorer is wrapped.
    both = make_scorer([PixelStatsScorer(3), "moments"])
    assert isinstance(both, CombinedScorer) and len(both.names) == 11
    duck = type("Duck", (), {"names": ["m"], "__call__": lambda self, im: im.mean((1, 2, 3))})()
    assert make_scorer(duck)(x).shape == (2, 1)
    # A predictor: its heads, selected; the policy is passed to the PredictorScorer.
    torch.manual_seed(0)
    model = AttributePredictor(in_channels=3, resolution=16, heads=["A", "B"], width=4,
                               max_width=8, embedding_dim=8)
    pred = make_scorer(model, ["B"], clamp="display")
    assert isinstance(pred, PredictorScorer) and pred.names == ["B"] and pred.clamp == "display"
    again = make_scorer(PredictorScorer(model), ["B"])
    assert again.names == ["B"] and again.clamp == "validate"
    big = torch.full((1, 3, 16, 16), 80.0)
    torch.testing.assert_close(pred(big), again(big.clamp(-1, 1)))
    with pytest.raises(ValueError, match="clamp must be one of"):
        make_scorer(plain, clamp="sometimes")
    with pytest.raises(ScoringError, match="cannot make a scorer"):
        make_scorer(3.5)
