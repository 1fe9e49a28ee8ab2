"""GAN-Control: grouped generator, contrastive loss, pair builder, controllers (issue 23)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentatlas.models import StyleGAN2Generator
from latentatlas.models.controller import ControllerSet, ControlWalk
from latentatlas.models.grouped import GroupedStyleGAN2Generator, normalize_groups
from latentatlas.training.contrastive import (
    GroupContrastiveHook,
    group_contrastive_loss,
    pair_distance,
    shared_pairs,
    thresholds_from_real,
)
from latentatlas.training.controllers import fit_controllers
from latentatlas.utils.errors import OptionError


def _plain(seed: int = 0) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    return StyleGAN2Generator(z_dim=24, w_dim=24, img_resolution=16, img_channels=3,
                              mapping_layers=2, channel_base=128, channel_max=16,
                              dtype="float32")


GROUPS = [{"name": "hue", "w_dim": 8, "z_dim": 4}, {"name": "shape", "w_dim": 8, "z_dim": 4},
          {"name": "other", "w_dim": 8, "z_dim": 16}]


# ----------------------------------------------------------------------------- the generator
def test_single_group_is_the_plain_stylegan2():
    plain = _plain()
    # A trained-looking w_avg, so truncation is compared too.
    plain.mapping.w_avg.copy_(torch.linspace(-0.5, 0.5, 24))
    G = GroupedStyleGAN2Generator.from_stylegan2(plain, [{"name": "all", "w_dim": 24}])
    z = torch.randn(5, 24, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(G.synthesize(z, "z"), plain.synthesize(z, "z"))
        for psi in (1.0, 0.6):
            a = G.synthesize(G.z_to_latent(z, "wp", truncation_psi=psi), "wp")
            b = plain.synthesize(plain.z_to_latent(z, "wp", truncation_psi=psi), "wp")
            assert torch.equal(a, b)


def test_groups_own_their_slices_and_synthesis_is_warm_started():
    plain = _plain()
    G = GroupedStyleGAN2Generator.from_stylegan2(plain, GROUPS, seed=3)
    assert (G.z_dim, G.w_dim) == (24, 24)
    assert G.group_slices("z")["other"] == slice(8, 24)
    assert G.group_slices("w")["shape"] == slice(8, 16)
    for k, v in plain.synthesis.state_dict().items():
        assert torch.equal(G.synthesis.state_dict()[k], v)
    # Changing one group's z changes only that group's w columns.
    z = torch.randn(4, 24, generator=torch.Generator().manual_seed(0))
    z2 = z.clone()
    z2[:, 4:8] += 1.0
    with torch.no_grad():
        dw = (G.z_to_w(z2) - G.z_to_w(z)).abs().amax(0)
    assert dw[8:16].min() > 0 and dw[:8].max() == 0 and dw[16:].max() == 0
    w = G.set_groups(G.z_to_w(z).detach(), {"hue": torch.zeros(8)})
    assert w[:, :8].abs().max() == 0


def test_grouped_generator_round_trips_through_a_model_folder(tmp_path):
    from latentatlas.io.persistence import save_model
    from latentatlas.models import load

    G = GroupedStyleGAN2Generator.from_stylegan2(_plain(), GROUPS, seed=3)
    save_model(G, tmp_path / "g")
    H = load(tmp_path / "g").set_impl(dtype="float32")  # load picks bf16 where native
    z = torch.randn(3, 24, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(H.synthesize(z, "z"), G.synthesize(z, "z"))
    assert H.group_names == ["hue", "shape", "other"]


@pytest.mark.parametrize("groups, msg", [
    ([{"name": "a", "w_dim": 8}], "add up to 8, not the generator's w_dim 24"),
    ([{"name": "a", "w_dim": 12}, {"name": "a", "w_dim": 12}], "distinct"),
    ([{"name": "a b", "w_dim": 24}], "identifiers"),
    ([{"name": "a", "w_dim": 0}, {"name": "b", "w_dim": 24}], "positive integer"),
])
def test_bad_groups_are_refused(groups, msg):
    with pytest.raises(ValueError, match=msg):
        normalize_groups(groups, w_dim=24)


# ----------------------------------------------------------------------------- the loss
def test_contrastive_loss_closed_form_with_count_normalisation():
    a = torch.zeros(5, 2)
    # Distances (L2) 0.5, 2.0, 0.1, 3.0, 0.4; pairs 0, 1 share the group, 2, 3, 4 do not.
    b = torch.tensor([[0.5, 0.0], [0.0, 2.0], [0.1, 0.0], [3.0, 0.0], [0.0, 0.4]])
    same = torch.tensor([True, True, False, False, False])
    tau_plus, tau_minus = 1.0, 0.5
    # same: max(0.5-1,0)+max(2-1,0) = 1 over C+ = 2 -> 0.5
    # diff: max(0.5-0.1,0)+max(0.5-3,0)+max(0.5-0.4,0) = 0.5 over C- = 3 -> 1/6
    got = group_contrastive_loss(a, b, same, tau_plus, tau_minus, "l2")
    assert float(got) == pytest.approx(0.5 + 0.5 / 3, abs=1e-6)
    # L1 / cosine distances
    assert torch.allclose(pair_distance(a + 1, b + 1, "l1"), torch.tensor([0.5, 2, 0.1, 3, 0.4]))
    c = pair_distance(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]]), "cosine")
    assert float(c) == pytest.approx(1.0)
    # Only one kind present: the other term is 0, not NaN.
    assert float(group_contrastive_loss(a[:2], b[:2], same[:2], 1.0, 0.5)) == pytest.approx(0.5)


def test_pair_builder_shares_exactly_one_group_per_pair():
    slices = {"hue": slice(0, 4), "shape": slice(4, 8), "other": slice(8, 24)}
    g = torch.Generator().manual_seed(0)
    za, zb, shared = shared_pairs(slices, 7, g, offset=2)
    assert shared.tolist() == [2, 0, 1, 2, 0, 1, 2]
    names = list(slices)
    for i in range(7):
        for j, name in enumerate(names):
            equal = torch.equal(za[i, slices[name]], zb[i, slices[name]])
            assert equal == (j == shared[i])


def test_thresholds_from_real_follow_the_documented_quantiles():
    labels = np.repeat(np.arange(4), 50)
    emb = torch.nn.functional.one_hot(torch.as_tensor(labels), 4).float()
    emb = emb + 0.01 * torch.randn(200, 4, generator=torch.Generator().manual_seed(0))
    t = thresholds_from_real(emb, labels, "l2", q_same=0.9, q_other=0.1, n_pairs=5000)
    # Same label: the noise only (~0.01 * sqrt(8) = 0.028); different labels: one-hot codes
    # sqrt(2) apart.
    assert 0.02 < t["tau_plus"] < 0.06
    assert t["tau_minus"] == pytest.approx(np.sqrt(2), abs=0.05)
    assert 0.2 < t["same_pairs"] / (t["same_pairs"] + t["other_pairs"]) < 0.3
    with pytest.raises(Exception, match="differ in a label"):
        thresholds_from_real(emb, np.zeros(200), n_pairs=500)


def test_hook_pulls_shared_group_pairs_together():
    """On a generator whose first group writes its attribute, the hook's gradient only acts
    through that group's mapping for the same-group term."""
    G = GroupedStyleGAN2Generator.from_stylegan2(_plain(), GROUPS, seed=3)

    class Mean(torch.nn.Module):
        def forward(self, images):
            return {"hue": images.mean(dim=(2, 3))}

    hook = GroupContrastiveHook(Mean(), [{"name": "hue", "group": "hue", "tau_plus": 0.0,
                                          "tau_minus": 0.0}], G.group_slices("z"), n_pairs=6)
    loss = hook(G, None, None, None, step=0)
    loss.backward()
    loss = float(loss.detach())
    # tau- = 0: only pairs sharing "hue" pay, and their images differ through the other groups'
    # codes, so the gradient reaches those groups' mappings.
    assert loss > 0 and hook.parts["hue"] == pytest.approx(loss)
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in G.mapping.nets["other"].parameters())
    # Same step, same draws: a resumed run sees the same pairs.
    assert float(hook(G, None, None, None, step=0).detach()) == loss


