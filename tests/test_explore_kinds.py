"""explore on every kind of attribute and generator: a toy W+ generator with planted per-layer
semantics and a toy predictor with one binary, one (ordered) multiclass and one regression head;
the zoo pairing, the default latent space, channel adaptation and the hierarchy summary."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from latentatlas.editing import interpolate
from latentatlas.io import registry
from latentatlas.models.base import Generator
from latentatlas.models.predictors import AttributePredictor
from latentatlas.models.zgen import ZGenerator
from latentatlas.pipelines.explore import explore
from latentatlas.pipelines.explore.attributes import paired_predictor, resolve_attributes
from latentatlas.pipelines.explore.factors import summarise_hierarchy, weighted_mean_layer
from latentatlas.scoring import CallableScorer, FactorScorer, ScoringError, factor_columns
from latentatlas.utils.errors import LatentAtlasError

#: planted layer of each semantic: bin <- layer 0 (dim 0), level <- layer 2 (dim 1),
#: reg <- layer 4 (dim 2)
PLANTED = {"bin": 0, "level": 2, "reg": 4}
LEVEL_CENTRES = torch.linspace(-0.8, 0.8, 5)


class PlantedGenerator(Generator):
    """w = z (w_avg 0); 3 x 8 x 8 images whose row bands show tanh of one W+ layer's dim."""

    def __init__(self) -> None:
        super().__init__()
        self.z_dim = self.w_dim = 4
        self.num_ws = 6
        self.img_resolution = 8
        self.img_channels = 3
        self.register_buffer("avg", torch.zeros(4))

    def z_to_w(self, z, c=None):
        return self.check_latent(z, "z").clone()

    @property
    def w_avg(self):
        return self.avg

    def synthesize(self, latent, space="wp", c=None, noise_mode="const"):
        latent = self.check_latent(latent, space)
        if space == "z":
            latent, space = self.z_to_w(latent), "w"
        wp = self.w_to_wp(latent) if space == "w" else latent
        img = torch.zeros(wp.shape[0], 3, 8, 8)
        for band, (layer, dim) in enumerate([(0, 0), (2, 1), (4, 2)]):
            img[:, :, 2 * band:2 * band + 2, :] = torch.tanh(wp[:, layer, dim])[:, None, None,
                                                                                  None]
        return img


def _bands(images: torch.Tensor) -> torch.Tensor:
    return torch.stack([images[:, :, 2 * b:2 * b + 2].mean(dim=(1, 2, 3)) for b in range(3)], 1)


class PlantedPredictor(AttributePredictor):
    """Reads the bands: bin = logit 10 b0; level = 5 classes peaked at b1; reg = b2."""

    config_fields = ("in_channels",)

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__(in_channels=in_channels, resolution=8, width=4, max_width=8,
                         embedding_dim=4, heads=[
                             {"name": "bin", "kind": "binary"},
                             {"name": "level", "kind": "multiclass", "num_classes": 5},
                             {"name": "reg", "kind": "regression"}])

    def logits(self, images, validate=True):
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        b = _bands(images.float())
        level = -20.0 * (b[:, 1:2] - LEVEL_CENTRES[None]) ** 2
        return torch.cat([10.0 * b[:, :1], level, b[:, 2:3]], dim=1)


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("kinds") / "run"
    result = explore(PlantedGenerator(), out, predictor=PlantedPredictor(), quick=True,
                     progress=False, ordered=["level"], n=400, n_rescore=16)
    return out, result


def test_every_kind_of_head_gets_columns_and_boundaries(planted_run):
    out, result = planted_run
    info = result.metrics["attribute_info"]
    assert info["kinds"]["bin"] == "binary"
    assert info["kinds"]["level"] == "expected"
    assert info["kinds"]["reg"] == "regression"
    assert [info["kinds"][f"level={k}"] for k in range(5)] == ["class"] * 5
    assert result.focus == ["bin", "level", "reg"]
    for a in ("bin", "level", "reg"):
        assert result.metrics["summary"][a]["val_accuracy"] >= 0.95, a
        # the boundary points along the planted latent dimension
        dim = {"bin": 0, "level": 1, "reg": 2}[a]
        assert abs(result.directions.vector(a)[dim]) > 0.95, a
    factors = result.metrics["factors"]["per_factor"]
    assert set(factors) == {"bin", "level", "reg"}
    for f in ("bin", "level", "reg"):
        assert factors[f]["success_fraction"] >= 0.9, f
        assert factors[f]["others_change_less_fraction"] == 1.0, f


def test_hierarchy_recovers_the_planted_layer_of_each_kind(planted_run):
    _, result = planted_run
    sem = result.metrics["hierarchy"]["semantics"]
    for name, layer in PLANTED.items():
        assert sem[name]["peak_layer"] == layer, (name, sem[name])
        assert sem[name]["selected_layers"] == [layer], (name, sem[name])
        assert abs(sem[name]["mean_layer"] - layer) < 0.05, (name, sem[name])


