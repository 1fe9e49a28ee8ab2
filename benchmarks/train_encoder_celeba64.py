"""Train the shipped celeba64 encoder (image -> W+), resumable: rerun the same command to go on.

    PYTHONPATH=src python benchmarks/train_encoder_celeba64.py --out runs/encoder_celeba64 \
        [--steps 3500] [--ship]

Real images: CelebA's first 8,000 aligned faces (the predictor's training split), 64 px crop;
faces 9,000-9,999 stay held out for benchmarks/bench_inversion.py. ``--ship`` copies the
finished model to src/latentatlas/zoo/encoder_celeba64 with its model card.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

import latentatlas
from latentatlas.data.loaders import load_celeba
from latentatlas.training.encoder import train_encoder

ZOO = Path(__file__).resolve().parents[1] / "src" / "latentatlas" / "zoo" / "encoder_celeba64"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/encoder_celeba64")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ship", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if not args.ship:
        gen = latentatlas.load("celeba64")
        pred = latentatlas.load("predictor_celeba64")
        real = load_celeba(max_images=8000, progress=False).images
        train_encoder(gen, out, predictor=pred, real_images=real, steps=args.steps,
                      batch_size=args.batch_size, lr=args.lr, resume=True,
                      generator_name="celeba64", checkpoint_every=100,
                      command=" ".join(sys.argv))
        return
    ZOO.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copyfile(out / "model" / name, ZOO / name)
    lines = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines() if x.strip()]
    print(json.dumps(lines[-1]))


if __name__ == "__main__":
    main()
