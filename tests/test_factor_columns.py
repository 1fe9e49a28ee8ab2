"""One owner of "predictor heads -> score columns" (latentatlas.scoring.factors): explore's
columns and the labelling's per-factor columns of the shipped factor predictors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentatlas.io import registry
from latentatlas.models import load
from latentatlas.scoring import (
    FactorScorer,
    PredictorScorer,
    factor_columns,
    factor_scorer,
    make_scorer,
    ordered_heads,
)

SHIPPED = ["predictor_dsprites", "predictor_shapes3d", "predictor_mnist"]


def _images(model, n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, model.in_channels, model.resolution, model.resolution,
                      generator=g) * 2 - 1


@pytest.mark.parametrize("name", SHIPPED)
def test_ordered_heads_from_the_zoo_index(name):
    model = load(name)
    zoo = registry.zoo_entry(name)["ordered"]
    assert ordered_heads(model) == zoo
    # the labelling's by-name fallback agrees with the zoo on the multiclass heads it scores
    by_name = set(ordered_heads(model, ordered=None, by_name=True))
    assert set(zoo) <= by_name


#: The leaderboard's factors of the shipped predictors (as the former
#: analysis.labelling.factor_scorer gave them; benchmarks/results/discovery_*.json use them).
LABELLING_GROUPS = {
    "predictor_dsprites": {"shape": ["shape_0", "shape_1", "shape_2"], "scale": ["scale"],
                           "orientation": ["orientation_folded_cos", "orientation_folded_sin"],
                           "posX": ["posX"], "posY": ["posY"]},
    "predictor_shapes3d": {**{h: [f"{h}_{k}" for k in range(10)]
                              for h in ("floor_hue", "wall_hue", "object_hue")},
                           "scale": ["scale"], "shape": [f"shape_{k}" for k in range(4)],
                           "orientation": ["orientation"]},
    "predictor_mnist": {f"digit_{k}": [f"digit_{k}"] for k in range(10)},
}


@pytest.mark.parametrize("name", SHIPPED)
def test_labelling_columns_match_the_former_factor_scorer(name):
    """The leaderboard's columns (names, groups, values) are those of the former
    analysis.labelling.factor_scorer: a PredictorScorer's probabilities post-processed (the
    expected index of an ordered head as sum_k k p_k, regression heads as they are)."""
    torch.set_num_threads(1)
    base = make_scorer(name, clamp="display")
    fs, groups = factor_scorer(base)
    assert isinstance(fs, FactorScorer)
    assert groups == LABELLING_GROUPS[name]
    assert fs.names == [c for cols in groups.values() for c in cols]
    assert fs.clamp == base.clamp and fs.channels == base.channels
    img = _images(base.model)
    with torch.no_grad():
        out, probs = fs(img).numpy(), base(img).numpy()
    for j, col in enumerate(fs.names):
        if col in base.names:  # a class probability or a regression value
            ref = probs[:, base.names.index(col)]
        else:  # an ordered head's expected class index
            k = [i for i, n in enumerate(base.names) if n.startswith(col + "_")]
            ref = probs[:, k] @ np.arange(len(k), dtype=np.float32)
        np.testing.assert_allclose(out[:, j], ref, rtol=0, atol=1e-5, err_msg=col)


@pytest.mark.parametrize("name", SHIPPED)
def test_explore_columns_unchanged(name):
    """Explore's columns: every head, ordered heads with their expected index and classes."""
    model = load(name)
    cols = factor_columns(model, ordered=ordered_heads(model))
    probs = PredictorScorer(model)
    img = _images(model)
    with torch.no_grad():
        s = FactorScorer(model, cols)(img)
        p = probs(img)
    for j, c in enumerate(cols):
        if c["kind"] in ("class", "regression"):  # P(class k), the value: PredictorScorer's
            ref = p[:, probs.names.index(c["name"].replace("=", "_"))]
            np.testing.assert_allclose(s[:, j], ref, rtol=0, atol=1e-6, err_msg=c["name"])
    names = [c["name"] for c in cols]
    assert all(c["factor"] == c["head"] for c in cols)
    if name == "predictor_dsprites":
        assert names[:4] == ["shape=0", "shape=1", "shape=2", "scale"]
        assert names[-2:] == ["orientation_folded_cos", "orientation_folded_sin"]
        assert "orientation" not in names  # 40 classes, not ordered in the zoo
    if name == "predictor_mnist":
        assert names == [f"digit={k}" for k in range(10)]


def test_per_factor_options_on_a_toy_predictor():
    from latentatlas.models.predictors import AttributePredictor

    model = AttributePredictor(in_channels=1, resolution=16, heads=[
        {"name": "angle_cos", "kind": "regression"},
        {"name": "shape", "kind": "multiclass", "num_classes": 3},
        {"name": "angle", "kind": "multiclass", "num_classes": 5},
        {"name": "angle_sin", "kind": "regression"},
        {"name": "b", "kind": "binary"}], width=4, max_width=8, final_size=4,
        embedding_dim=8)
    per = factor_columns(model, ordered=["angle"], max_classes=None, per_factor=True, sep="_")
    # angle_cos / angle_sin are angle's companions; regression heads are otherwise dropped
    assert [c["name"] for c in per] == ["shape_0", "shape_1", "shape_2", "angle_cos",
                                        "angle_sin", "b"]
    assert [c["factor"] for c in per] == ["shape"] * 3 + ["angle", "angle", "b"]
    kept = factor_columns(model, ordered=["angle"], per_factor=True, keep_regression=True)
    assert [c["name"] for c in kept][0] == "angle_cos"  # its own factor, not a companion
    assert [c["name"] for c in kept if c["factor"] == "angle"] == ["angle_sin"]
