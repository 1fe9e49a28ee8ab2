"""The direction-finder protocol (scikit-learn estimators) on SVMBoundary and a stand-in method."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from latentatlas.directions import FIT_INPUTS, DirectionFinder, Directions, SVMBoundary
from latentatlas.utils.errors import ShapeError


def planted_bank(seed: int = 0, n: int = 1200):
    """Scores = x0. Top / bottom quarters are separable along e0 with a gap, but x1 = 3 x0 + 20
    noise also differs in mean between them: the class-mean difference (what a tiny C gives)
    points mostly along x1 and classifies badly, the max-margin solution (large C) is e0."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4))
    x[:, 1] = 3 * x[:, 0] + 20 * rng.standard_normal(n)
    return x, x[:, 0].copy()


def test_clone_copies_params_not_fitted_state():
    est = SVMBoundary(space="z", chosen_num_or_ratio=0.25, C=0.5, seed=3, name="a", progress=False)
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    x, s = planted_bank()
    est.fit(x, s)
    again = clone(est)
    assert again.get_params() == est.get_params() and not hasattr(again, "directions_")
    assert again.fit(x, s).directions_.equals(est.directions_)


def test_get_params_set_params_round_trip():
    est = SVMBoundary(progress=False)
    names = [p for p in inspect.signature(SVMBoundary.__init__).parameters if p != "self"]
    assert sorted(est.get_params(deep=True)) == sorted(names)
    assert est.set_params(C=2.5, solver="fast", layer=1) is est
    params = est.get_params()
    assert (params["C"], params["solver"], params["layer"]) == (2.5, "fast", 1)
    assert SVMBoundary(**params).get_params() == params
    with pytest.raises(ValueError, match="Invalid parameter"):
        est.set_params(gamma=1.0)


@pytest.mark.parametrize(
    ("param", "value", "match"),
    [
        ("space", "q", "space must be one of"),
        ("solver", "magic", "solver must be one of"),
        ("C", 0.0, "C must be positive"),
        ("C", -1.0, "C must be positive"),
        ("C", "big", "C must be positive"),
        ("chosen_num_or_ratio", 0, "chosen_num_or_ratio must be positive"),
        ("split_ratio", 1.5, r"split_ratio must be in \(0, 1\]"),
        ("tol", 0.0, "tol must be positive"),
        ("layer", "2", "layer must be None or an int"),
        ("min_working_set", 1, "min_working_set"),
    ],
)
def test_validation_happens_in_fit_not_init(param, value, match):
    est = SVMBoundary(progress=False, **{param: value})  # accepted as is
    assert est.get_params()[param] == value
    x, s = planted_bank(n=200)
    with pytest.raises(ShapeError, match=match):
        est.fit(x, s)
    ok = clone(est).set_params(**{param: SVMBoundary().get_params()[param]})
    assert ok.fit(x, s).directions_.space == "w"  # fixed by set_params, fit works


def test_grid_search_picks_the_known_c():
    x, s = planted_bank()
    search = GridSearchCV(
        SVMBoundary(space="z", chosen_num_or_ratio=0.25, progress=False),
        {"C": [1e-5, 1e-3, 10.0]},
        cv=3,
    )
    search.fit(x, s)
    assert search.best_params_ == {"C": 10.0}
    means = search.cv_results_["mean_test_score"]
    assert means[2] == 1.0 and means[0] < 0.7 and means[0] < means[1] < means[2]
    best = search.best_estimator_
    assert abs(float(best.directions_.vectors[0, 0])) > 0.999  # the planted axis e0
    assert best.directions_.scores["val_accuracy"][0] == 1.0


def test_score_is_accuracy_on_top_and_bottom_rows():
    x, s = planted_bank()
    est = SVMBoundary(space="z", chosen_num_or_ratio=0.25, C=1e-3, progress=False).fit(x, s)
    order = np.argsort(-s, kind="stable")
    k = int(len(s) * 0.25)
    rows = np.concatenate([order[:k], order[-k:]])
    truth = np.arange(2 * k) < k
    expected = float((est.predict(x[rows]) == truth).mean())
    assert est.score(x, s) == expected and 0.7 < expected < 1.0
    labels = s > 0  # binary labels: every row counts
    assert est.score(x, labels=labels) == float((est.predict(x) == labels).mean())
    with pytest.raises(ShapeError, match="exactly one"):
        est.score(x)
    with pytest.raises(RuntimeError, match="not fitted"):
        SVMBoundary().score(x, s)


