"""Safe loading of users' checkpoints: official pickles, StyleGAN3-repo pickles, rosinality files.

The files are built here: stand-in ``torch_utils.persistence`` / ``dnnlib.util`` modules are put in
``sys.modules`` only while pickling (and removed before loading), so the pickles carry exactly the
globals the official ones do. Every persistent object's ``module_src`` would create a marker file
if it were executed; the tests assert it never appears.
"""

from __future__ import annotations

import argparse
import collections
import os
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import latentatlas
from latentatlas.cli import main
from latentatlas.models import StyleGAN2Generator
from latentatlas.models.convert import (
    PersistentObject,
    convert,
    detect_format,
    load_checkpoint,
    official_generator_kwargs,
    safe_unpickle,
)
from latentatlas.utils.errors import CheckpointError


def make_generator(conv_clamp: float | None = None, c_dim: int = 0, res: int = 16):
    torch.manual_seed(0)
    g = StyleGAN2Generator(
        z_dim=16,
        w_dim=16,
        c_dim=c_dim,
        img_resolution=res,
        channel_base=256,
        channel_max=32,
        mapping_layers=2,
        conv_clamp=conv_clamp,
    )
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("noise_strength") or name.endswith(".bias"):
                p.normal_(0, 0.3)
        g.mapping.w_avg.normal_(0, 1)
    return g.eval().set_impl("reference")


# ------------------------------------------------------------------ building official files
class _StandIns:
    """Registers stand-in modules for pickling, then removes them (the loader never needs them)."""

    def __enter__(self):
        def _reconstruct_persistent_obj(meta):  # pragma: no cover - never called by the loader
            raise AssertionError("the stand-in reconstruct function must never be called")

        _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
        _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"

        class EasyDict(dict):
            pass

        EasyDict.__module__ = "dnnlib.util"
        EasyDict.__qualname__ = "EasyDict"
        self.mods = {
            "torch_utils": types.ModuleType("torch_utils"),
            "torch_utils.persistence": types.ModuleType("torch_utils.persistence"),
            "dnnlib": types.ModuleType("dnnlib"),
            "dnnlib.util": types.ModuleType("dnnlib.util"),
        }
        self.mods[
            "torch_utils.persistence"
        ]._reconstruct_persistent_obj = _reconstruct_persistent_obj
        self.mods["dnnlib.util"].EasyDict = EasyDict
        self.reconstruct, self.EasyDict = _reconstruct_persistent_obj, EasyDict
        assert not any(m in sys.modules for m in self.mods)
        sys.modules.update(self.mods)
        return self

    def __exit__(self, *exc):
        for m in self.mods:
            sys.modules.pop(m, None)


class _Persistent:
    def __init__(self, reconstruct, meta):
        self.reconstruct, self.meta = reconstruct, meta

    def __reduce__(self):
        return (self.reconstruct, (self.meta,))


def _marker_src(marker: Path) -> str:
    return f"import pathlib\npathlib.Path({str(marker)!r}).write_text('module_src was executed')\n"


def _persistent_tree(
    module: torch.nn.Module, s: _StandIns, marker: Path, class_name: str, init_kwargs=None
) -> _Persistent:
    """The official pickled form of a module: every (persistent-class) sub-module likewise."""
    buffers = collections.OrderedDict(module._buffers)  # official resample_filter is persistent
    state = {
        "training": False,
        "_parameters": collections.OrderedDict(module._parameters),
        "_buffers": buffers,
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": collections.OrderedDict(),
        "_forward_hooks": collections.OrderedDict(),
        "_forward_pre_hooks": collections.OrderedDict(),
        "_state_dict_hooks": collections.OrderedDict(),
        "_load_state_dict_pre_hooks": collections.OrderedDict(),
        "_modules": collections.OrderedDict(
            (name, _persistent_tree(child, s, marker, type(child).__name__))
            for name, child in module._modules.items()
        ),
        "_init_args": (),
        "_init_kwargs": s.EasyDict(init_kwargs or {}),
        "weight_gain": np.float64(0.25),
        "img_resolution_log2": np.int64(4),
        "activation": "lrelu",
    }
    meta = {
        "type": "class",
        "version": 4,
        "module_src": _marker_src(marker),
        "class_name": class_name,
        "state": state,
    }
    return _Persistent(s.reconstruct, meta)


