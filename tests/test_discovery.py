"""Unsupervised direction discovery (SeFa, GANSpace, StyleSpace), labelling and the leaderboard,
with known answers on toy linear generators whose factors are planted orthogonal directions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from latentatlas.analysis.labelling import fit_images, label_directions
from latentatlas.analysis.leaderboard import fitted_scorer, run_leaderboard
from latentatlas.directions import Directions, GANSpace, SeFa, StyleSpace
from latentatlas.directions.registry import (
    DIRECTION_METHODS,
    make_method,
    method_class,
    unsupervised_methods,
)
from latentatlas.models.base import Generator
from latentatlas.models.stylegan2 import StyleGAN2Generator
from latentatlas.scoring import factor_scorer
from latentatlas.scoring.base import CallableScorer, ScoringError
from latentatlas.utils.errors import ShapeError

D = 4
#: Pixels per planted factor (distinct, so W^T W has distinct eigenvalues) and their gains.
BLOCKS = (16, 12, 8, 4)
GAINS = (0.12, 0.10, 0.08, 0.06)
FACTORS = ["f0", "f1", "f2", "f3"]


def planted_basis(seed: int = 0) -> np.ndarray:
    """A random orthogonal [D, D] matrix: row k is the latent direction of factor k."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((D, D)))
    return q.T


class LinearZ(Generator):
    """G(z) = M z on an 8x8 image: factor k fills BLOCKS[k] pixels with GAINS[k] * r_k . z."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.z_dim, self.img_resolution, self.img_channels = D, 8, 1
        basis = planted_basis(seed)
        rows = []
        for k, (size, gain) in enumerate(zip(BLOCKS, GAINS, strict=True)):
            rows += [gain * basis[k]] * size
        rows += [np.zeros(D)] * (64 - len(rows))
        self.fc = torch.nn.Linear(D, 64, bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(torch.as_tensor(np.array(rows), dtype=torch.float32))
        self.basis = basis

    def layer_names(self):
        return ["fc"]

    def activations(self, latent, space, layers, noise_mode="const"):
        z = self.check_latent(latent, space)
        return {"fc": self.fc(z)}

    def synthesize(self, latent, space="z", c=None, noise_mode="const"):
        return self.fc(self.check_latent(latent, space)).reshape(-1, 1, 8, 8)


class LinearW(Generator):
    """A mapping w = M z with M = U S V^T (planted U: the principal axes of w)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.z_dim = self.w_dim = D
        self.num_ws, self.img_resolution, self.img_channels = 3, 8, 1
        self.basis = planted_basis(seed)
        v = planted_basis(seed + 1)
        m = self.basis.T @ np.diag([3.0, 2.0, 1.2, 0.6]) @ v
        self.register_buffer("m", torch.as_tensor(m, dtype=torch.float32))

    def z_to_w(self, z, c=None):
        return self.check_latent(z, "z") @ self.m.T

    @property
    def w_avg(self):
        return torch.zeros(D)


def block_scorer(images: torch.Tensor) -> torch.Tensor:
    """The four planted factors read back from their pixel blocks."""
    flat = images.reshape(images.shape[0], -1)
    out, start = [], 0
    for size in BLOCKS:
        out.append(flat[:, start:start + size].mean(1))
        start += size
    return torch.stack(out, dim=1)


class PlainScorer:
    """A bare scorer (names + __call__), no range validation: toy images exceed [-1, 1]."""

    def __init__(self, fn, names):
        self.fn, self.names = fn, names

    def __call__(self, images):
        return self.fn(images)


def toy_scorer() -> CallableScorer:
    return CallableScorer(block_scorer, FACTORS, clamp="none", differentiable=True)


def best_abs_cos(found: np.ndarray, planted: np.ndarray) -> np.ndarray:
    """For each planted row, the largest |cos| with any found row."""
    f = found / np.linalg.norm(found, axis=1, keepdims=True)
    return np.abs(planted @ f.T).max(axis=1)


