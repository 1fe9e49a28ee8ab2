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
    return root


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
