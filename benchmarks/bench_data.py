"""Procedural data rendering throughput (fast path vs naive per-image renderer) and the
dSprites-like agreement with real dSprites.

Side by side in one run:

* DSpritesLike: pre-rendered sub-pixel masks + grouped placement + exact re-evaluation of the
  near-outline pixels (``render``, uint8, and the float32 observations; also without the
  re-evaluation, ``exact=False``) vs :func:`latentatlas.data.dsprites.render_reference`, which
  evaluates every pixel of every image from scratch.
* Shapes3DLike: coefficient maps ray-cast once + one batched multiply-add vs
  :func:`latentatlas.data.shapes3d.render_reference`, which ray-casts every image.
* Per-shape mean IoU of the dSprites renderers against the 20,000 real images of
  ``<data root>/dsprites/dsprites_subset.npz`` (skipped when absent).
* CelebA: first load (decode + crop + resize of ``--celeba-n`` JPEGs) vs the cached load.

Throughputs are medians of ``--repeats`` runs on random factors (seeded). Writes
benchmarks/results/data.json and prints a table.

    nice -n 10 .venv/bin/python benchmarks/bench_data.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from latentatlas.data import (
    DSpritesLike,
    Shapes3DLike,
    default_data_root,
    load_celeba,
    load_dsprites_npz,
)
from latentatlas.data import dsprites as dsprites_module
from latentatlas.data import shapes3d as shapes3d_module
from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.runinfo import environment_info

RESULTS = Path(__file__).resolve().parent / "results" / "data.json"


def throughput(fn: Callable[[np.ndarray], object], factors: np.ndarray, batch: int,
               repeats: int) -> float:
    """Median images/s of rendering ``factors`` in batches of ``batch``."""
    fn(factors[:batch])  # warm-up (first touch of the pre-rendered tables)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(0, len(factors), batch):
            fn(factors[i:i + batch])
        rates.append(len(factors) / (time.perf_counter() - start))
    return float(np.median(rates))


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def iou_per_shape(rendered: np.ndarray, real: np.ndarray, shapes: np.ndarray) -> dict[str, float]:
    a, b = rendered > 0, real > 0
    iou = (a & b).sum(axis=(1, 2)) / np.maximum((a | b).sum(axis=(1, 2)), 1)
    return {name: round(float(iou[shapes == k].mean()), 4)
            for k, name in enumerate(dsprites_module.SHAPE_NAMES)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32_768, help="images per fast-path run")
    parser.add_argument("--n-reference", type=int, default=1_000, help="images, naive dSprites")
    parser.add_argument("--n-reference-3d", type=int, default=24, help="images, naive Shapes3D")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--celeba-n", type=int, default=2000, help="CelebA images to decode")
    args = parser.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    results: dict[str, object] = {"config": vars(args), "environment": environment_info(),
                                  "load_average_1min_at_start": round(os.getloadavg()[0], 2)}

    # ---------------------------------------------------------------- dSprites-like
    ds = DSpritesLike()
    build = timed(lambda: ds.masks)
    f = ds.sample_factors(args.n, rng)
    fast_u8 = throughput(ds.render, f, args.batch, args.repeats)
    fast_obs = throughput(lambda x: ds.sample_observations_from_factors(x, rng), f, args.batch,
                          args.repeats)
    rounded = DSpritesLike(exact=False)
    fast_rounded = throughput(lambda x: rounded.sample_observations_from_factors(x, rng), f,
                              args.batch, args.repeats)
    small_batch = throughput(lambda x: ds.sample_observations_from_factors(x, rng), f[:8192], 64,
                             args.repeats)
    f_ref = ds.sample_factors(args.n_reference, rng)
    naive = throughput(dsprites_module.render_reference, f_ref, args.batch, 1)
    mismatched = int((ds.render(f_ref) != dsprites_module.render_reference(f_ref)).sum())
    results["dsprites"] = {
        "mask_build_seconds": round(build, 2),
        "fast_render_uint8_images_per_s": round(fast_u8),
        "fast_observations_float32_images_per_s": round(fast_obs),
        "fast_observations_batch64_images_per_s": round(small_batch),
        "rounded_positions_observations_images_per_s": round(fast_rounded),
        "naive_reference_images_per_s": round(naive),
        "speedup_observations_vs_naive": round(fast_obs / naive, 1),
        "pixels_differing_fast_vs_naive": mismatched,
        "pixels_compared": int(f_ref.shape[0] * 64 * 64),
    }

    # ---------------------------------------------------------------- Shapes3D-like
    s3 = Shapes3DLike()
    build3 = timed(lambda: s3.coefficients)
    g = s3.sample_factors(args.n // 4, rng)
    fast3 = throughput(s3.sample_observations_from_factors, g, args.batch, args.repeats)
    naive3 = throughput(shapes3d_module.render_reference, g[:args.n_reference_3d], 8, 1)
    results["shapes3d"] = {
        "geometry_build_seconds": round(build3, 2),
        "fast_observations_float32_images_per_s": round(fast3),
        "naive_reference_images_per_s": round(naive3, 1),
        "speedup_vs_naive": round(fast3 / naive3, 1),
    }

    # ---------------------------------------------------------------- agreement with real
    subset = default_data_root() / "dsprites" / "dsprites_subset.npz"
    if subset.exists():
        real = load_dsprites_npz(subset)
        shapes = real.factors[:, 0]
        results["dsprites_iou_vs_real"] = {
            "images": len(real.imgs),
            "fast_renderer": iou_per_shape(ds.render(real.factors), real.imgs, shapes),
            "rounded_positions_renderer": iou_per_shape(rounded.render(real.factors), real.imgs,
                                                        shapes),
            "exact_reference_renderer": iou_per_shape(
                dsprites_module.render_reference(real.factors), real.imgs, shapes),
            "fast_renderer_pixel_exact_fraction": round(float(
                (ds.render(real.factors) == (real.imgs > 0)).all(axis=(1, 2)).mean()), 4),
        }
    else:
        results["dsprites_iou_vs_real"] = f"skipped: {subset} not found"

    # ---------------------------------------------------------------- CelebA decode vs cache
    celeba_dir = default_data_root() / "celeba"
    if celeba_dir.is_dir():
        with tempfile.TemporaryDirectory() as cache_dir:
            os.environ["LATENTATLAS_CACHE"] = cache_dir
            n = args.celeba_n
            decode = timed(lambda: load_celeba(celeba_dir, max_images=n, progress=False))
            cached = timed(lambda: load_celeba(celeba_dir, max_images=n, progress=False))
        results["celeba_load"] = {
            "images": n, "resolution": 64,
            "first_load_decode_seconds": round(decode, 2),
            "cached_load_seconds": round(cached, 3),
            "speedup": round(decode / cached, 1),
        }
    else:
        results["celeba_load"] = f"skipped: {celeba_dir} not found"

    atomic_write_json(RESULTS, results)
    d, s = results["dsprites"], results["shapes3d"]
    b = args.batch
    table = [
        (f"dSprites-like fast, uint8 (batch {b})", d["fast_render_uint8_images_per_s"], ""),
        (f"dSprites-like fast, float32 obs (batch {b})",
         d["fast_observations_float32_images_per_s"], ""),
        ("dSprites-like fast, float32 obs (batch 64)",
         d["fast_observations_batch64_images_per_s"], ""),
        (f"dSprites-like rounded positions (batch {b})",
         d["rounded_positions_observations_images_per_s"], "exact=False"),
        ("dSprites-like naive per-image reference", d["naive_reference_images_per_s"],
         f"fast float32 obs = {d['speedup_observations_vs_naive']}x"),
        (f"Shapes3D-like fast (batch {b})", s["fast_observations_float32_images_per_s"], ""),
        ("Shapes3D-like naive per-image ray casting", s["naive_reference_images_per_s"],
         f"fast = {s['speedup_vs_naive']}x"),
    ]
    print(f"{'renderer':44s} {'images/s':>12s}")
    for name, rate, note in table:
        print(f"{name:44s} {rate:>12,.0f}   {note}")
    print(f"fast vs naive dSprites: {d['pixels_differing_fast_vs_naive']} of "
          f"{d['pixels_compared']:,} pixels differ")
    print(f"one-off builds: dSprites masks {d['mask_build_seconds']} s, "
          f"Shapes3D geometry {s['geometry_build_seconds']} s")
    iou = results["dsprites_iou_vs_real"]
    if isinstance(iou, dict):
        for key in ("fast_renderer", "rounded_positions_renderer", "exact_reference_renderer"):
            print(f"mean IoU vs real dSprites ({key}): "
                  + ", ".join(f"{k} {v:.4f}" for k, v in iou[key].items()))
    else:
        print(iou)
    c = results["celeba_load"]
    if isinstance(c, dict):
        print(f"CelebA {c['images']} images at 64 px: decode {c['first_load_decode_seconds']} s, "
              f"cached load {c['cached_load_seconds']} s ({c['speedup']}x)")
    else:
        print(c)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