# ----------------------------------------------------------------------------- controllers
class _LinearToy(torch.nn.Module):
    """A 'grouped generator' whose image brightness is a fixed linear function of group 'a'."""

    z_dim = w_dim = 6

    def __init__(self):
        super().__init__()
        self.u = torch.tensor([0.5, -0.3, 0.2])

    @property
    def device(self):
        return torch.device("cpu")

    def group_slices(self, space="w"):
        return {"a": slice(0, 3), "other": slice(3, 6)}

    def z_to_w(self, z):
        return z

    def synthesize(self, w, space="w"):
        level = w[:, :3] @ self.u + 0.1 * w[:, 3]  # the other group leaks a little
        return level[:, None, None, None].expand(-1, 1, 4, 4)


def test_controller_on_a_linear_toy_hits_the_target_value():
    toy = _LinearToy()

    def measure(images):
        return {"a": images.mean(dim=(1, 2, 3)).numpy()}

    cs, report = fit_controllers(toy, measure, [{"name": "a", "group": "a", "kind":
                                                 "continuous"}], n_samples=4000, steps=1500,
                                 hidden=64, progress=False, seed=0)
    # y fixes one of the group's 3 directions: the held-out L1 drops, not to 0
    assert report["a"]["ratio"] < 0.9
    targets = np.array([-0.8, -0.3, 0.0, 0.4, 0.9])
    w = torch.randn(5, 6, generator=torch.Generator().manual_seed(5))
    w[:, 3] = 0.0  # the other group's leak off: the group alone sets the value
    with torch.no_grad():
        got = measure(toy.synthesize(cs.set_w(w, {"a": targets})))["a"]
    assert np.abs(got - targets).max() < 0.1
    walked = ControlWalk(cs, "a").walk(w.numpy(), 0.4)
    assert isinstance(walked, np.ndarray)
    assert np.allclose(walked[:, 3:], w[:, 3:].numpy())


