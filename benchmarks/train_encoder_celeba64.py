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
    (ZOO / "MODEL_CARD.md").write_text(model_card(out, lines), encoding="utf-8")
    print(json.dumps(lines[-1]))


def model_card(out: Path, lines: list[dict]) -> str:
    cfg = json.loads((out / "model" / "config.json").read_text())
    run = json.loads((out / "run.json").read_text())
    enc = latentatlas.load(out / "model")
    params = sum(p.numel() for p in enc.parameters())
    last = lines[-1]
    kw = ", ".join(f"{k}={v!r}" for k, v in cfg["kwargs"].items())
    bench = Path(__file__).resolve().parent / "results" / "inversion.json"
    measured = "Run `benchmarks/bench_inversion.py` for the held-out numbers."
    if bench.is_file():
        b = json.loads(bench.read_text())["settings"]
        rows = ["| setting | pixel MSE | embedding distance | mean abs delta P | s / image |",
                "|---|---|---|---|---|"]
        for name, m in b.items():
            rows.append(f"| {name} | {m['pixel_mse']:.4f} | {m['embedding_error']:.4f} | "
                        f"{m['mean_abs_delta_p']:.4f} | {m['seconds_per_image']} |")
        measured = "\n".join(rows)
    return f"""# encoder_celeba64

An image -> W+ encoder for the shipped `celeba64` StyleGAN2: the instant initialisation of
`latentatlas invert` and of photos uploaded to `latentatlas studio`. Inputs: float NCHW in
[-1, 1], the CelebA 64 px crop ([40:188, 15:163] of the aligned 178x218 faces;
`latentatlas.data.faces.prepare_face` frames a photo that way). Output: W+ codes [N, 10, 256].

## Architecture

`LatentEncoder({kw})`, {params:,} parameters: a strided CNN to a 4x4 map, a
{cfg['kwargs']['embedding_dim']}-d embedding and two heads, a w shared by all layers plus a
per-layer offset, added to celeba64's w_avg (a buffer in the file).

## Training

- {run['config']['steps']} steps of batch {run['config']['batch_size']}, Adam lr
  {run['config']['lr']} with cosine decay to 10 %; half of each batch generated pairs (z -> w,
  style-mixed at a random layer half of the time, rendered by celeba64), half real CelebA faces
  (the first 8,000 aligned images: the predictor's training split; random horizontal flips).
- loss: pixel MSE + the distance in predictor_celeba64's embedding between the input and the
  rendering of the predicted code (both kinds), + the latent MSE to the true code (generated
  pairs), + 0.1 x the spread of the W+ layers around their mean.
- last logged step ({last['step']}): pixel MSE {last['pixel_mse']:.4f} (real half
  {last['pixel_mse_real']:.4f}), embedding distance {last['embedding']:.4f}, latent MSE
  {last['latent_mse']:.4f}.
- one torch thread on a shared 2-core x86_64 CPU, resumable
  (`benchmarks/train_encoder_celeba64.py`, rerun to continue; `--ship` writes this folder).

## Measured on 100 held-out CelebA faces (9,001-9,100)

From `benchmarks/results/inversion.json` (encoder alone vs encoder + 200 optimisation steps;
embedding distance: squared distance of unit-normalised predictor embeddings, in [0, 4]):

{measured}

## Limits

- Trained for celeba64 only (its w_avg and W+ shape); another generator needs its own encoder.
- The CelebA framing is assumed, not detected: there is no face detector or landmark alignment.
- Low resolution (64 px): identity is only roughly preserved; the embedding distance is measured
  in an attribute predictor's embedding, not a face-recognition network.
- CelebA: non-commercial research use only (the real training images).
"""


if __name__ == "__main__":
    main()