# --------------------------------------------------------------------------- SeFa
def test_sefa_recovers_planted_directions_and_matches_eigh():
    g = LinearZ()
    sefa = SeFa().fit(generator=g)
    d = sefa.directions_
    assert d.space == "z" and len(d) == D and d.method == "sefa"
    assert best_abs_cos(d.vectors, g.basis).min() >= 0.99
    # Sorted by eigenvalue: the factor with the most pixels comes first.
    assert abs(float(d.vectors[0] @ g.basis[0])) >= 0.99
    vals, vecs = np.linalg.eigh(sefa.matrix_)
    order = np.argsort(vals)[::-1]
    np.testing.assert_allclose(sefa.eigenvalues_, vals[order], rtol=1e-12)
    np.testing.assert_allclose(np.abs(d.vectors @ vecs[:, order]), np.eye(D), atol=1e-6)
    # The matrix is A^T A of the row-normalised first-layer weight.
    w = g.fc.weight.detach().double().numpy()
    w = w[np.linalg.norm(w, axis=1) > 0]
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    np.testing.assert_allclose(sefa.matrix_[: D, : D], w.T @ w, atol=1e-12)


def test_sefa_on_stylegan2_layer_range_and_validity():
    torch.manual_seed(0)
    g = StyleGAN2Generator(z_dim=16, w_dim=16, img_resolution=16, img_channels=3,
                           mapping_layers=2, channel_base=256, channel_max=32).eval()
    all_layers = SeFa(n_components=5).fit(generator=g)
    assert all_layers.directions_.space == "w" and all_layers.directions_.layers is None
    part = SeFa(n_components=3, layers="0-1").fit(generator=g)
    assert part.directions_.space == "wp" and part.directions_.layers == (0, 1)
    assert set(part.layer_names_) == {n for n in g.style_affines() if g.ws_index(n) in (0, 1)}
    weights = [a.weight.detach().double().numpy() * a.weight_gain
               for n, a in g.style_affines().items() if g.ws_index(n) in (0, 1)]
    w = np.concatenate(weights)
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    vals, vecs = np.linalg.eigh(w.T @ w)
    top = vecs[:, np.argsort(vals)[::-1][:3]].T
    np.testing.assert_allclose(np.abs((part.directions_.vectors @ top.T).diagonal()), 1,
                               atol=1e-5)
    # An edit moves only the layers the directions were computed on.
    wp = g.sample(2, "wp", rng=0).numpy()
    moved = part.directions_[0].walk(wp, 1.0)
    assert np.array_equal(moved[:, 2:], wp[:, 2:]) and not np.array_equal(moved[:, :2], wp[:, :2])


# --------------------------------------------------------------------------- GANSpace
@pytest.mark.parametrize("estimator", ["ipca", "pca", "randomized"])
def test_ganspace_latent_pca_recovers_planted_axes(estimator):
    g = LinearW()
    gs = GANSpace(n_components=D, n_samples=20_000, estimator=estimator, batch_size=5000,
                  n_stdev_samples=5000).fit(generator=g)
    assert gs.variant_ == "latent" and gs.directions_.space == "w"
    assert best_abs_cos(gs.directions_.vectors, g.basis).min() >= 0.99
    np.testing.assert_allclose(gs.lat_stdev_, [3.0, 2.0, 1.2, 0.6], rtol=0.05)


def test_ganspace_ipca_uses_every_sample():
    from latentatlas.directions.ganspace import ipca_chunk_sizes

    assert ipca_chunk_sizes(4_003, 2_000, 8) == [2_000, 2_003]  # the short tail is folded in
    assert ipca_chunk_sizes(4_010, 2_000, 8) == [2_000, 2_000, 10]
    assert ipca_chunk_sizes(1_500, 2_000, 8) == [1_500]
    gs = GANSpace(n_components=D, n_samples=4_003, estimator="ipca", batch_size=2_000,
                  n_stdev_samples=500).fit(generator=LinearW())
    assert gs.n_samples_seen_ == 4_003


def test_ganspace_activation_variant_recovers_planted_directions():
    g = LinearZ()
    gs = GANSpace(n_components=D, n_samples=5000, estimator="pca").fit(generator=g)
    assert gs.variant_ == "activations" and gs.layer_ == "fc"
    assert gs.directions_.space == "z"
    assert best_abs_cos(gs.directions_.vectors, g.basis).min() >= 0.99
    # Sorted by explained variance: the factor with the most pixels x gain^2 first.
    assert abs(float(gs.directions_.vectors[0] @ g.basis[0])) >= 0.99


def test_ganspace_layer_range_edit():
    g = LinearW()
    gs = GANSpace(n_components=2, n_samples=4000, estimator="pca", layers=[1, 2],
                  n_stdev_samples=1000).fit(generator=g)
    assert gs.directions_.space == "wp" and gs.directions_.layers == (1, 2)
    wp = g.sample(3, "wp", rng=0).numpy()
    out = gs.edit(wp, 0, 2.0)
    step = 2.0 * gs.lat_stdev_[0] * gs.components_[0]
    np.testing.assert_allclose(out[:, 1:] - wp[:, 1:], np.broadcast_to(step, (3, 2, D)),
                               atol=1e-5)
    assert np.array_equal(out[:, 0], wp[:, 0])