class _TailsToy(_LinearToy):
    """Group 'a' is one column; the image is that column: class 1 = |a| < 1, class 0 = the two
    tails. Class 0's codes are not convex: their median (about 0) lies in class 1."""

    def group_slices(self, space="w"):
        return {"a": slice(0, 1), "other": slice(1, 6)}

    def synthesize(self, w, space="w"):
        return w[:, :1, None, None].expand(-1, 1, 4, 4)


def _tails_reader(images):
    a = images.mean(dim=(1, 2, 3))
    logit_inside = 6.0 * (1.0 - a.square())
    return {"a": torch.stack([torch.nn.functional.logsigmoid(-logit_inside),
                              torch.nn.functional.logsigmoid(logit_inside)], dim=1)}


def _tails_measure(images):
    return {"a": _tails_reader(images)["a"].argmax(1).numpy()}


def test_attribute_reconstruction_fixes_a_value_whose_median_lies_elsewhere():
    """The reference's intended (but typo-disabled) attribute loss: the L1 controller sets
    class 0 to the median of its codes, which reads as class 1; tuned through G and the reader
    it reaches a tail. Class 1 stays right."""
    toy = _TailsToy()

    measure = _tails_measure

    spec = [{"name": "a", "group": "a", "kind": "categorical", "num_classes": 2}]
    kw = dict(n_samples=2000, steps=300, hidden=32, progress=False, seed=0)
    w = torch.randn(64, 6, generator=torch.Generator().manual_seed(5))

    def accuracy(cs, value):
        with torch.no_grad():
            return float((measure(toy.synthesize(cs.set_w(w, {"a": value})))["a"] == value)
                         .mean())

    plain, _ = fit_controllers(toy, measure, spec, **kw)
    assert accuracy(plain, 0) == 0.0 and accuracy(plain, 1) == 1.0
    tuned, report = fit_controllers(toy, measure, spec, reader=_tails_reader,
                                    attribute_steps=200, attribute_weight=1.0, **kw)
    assert accuracy(tuned, 0) == 1.0 and accuracy(tuned, 1) == 1.0
    tuning = report["a"]["attribute_tuning"]
    assert tuning["steps"] == 200 and tuning["final_attribute_loss"] < 0.5  # from about 3
    with pytest.raises(OptionError, match="needs a reader"):
        fit_controllers(toy, measure, spec, attribute_steps=5, **kw)


