"""Steerability is limited by the training data's variability (issue 22, item 4), measured.

Two dSprites GANs with the same recipe (zoo preset `dsprites`) and the same budget (200 kimg,
seed 0): one on the whole set, one on the set restricted to the middle half of x positions
(`--factor-range posX=8:24`). The same linear shift_x walk is trained on each (and on the shipped
600-kimg GAN for reference), and measured without the walk's help: the sprite's mask centroid.

For every model the script reports
- the steerability score and curve (:func:`latentatlas.pipelines.walks.run_steer`),
- the x-centroid range the walk reaches: the 2.5th-97.5th percentile of the centroid over n
  starting codes walked to every amount of the grid,
- the data's own x-centroid range (the same percentiles over real renders of the set).

Training runs into runs/restricted/<name> and resumes; finished parts are read back.
Usage: python benchmarks/bench_restricted_steer.py  -> benchmarks/results/restricted_steer.json
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from latentatlas.data.base import RestrictedFactors
from latentatlas.data.dsprites import DSpritesLike
from latentatlas.models.zoo import load as load_model
from latentatlas.pipelines.walks import DEFAULT_GRIDS, run_steer
from latentatlas.scoring import make_scorer
from latentatlas.training.gan_run import run_gan
from latentatlas.utils.atomic import atomic_write_json

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs" / "restricted"
RESULT = ROOT / "benchmarks" / "results" / "restricted_steer.json"
FIGURE = ROOT / "docs" / "figures" / "walks" / "restricted_shift_x.png"
KIMG = 200
RESTRICTION = {"posX": (8, 24)}
WALK = dict(transform="shift_x", walk="linear", steps=600, batch_size=16, lr=0.01)
N_CODES = 256


def train(name: str, ranges: dict | None) -> Path:
    out = RUNS / name
    if not (out / "model" / "model.safetensors").is_file() or _unfinished(out):
        run_gan(out, preset="dsprites", overrides={"kimg": KIMG}, resume=(out / "checkpoints")
                .is_dir(), threads=1, factor_ranges=ranges,
                command=f"bench_restricted_steer.py ({name})")
    return out / "model"


def _unfinished(out: Path) -> bool:
    run = out / "run.json"
    if not run.is_file():
        return True
    rec = json.loads(run.read_text())
    return rec.get("metrics", {}).get("kimg", 0.0) < KIMG


def centroid_range(x: np.ndarray) -> list[float]:
    return [float(np.percentile(x, 2.5)), float(np.percentile(x, 97.5))]


def data_range(ranges: dict | None, n: int = 4096) -> list[float]:
    data = DSpritesLike()
    if ranges:
        data = RestrictedFactors(data, ranges)
    images = data.sample_observations(n, np.random.default_rng(0))
    scorer = make_scorer("moments", channels=1)
    t = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float() * 2 - 1
    return centroid_range(scorer.score_numpy(t)[:, 0])


def walked(model: str, walk_dir: Path) -> dict:
    """The x-centroid range the walk reaches over N_CODES starts and the grid's amounts, and the
    mean shift at the grid's ends for the starts near the image centre (x within 0.45-0.55),
    where a shift of the target's size stays inside the image both ways."""
    generator = load_model(model).eval()
    walk = load_model(walk_dir)
    scorer = make_scorer("moments", channels=1)
    z = torch.randn(N_CODES, generator.z_dim, generator=torch.Generator().manual_seed(11))
    grid = DEFAULT_GRIDS["shift_x"]
    xs = []
    with torch.no_grad():
        for a in grid:
            images = generator.synthesize_batched(walk.walk(z, float(a)), space="z")
            xs.append(scorer.score_numpy(images)[:, 0])
    xs = np.stack(xs)  # [amounts, codes]
    start = xs[int(np.argmin(np.abs(grid)))]
    centre = np.abs(start - 0.5) <= 0.05
    return {"walked_centroid_x_range": centroid_range(xs.ravel()),
            "per_amount_centroid_x": [[float(a), *centroid_range(x), float(np.median(x))]
                                      for a, x in zip(grid, xs, strict=True)],
            "centre_starts": int(centre.sum()),
            "centre_shift_at_ends": [float(np.mean(xs[0, centre] - start[centre])),
                                     float(np.mean(xs[-1, centre] - start[centre]))],
            "grid_ends": [float(grid[0]), float(grid[-1])]}


def figure(rows: dict) -> None:
    """Per model: the band of x centroids (2.5-97.5 %) the walk reaches at each amount, and the
    data's own band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for (name, r), colour in zip(rows.items(), ("tab:grey", "tab:blue", "tab:red"), strict=True):
        per = np.array(r["per_amount_centroid_x"])
        ax.fill_between(per[:, 0], per[:, 1], per[:, 2], color=colour, alpha=0.2)
        ax.plot(per[:, 0], per[:, 3], "o-", color=colour, ms=3, label=f"{name}: walk (median)")
        for y in r["data_centroid_x_range"]:
            ax.axhline(y, color=colour, ls="--", lw=0.8)
    ax.set_xlabel("amount a (target shift: about a/2 of the width)")
    ax.set_ylabel("sprite x centroid (fraction of width)")
    ax.set_title("shift_x walks: reached band (shaded) vs the data's band (dashed)")
    ax.legend(fontsize=7, loc="upper left")
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=110)
    plt.close(fig)


def main() -> None:
    torch.set_num_threads(1)
    models = {"shipped_600kimg": ("dsprites", None),
              f"full_{KIMG}kimg": (str(train(f"full_{KIMG}kimg", None)), None),
              f"restricted_posX_8_24_{KIMG}kimg": (
                  str(train(f"restricted_posX_8_24_{KIMG}kimg", RESTRICTION)), RESTRICTION)}
    rows = {}
    for name, (model, ranges) in models.items():
        print(f"== {name}", flush=True)
        res = run_steer(model=model, out=RUNS / f"steer_{name}", progress=True, **WALK)
        rows[name] = {
            "model": model, "factor_ranges": {k: list(v) for k, v in (ranges or {}).items()},
            "score": res["score"], "cpu_seconds_train": res["cpu_seconds_train"],
            "curve": [{k: r[k] for k in ("alpha", "target", "achieved")} for r in res["curve"]],
            **walked(model, RUNS / f"steer_{name}" / "walk"),
            "data_centroid_x_range": data_range(ranges),
        }
    figure(rows)
    atomic_write_json(RESULT, {"walk": WALK, "kimg": KIMG, "n_codes": N_CODES,
                               "torch_threads": 1, "runs": rows})
    print(f"{'model':34s} {'range frac':>10s} {'reach':>6s} {'walked x':>14s} {'data x':>14s} "
          f"{'centre shift at ends':>22s}")
    for name, r in rows.items():
        w, d, c = (r["walked_centroid_x_range"], r["data_centroid_x_range"],
                   r["centre_shift_at_ends"])
        print(f"{name:34s} {r['score']['range_fraction']:10.2f} "
              f"{r['score']['reach_fraction']:6.2f} {w[0]:6.3f}-{w[1]:6.3f} "
              f"{d[0]:6.3f}-{d[1]:6.3f} {c[0]:+10.3f} / {c[1]:+.3f}")


if __name__ == "__main__":
    main()