# --------------------------------------------------------------------------- labelling
def test_labelling_assigns_each_planted_factor_to_its_direction():
    g = LinearZ()
    dirs = Directions(g.basis, "z", names=[f"d{k}" for k in range(D)])
    res = label_directions(g, dirs, toy_scorer(), n=64, alpha=1.0)
    for k in range(D):
        row = res.best[k]
        assert row["target"] == FACTORS[k]
        assert row["purity"] >= 0.99
        assert row["effect"] > 0
    assert res.labels()[0].startswith("d0: f0 (+")
    assert res.images == 64 * (1 + 2 * D)
    # A direction between two factors splits its change between them.
    mixed = Directions((g.basis[0] + g.basis[1]) / np.sqrt(2), "z", names=["mix"])
    res = label_directions(g, mixed, toy_scorer(), n=64)
    assert res.best[0]["target"] in ("f0", "f1")
    assert 0.4 <= res.best[0]["purity"] <= 0.6


def test_labelling_per_layer_range_and_groups():
    from tests._toy_generator import ToyGenerator

    g = ToyGenerator()

    def fn(images):
        flat = images.reshape(images.shape[0], -1)
        return torch.stack([flat[:, 0:4].mean(1), flat[:, 4:8].mean(1)], dim=1)

    scorer = PlainScorer(fn, ["A", "B"])
    dirs = Directions(np.eye(6)[:2], "w", names=["dim0", "dim1"])
    res = label_directions(g, dirs, scorer, n=32, layer_ranges={"early": "0-1", "late": "2-3"},
                           truncation_psi=1.0)
    rows = {(r["direction"], tuple(r["layers"] or ())): r for r in res.candidates}
    assert rows[("dim0", (2, 3))]["target"] == "A"
    assert rows[("dim1", (0, 1))]["target"] == "B"
    assert rows[("dim1", (2, 3))]["change"] < 1e-6 + rows[("dim1", (0, 1))]["change"] * 0.01
    grouped = label_directions(g, dirs, scorer, n=32, groups={"AB": ["A", "B"]},
                               layer_ranges=None)
    assert all(r["target"] == "AB" and r["purity"] == pytest.approx(1.0) for r in grouped.best)


def test_factor_scorer_expected_index_and_one_vs_rest():
    from latentatlas.models.predictors import AttributePredictor
    from latentatlas.scoring import PredictorScorer

    model = AttributePredictor(in_channels=1, resolution=16, heads=[
        {"name": "shape", "kind": "multiclass", "num_classes": 3},
        {"name": "scale", "kind": "multiclass", "num_classes": 4},
        {"name": "extra", "kind": "regression"}], width=4, max_width=8, final_size=4,
        embedding_dim=8)
    base = PredictorScorer(model)
    fs, groups = factor_scorer(base)
    assert fs.names == ["shape_0", "shape_1", "shape_2", "scale"]
    assert groups == {"shape": ["shape_0", "shape_1", "shape_2"], "scale": ["scale"]}
    img = torch.rand(5, 1, 16, 16) * 2 - 1
    probs = base(img)
    out = fs(img)
    np.testing.assert_allclose(out[:, :3].detach(), probs[:, :3].detach(), atol=1e-6)
    np.testing.assert_allclose(out[:, 3].detach(),
                               (probs[:, 3:7] * torch.arange(4.0)).sum(1).detach(), atol=1e-5)
    single = AttributePredictor(in_channels=1, resolution=16, heads=[
        {"name": "digit", "kind": "multiclass", "num_classes": 3}], width=4, max_width=8,
        final_size=4, embedding_dim=8)
    _, g2 = factor_scorer(PredictorScorer(single))
    assert g2 == {"digit_0": ["digit_0"], "digit_1": ["digit_1"], "digit_2": ["digit_2"]}


