"""SVMBoundary: InterFaceGAN sample-selection semantics, solvers against known normals and
against libsvm, per-layer W+ fits, errors."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.directions import SVMBoundary
from latentatlas.directions.svm import _fit_libsvm, _svm_dual_ipm
from latentatlas.utils.errors import ShapeError


def bank(rng, n=1000, d=8, noise=0.0):
    x = rng.standard_normal((n, d)).astype(np.float32)
    normal = rng.standard_normal(d)
    normal /= np.linalg.norm(normal)
    scores = x @ normal + noise * rng.standard_normal(n)
    return x, scores, normal


def cos(a, b):
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("solver", ["libsvm", "fast"])
def test_separable_data_gives_true_normal(rng, solver):
    x, scores, normal = bank(rng, n=1000, d=8)
    svm = SVMBoundary(chosen_num_or_ratio=0.2, solver=solver, progress=False).fit(x, scores)
    assert svm.solver_ == solver
    assert cos(svm.normal_, normal) > 0.99
    assert svm.val_accuracy_ == 1.0 and svm.train_accuracy_ == 1.0
    assert svm.remaining_accuracy_ > 0.9
    np.testing.assert_allclose(np.linalg.norm(svm.normal_), 1.0, atol=1e-6)
    # intercept kept: n.x + b is the signed distance, positive on the high-score side
    dist = svm.decision_function(x)
    np.testing.assert_allclose(dist, x @ svm.normal_.astype(np.float64) + svm.intercept_, atol=1e-5)
    np.testing.assert_allclose(svm.directions_.signed_distance(x), dist, atol=1e-5)
    assert (dist[svm.split_["train"]] > 0).tolist() == svm.split_["train_y"].tolist()
    d = svm.directions_
    assert d.space == "w" and d.vectors.shape == (1, 8) and d.intercepts.shape == (1,)
    assert d.scores["val_accuracy"][0] == 1.0


def test_fast_solver_matches_libsvm_on_a_bank(rng):
    # a few thousand training rows with overlapping classes (many support vectors)
    x, scores, _ = bank(rng, n=20000, d=32, noise=0.5)
    kw = dict(chosen_num_or_ratio=0.1, progress=False)
    fast = SVMBoundary(solver="fast", **kw).fit(x, scores)
    ref = SVMBoundary(solver="libsvm", **kw).fit(x, scores)
    assert fast.counts_["train_positive"] == 1400
    assert cos(fast.normal_, ref.normal_) >= 0.99
    assert fast.intercept_ == pytest.approx(ref.intercept_, abs=0.02)
    assert fast.val_accuracy_ == pytest.approx(ref.val_accuracy_, abs=0.01)
    # auto picks libsvm for small training sets, the fast path for big ones
    assert SVMBoundary(chosen_num_or_ratio=0.01, progress=False).fit(x, scores).solver_ == "libsvm"
    assert SVMBoundary(chosen_num_or_ratio=0.2, progress=False).fit(x, scores).solver_ == "fast"


@pytest.mark.parametrize("m,d", [(40, 64), (300, 16)])
def test_interior_point_dual_matches_libsvm(rng, m, d):
    # m <= d + 1 uses the dense m x m system, m > d + 1 the (d+1)-sized normal equations
    x = rng.standard_normal((m, d))
    y = (x[:, 0] + 0.8 * rng.standard_normal(m) > 0).astype(int)
    w, b, _ = _svm_dual_ipm(x, np.where(y > 0, 1.0, -1.0), 1.0)
    w_ref, b_ref = _fit_libsvm(x, y, 1.0)
    assert cos(w, w_ref) > 0.9999
    assert b == pytest.approx(b_ref, abs=5e-3)


def test_selection_counts_follow_interfacegan(rng):
    x, scores, _ = bank(rng, n=1000, d=4, noise=0.3)
    svm = SVMBoundary(progress=False, solver="libsvm").fit(x, scores)  # ratio 0.02
    c = svm.counts_
    assert c["chosen_num"] == 20
    assert (c["train_positive"], c["train_negative"]) == (14, 14)
    assert (c["val_positive"], c["val_negative"]) == (6, 6)
    assert c["remaining"] == 960
    top = set(np.argsort(-scores)[:20].tolist())
    bottom = set(np.argsort(scores)[:20].tolist())
    split = svm.split_
    assert set(split["train"][split["train_y"]]) | set(split["val"][split["val_y"]]) == top
    assert set(split["train"][~split["train_y"]]) | set(split["val"][~split["val_y"]]) == bottom
    # remaining rows: labelled by score >= (max + min) / 2
    thr = (scores.max() + scores.min()) / 2
    np.testing.assert_array_equal(split["remaining_y"], scores[split["remaining"]] >= thr)
    assert c["remaining_positive"] == int((scores[split["remaining"]] >= thr).sum())
    # counts: an integer is a count, capped at N // 2
    assert SVMBoundary(chosen_num_or_ratio=50, progress=False).fit(x, scores).counts_[
        "chosen_num"
    ] == 50
    capped = SVMBoundary(chosen_num_or_ratio=900, progress=False, solver="fast").fit(x, scores)
    assert capped.counts_["chosen_num"] == 500 and capped.counts_["remaining"] == 0
    assert np.isnan(capped.remaining_accuracy_)


def test_seeded_shuffles(rng):
    x, scores, _ = bank(rng, n=600, d=4, noise=0.5)
    a = SVMBoundary(seed=1, chosen_num_or_ratio=0.1, progress=False).fit(x, scores)
    b = SVMBoundary(seed=1, chosen_num_or_ratio=0.1, progress=False).fit(x, scores)
    c = SVMBoundary(seed=2, chosen_num_or_ratio=0.1, progress=False).fit(x, scores)
    np.testing.assert_array_equal(a.normal_, b.normal_)
    np.testing.assert_array_equal(a.split_["train"], b.split_["train"])
    assert set(a.split_["val"]) != set(c.split_["val"])


def test_invalid_rows_dropped(rng):
    x, scores, _ = bank(rng, n=500, d=4)
    scores = scores.copy()
    bad = rng.choice(500, size=50, replace=False)
    scores[bad] = -99.0
    svm = SVMBoundary(invalid_value=-99.0, chosen_num_or_ratio=0.1, progress=False).fit(x, scores)
    assert svm.counts_["num_invalid"] == 50 and svm.counts_["chosen_num"] == 45
    used = np.concatenate([svm.split_[k] for k in ("train", "val", "remaining")])
    assert used.size == 450 and not set(used) & set(bad.tolist())
    # NaN scores: an error, unless NaN is declared invalid
    scores[bad] = np.nan
    with pytest.raises(ShapeError, match="NaN"):
        SVMBoundary(progress=False).fit(x, scores)
    ok = SVMBoundary(invalid_value=float("nan"), chosen_num_or_ratio=0.1, progress=False)
    assert ok.fit(x, scores).counts_["num_invalid"] == 50


def test_binary_labels(rng):
    x, scores, normal = bank(rng, n=400, d=5)
    labels = scores > 0.3
    svm = SVMBoundary(progress=False).fit(x, labels=labels)
    npos, nneg = int(labels.sum()), int((~labels).sum())
    assert svm.label_mode_ == "labels"
    assert svm.counts_["train_positive"] == int(npos * 0.7)
    assert svm.counts_["train_negative"] == int(nneg * 0.7)
    assert svm.counts_["remaining"] == 0
    assert cos(svm.normal_, normal) > 0.95
    # 0/1 numbers as scores are recognised as labels too
    auto = SVMBoundary(progress=False).fit(x, labels.astype(np.float32)[:, None])
    assert auto.label_mode_ == "labels"
    np.testing.assert_array_equal(auto.normal_, svm.normal_)


def test_per_layer_wplus(rng):
    n, num_layers, d = 800, 3, 6
    wp = rng.standard_normal((n, num_layers, d)).astype(np.float32)
    normal = np.eye(d)[0]
    # the attribute lives in dim 0 of every layer (HiGAN fits each layer separately)
    scores = wp[:, :, 0].sum(axis=1)
    svm = SVMBoundary(space="wp", chosen_num_or_ratio=0.2, progress=False).fit(wp, scores)
    assert svm.normal_.shape == (num_layers, d) and svm.intercept_.shape == (num_layers,)
    assert svm.directions_.vectors.shape == (1, num_layers, d)
    assert svm.directions_.space == "wp"
    assert all(cos(svm.normal_[i], normal) > 0.8 for i in range(num_layers))
    assert svm.val_accuracy_.shape == (num_layers,)
    # one layer only: a W-shaped direction that edits only that layer
    one = SVMBoundary(space="wp", layer=1, chosen_num_or_ratio=0.2, progress=False).fit(wp, scores)
    assert one.directions_.vectors.shape == (1, d) and one.directions_.layers == (1,)


def test_bad_inputs(rng):
    x, scores, _ = bank(rng, n=100, d=4)
    svm = SVMBoundary(progress=False)
    with pytest.raises(ShapeError, match="shape"):
        svm.fit(x, scores[:50])
    with pytest.raises(ShapeError, match="NaN"):
        svm.fit(np.where(np.eye(100, 4) > 0, np.nan, x), scores)
    with pytest.raises(ShapeError, match="space='wp'"):
        svm.fit(x[:, None, :], scores)
    with pytest.raises(ShapeError, match="exactly one"):
        svm.fit(x)
    with pytest.raises(ShapeError, match="too few"):
        SVMBoundary(chosen_num_or_ratio=0.01, progress=False).fit(x, scores)
    with pytest.raises(ShapeError, match="single class"):
        svm.fit(x, labels=np.ones(100, bool))
    magic = SVMBoundary(solver="magic")  # validation happens in fit, not __init__
    with pytest.raises(ShapeError, match="solver"):
        magic.fit(x, scores)
    with pytest.raises(RuntimeError, match="not fitted"):
        SVMBoundary().decision_function(x)
