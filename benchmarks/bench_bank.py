"""Latent-bank throughput: generate + score, fast path vs fp32 reference, side by side.

Generator: StyleGAN2 at 64 px with the ``celeba64`` zoo preset's architecture (random weights;
throughput does not depend on them). Scorer: the shipped CelebA predictor (40 binary heads; its
architecture with random weights when it is not shipped).

* fast: StyleGAN2 ``impl="fast"`` (bf16 where native) + predictor bf16 autocast / channels_last;
* reference: StyleGAN2 ``impl="reference"`` (fp32) + predictor in fp32.

For each path the whole :func:`latentatlas.analysis.bank.sample_bank` pipeline (sampling, mapping,
synthesis, scoring, memmap writes) is timed, plus synthesis alone and scoring alone. Runs
alternate between the paths (``--repeats`` rounds, medians reported) so that the load of this
shared machine affects both alike. Also reports how far the fast path's probabilities are from
the reference's on the same images.

    nice -n 10 .venv/bin/python benchmarks/bench_bank.py [--n 256] [--threads 1]

Writes benchmarks/results/bank.json and prints a table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import latentatlas
from latentatlas.analysis.bank import sample_bank
from latentatlas.models.predictors import AttributePredictor
from latentatlas.models.stylegan2 import StyleGAN2Generator
from latentatlas.scoring import PredictorScorer
from latentatlas.training.gan_presets import gan_preset
from latentatlas.training.predictors import RECIPES
from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.runinfo import environment_info

RESULTS = Path(__file__).resolve().parent / "results" / "bank.json"


def build(seed: int = 0) -> tuple[StyleGAN2Generator, AttributePredictor, str]:
    preset = gan_preset("celeba64")
    torch.manual_seed(seed)
    g = StyleGAN2Generator(img_resolution=64, img_channels=3, **preset["generator"]).eval()
    # The shipped CelebA predictor when present (realistic logits for the fast-vs-fp32
    # agreement); its architecture otherwise, with random weights (same speed).
    if "predictor_celeba64" in latentatlas.available_models():
        return g, latentatlas.load("predictor_celeba64"), "shipped predictor_celeba64"
    heads = [f"attr_{k:02d}" for k in range(40)]
    p = AttributePredictor(heads=heads, **RECIPES["celeba"].model_kwargs).eval()
    return g, p, "random weights"


def configure(g: StyleGAN2Generator, p: AttributePredictor, fast: bool) -> PredictorScorer:
    g.set_impl("fast", "auto") if fast else g.set_impl("reference")
    return PredictorScorer(p, fast=fast)


def time_bank(g, scorer, n: int, batch: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        sample_bank(g, scorer, n, Path(tmp) / "bank", seed=0, truncation_psi=0.7,
                    batch_size=batch, chunk_size=n, progress=False)
        return n / (time.perf_counter() - t0)


@torch.no_grad()
def time_parts(g, scorer, n: int, batch: int) -> tuple[float, float]:
    wp = g.sample(n, "wp", rng=0, truncation_psi=0.7)
    t0 = time.perf_counter()
    images = [g.synthesize(wp[i:i + batch], space="wp") for i in range(0, n, batch)]
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    for im in images:
        scorer(im.clamp(-1, 1))
    t_score = time.perf_counter() - t0
    return n / t_gen, n / t_score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256, help="samples per timed bank")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1 is fastest on this shared, loaded 2-core machine)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g, p, predictor_weights = build()

    # Agreement of the fast path with the fp32 reference on the same images.
    with torch.no_grad():
        wp = g.sample(64, "wp", rng=1, truncation_psi=0.7)
        ref_scorer = configure(g, p, fast=False)
        ref_img = g.synthesize(wp, space="wp").clamp(-1, 1)
        ref_scores = ref_scorer(ref_img)
        fast_scorer = configure(g, p, fast=True)
        fast_img = g.synthesize(wp, space="wp").clamp(-1, 1)
        fast_scores = fast_scorer(fast_img)
        fast_scores_on_ref = fast_scorer(ref_img)
    agreement = {
        "max_abs_image_diff": float((fast_img - ref_img).abs().max()),
        "max_abs_probability_diff_end_to_end": float((fast_scores - ref_scores).abs().max()),
        "max_abs_probability_diff_scorer_only": float(
            (fast_scores_on_ref - ref_scores).abs().max()),
    }

    rates: dict[str, dict[str, list[float]]] = {
        path: {"bank": [], "synthesis": [], "scoring": []} for path in ("fast", "reference")}
    for path in ("fast", "reference"):  # warm-up both (first-call imports, allocator)
        scorer = configure(g, p, path == "fast")
        time_parts(g, scorer, args.batch, args.batch)
        time_bank(g, scorer, args.batch, args.batch)
    for _ in range(args.repeats):
        for path in ("fast", "reference"):
            scorer = configure(g, p, path == "fast")
            rates[path]["bank"].append(time_bank(g, scorer, args.n, args.batch))
            gen, score = time_parts(g, scorer, args.n, args.batch)
            rates[path]["synthesis"].append(gen)
            rates[path]["scoring"].append(score)
    med = {path: {k: float(np.median(v)) for k, v in parts.items()}
           for path, parts in rates.items()}
    ratios = {k: med["fast"][k] / med["reference"][k] for k in med["fast"]}
    result = {
        "benchmark": "bank throughput (generate + score), images/s, medians",
        "generator": {"class": "StyleGAN2Generator", "img_resolution": 64,
                      **gan_preset("celeba64")["generator"],
                      "num_parameters": sum(q.numel() for q in g.parameters())},
        "predictor": {"class": "AttributePredictor", "heads": 40,
                      **RECIPES["celeba"].model_kwargs,
                      "weights": predictor_weights,
                      "num_parameters": sum(q.numel() for q in p.parameters())},
        "settings": {"n": args.n, "batch": args.batch, "repeats": args.repeats,
                     "threads": args.threads, "truncation_psi": 0.7},
        "images_per_second": med,
        "all_runs": rates,
        "speedup_fast_over_reference": ratios,
        "fast_vs_reference": agreement,
        "load_average_at_end": os.getloadavg(),
        "environment": environment_info(),
    }
    atomic_write_json(args.out, result)
    print(f"{'images/s':<12}{'fast':>10}{'reference':>12}{'ratio':>8}")
    for k in ("bank", "synthesis", "scoring"):
        print(f"{k:<12}{med['fast'][k]:>10.1f}{med['reference'][k]:>12.1f}{ratios[k]:>8.2f}")
    for k, v in agreement.items():
        print(f"{k}: {v:.4g}")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