# --------------------------------------------------------------------------- StyleSpace
def test_stylespace_channels_ranked_by_specificity():
    torch.manual_seed(0)
    g = StyleGAN2Generator(z_dim=16, w_dim=16, img_resolution=16, img_channels=3,
                           mapping_layers=2, channel_base=256, channel_max=32).eval()
    scorer = PlainScorer(lambda x: torch.stack([x[:, 0].mean((1, 2)), x[:, 2].mean((1, 2))], 1),
                         ["red", "blue"])
    ss = StyleSpace(n_components=4, n_samples=8, batch_size=8).fit(generator=g, scorer=scorer)
    d = ss.directions_
    assert len(d) == 4 and d.space == "wp"
    assert all(len(d.layers_of(k)) == 1 for k in range(4))
    assert set(ss.targets_[:2]) == {"red", "blue"}  # one dedicated channel per column first
    assert np.all((ss.specificity_ >= 0) & (ss.specificity_ <= 1 + 1e-9))
    # The first channels are the top-ranked ones (specificity x effect) for their column.
    eff = np.abs(ss.effects_)
    rank, best_col = ss.specificity_ * eff.max(axis=1), eff.argmax(axis=1)
    for k in range(2):
        j = ["red", "blue"].index(ss.targets_[k])
        chosen = d.scores["specificity"][k] * abs(d.scores["effect"][k])
        assert chosen == pytest.approx(rank[best_col == j].max())


# --------------------------------------------------------------------------- leaderboard
def test_leaderboard_on_toy_generator():
    g = LinearZ()
    out = run_leaderboard(g, toy_scorer(), ["sefa", "ganspace", "stylespace"], top_k=4, n=32,
                          alpha=1.0, svm_n=400,
                          method_params={"ganspace": {"n_samples": 2000}})
    board = out["leaderboard"]
    assert board["methods"]["sefa"]["dedicated_factors"] == 4
    assert board["methods"]["ganspace"]["dedicated_factors"] == 4
    assert board["methods"]["sefa"]["mean_best_purity"] >= 0.99
    assert "skipped" in board["methods"]["stylespace"]
    assert board["svm"]["mean_purity"] >= 0.9  # 40 + 40 SVM training samples per factor


def test_registry():
    assert {"sefa", "ganspace", "stylespace", "svm"} <= set(DIRECTION_METHODS)
    assert "svm" not in unsupervised_methods() and "sefa" in unsupervised_methods()
    est = make_method("sefa", n_components=3)
    assert clone(est).get_params()["n_components"] == 3
    with pytest.raises(ShapeError, match="unknown direction method 'nope'"):
        method_class("nope")


# --------------------------------------------------------------------------- bad input
def test_bad_inputs_give_one_clear_error_each():
    g = LinearZ()

    class NoWeights(Generator):
        z_dim, img_resolution, img_channels = 4, 8, 1

    with pytest.raises(ShapeError, match="neither style affines"):
        SeFa().fit(generator=NoWeights())
    torch.manual_seed(0)
    sg = StyleGAN2Generator(z_dim=16, w_dim=16, img_resolution=16, img_channels=3,
                            mapping_layers=2, channel_base=256, channel_max=32)
    with pytest.raises(ShapeError, match="out of range"):
        SeFa(layers="40-41").fit(generator=sg)
    with pytest.raises(ShapeError, match="first layer only"):
        SeFa(layers="1").fit(generator=g)
    with pytest.raises(ShapeError, match=r"n_components=5 must be in \[1, 4\]"):
        SeFa(n_components=5).fit(generator=g)
    with pytest.raises(ShapeError, match=r"n_components=17 must be in \[1, 16\]"):
        GANSpace(n_components=17, n_samples=100).fit(generator=sg)
    with pytest.raises(ShapeError, match="no W space"):
        GANSpace(variant="latent").fit(generator=g)
    with pytest.raises(ShapeError, match="no style affines"):
        StyleSpace().fit(generator=g, scorer=toy_scorer())
    # A scorer whose resolution does not match the generator's.
    from latentatlas.models.predictors import AttributePredictor
    from latentatlas.scoring import PredictorScorer

    pred = PredictorScorer(AttributePredictor(in_channels=1, resolution=16, heads=[
        {"name": "a", "kind": "binary"}], width=4, max_width=8, final_size=4, embedding_dim=8))
    with pytest.raises(ShapeError, match="expects 16 px images, the generator makes 8 px"):
        fitted_scorer(pred, g)
    with pytest.raises(ShapeError, match="expects 16 px"):
        fit_images(torch.zeros(1, 1, 8, 8), 16)
    # NaN scores.
    nan = CallableScorer(lambda x: torch.full((x.shape[0], 1), float("nan")), ["a"],
                         clamp="none")
    with pytest.raises(ScoringError, match="NaN"):
        label_directions(g, Directions(g.basis[:1], "z"), nan, n=4)