def test_ordered_factor_score_is_monotone_along_its_boundary(planted_run):
    _, result = planted_run
    gen, model = PlantedGenerator(), PlantedPredictor()
    scorer = FactorScorer(model, [c for c in factor_columns(model, ordered=["level"])
                                  if c["name"] == "level"])
    start = gen.z_to_latent(gen.sample_z(6, 1), "w").numpy()
    offsets = np.linspace(-3, 3, 13)
    codes = interpolate(start, result.directions, offsets, key="level", mode="offset")
    images = gen.synthesize_batched(codes.reshape(-1, 4), "w")
    level = scorer(images).numpy().reshape(6, len(offsets))
    assert (np.diff(level, axis=1) >= -1e-5).all()
    assert (level[:, -1] - level[:, 0] > 1.0).all()


def test_report_has_the_sections_of_every_kind(planted_run):
    out, _ = planted_run
    html = (out / "report.html").read_text()
    for text in ("Attributes: kinds and held-out quality", "Per-class boundary accuracy",
                 "Factor checks", "Semantic hierarchy"):
        assert text in html, text
    assert (out / "figures" / "hierarchy.png").is_file()
    assert (out / "figures" / "values_level.png").is_file()  # a strip per value of "level"
    assert "figures/values_level.png" in html


def test_space_wp_per_layer_svms_find_the_planted_layer(tmp_path):
    result = explore(PlantedGenerator(), tmp_path / "wp", predictor=PlantedPredictor(),
                     quick=True, progress=False, ordered=["level"], space="wp", n=200,
                     n_rescore=8, n_wp=300)
    lw = result.metrics["layerwise"]["per_attribute"]
    for name, layer in PLANTED.items():
        acc = lw[name]["val_accuracy"]
        assert lw[name]["best_layer"] == layer and acc[layer] >= 0.95, (name, acc)
        assert max(a for i, a in enumerate(acc) if i != layer) < 0.8, (name, acc)
        assert int(np.argmax(lw[name]["rescore_relevance"])) == layer
    assert (tmp_path / "wp" / "directions" / "layerwise.safetensors").is_file()
    assert result.metrics["config"]["space"] == "w"
    assert result.metrics["config"]["space_requested"] == "wp"


def test_z_only_generator_defaults_to_z(tmp_path):
    torch.manual_seed(0)
    gen = ZGenerator(z_dim=8, img_resolution=16, img_channels=1, channel_base=64,
                     channel_max=16)

    def bright(x):
        return torch.sigmoid(10 * x.mean(dim=(1, 2, 3)))[:, None]

    scorer = CallableScorer(bright, ["bright"], channels=1, differentiable=True)
    result = explore(gen, tmp_path / "z", predictor=scorer, quick=True, progress=False, n=64,
                     n_edit=8)
    assert result.metrics["config"]["space"] == "z"
    assert result.stage_status["layers"] == "not applicable"
    assert (tmp_path / "z" / "report.html").is_file()


def test_grey_generator_with_an_rgb_predictor_is_adapted():
    model = PlantedPredictor()
    choice = resolve_attributes(model, None, channels=1, ordered=["level"])
    assert choice.adaptation["channels"].startswith("grey -> RGB")
    grey = torch.zeros(2, 1, 8, 8)
    grey[:, :, 0:2] = 0.5
    out = choice.scorer(grey)
    assert out.shape == (2, len(choice.attributes))
    assert float(out[0, choice.attributes.index("bin")]) > 0.99
    with pytest.raises(ScoringError, match="only grey <-> RGB"):
        resolve_attributes(model, None, channels=2)


def test_zoo_pairs_generators_with_their_predictors(tmp_path):
    for gen, pred in [("celeba64", "predictor_celeba64"), ("shapes3d", "predictor_shapes3d"),
                      ("dsprites", "predictor_dsprites"), ("mnist", "predictor_mnist")]:
        assert registry.zoo_entry(gen)["predictor"] == pred
        assert paired_predictor(gen, None)[0] == pred
    assert paired_predictor("mnist", None)[1] == ["morpho"]
    assert paired_predictor("shapes3d", "my_pred") == ("my_pred", [])
    assert registry.zoo_entry(tmp_path) == {}
    with pytest.raises(LatentAtlasError, match="--predictor"):
        paired_predictor(str(tmp_path), None)
    index = json.loads(registry.ZOO_INDEX.read_text())
    assert index["predictor_shapes3d"]["abstraction"]["layout"] == ["orientation"]


