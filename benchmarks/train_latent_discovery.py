"""Train latent discovery (Voynov & Babenko) on a shipped generator, resumably, and save the
learned directions and the held-out RCA under benchmarks/results/.

    PYTHONPATH=src python benchmarks/train_latent_discovery.py --model mnist --steps 14000 \
        --lr 1e-3 --run-dir runs/ld_mnist

Re-running the same command after a kill resumes from the newest checkpoint in ``--run-dir``
(bit-identical to an uninterrupted run). Outputs: ``results/ld_<model>.safetensors``
(Directions.save: K unit directions, per-direction held-out accuracy in scores["rca"]) and
``results/ld_<model>.json`` (RCA, settings, history, environment; a run record) and
``results/ld_<model>_traversals.png``
(rows: the 8 directions with the best held-out accuracy; columns: shifts -6..6 of one code).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from latentatlas.directions.latent_discovery import LatentDiscovery
from latentatlas.editing.render import render_edit_grid
from latentatlas.models.zoo import load
from latentatlas.utils.runinfo import write_run_record

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mnist")
    ap.add_argument("--steps", type=int, default=14000)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--directions", type=int, default=None, help="K (default: latent dim)")
    ap.add_argument("--deformator", default="ortho")
    ap.add_argument("--eval-every", type=int, default=2000)
    ap.add_argument("--eval-pairs", type=int, default=3200)
    ap.add_argument("--bf16", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--run-dir", required=True, help="checkpoint folder (resume)")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    bf16 = {"true": True, "false": False}.get(str(args.bf16).lower(), args.bf16)
    generator = load(args.model)
    finder = LatentDiscovery(
        n_directions=args.directions, deformator=args.deformator, n_steps=args.steps,
        batch_size=args.batch, lr=args.lr, eval_every=args.eval_every,
        eval_pairs=args.eval_pairs, bf16=bf16, out_dir=args.run_dir, checkpoint_every=250,
    )
    t0 = time.perf_counter()
    finder.fit(generator=generator, rng=args.seed)
    seconds = time.perf_counter() - t0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    finder.directions_.save(out / f"ld_{args.model}.safetensors")
    k = len(finder.directions_)
    metrics = {
        "rca_heldout": finder.rca_, "rca_heldout_running_stats": finder.rca_running_stats_,
        "chance": 1.0 / k, "shift_mae_heldout": finder.shift_mae_,
        "n_directions": k, "space": finder.space_, "bf16": finder.bf16_,
        "seconds_this_sitting": seconds,
        "rca_history": [{k: h[k] for k in ("step", "rca", "rca_running_stats", "train_rca")
                         if k in h} for h in finder.history_ if "rca" in h],
        "per_direction_rca": finder.per_direction_rca_.tolist(),
    }
    write_run_record(out, command="benchmarks/train_latent_discovery.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        config={k: v for k, v in finder.get_params().items() if k != "out_dir"}
        | {"model": args.model}, seed=args.seed, metrics=metrics,
        filename=f"ld_{args.model}.json")
    # Traversals of the 8 best-recognised directions: one code, shifts -6..6 along each.
    best = np.argsort(-finder.per_direction_rca_, kind="stable")[:8]
    base = generator.sample(1, finder.space_, rng=args.seed).cpu().numpy()[0]
    alphas = np.linspace(-6, 6, 9, dtype=np.float32)
    codes = base[None, None] + alphas[None, :, None] * finder.directions_.vectors[best][:, None]
    render_edit_grid(generator, codes, finder.space_, out / f"ld_{args.model}_traversals.png")
    print(f"{args.model}: held-out RCA {finder.rca_:.4f} (chance {1.0 / k:.4f}, K={k}) "
          f"in {seconds:.0f} s")


if __name__ == "__main__":
    main()