def test_discover_job_writes_every_output_and_resumes(tmp_path):
    import json

    from latentatlas.pipelines.discover import discover

    g = LinearZ()
    board = discover(g, tmp_path, methods=["sefa", "ganspace"], scorer=toy_scorer(), top_k=4,
                     n=32, alpha=1.0, svm_n=300, progress=False)
    assert board["methods"]["sefa"]["dedicated_factors"] == 4
    for rel in ("leaderboard.json", "leaderboard.md", "index.html", "run.json",
                "figures/heatmap.png", "figures/sefa__f0.png", "directions/sefa.safetensors",
                "methods/ganspace.json", "methods/svm.json"):
        assert (tmp_path / rel).is_file(), rel
    assert "| sefa | 4/4 |" in (tmp_path / "leaderboard.md").read_text()
    saved = json.loads((tmp_path / "leaderboard.json").read_text())
    assert saved["methods"]["ganspace"]["dedicated"] == FACTORS
    # A stricter threshold re-summarises the cached methods without refitting them.
    again = discover(g, tmp_path, methods=["sefa"], scorer=toy_scorer(), top_k=4, n=32,
                     alpha=1.0, svm_n=300, threshold=1.01, figures=False, progress=False)
    assert again["methods"]["sefa"]["dedicated_factors"] == 0
    assert again["methods"]["sefa"]["fit_seconds"] == board["methods"]["sefa"]["fit_seconds"]


def test_discover_ranks_a_directions_file_beside_fitted_methods(tmp_path):
    from latentatlas.pipelines.discover import discover

    g = LinearZ()
    # Directions found elsewhere: the planted basis (as a long training run would find it) with
    # its RCA in the metadata, and a random one.
    planted = Directions(g.basis, "z", names=[f"d{i}" for i in range(4)], metadata={"rca": 0.97})
    planted.save(tmp_path / "ld_toy.safetensors")
    rnd = torch.nn.functional.normalize(torch.randn(4, g.z_dim,
                                                    generator=torch.Generator().manual_seed(0)))
    Directions(rnd.numpy(), "z").save(tmp_path / "random.safetensors")
    board = discover(g, tmp_path / "out", methods=["sefa", f"file:{tmp_path}/ld_toy.safetensors",
                                                   f"file:{tmp_path}/random.safetensors"],
                     scorer=toy_scorer(), top_k=4, n=32, alpha=1.0, svm_n=0, progress=False)
    got = board["methods"]["file:ld_toy"]
    assert got["dedicated_factors"] == 4 and got["rca"] == pytest.approx(0.97)
    assert got["params"]["file"].endswith("ld_toy.safetensors")
    assert board["methods"]["file:random"]["mean_best_purity"] < got["mean_best_purity"]
    assert (tmp_path / "out" / "figures" / "file_ld_toy__f0.png").is_file()
    assert "| file:ld_toy | 4/4 |" in (tmp_path / "out" / "leaderboard.md").read_text()
    with pytest.raises(ShapeError, match="no directions file"):
        discover(g, tmp_path / "out2", methods=["file:/nonexistent.safetensors"],
                 scorer=toy_scorer(), progress=False)


def test_cli_discover_bad_method_is_one_clear_line(tmp_path):
    from click.testing import CliRunner

    from latentatlas.cli import main

    res = CliRunner().invoke(main, ["discover", "--model", "dsprites", "--methods", "sefa,nope",
                                    "--out", str(tmp_path), "--no-progress"])
    assert res.exit_code != 0
    assert "unknown direction method 'nope'" in res.output
    assert "Traceback" not in res.output


def test_discover_traversal_grids_span_the_labelled_sd(tmp_path, monkeypatch):
    """The traversal grids move +-alpha sd of the codes along each direction, the sd measured
    on the labelled codes (n of them), not on the 4 grid rows."""
    from latentatlas.analysis.labelling import sample_codes
    from latentatlas.pipelines import discover as job

    seen = []
    monkeypatch.setattr(job, "render_edit_grid",
                        lambda *a, walk=None, alphas=None, **k: seen.append((walk, alphas)))
    g = LinearZ()
    job.discover(g, tmp_path, methods=["sefa"], scorer=toy_scorer(), top_k=2, n=64, alpha=1.5,
                 svm_n=0, sd_n=0, progress=False)
    assert seen
    codes, _ = sample_codes(g, 64, 0, 0.7)
    for walk, alphas in seen:
        v = walk.vectors[0].astype(np.float64)
        sd = float((codes.astype(np.float64) @ v).std())
        assert max(alphas) == pytest.approx(1.5 * sd, rel=1e-9)