def write_official_pickle(g: StyleGAN2Generator, path: Path, marker: Path, flavour: str) -> None:
    with _StandIns() as s:
        k = g.init_kwargs
        if flavour == "ada":
            kwargs = s.EasyDict(
                z_dim=k["z_dim"],
                w_dim=k["w_dim"],
                c_dim=k["c_dim"],
                img_resolution=k["img_resolution"],
                img_channels=k["img_channels"],
                mapping_kwargs=s.EasyDict(num_layers=k["mapping_layers"]),
                synthesis_kwargs=s.EasyDict(
                    channel_base=k["channel_base"],
                    channel_max=k["channel_max"],
                    num_fp16_res=4,
                    conv_clamp=k["conv_clamp"],
                ),
            )
        else:  # StyleGAN3 repo: flattened synthesis kwargs, conv_clamp left to its default 256
            kwargs = s.EasyDict(
                z_dim=k["z_dim"],
                w_dim=k["w_dim"],
                c_dim=k["c_dim"],
                img_resolution=k["img_resolution"],
                img_channels=k["img_channels"],
                mapping_kwargs=s.EasyDict(num_layers=k["mapping_layers"]),
                channel_base=k["channel_base"],
                channel_max=k["channel_max"],
                fused_modconv_default="inference_only",
            )
        g_obj = _persistent_tree(g, s, marker, "Generator", kwargs)
        d_obj = _persistent_tree(torch.nn.Linear(2, 2), s, marker, "Discriminator")
        data = {
            "G": g_obj,
            "D": d_obj,
            "G_ema": g_obj,
            "augment_pipe": None,
            "training_set_kwargs": s.EasyDict(
                resolution=16, max_size=np.int64(100), xflip=False, mean=np.zeros(3, np.float32)
            ),
        }
        with open(path, "wb") as f:
            pickle.dump(data, f, protocol=3)