def test_hierarchy_summary_ordering_test():
    kept = ["a", "b", "c"]
    prof = {}
    for j, (name, layer) in enumerate([("a", 1), ("b", 3), ("c", 5)]):
        eff = np.zeros((7, 3))
        eff[layer, j] = 1.0
        prof[name] = eff
    sem = {"a": {"level": "layout", "columns": ["a"]}, "b": {"level": "object", "columns": ["b"]},
           "c": {"level": "colour", "columns": ["c"]}}
    res = summarise_hierarchy(sem, prof, {k: 1.0 for k in kept}, kept)
    assert res["ordering"]["holds"] is True
    assert [res["levels"][lv]["mean_layer"] for lv in ("layout", "object", "colour")] == [1, 3, 5]
    sem["a"]["level"], sem["c"]["level"] = "colour", "layout"
    assert summarise_hierarchy(sem, prof, {k: 1.0 for k in kept}, kept)["ordering"]["holds"] \
        is False
    assert weighted_mean_layer([0, 1, 1, 0]) == 1.5
    assert np.isnan(weighted_mean_layer([0, 0]))


def test_cli_user_generator_and_predictor_folders(tmp_path):
    """A user's grey generator folder and an RGB predictor folder with a binary, a categorical
    and a continuous head: `explore --model GEN --predictor PRED --out DIR` (no other option but
    --quick) writes a complete report; heads below their held-out bar are left out."""
    from click.testing import CliRunner

    from latentatlas.cli import main
    from latentatlas.io.persistence import save_model
    from latentatlas.models import StyleGAN2Generator

    torch.manual_seed(0)
    gen = StyleGAN2Generator(z_dim=16, w_dim=16, img_resolution=16, img_channels=1,
                             mapping_layers=2, channel_base=256, channel_max=32,
                             dtype="float32")
    save_model(gen, tmp_path / "gen")
    pred = AttributePredictor(in_channels=3, resolution=16, width=8, max_width=16,
                              embedding_dim=16, heads=[
                                  {"name": "Smiling", "kind": "binary"},
                                  {"name": "hair", "kind": "multiclass", "num_classes": 3,
                                   "classes": ["black", "blond", "brown"]},
                                  {"name": "brightness", "kind": "regression"},
                                  {"name": "weak", "kind": "binary"}])
    save_model(pred, tmp_path / "pred")
    per_head = {"Smiling": {"roc_auc": 0.9}, "hair": {"accuracy": 0.85},
                "brightness": {"r2": 0.9}, "weak": {"roc_auc": 0.6}}
    (tmp_path / "pred" / "metrics.json").write_text(json.dumps({"test": {"per_head": per_head}}))
    result = CliRunner().invoke(main, ["explore", "--model", str(tmp_path / "gen"),
                                       "--predictor", str(tmp_path / "pred"), "--quick",
                                       "--no-progress", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    info = metrics["attribute_info"]
    assert set(info["heads"].values()) == {"Smiling", "hair", "brightness"}
    assert info["kinds"]["hair=blond"] == "class" and info["kinds"]["brightness"] == "regression"
    assert info["quality"]["hair=blond"] == {"metric": "accuracy", "value": 0.85}
    assert info["adaptation"]["channels"].startswith("grey -> RGB")
    assert metrics["config"]["space"] == "w"
    assert (tmp_path / "out" / "report.html").is_file()
    assert metrics["hierarchy"]["semantics"]
    nopred = CliRunner().invoke(main, ["explore", "--model", str(tmp_path / "gen"), "--quick",
                                       "--out", str(tmp_path / "out2")])
    assert nopred.exit_code != 0 and "--predictor" in nopred.output


def test_attributes_by_head_or_column_name():
    model = PlantedPredictor()
    by_col = resolve_attributes(model, ["level=2", "bin"], ordered=["level"])
    assert by_col.attributes == ["bin", "level=2"]
    assert isinstance(by_col.scorer, FactorScorer)
    by_head = resolve_attributes(model, ["level"], ordered=["level"])
    assert by_head.attributes == ["level"] + [f"level={k}" for k in range(5)]
    legacy = resolve_attributes(model, ["bin", "level_2"])  # PredictorScorer's column names
    assert legacy.attributes == ["bin", "level_2"] and not legacy.factor_predictor
    with pytest.raises(ScoringError, match="unknown"):
        resolve_attributes(model, ["nope=1"])


def test_unsupervised_labels_with_a_predictor_of_another_resolution():
    """Explore's scorer resizes images itself (mnist: 32 px generator, 28 px predictor): the
    unsupervised stage's labelling must not refuse the size mismatch."""
    from latentatlas.analysis.labelling import label_directions
    from latentatlas.directions import SeFa
    from latentatlas.models import load
    from latentatlas.pipelines.explore.unsupervised import _Columns

    torch.set_num_threads(1)
    gen, model = load("mnist"), load("predictor_mnist")
    assert gen.img_resolution != model.resolution
    choice = resolve_attributes(model, None, clamp="display", channels=gen.img_channels)
    scorer = _Columns(choice.scorer, [0, 1], choice.attributes[:2])
    dirs = SeFa(n_components=2).fit(generator=gen).directions_
    codes = gen.sample(6, "z", rng=np.random.default_rng(0)).numpy()
    res = label_directions(gen, dirs, scorer, codes=codes, layer_ranges=None)
    assert len(res.labels()) == 2 and res.images == 6 * 5
