"""The main job `explore` on a tiny random-init StyleGAN2 whose attributes are known functions of
the image (brightness, redness), plus the HTML / figure helpers it uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from latentatlas.directions import Directions
from latentatlas.io.persistence import save_model
from latentatlas.io.registry import available_models
from latentatlas.models import StyleGAN2Generator
from latentatlas.models.predictors import AttributePredictor
from latentatlas.pipelines.explore import (
    auto_chosen_ratio,
    choose_condition,
    choose_focus,
    explore,
    resolve_scorer,
)
from latentatlas.pipelines.explore.selection import _auc_from_card
from latentatlas.report.figures import bar_chart, heatmap
from latentatlas.report.html import HtmlReport, image_html, table_html
from latentatlas.scoring import CallableScorer
from latentatlas.utils.errors import CheckpointError, ShapeError


def _brightness_and_redness(images: torch.Tensor) -> torch.Tensor:
    """P(bright) = sigmoid(20 * mean pixel); P(red) = sigmoid(20 * mean(R - B))."""
    bright = torch.sigmoid(20 * images.mean(dim=(1, 2, 3)))
    red = torch.sigmoid(20 * (images[:, 0] - images[:, 2]).mean(dim=(1, 2)))
    return torch.stack([bright, red], dim=1)


def _scorer() -> CallableScorer:
    return CallableScorer(_brightness_and_redness, ["bright", "red"], channels=3,
                          description="brightness_and_redness")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    g = StyleGAN2Generator(z_dim=16, w_dim=16, img_resolution=16, mapping_layers=2,
                           channel_base=256, channel_max=32, dtype="float32")
    folder = tmp_path_factory.mktemp("gen") / "tiny_sg2"
    save_model(g, folder)
    return folder


@pytest.fixture(scope="module")
def run(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("explore") / "run"
    result = explore(tiny_model, out, predictor=_scorer(), quick=True, progress=False)
    return out, result


def test_outputs_exist(run):
    out, result = run
    for rel in ("report.html", "metrics.json", "run.json", "bank/bank.json", "bank/w.npy",
                "directions/boundaries.safetensors", "directions/conditional.safetensors",
                "directions/interfacegan/bright_boundary.npy", "arrays/edit_scores.npz",
                "arrays/rescore_scores.npy", "figures/samples.png", "figures/accuracy.png",
                "figures/edit_bright.png", "figures/layers_x_semantics.png",
                "figures/entanglement_cosine.png"):
        assert (out / rel).is_file(), rel
    assert result.stage_status == {**{s: "ran" for s in ("bank", "boundaries", "edits", "layers",
                                                          "hierarchy", "figures", "unsupervised",
                                                          "report")},
                                   "factors": "not applicable", "layerwise": "not applicable"}
    assert (out / "directions/sefa.safetensors").is_file()
    uns = result.metrics["unsupervised"]
    assert set(uns["methods"]) == {"sefa", "ganspace"}
    for m in uns["methods"].values():
        assert len(m["labels"]) == uns["top_k"]
        for row in m["per_attribute"].values():
            assert 0 <= row["purity"] <= 1 and 0 <= row["abs_cos_svm"] <= 1 + 1e-6
    run_rec = json.loads((out / "run.json").read_text())
    assert run_rec["seed"] == 0 and run_rec["config"]["quick"] is True


def test_metrics_values(run):
    out, result = run
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("config", "attributes", "focus", "summary", "boundaries", "edits", "conditional",
                "entanglement", "layers", "timings_seconds", "stage_status"):
        assert key in metrics, key
    assert metrics["attributes"] == ["bright", "red"]
    for a in ("bright", "red"):
        row = metrics["summary"][a]
        for k in ("val_accuracy", "train_accuracy", "remaining_accuracy",
                  "edit_success_fraction"):
            assert 0.0 <= row[k] <= 1.0, (a, k, row[k])
    # The planted attribute: brightness is a smooth function of w, so its W boundary must be
    # learnable and moving +2 along it must brighten nearly every sample.
    assert metrics["summary"]["bright"]["val_accuracy"] >= 0.9
    assert metrics["summary"]["bright"]["edit_success_fraction"] >= 0.9
    assert metrics["summary"]["bright"]["edit_mean_target_change"] > 0
    # Entanglement: a symmetric cosine matrix with unit diagonal.
    cos = np.array(metrics["entanglement"]["cosine"])
    np.testing.assert_allclose(np.diag(cos), 1.0, atol=1e-5)
    np.testing.assert_allclose(cos, cos.T, atol=1e-6)
    # Layer analysis: a [L, focus] relevance matrix and a contiguous selected range.
    layers = metrics["layers"]
    rel = np.array(layers["relevance"], dtype=float)
    assert rel.shape == (layers["num_layers"], len(metrics["focus"]))
    assert (rel >= 0).all()
    sel = layers["selection"]["bright"]["layers"]
    assert sel == list(range(sel[0], sel[-1] + 1))
    # Stored per-sample edit scores agree with the reported success fraction.
    arrays = np.load(out / "arrays" / "edit_scores.npz")
    frac = float(np.mean(arrays["plain__bright"][:, 0] > arrays["before"][:, 0]))
    assert frac == pytest.approx(metrics["summary"]["bright"]["edit_success_fraction"])


def test_bank_scores_are_the_edit_baseline(run, tiny_model):
    """The edits stage compares against the bank's scores: re-synthesising the stored
    (truncated) w codes must reproduce them."""
    from latentatlas.models import load

    out, _ = run
    g = load(tiny_model)
    w = torch.from_numpy(np.load(out / "bank" / "w.npy")[:8])
    with torch.no_grad():
        again = _scorer()(g.synthesize(w, space="w")).numpy()
    stored = np.concatenate([np.load(out / "bank" / f"{a}_scores.npy")[:8]
                             for a in ("bright", "red")], axis=1)
    np.testing.assert_allclose(again, stored, atol=1e-5)


def test_conditional_edit_is_orthogonal_to_its_condition(run):
    out, result = run
    cond = Directions.load(out / "directions" / "conditional.safetensors")
    plain = Directions.load(out / "directions" / "boundaries.safetensors")
    metrics = result.metrics
    for t, info in metrics["conditional"].items():
        v = cond.vector(f"{t}|{info['condition']}").astype(np.float64)
        c = plain.vector(info["condition"]).astype(np.float64)
        assert abs(v @ c) < 1e-6
        assert abs(info["cos_conditional_condition"]) < 1e-6
        # Both the plain and the conditional edit's change of the condition were measured.
        assert info["plain_condition_abs_change"] >= 0
        assert info["conditional_condition_abs_change"] >= 0


def test_report_references_existing_images(run):
    out, _ = run
    text = (out / "report.html").read_text()
    srcs = re.findall(r'<img src="([^"]+)"', text)
    assert len(srcs) >= 6
    for src in srcs:
        assert not src.startswith("/") and "://" not in src
        assert (out / src).is_file(), src
    assert "bright" in text and "<table>" in text


def test_resume_skips_finished_stages(run, tiny_model):
    out, first = run
    again = explore(tiny_model, out, predictor=_scorer(), quick=True, progress=False)
    assert all(again.stage_status[s] == "skipped"
               for s in ("bank", "boundaries", "edits", "layers", "figures"))
    assert again.metrics["summary"] == first.metrics["summary"]
    # A changed edit sample size reruns the edits (and what depends on them) only.
    changed = explore(tiny_model, out, predictor=_scorer(), quick=True, progress=False, n_edit=16)
    assert changed.stage_status["bank"] == "skipped"
    assert changed.stage_status["boundaries"] == "skipped"
    assert changed.stage_status["edits"] == "ran"
    assert changed.metrics["edits"]["n"] == 16


def test_default_model_not_shipped_is_a_clear_error(tmp_path, monkeypatch):
    import latentatlas.io.registry as registry

    monkeypatch.setattr(registry, "available_models", lambda: {})
    monkeypatch.chdir(tmp_path)  # no folder named celeba64 here either
    with pytest.raises(CheckpointError, match="missing from this installation's model zoo"):
        explore("celeba64", tmp_path / "x", predictor=_scorer(), quick=True, progress=False)
    assert not (tmp_path / "x").exists()


def test_attribute_selection_from_model_card(tmp_path):
    model = AttributePredictor(in_channels=3, resolution=16, heads=["A", "B", "C"], width=4,
                               max_width=8, embedding_dim=8)
    folder = tmp_path / "pred"
    save_model(model, folder)
    (folder / "MODEL_CARD.md").write_text(
        "# card\n\n| head | accuracy | roc_auc |\n|---|---|---|\n| A | 0.9 | 0.91 |\n"
        "| B | 0.8 | 0.70 |\n| C | 0.9 | 0.85 |\n")
    assert _auc_from_card((folder / "MODEL_CARD.md").read_text()) == {
        "A": 0.91, "B": 0.70, "C": 0.85}
    _, names, aucs, source = resolve_scorer(str(folder), None, min_auc=0.85)
    assert names == ["A", "C"] and aucs == {"A": 0.91, "C": 0.85}
    assert source.endswith("MODEL_CARD.md")
    _, names, _, _ = resolve_scorer(str(folder), ["B"])
    assert names == ["B"]


def test_focus_and_condition_rules():
    attrs = ["Bald", "Male", "Smiling", "Young"]
    aucs = {"Bald": 0.99, "Male": 0.99, "Smiling": 0.97, "Young": 0.86}
    assert choose_focus(attrs, aucs, 3, explicit=False) == ["Smiling", "Male", "Young"]
    assert choose_focus(attrs, aucs, 2, explicit=True) == ["Bald", "Male"]
    cos = np.eye(4)
    cos[0, 3] = cos[3, 0] = -0.6  # Bald most entangled with Young
    assert choose_condition("Smiling", attrs, cos) == "Male"  # InterFaceGAN's pairing
    assert choose_condition("Bald", attrs, cos) == "Young"
    assert choose_condition("Bald", attrs, cos, {"Bald": "Smiling"}) == "Smiling"
    assert auto_chosen_ratio(500_000) == 0.02 and auto_chosen_ratio(100) == 0.25
    assert auto_chosen_ratio(10_000) == pytest.approx(0.05)


def test_html_escaping_and_relative_images(tmp_path):
    rep = HtmlReport("a <b> & c")
    rep.paragraph("<script>alert(1)</script>")
    rep.table([["x<y", 0.12345, None, float("nan")]], header=["n&m", "v", "w", "z"])
    rep.image("figures/a b.png", alt='q"uote')
    path = rep.write(tmp_path / "r.html")
    text = path.read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "a &lt;b&gt; &amp; c" in text and "x&lt;y" in text and "0.123" in text
    assert text.count("\u2014") == 2  # None and NaN cells
    assert 'alt="q&quot;uote"' in text
    with pytest.raises(ShapeError, match="relative"):
        image_html("/abs/path.png")
    with pytest.raises(ShapeError, match="cells"):
        table_html([[1, 2], [3]], header=["a", "b"])


def test_figures_shapes_and_files(tmp_path):
    from PIL import Image

    p = heatmap(np.array([[0.0, 1.0], [np.nan, -1.0], [0.5, 0.2]]), ["a", "b", "c"], ["x", "y"],
                tmp_path / "h.png", cmap="RdBu_r", vmin=-1, vmax=1)
    assert Image.open(p).size[0] > 50
    with pytest.raises(ShapeError, match="labels"):
        heatmap(np.zeros((2, 2)), ["a"], ["x", "y"], tmp_path / "bad.png")
    q = bar_chart([[0.5, 0.9], [np.nan, 1.0]], ["a", "b"], tmp_path / "b.png",
                  series_labels=["s1", "s2"], hline=0.9)
    assert q.is_file() and not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_cli_quick_run_with_a_predictor_folder(tiny_model, tmp_path):
    from click.testing import CliRunner

    from latentatlas.cli import main

    torch.manual_seed(1)
    pred = AttributePredictor(in_channels=3, resolution=16, heads=["A", "B"], width=4,
                              max_width=8, embedding_dim=8)
    save_model(pred.eval(), tmp_path / "pred")
    runner = CliRunner()
    res = runner.invoke(main, ["explore", "--model", str(tiny_model), "--predictor",
                               str(tmp_path / "pred"), "--out", str(tmp_path / "o"), "--quick",
                               "--no-progress", "--threads", "0", "--n-rescore", "2"])
    assert res.exit_code == 0, res.output
    assert "report:" in res.output and (tmp_path / "o" / "report.html").is_file()
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["attributes"] == ["A", "B"] and metrics["auc_source"] is None
    # The defaults: the shipped celeba64 with the shipped CelebA predictor (quick sizes here).
    if "celeba64" in available_models():
        res = runner.invoke(main, ["explore", "--out", str(tmp_path / "d"), "--quick",
                                   "--no-progress"])
        assert res.exit_code == 0, res.output
        metrics = json.loads((tmp_path / "d" / "metrics.json").read_text())
        assert metrics["config"]["model"] == "celeba64"
        assert {"Smiling", "Male"} <= set(metrics["attributes"])


def test_z_space_of_a_w_generator_refuses_truncation(tiny_model, tmp_path) -> None:
    # Truncation acts on w: z codes of a StyleGAN cannot carry it, so it is refused rather
    # than silently dropped.
    with pytest.raises(ShapeError, match="truncates w, not z"):
        explore(tiny_model, tmp_path / "z", predictor=_scorer(), quick=True, progress=False,
                space="z", truncation_psi=0.7)
