"""Tiny models for the inversion / studio tests: a 16 px StyleGAN2 (w_dim 8, float32, with
noise), an untrained 2-head predictor and a 2-direction W Directions, saved as folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentatlas.directions import Directions
from latentatlas.io.persistence import save_model
from latentatlas.models import AttributePredictor, StyleGAN2Generator


def tiny_generator(seed: int = 0) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    g = StyleGAN2Generator(z_dim=8, w_dim=8, img_resolution=16, mapping_layers=2,
                           channel_base=256, channel_max=32, dtype="float32")
    with torch.no_grad():
        g.mapping.w_avg.copy_(g.sample(2000, "w", rng=seed).mean(0))
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.05)
    return g.eval()


def tiny_predictor(seed: int = 0) -> AttributePredictor:
    torch.manual_seed(seed)
    return AttributePredictor(3, 16, ["Smiling", "Male"], width=8, max_width=16,
                              embedding_dim=16).eval()


def tiny_directions(seed: int = 0) -> Directions:
    v = np.random.default_rng(seed).standard_normal((2, 8))
    return Directions(v, "w", names=["Smiling", "Male"], normalize=True)


def save_tiny_models(folder: Path) -> dict[str, Path]:
    paths = {"generator": folder / "gen", "predictor": folder / "pred",
             "directions": folder / "dirs.safetensors"}
    save_model(tiny_generator(), paths["generator"])
    save_model(tiny_predictor(), paths["predictor"])
    tiny_directions().save(paths["directions"])
    return paths


def face_files(folder: Path, generator: StyleGAN2Generator, n: int = 3, seed: int = 5
               ) -> list[Path]:
    """PNG files of the generator's own images (square, at its size) plus two unusable ones."""
    from PIL import Image

    from latentatlas.io.images import to_uint8_nhwc

    folder.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        img = generator.synthesize(generator.sample(n, "w", rng=seed), "w").clamp(-1, 1)
    out = []
    for i, a in enumerate(to_uint8_nhwc(img)):
        p = folder / f"face{i}.png"
        Image.fromarray(a).resize((48, 48), Image.Resampling.NEAREST).save(p)
        out.append(p)
    (folder / "notes.png").write_bytes(b"not an image at all")
    Image.new("RGB", (120, 40), (10, 200, 30)).save(folder / "banner.png")
    return out
