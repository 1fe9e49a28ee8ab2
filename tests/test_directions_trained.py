"""Known answers for the trained direction finders: latent discovery (Voynov & Babenko),
Hessian Penalty / OroJaR discovery and LatentCLR."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from latentatlas.directions.jacobian import HessianDiscovery, OroJaRDiscovery, gram_schmidt
from latentatlas.directions.latent_discovery import LatentDiscovery
from latentatlas.directions.latentclr import LatentCLR, nt_xent
from latentatlas.directions.registry import DIRECTION_METHODS
from latentatlas.models.base import Generator
from latentatlas.models.zgen import ZGenerator
from latentatlas.utils.errors import CheckpointError, ShapeError


class Planted(Generator):
    """16 x 16 images whose quadrant i shows cos(gain * z_i): z's coordinates are the planted
    factors. Each change along a coordinate touches one quadrant; a mixed direction changes
    several quadrants with signs that depend on z, so only the axes are always recognisable."""

    def __init__(self, z_dim: int = 4, gain: float = 0.7) -> None:
        super().__init__()
        self.z_dim, self.img_resolution, self.img_channels, self.gain = z_dim, 16, 1, gain
        masks = torch.zeros(z_dim, 16, 16)
        for i in range(z_dim):
            r, c = divmod(i, 2)
            masks[i, 8 * r:8 * r + 8, 8 * c:8 * c + 8] = 1
        self.register_buffer("masks", masks)

    def synthesize(self, latent, space="z", c=None, noise_mode="const"):
        z = self.check_latent(latent, space)
        return torch.einsum("ni,ihw->nhw", torch.cos(self.gain * z), self.masks)[:, None]


class Function(Generator):
    """A Z-only 'generator' from a function z [N, d] -> [N, m] (images [N, 1, m, 1])."""

    def __init__(self, fn, dim: int) -> None:
        super().__init__()
        self.fn, self.z_dim, self.img_resolution, self.img_channels = fn, dim, 4, 1

    def synthesize(self, latent, space="z", c=None, noise_mode="const"):
        z = self.check_latent(latent, space)
        return self.fn(z).reshape(z.shape[0], 1, -1, 1)


def _quadrant_changes(G: Planted, vectors: np.ndarray) -> np.ndarray:
    """[K, 4]: mean |change| of each quadrant when codes move by +-1 along each direction."""
    z = torch.randn(256, G.z_dim, generator=torch.Generator().manual_seed(5))
    out = []
    for v in torch.as_tensor(vectors):
        diff = (G.synthesize(z + v) - G.synthesize(z - v)).abs()
        out.append([float(diff[:, 0, 8 * r:8 * r + 8, 8 * c:8 * c + 8].mean())
                    for r in (0, 1) for c in (0, 1)])
    return np.asarray(out)


def test_latent_discovery_finds_the_planted_factors() -> None:
    G = Planted()
    finder = LatentDiscovery(n_steps=400, lr=1e-2, reconstructor_lr=1e-3, eval_pairs=1600,
                             bf16=False, progress=False).fit(generator=G, rng=0)
    assert finder.rca_ >= 0.95
    d = finder.directions_
    assert len(d) == 4 and d.space == "z" and d.method == "latent_discovery"
    assert finder.directions_.scores["rca"].shape == (4,)
    # Each planted factor (coordinate) has its own direction ...
    cos = np.abs(d.vectors @ np.eye(4))
    assert sorted(cos.argmax(axis=0).tolist()) == [0, 1, 2, 3]
    assert cos.max(axis=0).min() >= 0.95
    # ... and, labelled by what it changes, each direction moves one quadrant (purity ~1).
    change = _quadrant_changes(G, d.vectors)
    purity = change.max(axis=1) / change.sum(axis=1)
    assert sorted(change.argmax(axis=1).tolist()) == [0, 1, 2, 3]
    assert purity.min() >= 0.9
    assert finder.score() == finder.rca_


def test_latent_discovery_resumes_exactly(tmp_path) -> None:
    G = Planted()
    params = dict(lr=1e-2, eval_pairs=64, bf16=False, progress=False, checkpoint_every=5)
    whole = LatentDiscovery(n_steps=12, out_dir=tmp_path / "a", **params).fit(generator=G, rng=3)
    LatentDiscovery(n_steps=7, out_dir=tmp_path / "b", **params).fit(generator=G, rng=3)
    resumed = LatentDiscovery(n_steps=12, out_dir=tmp_path / "b", **params).fit(generator=G,
                                                                               rng=3)
    np.testing.assert_array_equal(whole.matrix_, resumed.matrix_)
    for a, b in zip(whole.reconstructor_.state_dict().values(),
                    resumed.reconstructor_.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert whole.rca_ == resumed.rca_
    # Other settings may not resume that run.
    with pytest.raises(CheckpointError, match="other settings"):
        LatentDiscovery(n_steps=14, out_dir=tmp_path / "b", **{**params, "lr": 1e-3}).fit(
            generator=G, rng=3)


def test_latent_discovery_variants_and_spaces() -> None:
    torch.manual_seed(0)
    G = ZGenerator(z_dim=6, img_resolution=32, img_channels=1, channel_base=128)
    for kind in ("proj", "linear"):
        f = LatentDiscovery(n_directions=3, deformator=kind, n_steps=2, eval_pairs=8,
                            batch_size=4, bf16=False, progress=False).fit(generator=G)
        assert f.matrix_.shape == (6, 3) and len(f.directions_) == 3
        if kind == "proj":
            np.testing.assert_allclose(np.linalg.norm(f.matrix_, axis=0), 1.0, rtol=1e-5)
    f = LatentDiscovery(n_steps=2, eval_pairs=8, batch_size=4, progress=False).fit(generator=G)
    np.testing.assert_allclose(f.matrix_.T @ f.matrix_, np.eye(6), atol=1e-5)  # ortho
    assert clone(f).get_params() == f.get_params()


def test_latent_discovery_bad_input() -> None:
    G = Planted()
    with pytest.raises(ShapeError, match=r"n_directions must be in \[1, 4\]"):
        LatentDiscovery(n_directions=5, progress=False).fit(generator=G)
    with pytest.raises(ShapeError, match="latent spaces"):
        LatentDiscovery(space="w", progress=False).fit(generator=G)
    with pytest.raises(ShapeError, match="deformator"):
        LatentDiscovery(deformator="fc", progress=False).fit(generator=G)
    with pytest.raises(ShapeError, match="needs generator"):
        LatentDiscovery().fit()


def test_gram_schmidt() -> None:
    a = torch.tensor([[2.0, 0.0, 0.0], [1.0, 3.0, 0.0]])
    q = gram_schmidt(a)
    torch.testing.assert_close(q, torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))


def _rotation(d: int, seed: int = 0) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed)))
    return q


@pytest.mark.parametrize("estimator", ["fd", "jvp"])
def test_orojar_discovery_recovers_the_jacobian_eigenvectors(estimator: str) -> None:
    # G(z) = diag(s) R^T z: J^T J = R diag(s^2) R^T, so the directions with orthogonal
    # Jacobian columns are R's columns (distinct s: unique up to sign).
    d = 5
    R = _rotation(d)
    s = torch.tensor([3.0, 2.5, 2.0, 1.5, 1.0])
    G = Function(lambda z: (z @ R) * s, d)
    f = OroJaRDiscovery(n_steps=300, estimator=estimator, progress=False).fit(generator=G, rng=0)
    cos = np.abs(f.matrix_ @ R.numpy())
    assert cos.max(axis=0).min() >= 0.99
    np.testing.assert_allclose(f.matrix_ @ f.matrix_.T, np.eye(d), atol=1e-5)
    # Sorted by activeness: the largest singular direction first.
    assert cos[0].argmax() == 0 and np.all(np.diff(f.activeness_) <= 0)


@pytest.mark.parametrize("estimator", ["fd", "jvp"])
def test_hessian_discovery_recovers_the_planted_axes(estimator: str) -> None:
    # G_i(z) = (r_i . z)^2: in coefficient space H_i = 2 (A r_i)(A r_i)^T is diagonal for every
    # i exactly when A's rows are the r_i (up to sign and order).
    d = 5
    R = _rotation(d, 1)
    G = Function(lambda z: (z @ R) ** 2, d)
    f = HessianDiscovery(n_steps=300, estimator=estimator, progress=False).fit(generator=G, rng=0)
    cos = np.abs(f.matrix_ @ R.numpy())
    assert cos.max(axis=0).min() >= 0.99


def test_regularizer_discovery_layers_and_bad_input(tmp_path) -> None:
    torch.manual_seed(0)
    G = ZGenerator(z_dim=4, img_resolution=16, img_channels=1, channel_base=64)
    f = OroJaRDiscovery(n_directions=3, layers=["conv0", "conv1"], n_steps=3, batch_size=4,
                        progress=False).fit(generator=G)
    assert f.matrix_.shape == (3, 4) and f.directions_.metadata["layers"] == ["conv0", "conv1"]
    with pytest.raises(ShapeError, match=r"has no layer\(s\) \['b8.conv0'\]"):
        HessianDiscovery(layers=["b8.conv0"], progress=False).fit(generator=G)
    with pytest.raises(ShapeError, match=r"n_directions must be in \[1, 4\]"):
        OroJaRDiscovery(n_directions=5, progress=False).fit(generator=G)
    # Resume: 2 + 3 steps == 5 steps.
    kw = dict(n_directions=2, batch_size=4, progress=False, checkpoint_every=1)
    a = HessianDiscovery(n_steps=5, out_dir=tmp_path / "a", **kw).fit(generator=G, rng=1)
    HessianDiscovery(n_steps=2, out_dir=tmp_path / "b", **kw).fit(generator=G, rng=1)
    b = HessianDiscovery(n_steps=5, out_dir=tmp_path / "b", **kw).fit(generator=G, rng=1)
    np.testing.assert_array_equal(a.matrix_, b.matrix_)


def test_nt_xent_known_value() -> None:
    # K = 2 directions x N = 2 codes; same-direction differences identical, the two directions
    # orthogonal: each anchor has one positive (cos 1) and two negatives (cos 0).
    feats = torch.tensor([[[1.0, 0.0], [2.0, 0.0]], [[0.0, 1.0], [0.0, 3.0]]])
    expected = np.log(1 + 2 * np.exp(-2.0))
    assert float(nt_xent(feats, 0.5)) == pytest.approx(expected, rel=1e-6)
    # abs: the opposite change counts as the same change.
    flipped = feats.clone()
    flipped[0, 1] *= -1
    assert float(nt_xent(flipped, 0.5)) == pytest.approx(expected, rel=1e-6)
    assert float(nt_xent(flipped, 0.5, absolute=False)) > expected


def test_latentclr_separates_the_feature_changes() -> None:
    # Linear G = M z: the feature difference of direction d is alpha M d for every code, so the
    # loss is minimal when the M d_k are mutually orthogonal.
    d = 4
    M = torch.randn(12, d, generator=torch.Generator().manual_seed(0))
    G = Function(lambda z: z @ M.T, d)
    f = LatentCLR(n_steps=300, batch_size=8, lr=1e-2, progress=False).fit(generator=G, rng=0)
    moved = f.matrix_ @ M.numpy().T
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    off = np.abs(moved @ moved.T) - np.eye(d)
    assert off.max() <= 0.05
    assert f.history_[-1]["loss"] < f.history_[0]["loss"]
    with pytest.raises(ShapeError, match="batch_size"):
        LatentCLR(batch_size=1).fit(generator=G)


def test_registry_entries() -> None:
    for name, cls in {"ld": LatentDiscovery, "hp": HessianDiscovery, "orojar": OroJaRDiscovery,
                      "latentclr": LatentCLR}.items():
        assert DIRECTION_METHODS[name] is cls
        assert cls.fit_requires == ("generator",)


def test_a_nan_loss_stops_the_run(tmp_path) -> None:
    from latentatlas.directions._loop import DiscoveryDivergedError

    G = Function(lambda z: z * float("nan"), 3)
    with pytest.raises(DiscoveryDivergedError, match="step 0"):
        OroJaRDiscovery(n_steps=3, progress=False, out_dir=tmp_path).fit(generator=G)
    assert not list(tmp_path.glob("ckpt-*"))  # nothing written for a diverged step
