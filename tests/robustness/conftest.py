"""Fixtures of the bad-input suite: one small workspace (tiny models, a finished GAN run, a
finished bank, an existing image, bad files), built once per session and copied per test."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

WORKSPACE_FILES = ("gen", "zgen", "run", "bank", "existing.png", "imgs", "q.json")


def _tiny_stylegan2():
    from latentatlas.models.stylegan2 import StyleGAN2Generator

    torch.manual_seed(0)
    return StyleGAN2Generator(z_dim=8, w_dim=8, img_resolution=16, channel_base=64,
                              channel_max=8, mapping_layers=2).eval()


def _tiny_zgen():
    from latentatlas.models.zgen import ZGenerator

    torch.manual_seed(0)
    return ZGenerator(z_dim=4, img_resolution=16, img_channels=1, channel_base=64,
                      channel_max=8).eval()


def _image_folder(folder: Path, n: int = 12) -> Path:
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8), "L").save(
            folder / f"{i:03d}.png")
    return folder


def write_safetensors(path: Path, header: dict, data: bytes, declared_len: int | None = None):
    """A safetensors file from a raw header (for malformed ones)."""
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob) if declared_len is None else declared_len)
                     + blob + data)


@pytest.fixture(scope="session")
def base_workspace(tmp_path_factory) -> Path:
    from click.testing import CliRunner

    from latentatlas.analysis.bank import sample_bank
    from latentatlas.cli import main
    from latentatlas.io import save_model
    from latentatlas.scoring.pixels import PixelStatsScorer

    root = tmp_path_factory.mktemp("robustness") / "ws"
    root.mkdir()
    g = _tiny_stylegan2()
    save_model(g, root / "gen")
    save_model(_tiny_zgen(), root / "zgen")
    _image_folder(root / "imgs")
    result = CliRunner().invoke(main, [
        "train", "gan", "--arch", "zgen", "--resolution", "16", "--steps", "2", "--batch", "4",
        "--channel-base", "64", "--channel-max", "8", "--z-dim", "4", "--threads", "1",
        "--checkpoint-every", "1", "--data", str(root / "imgs"), "--out", str(root / "run")])
    assert result.exit_code == 0, result.output
    sample_bank(g, PixelStatsScorer(channels=3), 8, root / "bank", batch_size=4, progress=False)
    from latentatlas.io.images import save_image

    save_image(np.zeros((4, 4, 3), np.uint8), root / "existing.png")
    (root / "q.json").write_text(json.dumps({"frechet": 1.0}))
    make_bad_files(root / "bad")
    return root


class _Evil:
    """Unpickling this runs ``os.system`` (the refusal test: it must never run)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"echo pwned > {self.marker}",))


def persistent_pickle(meta: dict) -> bytes:
    """A pickle that calls torch_utils.persistence._reconstruct_persistent_obj(meta), as NVlabs
    network pickles do (stand-in modules registered only while pickling)."""
    import pickle
    import sys
    import types

    mods = {n: types.ModuleType(n) for n in ("torch_utils", "torch_utils.persistence")}

    def _reconstruct_persistent_obj(meta):  # pragma: no cover - never called
        return meta

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    mods["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj

    class Obj:
        def __reduce__(self):
            return (_reconstruct_persistent_obj, (meta,))

    saved = {n: sys.modules.get(n) for n in mods}
    sys.modules.update(mods)
    try:
        return pickle.dumps({"G_ema": Obj(), "G": Obj()}, protocol=3)
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def make_bad_files(bad: Path) -> None:
    import pickle

    bad.mkdir()
    (bad / "emptydir").mkdir()
    (bad / "empty.bin").write_bytes(b"")
    (bad / "random.bin").write_bytes(np.random.default_rng(0).bytes(256))
    (bad / "evil.pkl").write_bytes(pickle.dumps({"G_ema": _Evil(str(bad / "PWNED"))}, 2))
    torch.save({"g_ema": _Evil(str(bad / "PWNED"))}, bad / "evil.pt")
    (bad / "truncated.pkl").write_bytes(pickle.dumps({"G_ema": list(range(100))}, 2)[:40])
    (bad / "list.pkl").write_bytes(pickle.dumps([1, 2], 2))
    (bad / "nog.pkl").write_bytes(pickle.dumps({"D": 1}, 2))
    sg3 = {"type": "class", "version": 4, "module_src": "", "class_name": "Generator",
           "state": {"_init_args": (), "_init_kwargs": {
               "z_dim": 8, "w_dim": 8, "c_dim": 0, "img_resolution": 16, "img_channels": 3,
               "mapping_kwargs": {}, "channel_base": 64, "channel_max": 8,
               "magnitude_ema_beta": 0.999, "conv_kernel": 1, "use_radial_filters": True},
               "_modules": {}, "_parameters": {}, "_buffers": {}}}
    (bad / "stylegan3.pkl").write_bytes(persistent_pickle(sg3))
    img = np.full((4, 8, 8, 1), 0.5, np.float32)
    nan = img.copy()
    nan[1, 2, 3, 0] = np.nan
    np.savez(bad / "nan.npz", images=np.repeat(nan, 4, axis=0))
    np.save(bad / "nan.npy", nan)
    inf = img.copy()
    inf[0, 0, 0, 0] = np.inf
    np.save(bad / "inf.npy", inf)
    np.save(bad / "range.npy", img * 10)
    np.save(bad / "complex.npy", img.astype(np.complex64))
    np.save(bad / "bool.npy", img > 0)
    np.save(bad / "3d.npy", img[..., 0])
    np.save(bad / "5ch.npy", np.repeat(img, 5, axis=-1))
    np.save(bad / "empty.npy", img[:0])
    np.save(bad / "object.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    (bad / "random.npy").write_bytes(b"\x93NUMPY" + np.random.default_rng(1).bytes(64))
    files = [f"{i:03d}.png" for i in range(12)]
    (bad / "labels.csv").write_text("file,smile\n" + "".join(f"{f},{i % 2}\n"
                                                             for i, f in enumerate(files)))
    (bad / "labels_nofile.csv").write_text("a,b\n1,2\n")
    (bad / "labels_unknown.csv").write_text("file,smile\nnope.png,1\nother.png,0\n")
    (bad / "labels_empty.csv").write_text("file,smile\n" + "".join(f"{f},\n" for f in files))


@pytest.fixture
def ws(base_workspace, tmp_path) -> Path:
    """A fresh copy of the workspace for one test."""
    dest = tmp_path / "ws"
    shutil.copytree(base_workspace, dest)
    return dest


def tree_digest(root: Path) -> dict[str, str]:
    """Path -> sha256 of every file under ``root`` (what must not change on a refusal)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
