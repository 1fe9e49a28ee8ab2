"""How evenly does ``predictor_shapes3d`` read factor values that are uniform but off the grid?

Issue 5's shapes3d aim counts the predictor's argmax class of every generated image and asks for
every value within 2x of uniform. The real data sit on a discrete grid (8 scales, 15
orientations), but a generator with continuous latents draws scales and orientations in between,
and a classifier trained only on grid values places the boundaries between neighbouring classes
where it likes. This script measures what that costs, on renders rather than a generator:

- ``on_grid``: images of the data set itself (uniform factor classes);
- ``off_grid``: the same renderer at scale and orientation drawn uniformly over the cells around
  the grid values (continuous), shapes and hues on the grid.

- ``blurred_sigma_*``: the on-grid images blurred (Gaussian, sigma in pixels): does the softness
  of a small generator's images bias the predictor towards some classes?

A generator whose scales / orientations were exactly uniform but continuous would score about
the ``off_grid`` ratios; the spread between them and ``on_grid`` is the measure's own bias.
Writes benchmarks/results/coverage_calibration_shapes3d.json and prints a table.

    .venv/bin/python benchmarks/coverage_calibration_shapes3d.py [--orientations 1000] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

import latentatlas
from latentatlas.data.shapes3d import (
    Shapes3DLike,
    hue_to_rgb,
    official_factor_values,
    render_coefficients,
)
from latentatlas.metrics.quality import class_coverage
from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.runinfo import environment_info

RESULTS = Path(__file__).resolve().parent / "results" / "coverage_calibration_shapes3d.json"
HEADS = ("scale", "shape", "orientation")


def off_grid_images(n_orientations: int, scales_per_orientation: int,
                    rng: np.random.Generator) -> np.ndarray:
    """[N, 64, 64, 3] renders at continuous scale / orientation, uniform over the grid's cells."""
    vals = official_factor_values()
    half_o = (vals["orientation"][1] - vals["orientation"][0]) / 2
    half_s = (vals["scale"][1] - vals["scale"][0]) / 2
    palette = hue_to_rgb(vals["floor_hue"])
    images = []
    for _ in range(n_orientations):
        degrees = rng.uniform(vals["orientation"][0] - half_o, vals["orientation"][-1] + half_o)
        scales = rng.uniform(vals["scale"][0] - half_s, vals["scale"][-1] + half_s,
                             size=scales_per_orientation)
        coef = render_coefficients([0, 1, 2, 3], scales, degrees)  # [S, 4, 3, 64, 64]
        for s in range(scales_per_orientation):
            for k in range(4):
                rgb = palette[rng.integers(0, 10, 3)]  # object, floor, wall
                images.append(np.clip(np.einsum("khw,kc->hwc", coef[s, k], rgb), 0.0, 1.0))
    return np.stack(images).astype(np.float32)


def coverage(predictor, images: np.ndarray) -> dict:
    x = torch.from_numpy(images).permute(0, 3, 1, 2) * 2 - 1
    with torch.no_grad():
        cov = class_coverage(predictor, x)
    return {h: {k: cov[h][k] for k in ("mean_max_probability", "min_ratio", "max_ratio",
                                       "counts")} for h in HEADS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orientations", type=int, default=1000,
                    help="continuous orientations drawn (each: 2 scales x 4 shapes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--blur", type=float, nargs="*", default=[1.0, 1.5],
                    help="Gaussian blur sigmas (pixels) applied to the on-grid images")
    args = ap.parse_args()
    if args.orientations < 15:
        raise SystemExit("--orientations must be at least 15 (one per class)")
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    predictor = latentatlas.load("predictor_shapes3d").eval()
    t0 = time.perf_counter()
    off = off_grid_images(args.orientations, 2, rng)
    data = Shapes3DLike()
    on = data.sample_observations_from_factors(data.sample_factors(len(off), rng))
    result = {
        "config": vars(args), "n_images": len(off),
        "on_grid": coverage(predictor, on), "off_grid": coverage(predictor, off),
    }
    on = on.astype(np.float32)
    for sigma in args.blur:
        blurred = gaussian_filter(on, (0, sigma, sigma, 0))
        result[f"blurred_sigma_{sigma:g}"] = coverage(predictor, blurred)
    result.update(seconds=time.perf_counter() - t0, environment=environment_info())
    atomic_write_json(RESULTS, result)
    print(f"{len(off)} images each; ratio = class frequency / uniform frequency")
    print(f"{'factor':12s} {'on-grid min-max':>16s} {'off-grid min-max':>17s} "
          f"{'off-grid mean max-prob':>23s}")
    for h in HEADS:
        a, b = result["on_grid"][h], result["off_grid"][h]
        print(f"{h:12s} {a['min_ratio']:7.2f}-{a['max_ratio']:<8.2f} "
              f"{b['min_ratio']:8.2f}-{b['max_ratio']:<8.2f} {b['mean_max_probability']:23.3f}")
    for sigma in args.blur:
        res = result[f"blurred_sigma_{sigma:g}"]
        print(f"on-grid blurred, sigma {sigma:g} px: " + "; ".join(
            f"{h} {res[h]['min_ratio']:.2f}-{res[h]['max_ratio']:.2f} (mean max-prob "
            f"{res[h]['mean_max_probability']:.2f})" for h in HEADS))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
