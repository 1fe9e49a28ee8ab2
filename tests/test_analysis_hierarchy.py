"""HiGAN re-scoring and automatic layer selection on a toy generator whose layer structure is
planted (tests/_toy_generator.py): A is controlled by layers 2-3 (and weakly by layer 1)."""

from __future__ import annotations

import numpy as np
import pytest

from _toy_generator import ATTRIBUTES, ToyGenerator, toy_scorer
from latentatlas.analysis import rescore, select_layers, select_layers_from_relevance
from latentatlas.directions import Directions
from latentatlas.utils.errors import ShapeError


@pytest.fixture
def gen() -> ToyGenerator:
    return ToyGenerator(z_dim=6, num_ws=4)


@pytest.fixture
def dirs() -> Directions:
    eye = np.eye(6, dtype=np.float32)
    return Directions(eye[:3], "w", names=["A", "B", "C"])


def test_rescore_known_effects(gen, dirs):
    res = rescore(gen, dirs, toy_scorer, ATTRIBUTES, n=50, lam=2.0, progress=False, batch_size=16)
    assert res.scores.shape == (3, 50, 2 + 4, 3)
    # all-layer Deltas: lam * (sum of the attribute's layer weights), zero elsewhere
    expected_all = np.array([[2.2, 0, 0], [0, 2.0, 0], [0, 0, 2.0]])
    np.testing.assert_allclose(res.delta_all, expected_all, atol=1e-5)
    rel = res.relevance_matrix()  # layers x semantics
    np.testing.assert_allclose(
        rel,
        np.array([[0.0, 1.0, 0.5], [0.2, 1.0, 0.5], [1.0, 0.0, 0.5], [1.0, 0.0, 0.5]]),
        atol=1e-5,
    )
    assert res.layer_ranking("A")[:2] == [2, 3] and res.layer_ranking("B")[:2] == [0, 1]
    assert [name for name, _ in res.semantic_ranking()][0] == "A"
    summary = res.to_json()
    assert summary["targets"] == ["A", "B", "C"] and summary["num_samples"] == 50
    # moving down never counts: positive clipping
    neg = Directions(-np.eye(6, dtype=np.float32)[:1], "w", names=["A"])
    res_neg = rescore(gen, neg, toy_scorer, ATTRIBUTES, n=20, layers=None, progress=False)
    assert res_neg.scores.shape == (1, 20, 2, 3)
    np.testing.assert_allclose(res_neg.delta_all, 0.0, atol=1e-6)


def test_rescore_is_seeded_and_checks_scorer(gen, dirs):
    a = rescore(gen, dirs, toy_scorer, ATTRIBUTES, n=10, rng=5, layers=None, progress=False)
    b = rescore(gen, dirs, toy_scorer, ATTRIBUTES, n=10, rng=5, layers=None, progress=False)
    np.testing.assert_array_equal(a.scores, b.scores)
    with pytest.raises(ShapeError, match="scorer_fn returned shape"):
        rescore(gen, dirs, lambda im: np.zeros((im.shape[0], 2)), ATTRIBUTES, n=4, progress=False)
    with pytest.raises(ShapeError, match="NaN"):
        rescore(gen, dirs, lambda im: np.full((im.shape[0], 3), np.nan), ATTRIBUTES, n=4,
                progress=False)


def test_select_layers_finds_planted_layers(gen, dirs):
    sel = select_layers(gen, dirs, toy_scorer, ATTRIBUTES, key="A", n=40, progress=False)
    assert sel.layers == (2, 3)
    assert sel.kept_fraction == pytest.approx(2.0 / 2.2, abs=1e-5)
    assert sel.side_effect == pytest.approx(0.0, abs=1e-6)
    sel_b = select_layers(gen, dirs, toy_scorer, ATTRIBUTES, key="B", n=40, progress=False)
    assert sel_b.layers == (0, 1)
    # a stricter fraction needs the weak layer 1 too
    strict = select_layers(gen, dirs, toy_scorer, ATTRIBUTES, key="A", n=40,
                           keep_fraction=0.95, progress=False)
    assert strict.layers == (1, 2, 3)
    # a single layer suffices when half the effect is enough
    half = select_layers(gen, dirs, toy_scorer, ATTRIBUTES, key="A", n=40,
                         keep_fraction=0.45, progress=False)
    assert len(half.layers) == 1 and half.layers[0] in (2, 3)


def test_select_layers_from_relevance(gen, dirs):
    res = rescore(gen, dirs, toy_scorer, ATTRIBUTES, n=20, progress=False)
    sel = select_layers_from_relevance(res.delta_layers[0], target=0, attribute_names=ATTRIBUTES)
    assert sel.layers == (2, 3) and sel.method == "additive" and sel.target == "A"
    # ties in length are broken by the smallest side effect on the other semantics
    effects = np.array([[1.0, 5.0], [1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    tie = select_layers_from_relevance(effects, target=0, keep_fraction=0.6)
    assert tie.layers == (1, 2)
    with pytest.raises(ShapeError, match="keep_fraction"):
        select_layers_from_relevance(effects, target=0, keep_fraction=0.0)
