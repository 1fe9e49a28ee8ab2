"""Declared model config: ``config_fields`` are saved, ``runtime_fields`` (dtype, device) never."""

from __future__ import annotations

import json

import pytest
import torch

import latentatlas.models  # noqa: F401  (registers the built-in model classes)
from latentatlas.io import ConfigModule, load_model, model_classes, register_model, save_model
from latentatlas.io.persistence import config_kwargs_of
from latentatlas.io.registry import available_models


@register_model
class _DeclaredNet(ConfigModule):
    config_fields = ("width", "scale")
    runtime_fields = ("dtype", "device")

    def __init__(self, width: int = 3, scale: float = 1.0, dtype: str = "float32",
                 device: str = "cpu"):
        super().__init__()
        self.lin = torch.nn.Linear(width, width)
        self.scale = scale
        self.dtype_name = dtype


def test_runtime_fields_are_recorded_but_not_saved(tmp_path):
    net = _DeclaredNet(4, dtype="bfloat16")
    assert net.init_kwargs == {"width": 4, "scale": 1.0, "dtype": "bfloat16", "device": "cpu"}
    assert net.config_kwargs == {"width": 4, "scale": 1.0}
    assert net.runtime_kwargs == {"dtype": "bfloat16", "device": "cpu"}
    folder = save_model(net, tmp_path / "m")
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["kwargs"] == {"width": 4, "scale": 1.0}
    assert set(cfg) == {"class", "format_version", "latentatlas_version", "kwargs", "metadata"}
    loaded = load_model(folder)
    assert loaded.init_kwargs["dtype"] == "float32"  # the loading machine's default
    assert torch.equal(loaded.lin.weight, net.lin.weight)


def test_old_config_with_runtime_kwargs_still_loads(tmp_path):
    net = _DeclaredNet(2, scale=3.0)
    folder = save_model(net, tmp_path / "m")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["kwargs"]["dtype"] = "bfloat16"  # what files written before the declaration carried
    (folder / "config.json").write_text(json.dumps(cfg))
    loaded = load_model(folder)
    assert loaded.init_kwargs == {"width": 2, "scale": 3.0, "dtype": "float32", "device": "cpu"}


def test_declarations_are_checked_when_the_class_is_defined():
    with pytest.raises(TypeError, match=r"\['b'\] are neither"):
        class _Undeclared(ConfigModule):
            config_fields = ("a",)

            def __init__(self, a: int = 1, b: int = 2):
                super().__init__()

    with pytest.raises(TypeError, match="not constructor arguments"):
        class _Unknown(ConfigModule):
            config_fields = ("a", "zz")

            def __init__(self, a: int = 1):
                super().__init__()

    with pytest.raises(TypeError, match="both config and runtime"):
        class _Both(ConfigModule):
            config_fields = ("a",)
            runtime_fields = ("a",)

            def __init__(self, a: int = 1):
                super().__init__()

    with pytest.raises(TypeError, match="not constructor arguments"):
        class _Inherits(_DeclaredNet):  # a new constructor must re-declare its own fields
            def __init__(self, depth: int = 1):
                super().__init__()


def test_undeclared_kwargs_through_var_keyword_are_refused_at_save(tmp_path):
    @register_model
    class _KwNet(ConfigModule):
        config_fields = ("a",)

        def __init__(self, a: int = 1, **extra):
            super().__init__()

    with pytest.raises(TypeError, match=r"\['surprise'\]"):
        save_model(_KwNet(surprise=1), tmp_path / "m")


def test_every_builtin_model_declares_its_config():
    builtin = {n: c for n, c in model_classes().items() if c.__module__.startswith("latentatlas.")}
    assert {"StyleGAN2Generator", "StyleGAN2Discriminator", "ZGenerator", "ZDiscriminator", "VAE",
            "AttributePredictor"} <= set(builtin)
    for name, cls in builtin.items():
        assert "config_fields" in vars(cls), name
    gen = model_classes()["StyleGAN2Generator"]
    assert gen.runtime_fields == ("dtype",) and "impl" in gen.config_fields
    assert model_classes()["StyleGAN2Discriminator"].runtime_fields == ("dtype",)


@pytest.mark.parametrize("name", sorted(available_models()))
def test_shipped_configs_match_the_declarations(name):
    """Each zoo config.json rebuilds its class, and saving it again writes the same kwargs
    (less the runtime dtype that older files carry)."""
    cfg = json.loads((available_models()[name] / "config.json").read_text())
    cls = model_classes()[cfg["class"]]
    runtime = set(cls.runtime_fields)
    expected = {k: v for k, v in cfg["kwargs"].items() if k not in runtime}
    assert set(cfg["kwargs"]) <= set(cls.config_fields) | runtime
    assert config_kwargs_of(cls, cfg["kwargs"]) == expected
    model = cls(**expected)
    assert json.loads(json.dumps(model.config_kwargs)) == expected
