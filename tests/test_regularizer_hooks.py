"""OroJaR / Hessian-penalty trainer hooks (training.regularizer_hooks): the value is the shared
estimator's on the chosen layers, the weight ramps up, the hook changes G's update and nothing
else, and a run with hooks resumes bit-identically."""

from __future__ import annotations

import copy

import pytest
import torch

from _gan_standins import TinyD, _TinyZG, blob_images
from latentatlas.models.regularizers import layer_outputs, orojar
from latentatlas.training.gan import _PHASE_G, GANTrainConfig, GANTrainer
from latentatlas.training.regularizer_hooks import JacobianRegularizer, make_regularizers
from latentatlas.utils.errors import OptionError, ShapeError


def _cfg(**kw) -> GANTrainConfig:
    base = dict(total_steps=6, batch=8, r1_interval=2, checkpoint_every=3, sample_every=1000,
                log_every=1, progress=False, tensorboard=False, seed=3)
    base.update(kw)
    return GANTrainConfig(**base)


def test_value_is_the_weighted_estimator_on_the_layers_with_warmup():
    torch.manual_seed(0)
    G, z = _TinyZG(), torch.randn(5, 4)
    hook = JacobianRegularizer("orojar", 2.0, "image", k=3, warmup_steps=4, seed=1)
    value = hook(G, z, None, G.synthesize(z), step=1)  # weight 2 * (1 + 1) / 4 = 1
    gen = torch.Generator().manual_seed((1 * 1_000_003 + 1) * 2 + 1)
    vectors = torch.randint(0, 2, (3, *z.shape), generator=gen).float() * 2 - 1
    expected = orojar(layer_outputs(G, ["image"]), z, k=3, vectors=vectors)
    assert torch.allclose(value, expected, rtol=1e-6)
    assert hook.parts == {"image": pytest.approx(float(expected.detach()))}
    assert [hook.weight_at(s) for s in (0, 1, 3, 10)] == [0.5, 1.0, 2.0, 2.0]
    # The same step draws the same vectors (exact resume); another step others.
    assert torch.equal(hook(G, z, None, None, 1), value)
    assert not torch.equal(hook(G, z, None, None, 2) / hook.weight_at(2), value)


def test_bad_settings_and_layers_are_one_clear_error():
    with pytest.raises(OptionError, match="kind"):
        JacobianRegularizer("nope")
    with pytest.raises(OptionError, match="weight"):
        JacobianRegularizer("orojar", 0.0)
    with pytest.raises(OptionError, match="k must be"):
        JacobianRegularizer("hessian", 1.0, k=1)
    with pytest.raises(ShapeError, match="no layer"):
        JacobianRegularizer("orojar", 1.0, "conv9").check(_TinyZG())
    assert [h.name for h in make_regularizers(1.0, 0.0)] == ["orojar"]
    assert [h.name for h in make_regularizers(0.5, 2.0)] == ["orojar", "hessian"]


def test_the_hook_changes_the_generator_update_and_nothing_else(tmp_path):
    data = blob_images(16)
    torch.manual_seed(0)
    plain = GANTrainer(_TinyZG(), TinyD(), data, _cfg(), tmp_path / "a")
    hooked = GANTrainer(copy.deepcopy(plain.G), copy.deepcopy(plain.D), data, _cfg(),
                        tmp_path / "b", regularizers=[JacobianRegularizer("hessian", 10.0)])
    d_before = copy.deepcopy(plain.D.state_dict())
    stats_a, stats_b = {}, {}
    plain.generator_step(0, stats_a)
    hooked.generator_step(0, stats_b)
    for k, v in d_before.items():  # D untouched by either G step
        assert torch.equal(plain.D.state_dict()[k], v) and torch.equal(hooked.D.state_dict()[k], v)
    diffs = [not torch.equal(a, b) for a, b in zip(plain.G.parameters(), hooked.G.parameters(),
                                                    strict=True)]
    assert any(diffs)  # G moved differently
    assert stats_a["loss_G"] == stats_b["loss_G"]  # the adversarial term is the same
    assert stats_b["hessian"] > 0 and "hessian/image" in stats_b and "hessian" not in stats_a


