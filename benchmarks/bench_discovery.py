"""Direction discovery speed on the shipped celeba64 StyleGAN2: fast paths vs plain references.

* SeFa fit: ``SeFa`` (eigh of the d x d matrix A^T A) vs the plain reference (a full SVD of the
  stacked, row-normalised weight A), same directions;
* GANSpace fit on 100,000 sampled w: the fast path (``estimator="randomized"``, float32) vs the
  reference's estimator (``IncrementalPCA``, float32 chunks); the top-10 components' |cos|
  agreement is reported;
* labelling throughput (images/s, synthesis + scoring of +-alpha moves): the fast path
  (StyleGAN2 ``impl="fast"`` + predictor bf16 / channels_last) vs the fp32 reference
  (``impl="reference"`` + fp32 predictor), with the largest purity difference of the labels.

Runs alternate between the paths (``--repeats`` rounds, medians) so that the load of this shared
machine affects both alike.

    OMP_NUM_THREADS=1 python benchmarks/bench_discovery.py [--repeats 3] [--n-ganspace 100000]

Writes benchmarks/results/discovery.json and prints a table.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

import latentatlas
from latentatlas.analysis.labelling import label_directions
from latentatlas.directions import GANSpace, SeFa
from latentatlas.directions.sefa import fix_signs, latent_weight
from latentatlas.scoring import PredictorScorer
from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.runinfo import environment_info

RESULTS = Path(__file__).resolve().parent / "results" / "discovery.json"
ATTRS = ["Smiling", "Male", "Young", "Eyeglasses", "Blond_Hair", "Bald"]


def sefa_reference(g) -> np.ndarray:
    """The plain reference: right singular vectors of the row-normalised stacked weight."""
    a, *_ = latent_weight(g, None)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    _, _, vt = np.linalg.svd(a, full_matrices=False)
    return fix_signs(vt)


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-ganspace", type=int, default=100_000)
    ap.add_argument("--n-label", type=int, default=64, help="samples per labelled direction")
    ap.add_argument("--k-label", type=int, default=4, help="directions labelled")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = latentatlas.load("celeba64").eval()
    pred = latentatlas.load("predictor_celeba64").eval()

    times: dict[str, list[float]] = {k: [] for k in (
        "sefa_fast", "sefa_reference", "ganspace_fast", "ganspace_reference",
        "label_fast", "label_reference")}
    label_images = 0
    purities: dict[str, list[float]] = {}
    cos_agree = sefa_agree = None
    for r in range(args.repeats):
        t, sefa = timed(SeFa().fit, generator=g)
        times["sefa_fast"].append(t)
        t, ref = timed(sefa_reference, g)
        times["sefa_reference"].append(t)
        sefa_agree = float(np.abs((sefa.directions_.vectors[:10] @ ref[:10].T).diagonal()).min())
        common = dict(n_components=10, n_samples=args.n_ganspace, seed=r, batch_size=10_000,
                      n_stdev_samples=5000)
        t, fast = timed(GANSpace(estimator="randomized", **common).fit, generator=g)
        times["ganspace_fast"].append(t)
        t, slow = timed(GANSpace(estimator="ipca", **common).fit, generator=g)
        times["ganspace_reference"].append(t)
        cos_agree = float(np.abs((fast.components_ @ slow.components_.T).diagonal()).min())
        dirs = sefa.directions_[: args.k_label]
        for path in ("fast", "reference"):
            if path == "fast":
                g.set_impl("fast", "auto")
            else:
                g.set_impl("reference")
            scorer = PredictorScorer(pred, attributes=ATTRS, fast=path == "fast",
                                     clamp="display")
            t, res = timed(label_directions, g, dirs, scorer, n=args.n_label,
                           layer_ranges=None, seed=r)
            times[f"label_{path}"].append(res.images / t)
            label_images = res.images
            purities[path] = [b["purity"] for b in res.best]
        g.set_impl("fast", "auto")
    med = {k: float(np.median(v)) for k, v in times.items()}
    ratios = {
        "sefa_fit_speedup": med["sefa_reference"] / med["sefa_fast"],
        "ganspace_fit_speedup": med["ganspace_reference"] / med["ganspace_fast"],
        "labelling_throughput_ratio": med["label_fast"] / med["label_reference"],
    }
    result = {
        "benchmark": "direction discovery on celeba64 (seconds; labelling in images/s), medians",
        "settings": {"repeats": args.repeats, "n_ganspace": args.n_ganspace,
                     "n_label": args.n_label, "k_label": args.k_label,
                     "label_images_per_run": label_images, "threads": args.threads,
                     "attributes": ATTRS},
        "sefa_fit_seconds": {"fast_eigh": med["sefa_fast"], "reference_svd": med["sefa_reference"]},
        "ganspace_fit_seconds": {"fast_randomized_fp32": med["ganspace_fast"],
                                 "reference_ipca_fp32": med["ganspace_reference"]},
        "labelling_images_per_second": {"fast": med["label_fast"],
                                        "reference_fp32": med["label_reference"]},
        "ratios": ratios,
        "agreement": {"sefa_min_abs_cos_top10_eigh_vs_svd": sefa_agree,
                      "ganspace_min_abs_cos_top10_randomized_vs_ipca": cos_agree,
                      "label_max_purity_diff_fast_vs_fp32": float(np.max(np.abs(
                          np.array(purities["fast"]) - np.array(purities["reference"]))))},
        "all_runs": times,
        "load_average_at_end": os.getloadavg(),
        "environment": environment_info(),
    }
    atomic_write_json(args.out, result)
    print(f"{'':<28}{'fast':>12}{'reference':>12}{'ratio':>8}")
    print(f"{'SeFa fit (s)':<28}{med['sefa_fast']:>12.4f}{med['sefa_reference']:>12.4f}"
          f"{ratios['sefa_fit_speedup']:>8.2f}")
    print(f"{'GANSpace fit, 100k w (s)':<28}{med['ganspace_fast']:>12.2f}"
          f"{med['ganspace_reference']:>12.2f}{ratios['ganspace_fit_speedup']:>8.2f}")
    print(f"{'labelling (images/s)':<28}{med['label_fast']:>12.1f}{med['label_reference']:>12.1f}"
          f"{ratios['labelling_throughput_ratio']:>8.2f}")
    for k, v in result["agreement"].items():
        print(f"{k}: {v:.4g}")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
