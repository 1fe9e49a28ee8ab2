"""VAE training throughput: fp32 vs bf16 autocast (and the FactorVAE discriminator's cost).

Side by side in one run on the same synthetic 64x64x1 batches: images/s of full training steps
(forward, backward, Adam) of disentanglement_lib's architecture, batch 64. Writes
benchmarks/results/vae_train.json and prints a table.

    nice -n 10 .venv/bin/python benchmarks/bench_vae_train.py [--steps 30]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from latentatlas.models.vae import VAE
from latentatlas.training.vae import _vae_step
from latentatlas.training.vae_losses import make_objective
from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.runinfo import environment_info

RESULTS = Path(__file__).resolve().parent / "results" / "vae_train.json"


def measure(objective_name: str, bf16: bool, steps: int, batch: int, warmup: int = 3) -> float:
    torch.manual_seed(0)
    model = VAE(latent_dim=10, channels=1).train()
    objective = make_objective(objective_name, latent_dim=10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    d_opt = objective.make_optimizer() if objective_name == "factorvae" else None
    rng = np.random.default_rng(0)
    gen = torch.Generator().manual_seed(0)
    # Sparse binary images like dSprites.
    x = torch.from_numpy((rng.random((batch, 1, 64, 64)) < 0.1).astype(np.float32))
    t0 = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        loss, z, _ = _vae_step(model, objective, x, i, gen, bf16)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if d_opt is not None:
            d_opt.zero_grad(set_to_none=True)
            d_loss, _ = objective.discriminator_loss(z, gen)
            d_loss.backward()
            d_opt.step()
        opt.step()
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for objective in ("betavae", "factorvae"):
        fp32 = measure(objective, False, args.steps, args.batch)
        bf16 = measure(objective, True, args.steps, args.batch)
        rows.append({"objective": objective, "fp32_images_per_s": round(fp32, 1),
                     "bf16_images_per_s": round(bf16, 1), "bf16_speedup": round(bf16 / fp32, 3)})
    print(f"{'objective':<10} {'fp32 img/s':>11} {'bf16 img/s':>11} {'bf16/fp32':>10}")
    for r in rows:
        print(f"{r['objective']:<10} {r['fp32_images_per_s']:>11.1f} "
              f"{r['bf16_images_per_s']:>11.1f} {r['bf16_speedup']:>10.3f}")
    # One entry per thread count, so runs with --threads 1 and 2 sit side by side.
    import json
    import os

    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    by_threads = previous.get("runs_by_threads", {})
    by_threads[str(args.threads)] = {
        "batch": args.batch, "steps": args.steps, "results": rows,
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "environment": environment_info(),
    }
    atomic_write_json(RESULTS, {"benchmark": "vae_train",
                                "note": "shared 2-core machine; other agents' jobs were running",
                                "runs_by_threads": by_threads})
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
