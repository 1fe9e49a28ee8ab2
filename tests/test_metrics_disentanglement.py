"""Known-answer tests of the disentanglement metric suite (latentatlas.metrics.disentanglement)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import sqrtm
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mutual_info_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.svm import LinearSVC

from latentatlas import metrics
from latentatlas.data.base import GroundTruthData
from latentatlas.metrics.disentanglement._boosting import gbt_importance
from latentatlas.metrics.disentanglement._linear import (
    fit_ovr_logistic,
    fit_ovr_svm_1d,
    logistic_predict,
    logistic_predict_proba,
    svm_1d_predict,
)
from latentatlas.utils.errors import LatentAtlasError, ShapeError


class FactorObservations(GroundTruthData):
    """Ground-truth data whose observation IS the factor tuple (scaled to [0, 1]), [1, 1, F]."""

    name = "factor-observations"

    def __init__(self, sizes):
        self.factors_num_values = tuple(sizes)
        self.factor_names = [f"f{i}" for i in range(len(sizes))]
        self.observation_shape = (1, 1, len(sizes))

    def sample_observations_from_factors(self, factors, rng):
        f = self._check_factors(factors)
        scaled = f / (np.asarray(self.factors_num_values) - 1.0)
        return scaled.astype(np.float32).reshape(len(f), 1, 1, -1)


DATA = FactorObservations((5, 6, 5, 6, 5, 6, 5, 6))  # 8 factors: chance accuracy 1/8


def identity(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1)


def zeros(x: np.ndarray) -> np.ndarray:
    return np.zeros((len(x), DATA.num_factors))


SMALL = {
    "beta_vae": {"num_train": 400, "num_eval": 200, "batch_size": 16},
    "factor_vae": {"num_train": 400, "num_eval": 200, "num_variance_estimate": 1000,
                   "batch_size": 16},
    "mig": {"num_train": 2000},
    "dci": {"num_train": 600, "num_test": 300, "n_estimators": 20},
    "sap": {"num_train": 1000, "num_test": 500, "continuous_factors": True},
    "modularity_explicitness": {"num_train": 1500, "num_test": 500},
    "irs": {"num_train": 2000},
}
GOOD = {  # metric -> (score key, disentanglement_lib's test expects identity >= 0.9)
    "beta_vae": "eval_accuracy",
    "factor_vae": "eval_accuracy",
    "mig": "discrete_mig",
    "dci": ("disentanglement", "completeness"),
    "sap": "SAP_score",
    "modularity_explicitness": "modularity_score",
    "irs": "IRS",
}


def _run(name: str, fn) -> dict:
    return metrics.METRICS[name](DATA, fn, 0, **SMALL[name])


@pytest.mark.parametrize("name", list(GOOD))
def test_identity_scores_high_and_zeros_low(name):
    keys = GOOD[name] if isinstance(GOOD[name], tuple) else (GOOD[name],)
    good, bad = _run(name, identity), _run(name, zeros)
    for key in keys:
        assert 0.9 <= good[key] <= 1.0 + 1e-9, (name, key, good)
        assert 0.0 <= bad[key] <= 0.2, (name, key, bad)


def test_explicitness_identity_vs_zeros():
    good = _run("modularity_explicitness", identity)
    bad = _run("modularity_explicitness", zeros)
    assert good["explicitness_score_test"] >= 0.9
    assert bad["explicitness_score_test"] == pytest.approx(0.5)  # constant scores: AUC 1/2


def test_factor_vae_counts_active_dims():
    with_constant = metrics.factor_vae(
        DATA, lambda x: np.concatenate([identity(x), np.zeros((len(x), 2))], axis=1), 0,
        **SMALL["factor_vae"],
    )
    assert with_constant["num_active_dims"] == DATA.num_factors
    assert with_constant["eval_accuracy"] >= 0.9


def test_representation_called_in_batches():
    sizes = []

    def spy(x):
        sizes.append(len(x))
        return identity(x)

    metrics.beta_vae(DATA, spy, 0, num_train=50, num_eval=20, batch_size=8, repr_batch_size=100)
    assert max(sizes) == 100
    assert sum(sizes) == 2 * 70 * 8  # every pair encoded exactly once
    assert len(sizes) == int(np.ceil(2 * 70 * 8 / 100))


# ----------------------------------------------------------------------------- invariances
def _noisy_codes(noise: float, n: int = 3000, seed: int = 1):
    rng = np.random.default_rng(seed)
    factors = DATA.sample_factors(n, rng)[:, :4]
    codes = factors + noise * rng.normal(size=factors.shape)
    return codes, factors


def _three_scores(codes, factors):
    n_train = 2 * len(codes) // 3
    split = (codes[:n_train], factors[:n_train], codes[n_train:], factors[n_train:])
    return (
        metrics.mig_from_codes(codes, factors)["discrete_mig"],
        metrics.dci_from_codes(*split, n_estimators=10)["disentanglement"],
        metrics.sap_from_codes(*split)["SAP_score"],
        metrics.sap_from_codes(*split, continuous_factors=True)["SAP_score"],
    )


def test_permutation_and_rescaling_invariance():
    codes, factors = _noisy_codes(0.3)
    base = _three_scores(codes, factors)
    perm = np.array([2, 0, 3, 1])
    permuted = _three_scores(codes[:, perm], factors)
    np.testing.assert_allclose(permuted, base, atol=1e-9)
    scale = np.array([0.37, 2.5, 11.0, 1.3])
    rescaled = _three_scores(codes * scale, factors)
    # MIG (histogram bins scale with the data), DCI (trees split on order) and continuous SAP
    # (a correlation) are invariant. Discrete SAP uses an L2-regularised linear SVM (C = 0.01,
    # intercept regularised too), so a rescaling changes its fit: documented tolerance 0.05.
    invariant = [0, 1, 3]
    np.testing.assert_allclose(np.take(rescaled, invariant), np.take(base, invariant), atol=1e-6)
    assert abs(rescaled[2] - base[2]) <= 0.05


def test_noise_lowers_scores():
    clean = _three_scores(*_noisy_codes(0.1))
    noisy = _three_scores(*_noisy_codes(1.0))
    assert all(n < c for n, c in zip(noisy, clean, strict=True)), (clean, noisy)


# ----------------------------------------------------------------------------- closed forms
def test_gaussian_total_correlation_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    cov = a @ a.T + 0.5 * np.eye(4)
    std = np.sqrt(np.diag(cov))
    corr = cov / std[:, None] / std[None, :]
    expected = -0.5 * np.log(np.linalg.det(corr))
    assert metrics.gaussian_total_correlation(cov) == pytest.approx(expected, rel=1e-12)
    assert metrics.gaussian_total_correlation(np.diag([1.0, 4.0, 9.0])) == pytest.approx(0.0)
    # From samples: the suite's unsupervised scores converge to the closed form.
    samples = rng.normal(size=(40_000, 4)) @ np.linalg.cholesky(cov).T
    tc = metrics.unsupervised_from_codes(samples)["gaussian_total_correlation"]
    assert tc == pytest.approx(expected, abs=0.02)


def test_gaussian_wasserstein_correlation_closed_form():
    rho = 0.6
    cov = np.array([[1.0, rho], [rho, 1.0]])
    expected = 4.0 - 2.0 * (np.sqrt(1 + rho) + np.sqrt(1 - rho))
    assert metrics.gaussian_wasserstein_correlation(cov) == pytest.approx(expected, rel=1e-12)
    # Same as disentanglement_lib's sqrtm(cov * diag(cov)[:, None]) form on an unequal-variance cov.
    cov2 = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.3], [0.1, 0.3, 3.0]])
    reference = 2 * np.trace(cov2) - 2 * np.trace(sqrtm(cov2 * np.diag(cov2)[:, None])).real
    assert metrics.gaussian_wasserstein_correlation(cov2) == pytest.approx(reference, rel=1e-9)
    assert metrics.gaussian_wasserstein_correlation(np.diag([1.0, 5.0])) == pytest.approx(0.0)


def test_information_helpers_hand_computed():
    a = np.array([0, 0, 1, 1])
    assert metrics.discrete_mutual_info(a, np.array([0, 1, 0, 1]))[0, 0] == pytest.approx(0.0)
    assert metrics.discrete_mutual_info(a, a * 7 + 3)[0, 0] == pytest.approx(np.log(2))
    expected_h = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert metrics.discrete_entropy(np.array([5, 5, 5, 9]))[0] == pytest.approx(expected_h)
    # A hand-made 2x3 contingency table: MI = sum p_xy log(p_xy / (p_x p_y)).
    x = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    y = np.array([0, 1, 2, 2, 2, 2, 1, 1])
    p = np.array([[1, 1, 1], [0, 2, 3]]) / 8
    px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    expected = (p[nz] * np.log(p[nz] / (px @ py)[nz])).sum()
    assert metrics.discrete_mutual_info(x, y)[0, 0] == pytest.approx(expected, rel=1e-12)
    # Every pair equals sklearn's mutual_info_score.
    rng = np.random.default_rng(0)
    aa, bb = rng.integers(0, 7, (500, 3)), rng.integers(0, 4, (500, 2))
    ours = metrics.discrete_mutual_info(aa, bb)
    for i in range(3):
        for j in range(2):
            assert ours[i, j] == pytest.approx(mutual_info_score(bb[:, j], aa[:, i]), abs=1e-12)


def test_histogram_discretize_matches_numpy():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(300, 2)), np.full((300, 1), 3.0)], axis=1)
    ours = metrics.histogram_discretize(x, 20)
    for j in range(3):
        expected = np.digitize(x[:, j], np.histogram(x[:, j], 20)[1][:-1])
        np.testing.assert_array_equal(ours[:, j], expected)
    assert ours[:, :2].min() == 1 and ours[:, :2].max() == 20


def test_mig_and_modularity_known_values():
    # Two codes copying two independent uniform binary factors: MIG = 1, modularity = 1.
    f = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 25)
    assert metrics.mig_from_codes(f.astype(float), f)["discrete_mig"] == pytest.approx(1.0)
    assert metrics.modularity_score(np.array([[1.0, 0.0], [0.0, 2.0]])) == pytest.approx(1.0)
    # A code equally informative about both factors: delta = 1 -> modularity 0.
    assert metrics.modularity_score(np.array([[1.0, 1.0]])) == pytest.approx(0.0)


def test_dci_closed_forms():
    assert metrics.dci_disentanglement(np.eye(3)) == pytest.approx(1.0, abs=1e-8)
    assert metrics.dci_completeness(np.eye(3)) == pytest.approx(1.0, abs=1e-8)
    assert metrics.dci_disentanglement(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-8)
    # One code carrying both factors, one useless code: D = 0, C = 1.
    imp = np.array([[0.5, 0.5], [0.0, 0.0]])
    assert metrics.dci_disentanglement(imp) == pytest.approx(0.0, abs=1e-8)
    assert metrics.dci_completeness(imp) == pytest.approx(1.0, abs=1e-8)


# ----------------------------------------------------------------------------- estimators
def test_booster_matches_sklearn_gradient_boosting():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 3, 600)
    x = rng.normal(size=(600, 4))
    x[:, 0] += y
    x[:, 2] += 0.5 * y
    ref = GradientBoostingClassifier(random_state=0, n_estimators=30).fit(x[:n], y[:n])
    imp, train_acc, test_acc = gbt_importance(x[:n], y[:n], x[n:], y[n:], n_estimators=30,
                                              max_bins=1000)  # exact thresholds
    np.testing.assert_allclose(imp, ref.feature_importances_, atol=0.02)
    assert train_acc == pytest.approx(ref.score(x[:n], y[:n]), abs=0.02)
    assert test_acc == pytest.approx(ref.score(x[n:], y[n:]), abs=0.03)


def test_logistic_matches_liblinear_one_vs_rest():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 500)
    x = rng.normal(size=(500, 3)) + y[:, None] * np.array([1.0, -0.5, 0.2])
    ref = OneVsRestClassifier(LogisticRegression(solver="liblinear", tol=1e-10)).fit(x, y)
    theta = fit_ovr_logistic(x, y, 4)
    np.testing.assert_allclose(logistic_predict_proba(theta, x), ref.predict_proba(x), atol=1e-4)
    assert np.mean(logistic_predict(theta, x) == ref.predict(x)) >= 0.998


def test_svm_1d_matches_linear_svc():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    y[y == 2] = rng.integers(0, 3, (y == 2).sum())  # unbalanced classes
    x = (y + rng.normal(size=400))[:, None]
    w, b = fit_ovr_svm_1d(x, y, 3, c=0.01)
    ref = LinearSVC(C=0.01, class_weight="balanced", tol=1e-10, max_iter=100_000).fit(x, y)
    np.testing.assert_allclose(w[0], ref.coef_[:, 0], atol=1e-4)
    np.testing.assert_allclose(b[0], ref.intercept_, atol=1e-4)
    np.testing.assert_array_equal(svm_1d_predict(w, b, x)[:, 0], ref.predict(x))
    yb = (y > 0).astype(int)  # binary: one problem, both classes weighted
    w2, b2 = fit_ovr_svm_1d(x, yb, 2, c=0.01)
    ref2 = LinearSVC(C=0.01, class_weight="balanced", tol=1e-10, max_iter=100_000).fit(x, yb)
    np.testing.assert_allclose([w2[0, 0], b2[0, 0]], [ref2.coef_[0, 0], ref2.intercept_[0]],
                               atol=1e-4)


# ----------------------------------------------------------------------------- suite and errors
def test_compute_suite_fast_is_deterministic():
    first = metrics.compute_suite(DATA, identity, 3, fast=True, metrics=["mig", "irs", "sap"])
    again = metrics.compute_suite(DATA, identity, 3, fast=True, metrics=["mig", "irs", "sap"])
    assert first["mig"] == again["mig"] and first["sap"] == again["sap"]
    alone = metrics.mig(DATA, identity, 3, num_train=metrics.FAST_SETTINGS["mig"]["num_train"])
    assert alone == first["mig"]  # an int seed seeds every metric independently
    assert set(metrics.headline_scores(first)) == {"mig", "irs", "sap"}
    assert first["settings"]["fast"] is True
    # A Generator is split into child streams: reproducible from the same seed.
    g1 = metrics.compute_suite(DATA, identity, np.random.default_rng(7), fast=True, metrics=["mig"])
    g2 = metrics.compute_suite(DATA, identity, np.random.default_rng(7), fast=True, metrics=["mig"])
    assert g1["mig"] == g2["mig"]


def test_bad_inputs_raise_named_errors():
    codes, factors = _noisy_codes(0.3, n=100)
    bad = codes.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ShapeError, match="codes contains NaN"):
        metrics.mig_from_codes(bad, factors)
    with pytest.raises(ShapeError, match="factors has 99 rows"):
        metrics.mig_from_codes(codes, factors[:99])
    with pytest.raises(ShapeError, match="discrete"):
        metrics.dci_from_codes(codes, factors + 0.5)
    with pytest.raises(ShapeError, match="codes_test has 3 dimensions"):
        metrics.sap_from_codes(codes, factors, codes[:, :3], factors)
    with pytest.raises(ShapeError, match="representation_fn output has 3 rows"):
        metrics.mig(DATA, lambda x: np.zeros((3, 2)), 0, num_train=10)
    with pytest.raises(LatentAtlasError, match="unknown metric"):
        metrics.compute_suite(DATA, identity, 0, metrics=["mig", "nope"])
    with pytest.raises(ShapeError, match="positive diagonal"):
        metrics.gaussian_total_correlation(np.zeros((2, 2)))
    # Collinear codes: infinite total correlation, as the reference's formula gives.
    assert metrics.gaussian_total_correlation(np.array([[1.0, 2.0], [2.0, 4.0]])) == np.inf


def test_dci_importance_of_identity_codes_is_diagonal_and_split_is_seeded():
    codes, factors = _noisy_codes(0.05, n=600)
    scores = metrics.dci_from_codes(codes, factors, n_estimators=10, return_importance=True,
                                    rng=5)
    importance = scores["importance_matrix"]
    assert importance.shape == (4, 4)
    np.testing.assert_allclose(importance.sum(axis=0), 1.0)  # each factor's column sums to 1
    assert (np.argmax(importance, axis=0) == np.arange(4)).all()
    assert np.diag(importance).min() > 0.9
    again = metrics.dci_from_codes(codes, factors, n_estimators=10, rng=5)
    assert again["disentanglement"] == scores["disentanglement"]


# ------------------------------------------------- factors that do not vary: one rule, every metric
class _GridWithConstant(GroundTruthData):
    """Factors (a: 4 values, const: 1 value, b: 3 values); the observation shows a and b."""

    name = "grid"
    factor_names = ("a", "const", "b")
    factors_num_values = (4, 1, 3)
    observation_shape = (1, 2, 1)

    def sample_observations_from_factors(self, factors, rng):
        f = self._check_factors(factors).astype(np.float32)
        return np.stack([f[:, 0] / 3, f[:, 2] / 2], axis=1).reshape(-1, 1, 2, 1)


class _GridWithout(GroundTruthData):
    name = "grid"
    factor_names = ("a", "b")
    factors_num_values = (4, 3)
    observation_shape = (1, 2, 1)

    def sample_observations_from_factors(self, factors, rng):
        f = self._check_factors(factors).astype(np.float32)
        return np.stack([f[:, 0] / 3, f[:, 1] / 2], axis=1).reshape(-1, 1, 2, 1)


def _flat(x):
    return np.asarray(x, np.float32).reshape(len(x), -1)


@pytest.mark.parametrize("name, sizes", [
    ("mig", {"num_train": 300}), ("sap", {"num_train": 300, "num_test": 100}),
    ("dci", {"num_train": 300, "num_test": 100, "n_estimators": 5}),
    ("modularity_explicitness", {"num_train": 300, "num_test": 100}),
    ("irs", {"num_train": 300}),
    ("beta_vae", {"num_train": 60, "num_eval": 30, "batch_size": 8}),
    ("factor_vae", {"num_train": 60, "num_eval": 30, "num_variance_estimate": 200,
                    "batch_size": 8}),
])
def test_every_metric_excludes_a_single_valued_factor_with_a_warning(name, sizes):
    fn = getattr(metrics, name)
    got = fn(_GridWithConstant(), _flat, 0, **sizes)
    assert got.pop("warnings") == ["factor 'const' takes a single value: excluded from every "
                                   "metric"]
    # Exactly the numbers of the same data set without the factor.
    assert got == fn(_GridWithout(), _flat, 0, **sizes)


@pytest.mark.parametrize("name", ["mig_from_codes", "sap_from_codes", "dci_from_codes",
                                  "modularity_explicitness_from_codes", "irs_from_codes"])
def test_every_metric_on_codes_excludes_a_factor_constant_in_the_sample(name):
    rng = np.random.default_rng(0)
    factors = np.stack([rng.integers(0, 4, 300), np.full(300, 2), rng.integers(0, 3, 300)], 1)
    codes = np.stack([factors[:, 0], factors[:, 2]], 1) + 0.1 * rng.standard_normal((300, 2))
    fn = getattr(metrics, name)
    kw = {"n_estimators": 5} if name == "dci_from_codes" else {}
    got = fn(codes, factors, **kw)
    assert got.pop("warnings") == ["factor 1 is constant in the sample: excluded from this "
                                   "metric"]
    assert got == fn(codes, factors[:, [0, 2]], **kw)
    with pytest.raises(ShapeError, match="every factor is constant"):
        fn(codes, np.zeros((300, 2), np.int64), **kw)