def test_per_layer_score_is_the_mean_over_layers():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((400, 3, 4))
    s = x[:, 0, 0] + x[:, 2, 1]
    est = SVMBoundary(space="wp", chosen_num_or_ratio=0.2, progress=False).fit(x, s)
    order = np.argsort(-s, kind="stable")
    rows = np.concatenate([order[:80], order[-80:]])
    truth = (np.arange(160) < 80)[:, None]
    assert est.score(x, s) == float((est.predict(x[rows]) == truth).mean())


def test_fit_protocol_inputs():
    x, s = planted_bank(n=300)
    est = SVMBoundary(space="z", chosen_num_or_ratio=0.2, progress=False)
    with pytest.raises(ShapeError, match="needs bank"):
        est.fit(scores=s)
    # generator / scorer are accepted and unused: the same boundary.
    plain = clone(est).fit(x, s).directions_
    assert est.fit(bank=x, scores=s, generator=object(), scorer=print).directions_.equals(plain)
    # rng replaces seed for the train / validation shuffles.
    a = clone(est).fit(x, s, rng=5)
    b = clone(est).set_params(seed=5).fit(x, s)
    assert np.array_equal(a.split_["train"], b.split_["train"])
    assert a.directions_.metadata["params"]["seed"] == 0
    assert set(a.directions_.metadata["params"]) == set(SVMBoundary.RECORDED_PARAMS)


class _FakeBank:
    def __init__(self, codes, scores):
        self._codes, self.scores = codes, scores

    def latents(self, space):
        return self._codes[space]


def test_fit_from_a_bank_object_with_a_score_name():
    x, s = planted_bank(n=300)
    bank = _FakeBank({"z": x}, {"smile": s[:, None], "other": -s[:, None]})
    est = SVMBoundary(space="z", chosen_num_or_ratio=0.2, progress=False)
    by_name = clone(est).fit(bank, "smile")
    assert by_name.directions_.equals(clone(est).fit(x, s).directions_)
    assert by_name.score(bank, "smile") == by_name.score(x, s)
    with pytest.raises(ShapeError, match="no scores 'frown'"):
        clone(est).fit(bank, "frown")
    with pytest.raises(ShapeError, match="needs a bank object"):
        clone(est).fit(x, "smile")


class _MeanDifference(DirectionFinder):
    """A minimal new method, as docs/directions.md describes: the normalised difference of the
    mean code of the top and bottom ``ratio`` of the scores."""

    fit_requires = ("bank", "scores")

    def __init__(self, space: str = "w", ratio: float = 0.1, name: str = "mean_difference"):
        self.space = space
        self.ratio = ratio
        self.name = name

    def fit(self, bank=None, scores=None, *, generator=None, scorer=None, rng=None):
        if not 0 < self.ratio <= 0.5:
            raise ShapeError(f"ratio must be in (0, 0.5], got {self.ratio}")
        self._check_fit_inputs(bank=bank, scores=scores)
        x, s = np.asarray(bank, np.float64), np.asarray(scores, np.float64).reshape(-1)
        k = max(1, int(len(s) * self.ratio))
        order = np.argsort(-s, kind="stable")
        diff = x[order[:k]].mean(0) - x[order[-k:]].mean(0)
        self.directions_ = Directions(diff, self.space, names=[self.name], method="mean_diff",
                                      normalize=True)
        return self


def test_a_new_method_follows_the_protocol():
    assert FIT_INPUTS == ("bank", "scores", "generator", "scorer")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 3))
    est = _MeanDifference(space="z", ratio=0.2)
    assert clone(est).get_params() == {"space": "z", "ratio": 0.2, "name": "mean_difference"}
    with pytest.raises(ShapeError, match="needs scores"):
        est.fit(x)
    with pytest.raises(RuntimeError, match="not fitted"):
        est._check_fitted()
    d = est.fit(x, 2 * x[:, 1]).directions_
    assert d.vectors.shape == (1, 3) and abs(float(d.vectors[0, 1])) > 0.99
    moved = d.walk(x[:4], 2.0)  # the fitted Directions is the linear walk
    np.testing.assert_allclose(moved - x[:4], 2.0 * np.tile(d.vectors[0], (4, 1)), atol=1e-6)
