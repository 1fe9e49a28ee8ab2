"""Known answers for the Hessian Penalty and OroJaR estimators (models/regularizers.py)."""

from __future__ import annotations

import pytest
import torch

from latentatlas.models.regularizers import (
    hessian_penalty,
    layer_outputs,
    orojar,
    orojar_expected,
    rademacher,
)
from latentatlas.models.zgen import ZGenerator
from latentatlas.utils.errors import ShapeError


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_rademacher_entries() -> None:
    v = rademacher((1000,), generator=_gen())
    assert set(v.unique().tolist()) == {-1.0, 1.0}
    assert abs(float(v.mean())) < 0.1


@pytest.mark.parametrize("estimator", ["fd", "jvp"])
def test_hessian_penalty_closed_forms(estimator: str) -> None:
    # The reference's test: G(z) = [z0 z1, z0^2 z1] -> [4, mean(16 z0^2)] (k large: close).
    torch.manual_seed(0)
    z = torch.randn(10, 2, dtype=torch.float64)

    def G(x):
        return [x[:, 0] * x[:, 1], x[:, 0] ** 2 * x[:, 1]]

    hp = hessian_penalty(G, z, k=2000, reduction="mean", estimator=estimator,
                         return_separately=True, generator=_gen(1))
    assert float(hp[0]) == pytest.approx(4.0, rel=0.1)
    assert float(hp[1]) == pytest.approx(float((16 * z[:, 0] ** 2).mean()), rel=0.1)
    # Exactly: with all four sign patterns of v the variance is the closed form.
    signs = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    vectors = signs[:, None, :].expand(4, 10, 2)
    hp = hessian_penalty(G, z, k=4, reduction="mean", estimator=estimator, vectors=vectors,
                         return_separately=True)
    # v^T H v = 2 h v0 v1 takes +2h, -2h, -2h, +2h (h: the off-diagonal Hessian entry, 1 for
    # z0 z1 and 2 z0 for z0^2 z1): unbiased variance 16 h^2 / 3, i.e. the closed form x 4 / 3.
    assert float(hp[0]) == pytest.approx(4.0 * 4 / 3, rel=1e-9)
    assert float(hp[1]) == pytest.approx(float((16 * z[:, 0] ** 2).mean()) * 4 / 3, rel=1e-9)
    # G = x^2 (elementwise): a diagonal Hessian, penalty 0.
    assert float(hessian_penalty(lambda x: x**2, z, k=8, estimator=estimator,
                                 generator=_gen(2))) == pytest.approx(0.0, abs=1e-9)


def _linear(m: torch.Tensor):
    return lambda x: x @ m.T


def test_orojar_orthogonal_columns_and_growth() -> None:
    torch.manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(12, 12, dtype=torch.float64))
    m = q[:, :4] * torch.tensor([1.0, 2.0, 3.0, 0.5], dtype=torch.float64)  # orthogonal columns
    z = torch.randn(16, 4, dtype=torch.float64)
    for est in ("fd", "jvp"):
        assert float(orojar(_linear(m), z, k=4, estimator=est, generator=_gen())) < 1e-9
    # Closed form: E Var = 2 sum_{i != j} (M^T M)_ij^2, growing with the off-diagonal.
    previous = -1.0
    for t in (0.1, 0.3, 0.6):
        mt = m.clone()
        mt[:, 1] += t * m[:, 0]
        gram = mt.T @ mt
        closed = 2 * float((gram - torch.diag(torch.diag(gram))).square().sum())
        assert float(orojar_expected(_linear(mt), z)) == pytest.approx(closed, rel=1e-9)
        est = orojar(_linear(mt), z, k=4000, estimator="jvp", reduction="mean", generator=_gen(3))
        assert float(est) == pytest.approx(closed, rel=0.1)
        assert closed > previous
        previous = closed


def test_jvp_equals_finite_differences_on_linear_g() -> None:
    torch.manual_seed(1)
    m = torch.randn(20, 6, dtype=torch.float64)
    z = torch.randn(8, 6, dtype=torch.float64)
    v = rademacher((3, 8, 6), generator=_gen(), dtype=torch.float64)
    for fn in (orojar, hessian_penalty):
        fd = fn(_linear(m), z, k=3, vectors=v, estimator="fd")
        jvp = fn(_linear(m), z, k=3, vectors=v, estimator="jvp")
        assert abs(float(fd) - float(jvp)) <= 1e-5 * max(1.0, abs(float(jvp)))
    # float32 too (the training dtype), relative 1e-5 on the OroJaR value.
    m32, z32, v32 = m.float(), z.float(), v.float()
    fd = orojar(_linear(m32), z32, k=3, vectors=v32, estimator="fd")
    jvp = orojar(_linear(m32), z32, k=3, vectors=v32, estimator="jvp")
    assert float(fd) == pytest.approx(float(jvp), rel=1e-5)


def test_estimators_on_a_generator_layer_list() -> None:
    torch.manual_seed(0)
    G = ZGenerator(z_dim=4, img_resolution=16, img_channels=1, channel_base=64).eval()
    fn = layer_outputs(G, ["conv0", "conv1"], "z")
    z = torch.randn(3, 4)
    v = rademacher((2, 3, 4), generator=_gen())
    fd = orojar(fn, z, k=2, vectors=v, epsilon=1e-3, estimator="fd", return_separately=True)
    jvp = orojar(fn, z, k=2, vectors=v, estimator="jvp", return_separately=True)
    assert len(fd) == 2
    for a, b in zip(fd, jvp, strict=True):
        assert float(a.detach()) == pytest.approx(float(b.detach()), rel=2e-2)
    # Gradients reach the generator's weights (the training hook's use).
    loss = orojar(fn, z, k=2, generator=_gen(), estimator="jvp")
    loss.backward()
    assert G.convs[0].weight.grad is not None and G.convs[0].weight.grad.abs().sum() > 0


def test_bad_input() -> None:
    G = ZGenerator(z_dim=4, img_resolution=16, img_channels=1, channel_base=64)
    with pytest.raises(ShapeError, match="no layer"):
        layer_outputs(G, ["b8.conv0"])
    with pytest.raises(ShapeError, match="latent spaces"):
        layer_outputs(G, None, space="w")
    with pytest.raises(ShapeError, match="k"):
        orojar(lambda x: x, torch.zeros(2, 3), k=1)
    with pytest.raises(ShapeError, match="estimator"):
        orojar(lambda x: x, torch.zeros(2, 3), estimator="exact")