def test_anchors_fix_a_value_whose_median_lies_elsewhere_without_tuning():
    """Anchor selection alone: class 0's median reads as class 1; a training code read as class 0
    (a tail) replaces it, class 1 keeps the controller's own output (a tie keeps it)."""
    toy = _TailsToy()

    measure = _tails_measure

    spec = [{"name": "a", "group": "a", "kind": "categorical", "num_classes": 2}]
    w = torch.randn(64, 6, generator=torch.Generator().manual_seed(5))
    cs, report = fit_controllers(toy, measure, spec, n_samples=2000, steps=300, hidden=32,
                                 progress=False, seed=0, anchor_candidates=8, anchor_rests=4)
    with torch.no_grad():
        acc = [float((measure(toy.synthesize(cs.set_w(w, {"a": v})))["a"] == v).mean())
               for v in (0, 1)]
        codes = cs("a", [0, 1])[:, 0]
    assert acc == [1.0, 1.0]
    assert abs(float(codes[0])) > 1.0 and abs(float(codes[1])) < 1.0
    anchors = report["a"]["anchors"]
    assert anchors["replaced"] == [0] and anchors["candidates"] == 8 and anchors["rests"] == 4
    assert anchors["score_controller"] == 0.5 and anchors["score_anchors"] == 1.0


def test_after_tuning_each_class_keeps_the_better_of_anchor_and_tuned_output():
    """Class by class, the better-scoring of (anchor, tuned output) stays; a tie keeps the
    anchor. Tails toy: class 0 needs |a| > 1, class 1 |a| < 1."""
    from latentatlas.training.controllers import _fit_anchors, _keep_better, _rest_codes

    toy = _TailsToy()

    measure = _tails_measure

    spec = [{"name": "a", "group": "a", "kind": "categorical", "num_classes": 2}]
    torch.manual_seed(0)
    cs = ControllerSet(spec, {"a": [0, 1], "other": [1, 6]}, 6, hidden=16)
    a = cs.attributes[0]
    rests = _rest_codes(toy, measure, torch.randn(50, 6), 8, 0, 64)
    opts = {"keep_weight": 0.0, "batch_size": 64, "spreads": {"a": 1.0}}
    good, bad = torch.tensor([[2.0], [0.0]]), torch.tensor([[0.0], [2.0]])
    for tuned, anchors, kept in ((bad, good, []), (good, bad, [0, 1]), (good, good, [])):
        _fit_anchors(cs, a, tuned, 500, 1e-2)
        assert _keep_better(cs, a, toy, measure, anchors, rests, opts, 500, 1e-2) == kept
        with torch.no_grad():
            assert torch.allclose(cs("a", [0, 1]), good, atol=0.05)


class _LeakToy(_LinearToy):
    """Two attributes, each a pixel's sign: a = w0, b = w1 + 1.5 w0 (group a leaks into b)."""

    def group_slices(self, space="w"):
        return {"a": slice(0, 1), "b": slice(1, 2), "other": slice(2, 6)}

    def synthesize(self, w, space="w"):
        pixels = torch.stack([w[:, 0], w[:, 1] + 1.5 * w[:, 0]], 1)
        return pixels[:, :, None, None].expand(-1, 2, 4, 4)