def to_rosinality(g: StyleGAN2Generator) -> dict[str, torch.Tensor]:
    """The inverse of the loader's renaming: official keys -> rosinality layout."""
    from latentatlas.models.layers import setup_filter

    sd = g.state_dict()
    out: dict[str, torch.Tensor] = {}
    for i in range(g.init_kwargs["mapping_layers"]):
        out[f"style.{i + 1}.weight"] = sd[f"mapping.fc{i}.weight"]
        out[f"style.{i + 1}.bias"] = sd[f"mapping.fc{i}.bias"]
    out["input.input"] = sd["synthesis.b4.const"][None]

    def styled(dst, src, noise_idx, up):
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"][None]
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"]
        out[f"{dst}.noise.weight"] = sd[f"{src}.noise_strength"].reshape(1)
        out[f"{dst}.activate.bias"] = sd[f"{src}.bias"]
        out[f"noises.noise_{noise_idx}"] = sd[f"{src}.noise_const"][None, None]
        if up:
            out[f"{dst}.conv.blur.kernel"] = setup_filter() * 4

    def torgb(dst, src, up):
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"][None]
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"]
        out[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(1, -1, 1, 1)
        if up:
            out[f"{dst}.upsample.kernel"] = setup_filter() * 4

    styled("conv1", "synthesis.b4.conv1", 0, False)
    torgb("to_rgb1", "synthesis.b4.torgb", False)
    for j, res in enumerate(g.synthesis.block_resolutions[1:]):
        styled(f"convs.{2 * j}", f"synthesis.b{res}.conv0", 2 * j + 1, True)
        styled(f"convs.{2 * j + 1}", f"synthesis.b{res}.conv1", 2 * j + 2, False)
        torgb(f"to_rgbs.{j}", f"synthesis.b{res}.torgb", True)
    return {k: v.clone() for k, v in out.items()}


def write_rosinality(g: StyleGAN2Generator, path: Path, **extra) -> None:
    args = argparse.Namespace(
        size=g.img_resolution,
        latent=g.w_dim,
        n_mlp=g.init_kwargs["mapping_layers"],
        channel_multiplier=2,
    )
    ckpt = {"g_ema": to_rosinality(g), "latent_avg": g.w_avg.clone(), "args": args}
    ckpt.update(extra)
    torch.save(ckpt, path)


def assert_same_outputs(a: StyleGAN2Generator, b: StyleGAN2Generator) -> None:
    a.set_impl("reference")
    b.set_impl("reference")
    z = a.sample_z(3, 123)
    c = a.sample_c(3, 1)
    with torch.no_grad():
        for mode, kw in (("const", {}), ("random", {"noise_rng": 5}), ("none", {})):
            x = a.synthesize(a.z_to_latent(z, "wp", c, truncation_psi=0.7), "wp",
                             noise_mode=mode, **kw)
            y = b.synthesize(b.z_to_latent(z, "wp", c, truncation_psi=0.7), "wp",
                             noise_mode=mode, **kw)
            assert torch.equal(x, y), mode


# --------------------------------------------------------------------------- official pickles
@pytest.mark.parametrize(
    "flavour,conv_clamp,c_dim", [("ada", None, 0), ("ada", 0.5, 3), ("sg3", 256.0, 0)]
)
def test_official_pickle_loads_strictly_and_reproduces_outputs(
    tmp_path, flavour, conv_clamp, c_dim
) -> None:
    g = make_generator(conv_clamp=conv_clamp, c_dim=c_dim)
    path, marker = tmp_path / "network-snapshot.pkl", tmp_path / "EXECUTED"
    write_official_pickle(g, path, marker, flavour)
    assert b"module_src" in path.read_bytes() and b"torch_utils.persistence" in path.read_bytes()
    loaded = load_checkpoint(path)
    assert not marker.exists()
    assert isinstance(loaded, StyleGAN2Generator) and not loaded.training
    expected_fmt = "stylegan2-ada" if flavour == "ada" else "stylegan3-repo"
    assert loaded.model_metadata["source_format"] == expected_fmt
    assert loaded.init_kwargs["conv_clamp"] == conv_clamp
    assert loaded.init_kwargs["num_fp16_res"] == 4
    own, new = g.state_dict(), loaded.state_dict()
    assert own.keys() == new.keys()
    assert all(torch.equal(own[k], new[k]) for k in own)
    assert_same_outputs(g, loaded)
    assert not marker.exists()


def test_stylegan3_repo_defaults_apply_when_kwargs_are_absent() -> None:
    kw, fmt = official_generator_kwargs(
        (),
        {
            "z_dim": 8,
            "w_dim": 8,
            "c_dim": 0,
            "img_resolution": 32,
            "img_channels": 3,
            "mapping_kwargs": {"num_layers": 2},
        },
    )
    assert fmt == "stylegan3-repo" and kw["conv_clamp"] == 256 and kw["num_fp16_res"] == 4
    kw, fmt = official_generator_kwargs((8, 0, 8, 32, 3), {"synthesis_kwargs": {}})
    assert fmt == "stylegan2-ada" and kw["conv_clamp"] is None and kw["num_fp16_res"] == 0
    assert kw["img_resolution"] == 32 and kw["z_dim"] == 8
    with pytest.raises(CheckpointError, match="architecture"):
        official_generator_kwargs((8, 0, 8, 32, 3), {"synthesis_kwargs": {"architecture": "orig"}})


def test_convert_and_cli_convert_round_trip(tmp_path) -> None:
    g = make_generator()
    path, marker = tmp_path / "net.pkl", tmp_path / "EXECUTED"
    write_official_pickle(g, path, marker, "ada")
    folder = convert(path, tmp_path / "converted")
    assert_same_outputs(g, latentatlas.load(folder))
    result = CliRunner().invoke(main, ["convert", str(path), "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli" / "run.json").is_file()
    assert_same_outputs(g, latentatlas.load(tmp_path / "cli"))
    assert detect_format(tmp_path / "cli") == "latentatlas"
    assert not marker.exists()


# ------------------------------------------------------------------ hostile and broken files
class _Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "subprocess", "nested"])
def test_hostile_pickle_is_refused_and_nothing_runs(tmp_path, kind) -> None:
    import subprocess

    marker = tmp_path / "PWNED"
    if kind == "os.system":
        payload, name = _Evil(os.system, f"touch {marker}"), "system"
    elif kind == "builtins.eval":
        payload, name = _Evil(eval, f"open({str(marker)!r}, 'w')"), "builtins.eval"
    elif kind == "subprocess":
        payload, name = _Evil(subprocess.check_call, ["touch", str(marker)]), "subprocess"
    else:  # a hostile global hidden inside otherwise official-looking data
        payload, name = {"G_ema": {"_init_kwargs": _Evil(os.system, f"touch {marker}")}}, "system"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=3))
    with pytest.raises(CheckpointError, match=name) as err:
        load_checkpoint(path)
    assert "refused" in str(err.value) and str(path) in str(err.value)
    assert not marker.exists()


def test_hostile_rosinality_file_is_refused(tmp_path) -> None:
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pt"
    write_rosinality(make_generator(), path, hook=_Evil(os.system, f"touch {marker}"))
    with pytest.raises(CheckpointError, match="system"):
        load_checkpoint(path)
    assert not marker.exists()


def test_truncated_and_wrong_format_files(tmp_path) -> None:
    g = make_generator()
    good, marker = tmp_path / "net.pkl", tmp_path / "EXECUTED"
    write_official_pickle(g, good, marker, "ada")
    data = good.read_bytes()
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated|corrupt"):
        load_checkpoint(cut)
    ros = tmp_path / "ros.pt"
    write_rosinality(g, ros)
    ros_cut = tmp_path / "ros_cut.pt"
    ros_cut.write_bytes(ros.read_bytes()[:3000])
    with pytest.raises(CheckpointError, match="truncated|corrupt"):
        load_checkpoint(ros_cut)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="unknown checkpoint format"):
        load_checkpoint(text)
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.pkl")
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"weights": [1, 2, 3]}, protocol=3))
    with pytest.raises(CheckpointError, match="G_ema"):
        load_checkpoint(other)
    assert not marker.exists()


