"""Conditional boundaries (closed forms and the N-condition solve) and entanglement matrices."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.directions import (
    Directions,
    conditional_directions,
    cosine_matrix,
    project_boundary,
    score_change_matrix,
)
from latentatlas.utils.errors import ShapeError


def unit(rng, *shape):
    v = rng.standard_normal(shape)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_projection_is_orthogonal_to_conditions(rng, k):
    n = unit(rng, 64)
    conds = [unit(rng, 64) + 0.3 * n for _ in range(k)]  # correlated with the primal
    conds = [c / np.linalg.norm(c) for c in conds]
    out = project_boundary(n, *conds)
    assert np.linalg.norm(out) == pytest.approx(1.0, abs=1e-12)
    for c in conds:
        assert abs(out @ c) < 1e-6
    assert out @ n > 0  # still points the primal's way
    # float32 storage keeps orthogonality
    d = Directions(out[None].astype(np.float32), "w", normalize=True)
    assert max(abs(float(d.vectors[0] @ c)) for c in conds) < 1e-6


def test_closed_forms_equal_the_solve(rng):
    n, c1, c2 = unit(rng, 3, 32)
    one = project_boundary(n, c1)
    expected = n - (n @ c1) * c1
    np.testing.assert_allclose(one, expected / np.linalg.norm(expected), atol=1e-12)
    np.testing.assert_allclose(one, project_boundary(n, c1, method="solve"), atol=1e-10)
    two = project_boundary(n, c1, c2)
    np.testing.assert_allclose(two, project_boundary(n, c1, c2, method="solve"), atol=1e-7)
    # InterFaceGAN's (1, d) shapes come back as (1, d)
    assert project_boundary(n[None], c1[None]).shape == (1, 32)


def test_projection_errors(rng):
    n, c = unit(rng, 2, 8)
    with pytest.raises(ShapeError, match="span"):
        project_boundary(n, n)
    with pytest.raises(ShapeError, match="dim"):
        project_boundary(n, unit(rng, 9))
    with pytest.raises(ShapeError, match="dependent"):
        project_boundary(n, c, c, -c)
    with pytest.raises(ShapeError, match="NaN"):
        project_boundary(np.full(8, np.nan), c)


def test_conditional_directions_object(rng):
    d = Directions(unit(rng, 3, 16).astype(np.float32), "w", names=["smile", "male", "age"],
                   intercepts=[0.1, 0.2, 0.3])
    cond = conditional_directions(d, "smile", ["male", "age"])
    assert cond.names == ["smile|male,age"] and cond.intercepts is None
    assert cond.metadata["conditions"] == ["male", "age"]
    for other in ("male", "age"):
        assert abs(float(cond.vectors[0] @ d.vector(other))) < 1e-6
    # per-layer directions are projected layer by layer
    wp = Directions(unit(rng, 2, 4, 16).astype(np.float32), "wp", names=["a", "b"])
    cwp = conditional_directions(wp, "a", ["b"])
    assert cwp.vectors.shape == (1, 4, 16)
    assert np.abs(np.einsum("ld,ld->l", cwp.vectors[0], wp.vector("b"))).max() < 1e-6
    with pytest.raises(ShapeError, match="own condition"):
        conditional_directions(d, "smile", ["smile"])


def test_cosine_matrix():
    eye = Directions(np.eye(3, dtype=np.float32), "z")
    np.testing.assert_allclose(cosine_matrix(eye), np.eye(3), atol=1e-7)
    v = np.array([[1.0, 0.0], [np.sqrt(0.5), np.sqrt(0.5)]], dtype=np.float32)
    np.testing.assert_allclose(cosine_matrix(Directions(v, "z")), [[1, 0.7071068], [0.7071068, 1]],
                               atol=1e-6)
    # per layer: mean of the per-layer cosines
    wp = np.stack([np.stack([v[0], v[0]]), np.stack([v[0], v[1]])]).astype(np.float32)
    np.testing.assert_allclose(cosine_matrix(Directions(wp, "wp"))[0, 1], (1 + 0.7071068) / 2,
                               atol=1e-6)


def test_score_change_matrix(rng):
    before = rng.standard_normal((200, 4))
    delta = rng.standard_normal(200)
    after = before + np.stack([delta, 2 * delta + 1, -delta, np.full(200, 0.5)], axis=1)
    corr = score_change_matrix(before, after)
    np.testing.assert_allclose(corr[:3, :3], [[1, 1, -1], [1, 1, -1], [-1, -1, 1]], atol=1e-12)
    assert np.isnan(corr[3, :3]).all() and corr[3, 3] == 1.0  # constant change: undefined
    cov = score_change_matrix(before, after, kind="covariance")
    np.testing.assert_allclose(cov, np.cov((after - before).T), atol=1e-12)
    with pytest.raises(ShapeError):
        score_change_matrix(before, after[:, :2])