def _sign_reader(images):
    logits = 6.0 * images.mean(dim=(2, 3))
    return {n: torch.stack([torch.nn.functional.logsigmoid(-logits[:, j]),
                            torch.nn.functional.logsigmoid(logits[:, j])], 1)
            for j, n in enumerate("ab")}


def _leak_setup():
    """The leak toy, its measure, both attributes' specs, 400 codes and their b classes."""
    toy = _LeakToy()

    def measure(images):
        return {k: v.argmax(1).numpy() for k, v in _sign_reader(images).items()}

    spec = [{"name": n, "group": n, "kind": "categorical", "num_classes": 2} for n in "ab"]
    w = torch.randn(400, 6, generator=torch.Generator().manual_seed(5))
    return toy, measure, spec, w, measure(toy.synthesize(w))["b"]


def test_keeping_the_other_attributes_lowers_the_leak_of_a_controller():
    """Setting a moves b through the leak; the keep term settles a's code nearer a's boundary
    (where b moves least) while a still reads as set."""
    toy, measure, spec, w, b0 = _leak_setup()
    results = {}
    for keep in (0.0, 1.0):
        cs, report = fit_controllers(toy, measure, spec, n_samples=2000, steps=300, hidden=32,
                                     progress=False, seed=0, reader=_sign_reader,
                                     attribute_steps=200, keep_weight=keep)
        with torch.no_grad():
            reads = [measure(toy.synthesize(cs.set_w(w, {"a": v}))) for v in (0, 1)]
            code = float(cs("a", [1])[0, 0])
        results[keep] = ([float((r["a"] == v).mean()) for v, r in enumerate(reads)],
                         float(np.mean([(r["b"] != b0).mean() for r in reads])), code)
        assert report["a"]["attribute_tuning"]["keep_weight"] == keep
    (acc0, leak0, code0), (acc1, leak1, code1) = results[0.0], results[1.0]
    assert acc0 == [1.0, 1.0] and acc1 == [1.0, 1.0]
    assert 0 < code1 < code0 and leak1 < leak0 - 0.02


def test_anchor_choice_weighs_the_other_attributes_change():
    """With keep_weight the anchor of a = 1 is a code nearer a's boundary, where b moves least;
    without it the controller's own output ties at full accuracy and stays."""
    toy, measure, spec, w, b0 = _leak_setup()
    got = {}
    for keep in (0.0, 1.0):
        cs, report = fit_controllers(toy, measure, spec, n_samples=2000, steps=300, hidden=32,
                                     progress=False, seed=0, keep_weight=keep,
                                     anchor_candidates=16, anchor_rests=32)
        with torch.no_grad():
            read = measure(toy.synthesize(cs.set_w(w, {"a": 1})))
            got[keep] = (float(cs("a", [1])[0, 0]), float((read["a"] == 1).mean()),
                         float((read["b"] != b0).mean()), report["a"]["anchors"]["replaced"])
    (code0, acc0, leak0, rep0), (code1, acc1, leak1, rep1) = got[0.0], got[1.0]
    assert acc0 == acc1 == 1.0 and 1 not in rep0 and 1 in rep1
    assert 0 < code1 < code0 and leak1 < leak0 - 0.05


def test_controller_refuses_unknown_attributes_and_unseen_values():
    cs = ControllerSet([{"name": "hue", "kind": "categorical", "group": "g", "num_classes": 10},
                        {"name": "scale", "kind": "continuous", "group": "h", "low": 0.0,
                         "high": 7.0}], {"g": [0, 4], "h": [4, 8]}, 8, hidden=8)
    w = torch.zeros(2, 8)
    assert cs.set_w(w, {"hue": 3, "scale": 2.5}).shape == (2, 8)
    with pytest.raises(OptionError, match="no controller for 'age'"):
        cs.set_w(w, {"age": 3})
    with pytest.raises(OptionError, match="class index 0..9"):
        cs.set_w(w, {"hue": 10})
    with pytest.raises(OptionError, match="class index 0..9"):
        cs.set_w(w, {"hue": 2.5})
    with pytest.raises(OptionError, match="outside the range the controller saw"):
        cs.set_w(w, {"scale": 7.5})
    with pytest.raises(ValueError, match="its own group"):
        ControllerSet([{"name": "a", "kind": "categorical", "group": "g", "num_classes": 2},
                       {"name": "b", "kind": "categorical", "group": "g", "num_classes": 2}],
                      {"g": [0, 4]}, 4)