def test_safe_unpickle_keeps_state_and_never_executes(tmp_path) -> None:
    marker = tmp_path / "EXECUTED"
    path = tmp_path / "net.pkl"
    write_official_pickle(make_generator(), path, marker, "ada")
    data = safe_unpickle(path)
    assert isinstance(data["G_ema"], PersistentObject)
    assert data["G_ema"].class_name == "Generator" and data["G_ema"].module_src_chars > 0
    assert data["training_set_kwargs"]["max_size"] == 100
    assert np.array_equal(data["training_set_kwargs"]["mean"], np.zeros(3, np.float32))
    assert not marker.exists()


def test_key_mismatch_is_a_clear_error(tmp_path) -> None:
    g = make_generator()
    # Drop one tensor from the rosinality layout: strict matching names it.
    path = tmp_path / "ros.pt"
    sd = to_rosinality(g)
    del sd["to_rgb1.bias"]
    torch.save({"g_ema": sd, "latent_avg": g.w_avg, "args": argparse.Namespace(size=16)}, path)
    with pytest.raises(CheckpointError, match="to_rgb1.bias"):
        load_checkpoint(path)


# --------------------------------------------------------------------------- rosinality
@pytest.mark.parametrize("res", [16, 32])
def test_rosinality_checkpoint_loads_strictly_and_reproduces_outputs(tmp_path, res) -> None:
    g = make_generator(res=res)
    path = tmp_path / "550000.pt"
    write_rosinality(g, path)
    loaded = load_checkpoint(path)
    assert loaded.model_metadata["source_format"] == "rosinality"
    assert loaded.init_kwargs["channel_base"] == 256 and loaded.init_kwargs["channel_max"] == 32
    own, new = g.state_dict(), loaded.state_dict()
    assert own.keys() == new.keys() and all(torch.equal(own[k], new[k]) for k in own)
    assert_same_outputs(g, loaded)


def test_rosinality_without_latent_avg_estimates_it(tmp_path) -> None:
    g = make_generator()
    path = tmp_path / "old.pt"
    torch.save({"g_ema": to_rosinality(g)}, path)
    loaded = load_checkpoint(path)
    assert loaded.model_metadata["w_avg"] == "estimated"
    with torch.no_grad():
        expected = g.z_to_w(g.sample_z(4096, 0)).mean(0)
    assert torch.allclose(loaded.w_avg, expected, atol=1e-5)


# --------------------------------------------------------------------------- generate CLI
def test_generate_cli_writes_grid_and_run_record(tmp_path) -> None:
    from PIL import Image

    from latentatlas.io import save_model

    save_model(make_generator(), tmp_path / "g")
    out = tmp_path / "samples" / "grid.png"
    args = [
        "generate",
        "--model",
        str(tmp_path / "g"),
        "--n",
        "6",
        "--seed",
        "3",
        "--truncation",
        "0.7",
        "--nrow",
        "3",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    img = Image.open(out)
    assert img.size == (3 * 18 + 2, 2 * 18 + 2)  # 16 px tiles, 2 px padding
    import json

    record = json.loads((out.parent / "run.json").read_text())
    assert (
        record["seed"] == 3 and record["config"]["n"] == 6 and record["config"]["truncation"] == 0.7
    )
    # Same seed, same grid.
    out2 = tmp_path / "again" / "grid.png"
    assert CliRunner().invoke(main, args[:-1] + [str(out2)]).exit_code == 0
    assert np.array_equal(np.asarray(Image.open(out2)), np.asarray(img))
    bad = CliRunner().invoke(
        main, ["generate", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "n.png")]
    )
    assert bad.exit_code == 1 and "neither a model folder" in bad.output
    again = CliRunner().invoke(main, args)  # an existing --out is never replaced silently
    assert again.exit_code == 1 and "already exists" in again.output
    assert "--overwrite" in again.output


def test_malformed_persistent_object_is_a_checkpoint_error(tmp_path) -> None:
    # A pickle that builds the stub without calling it (NEWOBJ) and with junk state.
    with _StandIns() as s:

        class _Fake:
            def __reduce__(self):
                return (
                    s.reconstruct,
                    ({"state": {"_init_kwargs": {"z_dim": "x"}}, "class_name": "Generator"},),
                )

        path = tmp_path / "junk.pkl"
        path.write_bytes(pickle.dumps({"G_ema": _Fake()}, protocol=3))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    path.write_bytes(pickle.dumps({"G_ema": [1, 2]}, protocol=3))
    with pytest.raises(CheckpointError, match="not a persistent network"):
        load_checkpoint(path)
