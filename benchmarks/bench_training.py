"""GAN training throughput at 64 px: fast path vs a straightforward fp32 reference, one run.

The same small StyleGAN2 G + D (a zoo preset's size: shapes3d, channel_base 1024, by default)
trained by the same :class:`GANTrainer` on random 64 px images, timed per phase:

- fast: the generator's fast modulated convolution (shared-weight conv on style-scaled
  activations, demodulation as a matmul, fused bias/noise/act) in bf16 + channels_last, and a
  bf16 discriminator where bf16 is native (AMX), fp32 fast path elsewhere;
- reference: the official fused per-sample grouped convolution in fp32 and an fp32 D.

Reports images/s of the D step (logistic loss, no R1), the G step (non-saturating loss with
style mixing, no path-length term), the lazy-R1 D step and the combined D+G iteration; the
paths alternate repetition by repetition so that machine-load drift hits both alike; medians.
Writes benchmarks/results/training.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from latentatlas.models import StyleGAN2Discriminator, StyleGAN2Generator
from latentatlas.training.gan import GANTrainConfig, GANTrainer
from latentatlas.training.gan_presets import gan_preset
from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.hardware import native_bf16_supported
from latentatlas.utils.runinfo import environment_info

RESULTS = Path(__file__).resolve().parent / "results" / "training.json"


def make_trainer(path: str, g_kwargs: dict, d_kwargs: dict, batch: int, out: Path) -> GANTrainer:
    torch.manual_seed(0)
    if path == "fast":
        # "auto": bf16 + channels_last where the CPU has it natively (AMX), fp32 elsewhere --
        # what `latentatlas train gan` uses (emulated bf16 would be far slower than fp32).
        dtype = "bfloat16" if native_bf16_supported() else "float32"
        G = StyleGAN2Generator(img_resolution=64, img_channels=3, impl="fast", dtype=dtype,
                               **g_kwargs)
        D = StyleGAN2Discriminator(img_resolution=64, img_channels=3, dtype=dtype, **d_kwargs)
    else:
        G = StyleGAN2Generator(img_resolution=64, img_channels=3, impl="reference",
                               dtype="float32", **g_kwargs)
        D = StyleGAN2Discriminator(img_resolution=64, img_channels=3, dtype="float32",
                                   **d_kwargs)
    images = np.random.default_rng(0).integers(0, 256, (256, 64, 64, 3), dtype=np.uint8)
    # r1_interval 3: step indices divisible by 3 carry the lazy R1 term, the others do not.
    cfg = GANTrainConfig(total_steps=10**6, batch=batch, r1_interval=3, r1_gamma=0.05,
                         pl_weight=0.0, style_mixing_prob=0.9, progress=False,
                         tensorboard=False)
    return GANTrainer(G, D, images, cfg, out / path)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--preset", default="shapes3d", choices=["shapes3d", "celeba64"],
                    help="zoo preset whose G / D sizes are benchmarked")
    ap.add_argument("--channel-base", type=int, default=None)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    preset = gan_preset(args.preset)
    g_kwargs, d_kwargs = dict(preset["generator"]), dict(preset["discriminator"])
    if args.channel_base:
        g_kwargs["channel_base"] = d_kwargs["channel_base"] = args.channel_base
    tmp = Path("/tmp/latentatlas_bench_training")
    trainers = {p: make_trainer(p, g_kwargs, d_kwargs, args.batch, tmp)
                for p in ("fast", "reference")}
    times: dict[str, dict[str, list[float]]] = {p: {"D": [], "G": [], "D_r1": []}
                                                for p in trainers}
    for tr in trainers.values():  # warm-up: oneDNN primitive creation, allocator
        tr.discriminator_step(1)
        tr.discriminator_step(0)
        tr.generator_step(1)
    step = 1
    for _ in range(args.reps):
        for path, tr in trainers.items():
            times[path]["D"].append(timed(lambda tr=tr, s=step: tr.discriminator_step(s)))
            times[path]["G"].append(timed(lambda tr=tr, s=step: tr.generator_step(s)))
            times[path]["D_r1"].append(timed(lambda tr=tr: tr.discriminator_step(3)))
        step += 3 if step % 3 == 2 else 1
    n_g = sum(p.numel() for p in trainers["fast"].G.parameters())
    n_d = sum(p.numel() for p in trainers["fast"].D.parameters())
    rows = {}
    for path in trainers:
        med = {k: statistics.median(v) for k, v in times[path].items()}
        rows[path] = {
            "D_step_images_per_s": args.batch / med["D"],
            "G_step_images_per_s": args.batch / med["G"],
            "D_r1_step_images_per_s": args.batch / med["D_r1"],
            "iteration_images_per_s": args.batch / (med["D"] + med["G"]),
            "median_seconds": med,
            "all_seconds": times[path],
        }
    speedup = {k: rows["fast"][k] / rows["reference"][k] for k in
               ("D_step_images_per_s", "G_step_images_per_s", "D_r1_step_images_per_s",
                "iteration_images_per_s")}
    result = {
        "benchmark": f"GAN training throughput, StyleGAN2 64 px, batch {args.batch}",
        "generator": g_kwargs, "discriminator": d_kwargs,
        "params_G": n_g, "params_D": n_d, "batch": args.batch, "reps": args.reps,
        "threads": args.threads,
        "fast_dtype": "bfloat16" if native_bf16_supported() else "float32",
        "fast": rows["fast"], "reference": rows["reference"],
        "speedup_fast_over_reference": speedup,
        "load_average_before_after": [load_before, os.getloadavg()],
        "environment": environment_info(),
        "note": "medians over alternating repetitions on a shared, loaded 2-core machine",
    }
    atomic_write_json(args.out, result)
    print(f"{args.preset} StyleGAN2 64 px, G {n_g / 1e6:.2f} M, D {n_d / 1e6:.2f} M params, "
          f"batch {args.batch}")
    fast_label = "fast " + ("bf16" if native_bf16_supported() else "fp32")
    print(f"{'phase (images/s)':<26}{'reference fp32':>16}{fast_label:>12}{'ratio':>8}")
    for key, label in (("D_step_images_per_s", "D step"), ("G_step_images_per_s", "G step"),
                       ("D_r1_step_images_per_s", "D step with R1"),
                       ("iteration_images_per_s", "D + G iteration")):
        print(f"{label:<26}{rows['reference'][key]:>16.1f}{rows['fast'][key]:>12.1f}"
              f"{speedup[key]:>7.2f}x")
    print(f"wrote {args.out}")
    print(json.dumps(speedup))


if __name__ == "__main__":
    main()