# ----------------------------------------------------------------------------- the run
def _run_inputs(tmp_path):
    from latentatlas.io.persistence import save_model
    from latentatlas.models import AttributePredictor

    save_model(_plain(), tmp_path / "base")
    torch.manual_seed(0)
    P = AttributePredictor(3, 16, [{"name": "hue", "kind": "multiclass", "num_classes": 3},
                                   {"name": "size", "kind": "binary"}], width=4, max_width=8,
                           embedding_dim=8)
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (64, 1, 1, 3))
    noise = rng.integers(-20, 21, (64, 16, 16, 3))
    images = np.clip(colours + noise, 0, 255).astype(np.uint8)
    np.savez(tmp_path / "imgs.npz", images=images)
    # A few steps of training, so the toy heads read something: hue = the strongest channel,
    # size = brightness.
    x = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    hue = torch.as_tensor(colours[:, 0, 0].argmax(1))
    size = torch.as_tensor((colours[:, 0, 0].mean(1) > 128).astype(np.float32))
    opt = torch.optim.Adam(P.parameters(), lr=1e-2)
    for _ in range(60):
        out = P(x)
        loss = torch.nn.functional.cross_entropy(out["hue"], hue) + \
            torch.nn.functional.binary_cross_entropy_with_logits(out["size"], size)
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_model(P.eval(), tmp_path / "pred")
    return dict(base=str(tmp_path / "base"), predictor=str(tmp_path / "pred"),
                data=str(tmp_path / "imgs.npz"), group_dim=8, n_pairs=4, n_real=64)


def test_control_run_resumes_bit_identically_and_refuses_another_setup(tmp_path):
    from latentatlas.training.control_run import run_control
    from latentatlas.utils.errors import CheckpointError

    kw = _run_inputs(tmp_path)
    # The contrastive warm-up ends at step 3: the resumed half crosses into the GAN phase.
    train = dict(batch=4, checkpoint_every=2, log_every=1, sample_every=1000, progress=False,
                 tensorboard=False, r1_interval=2, regularizer_only_steps=3)
    quiet = {"log": lambda s: None}
    full = run_control(tmp_path / "full", overrides={**train, "total_steps": 4}, **kw, **quiet)
    run_control(tmp_path / "part", overrides={**train, "total_steps": 2}, **kw, **quiet)
    resumed = run_control(tmp_path / "part", overrides={**train, "total_steps": 4}, resume=True,
                          **kw, **quiet)
    assert resumed.step == 4
    from latentatlas.io.persistence import load_model

    a, b = load_model(full.model_dir), load_model(resumed.model_dir)
    for (k, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), k
    record = __import__("json").loads((tmp_path / "full" / "control.json").read_text())
    assert [g["name"] for g in record["groups"]] == ["hue", "size", "other"]
    assert record["groups"][-1]["w_dim"] == 24 - 16
    assert set(record["thresholds"]) == {"hue", "size"}
    with pytest.raises(CheckpointError, match="different groups"):
        run_control(tmp_path / "part", overrides={**train, "total_steps": 6}, resume=True,
                    **{**kw, "attributes": ["hue"]}, **quiet)
    with pytest.raises(OptionError, match="unknown attribute 'age'"):
        run_control(tmp_path / "x", overrides={**train, "total_steps": 2},
                    **{**kw, "attributes": ["age"]}, **quiet)
    with pytest.raises(OptionError, match="do not fit the base model's w_dim 24"):
        run_control(tmp_path / "x", overrides={**train, "total_steps": 2},
                    **{**kw, "group_dim": 12}, **quiet)


