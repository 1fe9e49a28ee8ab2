"""Foundation: atomic writes, model folders, registry, CLI entry point."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import latentatlas
from latentatlas.io import ConfigModule, load_model, register_model, save_model
from latentatlas.utils import CheckpointError, atomic_save_npy, atomic_write_json, check_rng


@register_model
class _TinyNet(ConfigModule):
    def __init__(self, width: int = 3, scale: float = 1.0, **extra):
        super().__init__()
        self.lin = torch.nn.Linear(width, width)
        self.register_buffer("avg", torch.arange(width, dtype=torch.float32) * scale)


def test_config_module_records_kwargs():
    net = _TinyNet(4, name="x")
    assert net.init_kwargs == {"width": 4, "scale": 1.0, "name": "x"}


def test_save_load_round_trip_bit_identical(tmp_path):
    torch.manual_seed(0)
    net = _TinyNet(5, scale=2.0)
    save_model(net, tmp_path / "m", metadata={"note": "hi"})
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["class"] == "_TinyNet" and cfg["kwargs"]["width"] == 5
    loaded = load_model(tmp_path / "m")
    for (k, a), (k2, b) in zip(net.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)
    assert loaded.model_metadata == {"note": "hi"}


def test_corrupt_weights_and_unknown_class_are_clear_errors(tmp_path):
    net = _TinyNet(3)
    folder = save_model(net, tmp_path / "m")
    (folder / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_model(folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["class"] = "os.system"
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="unknown model class"):
        load_model(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_model(folder)


def test_registry_unknown_name():
    with pytest.raises(CheckpointError, match="neither a model folder"):
        latentatlas.load("no-such-model")


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "a.npy"
    atomic_save_npy(target, np.arange(3))

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_save_npy(target, np.arange(10))
    monkeypatch.undo()
    assert np.array_equal(np.load(target), np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["a.npy"]  # no temp file left behind
    atomic_write_json(tmp_path / "x.json", {"a": np.float32(1.5), "b": np.arange(2)})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1.5, "b": [0, 1]}


def test_check_rng():
    assert check_rng(3).integers(1000) == np.random.default_rng(3).integers(1000)
    g = np.random.default_rng(1)
    assert check_rng(g) is g
    with pytest.raises(TypeError):
        check_rng("seed")


def test_cli_help_lists_commands():
    from latentatlas.cli import main

    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "data" in result.output