def test_a_run_with_hooks_resumes_bit_identically(tmp_path):
    data = blob_images(24)

    def make(out, steps):
        torch.manual_seed(1)
        hooks = [JacobianRegularizer("orojar", 0.5, "image", warmup_steps=4),
                 JacobianRegularizer("hessian", 0.1, "image", interval=2)]
        return GANTrainer(_TinyZG(), TinyD(), data, _cfg(total_steps=steps), out,
                          regularizers=hooks)

    full = make(tmp_path / "full", 6)
    full.train()
    make(tmp_path / "part", 3).train()
    torch.manual_seed(99)  # another global state: resume must not depend on it
    resumed = make(tmp_path / "part", 6)
    assert resumed.train(resume=True).step == 6
    for a, b in zip(full.G.state_dict().values(), resumed.G.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(full.D.state_dict().values(), resumed.D.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_regularizer_only_steps_train_g_by_its_hooks_alone_then_the_gan_takes_over(tmp_path):
    """The warm-up (GAN-Control's contrastive phase): D is untouched and G moves by the hook
    alone at the warm-up learning rate; afterwards D trains and G's rate is g_lr again. The
    update of a warm-up step is exactly the hook's gradient step (same G, same draws)."""
    data = blob_images(16)
    torch.manual_seed(0)

    def make(out, **kw):
        torch.manual_seed(0)
        return GANTrainer(_TinyZG(), TinyD(), data,
                          _cfg(g_lr=0.002, regularizer_only_steps=2, **kw), out,
                          regularizers=[JacobianRegularizer("hessian", 10.0, "image")])

    tr = make(tmp_path / "a", regularizer_only_lr=0.01)
    d_before = copy.deepcopy(tr.D.state_dict())
    g_before = copy.deepcopy(tr.G.state_dict())
    stats = tr.train_step(0)
    assert all(torch.equal(tr.D.state_dict()[k], v) for k, v in d_before.items())
    assert any(not torch.equal(tr.G.state_dict()[k], v) for k, v in g_before.items())
    assert "loss_D" not in stats and "loss_G" not in stats and stats["hessian"] > 0
    assert tr.opt_G.param_groups[0]["lr"] == 0.01
    # The same step by hand: the hook's loss alone, Adam at 0.01.
    ref = make(tmp_path / "b", regularizer_only_lr=0.01)
    ref.opt_G.param_groups[0]["lr"] = 0.01
    gen = ref._generator(0, _PHASE_G)
    z, _ = ref._sample_z(ref.micro_batch, gen)
    fake, ws, _ = ref._generate(ref.G, z, None, gen, ref.config.style_mixing_prob)
    ref.regularizers[0](ref.G, z, ws, fake, 0).backward()
    ref.opt_G.step()
    for k, v in ref.G.state_dict().items():
        assert torch.allclose(tr.G.state_dict()[k], v, atol=1e-7), k
    tr.train_step(1)
    assert all(torch.equal(tr.D.state_dict()[k], v) for k, v in d_before.items())
    stats = tr.train_step(2)  # the GAN phase
    assert "loss_D" in stats and "loss_G" in stats
    assert any(not torch.equal(tr.D.state_dict()[k], v) for k, v in d_before.items())
    assert tr.opt_G.param_groups[0]["lr"] == 0.002
    with pytest.raises(OptionError, match="needs a generator regulariser"):
        GANTrainer(_TinyZG(), TinyD(), data, _cfg(regularizer_only_steps=2), tmp_path / "c")
    with pytest.raises(OptionError, match="regularizer_only_lr"):
        _cfg(regularizer_only_lr=0.0)