# ----------------------------------------------------------------------------- measurement
class _PixelGen(torch.nn.Module):
    """w [N, 4] is the image (1 x 2 x 2); groups a = w[:, :2], other = w[:, 2:]."""

    z_dim = w_dim = 4

    @property
    def device(self):
        return torch.device("cpu")

    def group_slices(self, space="w"):
        return {"a": slice(0, 2), "other": slice(2, 4)}

    def z_to_w(self, z):
        return z

    def sample(self, n, space="w", rng=0, truncation_psi=1.0):
        return torch.randn(n, 4, generator=torch.Generator().manual_seed(int(rng)))

    def synthesize(self, w, space="w"):
        return w.reshape(-1, 1, 2, 2)


class _SignReader:
    """Head 'a': class 1 when pixel 0 > 0; head 'b': reads pixel ``b_pixel`` the same way."""

    head_names = ["a", "b"]

    def __init__(self, b_pixel):
        self.b_pixel = b_pixel

    def head(self, name):
        return {"name": name, "kind": "multiclass", "num_classes": 2}

    def predict(self, images):
        flat = images.reshape(images.shape[0], -1)
        out = {}
        for name, col in (("a", 0), ("b", self.b_pixel)):
            logit = 20 * flat[:, col]
            out[name] = torch.softmax(torch.stack([-logit, logit], 1), 1)
        return out


@pytest.mark.parametrize("b_pixel, changed", [(2, 0.0), (0, 0.5)])
def test_control_and_interfacegan_reports_on_planted_factors(b_pixel, changed):
    from latentatlas.analysis.control import controller_report, interfacegan_report
    from latentatlas.training.controllers import predictor_values

    G, P = _PixelGen(), _SignReader(b_pixel)
    attrs = [{"name": "a", "group": "a", "kind": "categorical", "num_classes": 2}]
    cs, _ = fit_controllers(G, predictor_values(P, attrs), attrs, n_samples=2000, steps=400,
                            hidden=32, progress=False)
    rep = controller_report(G, cs, P, n=400, progress=False)["attributes"]["a"]
    assert rep["mean_accuracy"] == 1.0 and rep["values_at_least_90pct"] == 2
    # b reads another group's pixel: untouched; b reads a's own pixel: it flips whenever a's
    # class flips, i.e. for half the samples per target value.
    assert rep["leakage"]["b"]["changed"] == pytest.approx(changed, abs=0.06)

    def exact_fit(w, labels):  # the boundary of "a == v" is pixel 0's sign
        sign = 1.0 if labels[w[:, 0] > 0].mean() > 0.5 else -1.0
        return np.array([sign, 0.0, 0.0, 0.0]), 0.0

    ifg = interfacegan_report(G, P, ["a"], n_bank=400, n=400, progress=False, fit=exact_fit)
    q50 = ifg["attributes"]["a"]["by_quantile"]["0.5"]
    assert q50["mean_accuracy"] == 1.0
    assert q50["leakage"]["b"]["changed"] == pytest.approx(changed, abs=0.06)


