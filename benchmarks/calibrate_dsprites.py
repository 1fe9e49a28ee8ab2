"""Re-derive the dSprites-like rendering constants from the real dSprites subset.

Reproduces the calibration behind ``latentatlas.data.dsprites`` (see docs/data.md):

1. position mapping: least-squares fit of each image's centroid against its posX / posY class;
2. rotation convention: map every pixel of every image back into the sprite's own frame
   (``q = R(+-theta) (p - c) / scale``) and accumulate the on-probability on a fine canonical
   grid; the right sign gives a sharp shape (few bins with probability in (0.1, 0.9));
3. shape constants from the sharp canonical maps: square half side and ellipse semi-axes (ray
   crossings of probability 0.5 from the centre), and the heart outline: radius of the 0.5
   crossing along rays from its centroid every 2 degrees, mirror-averaged.

Writes benchmarks/results/dsprites_calibration.json and prints the fitted values next to the
constants the renderer uses.

    nice -n 10 .venv/bin/python benchmarks/calibrate_dsprites.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.ndimage import map_coordinates

from latentatlas.data import default_data_root, load_dsprites_npz
from latentatlas.data import dsprites as dsp
from latentatlas.utils.atomic import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results" / "dsprites_calibration.json"
EXTENT, BIN = 20.0, 0.25  # canonical grid: [-20, 20) px at scale 1, 0.25 px bins
GRID = int(2 * EXTENT / BIN)


def canonical_map(imgs, values, shape_rows, sign):
    """On-probability of canonical positions for one shape, rotation sign +-1."""
    rows, cols = np.mgrid[0:64, 0:64]
    px, py = (cols + 0.5).ravel(), (rows + 0.5).ravel()
    on = np.zeros(GRID * GRID)
    total = np.zeros(GRID * GRID)
    for chunk in np.array_split(shape_rows, max(1, len(shape_rows) // 300)):
        s = values[chunk, 1][:, None]
        th = sign * values[chunk, 2][:, None]
        dx = px[None] - (16 + 32 * values[chunk, 3][:, None])
        dy = py[None] - (16 + 32 * values[chunk, 4][:, None])
        qx = (np.cos(th) * dx - np.sin(th) * dy) / s
        qy = (np.sin(th) * dx + np.cos(th) * dy) / s
        bx = np.floor((qx + EXTENT) / BIN).astype(np.int64)
        by = np.floor((qy + EXTENT) / BIN).astype(np.int64)
        ok = (bx >= 0) & (bx < GRID) & (by >= 0) & (by < GRID)
        idx = (by * GRID + bx)[ok]
        on += np.bincount(idx, weights=imgs[chunk].reshape(len(chunk), -1)[ok], minlength=on.size)
        total += np.bincount(idx, minlength=on.size)
    return (on / np.maximum(total, 1)).reshape(GRID, GRID)


def crossing(prob, cx, cy, angle):
    """Distance from (cx, cy) along ``angle`` where the probability first drops below 0.5."""
    t = np.arange(0, 18, 0.01)
    x, y = cx + t * np.cos(angle), cy + t * np.sin(angle)
    v = map_coordinates(prob, [(y + EXTENT) / BIN - 0.5, (x + EXTENT) / BIN - 0.5], order=1)
    k = int(np.argmax(v < 0.5))
    return float(t[k - 1] + (v[k - 1] - 0.5) / (v[k - 1] - v[k]) * (t[k] - t[k - 1]))


def main() -> None:
    real = load_dsprites_npz(default_data_root() / "dsprites" / "dsprites_subset.npz")
    imgs, factors, values = real.imgs.astype(np.float64), real.factors, real.factor_values
    rows, cols = np.mgrid[0:64, 0:64]
    area = imgs.sum(axis=(1, 2))
    result: dict[str, object] = {"images": len(imgs)}

    # 1. position mapping (centroid in pixel-index coordinates vs class)
    cx = (imgs * cols).sum(axis=(1, 2)) / area
    cy = (imgs * rows).sum(axis=(1, 2)) / area
    ellipse = factors[:, 0] == 1  # symmetric: its centroid is its centre
    fx = np.polyfit(factors[ellipse, 3], cx[ellipse], 1)
    fy = np.polyfit(factors[ellipse, 4], cy[ellipse], 1)
    result["position_fit_px_per_class"] = [round(fx[0], 4), round(fy[0], 4)]
    result["position_fit_intercept"] = [round(fx[1], 3), round(fy[1], 3)]
    print(f"centre column = {fx[1]:.3f} + {fx[0]:.4f} k, row = {fy[1]:.3f} + {fy[0]:.4f} k  "
          f"(model: 15.5 + 32/31 k = {32 / 31:.4f} k)")

    # 2. rotation convention and 3. shapes
    centre = -EXTENT + (np.arange(GRID) + 0.5) * BIN
    maps = {}
    for k, name in enumerate(dsp.SHAPE_NAMES):
        shape_rows = np.flatnonzero(factors[:, 0] == k)
        blur = {}
        for sign in (1, -1):
            prob = canonical_map(imgs, values, shape_rows, sign)
            blur[sign] = int(((prob > 0.1) & (prob < 0.9)).sum())
            maps[(k, sign)] = prob
        result[f"{name}_ambiguous_bins_by_rotation_sign"] = {"+1": blur[1], "-1": blur[-1]}
        print(f"{name}: ambiguous canonical bins, sign +1: {blur[1]}, sign -1: {blur[-1]}")
    sign = 1 if sum(result[f"{n}_ambiguous_bins_by_rotation_sign"]["+1"] for n in
                    dsp.SHAPE_NAMES) < sum(result[f"{n}_ambiguous_bins_by_rotation_sign"]["-1"]
                                           for n in dsp.SHAPE_NAMES) else -1
    # Sign +1 is the renderer's convention q = R(theta) (p - c) / s (R the usual rotation
    # matrix applied in image axes, y down).
    result["rotation_sign"] = sign
    square, ell, heart = (maps[(k, sign)] for k in range(3))
    half_side = np.mean([crossing(square, 0, 0, a) for a in (0, np.pi / 2, np.pi, 1.5 * np.pi)])
    semi = (np.mean([crossing(ell, 0, 0, a) for a in (0, np.pi)]),
            np.mean([crossing(ell, 0, 0, a) for a in (np.pi / 2, 1.5 * np.pi)]))
    inside = heart > 0.5
    hcx = float((inside.sum(axis=0) * centre).sum() / inside.sum())
    hcy = float((inside.sum(axis=1) * centre).sum() / inside.sum())
    degrees = np.arange(-90, 91, 2)
    right = np.array([crossing(heart, hcx, hcy, np.radians(d)) for d in degrees])
    left = np.array([crossing(heart, hcx, hcy, np.radians(180 - d)) for d in degrees])
    radii = (right + left) / 2
    result.update({
        "square_half_side": round(float(half_side), 3),
        "ellipse_semi_axes": [round(float(semi[0]), 3), round(float(semi[1]), 3)],
        "heart_centre": [round(hcx, 3), round(hcy, 3)],
        "heart_radii_every_2deg_from_-90": np.round(radii, 2).tolist(),
        "heart_radii_max_abs_diff_vs_renderer": round(float(
            np.abs(radii - np.asarray(dsp.HEART_RADII)).max()), 3),
    })
    print(f"square half side {half_side:.3f} (renderer {dsp.SQUARE_HALF_SIDE}); ellipse "
          f"{semi[0]:.3f} x {semi[1]:.3f} (renderer {dsp.ELLIPSE_SEMI_AXES}); heart centre "
          f"({hcx:.3f}, {hcy:.3f}) (renderer {dsp.HEART_CENTRE}); heart radii max |diff| vs "
          f"renderer {result['heart_radii_max_abs_diff_vs_renderer']}")
    atomic_write_json(RESULTS, result)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