def test_cli_trains_fits_controllers_and_samples_with_set_values(tmp_path):
    from click.testing import CliRunner
    from PIL import Image

    from latentatlas.cli import main

    kw = _run_inputs(tmp_path)
    run = tmp_path / "run"
    r = CliRunner().invoke(main, [
        "train", "control", "--base", kw["base"], "--predictor", kw["predictor"], "--data",
        kw["data"], "--group-dim", "8", "--pairs", "4", "--n-real", "100", "--steps", "2",
        "--batch", "4", "--threads", "1", "--out", str(run)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["train", "controllers", "--run", str(run), "--samples", "200",
                                  "--steps", "20", "--continuous", "size"])
    assert r.exit_code == 0, r.output
    assert "hue: held-out L1" in r.output and (run / "model" / "controllers" /
                                                "controllers.json").is_file()
    seen = __import__("json").loads((run / "model" / "controllers" / "controllers.json")
                                    .read_text())["attributes"]["size"]["values"]
    mid, above = (seen["min"] + seen["max"]) / 2, seen["max"] + 1.0
    out = tmp_path / "grid.png"
    r = CliRunner().invoke(main, ["control", "--model", str(run / "model"), "--set", "hue=2",
                                  "--set", f"size={mid}", "--n", "4", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert Image.open(out).mode == "RGB" and (tmp_path / "grid.run.json").is_file()
    for setting, words in (("age=1", "no controller for 'age'"), ("hue=3", "class index 0..2"),
                           (f"size={above}", "outside the range the controller saw")):
        r = CliRunner().invoke(main, ["control", "--model", str(run / "model"), "--set",
                                      setting, "--out", str(tmp_path / "x.png")])
        assert r.exit_code != 0 and words in r.output, r.output
        assert "Traceback" not in r.output and not (tmp_path / "x.png").exists()
    # A run stopped early exports from a checkpoint, in a fresh interpreter too (the export
    # registers the model classes itself).
    import subprocess
    import sys

    code = ("from latentatlas.training.export import export_generator; "
            f"export_generator({str(run)!r}, {str(tmp_path / 'exported')!r})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(
                              __import__("pathlib").Path(__file__).resolve().parents[1] / "src")})
    assert done.returncode == 0, done.stderr
    assert "GroupedStyleGAN2Generator" in (tmp_path / "exported" / "config.json").read_text()
    # The controllers are not replaced silently.
    r = CliRunner().invoke(main, ["train", "controllers", "--run", str(run), "--samples", "200",
                                  "--steps", "20"])
    assert r.exit_code != 0 and "--overwrite" in r.output
    # Nor used with other generator weights (a resumed run re-exports its model beside them).
    from latentatlas.io.persistence import save_model
    from latentatlas.models import load

    G = load(run / "model")
    with torch.no_grad():
        next(G.parameters()).add_(0.01)
    save_model(G, run / "model")
    r = CliRunner().invoke(main, ["control", "--model", str(run / "model"), "--set", "hue=2",
                                  "--out", str(tmp_path / "y.png")])
    assert r.exit_code != 0 and "fitted on another generator" in r.output, r.output
    assert "Traceback" not in r.output and not (tmp_path / "y.png").exists()


def test_control_run_never_writes_into_someone_elses_folder(tmp_path):
    from latentatlas.training.control_run import run_control
    from latentatlas.utils.errors import CheckpointError
    from latentatlas.utils.outputs import OutputExistsError

    kw = _run_inputs(tmp_path)
    train = {"total_steps": 1, "batch": 4, "progress": False, "tensorboard": False}
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="--resume"):
        run_control(busy, overrides=train, log=lambda s: None, **kw)
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    (busy / "checkpoints").mkdir()
    with pytest.raises(CheckpointError, match="not a GAN-Control run"):
        run_control(busy, overrides=train, resume=True, log=lambda s: None, **kw)
    assert not (busy / "control.json").exists()


def test_absorbing_a_rotation_of_w_into_the_affines_is_exact():
    plain = _plain()
    G = GroupedStyleGAN2Generator.from_stylegan2(plain, [{"name": "all", "w_dim": 24}])
    q, _ = torch.linalg.qr(torch.randn(24, 24, generator=torch.Generator().manual_seed(2)))
    shift = torch.linspace(-0.3, 0.3, 24)
    w_avg = plain.mapping.w_avg.clone()
    G.absorb_linear_w(q, shift)
    w = torch.randn(4, 24, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        a = G.synthesize(w, "w")
        b = plain.synthesize(w @ q.T + shift, "w")
    assert torch.allclose(a, b, atol=1e-4)
    assert torch.allclose(q @ G.mapping.w_avg + shift, w_avg, atol=1e-5)
    with pytest.raises(ValueError, match="orthonormal"):
        G.absorb_linear_w(2 * q, shift)
