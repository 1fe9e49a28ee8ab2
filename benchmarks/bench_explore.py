"""Wall time of the default `explore` run, per stage, with 1 vs 2 torch threads, side by side.

A random-init StyleGAN2 of the celeba64 preset's size (64 px, channel_base 1024, channel_max 256,
z/w 256, 2 mapping layers; ``--big`` adds channel_base 4096 / w 512) is explored with the shipped
``predictor_celeba64`` and the default settings (n 4000, n_edit 500, n_rescore 32, 4 focus
attributes). Writes benchmarks/results/explore.json and prints a table.

    nice -n 10 .venv/bin/python benchmarks/bench_explore.py [--threads 1,2] [--big]

Random weights make the semantics meaningless; only the timings matter here.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from latentatlas.io.persistence import save_model
from latentatlas.models import StyleGAN2Generator
from latentatlas.pipelines.explore import FULL_SETTINGS, explore
from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.runinfo import environment_info

RESULTS = Path(__file__).resolve().parent / "results" / "explore.json"
SIZES = {
    "celeba64_preset": dict(z_dim=256, w_dim=256, channel_base=1024, channel_max=256),
    "cb4096_w512": dict(z_dim=512, w_dim=512, channel_base=4096, channel_max=512),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--big", action="store_true", help="also the channel_base 4096 model")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    sizes = ["celeba64_preset"] + (["cb4096_w512"] if args.big else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            torch.manual_seed(0)
            g = StyleGAN2Generator(img_resolution=64, mapping_layers=2, **SIZES[size])
            folder = Path(tmp) / size
            save_model(g, folder)
            for t in threads:
                torch.set_num_threads(t)
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                res = explore(folder, Path(tmp) / f"run_{size}_{t}", progress=False)
                wall = time.perf_counter() - t0
                rows.append({"generator": size, "threads": t, "wall_seconds": wall,
                             "stage_seconds": res.metrics["timings_seconds"],
                             "load_average_at_start": load,
                             "attributes": len(res.attributes), "focus": res.focus})
                print(f"{size:<16} threads={t}  {wall:7.1f} s  (load {load:.1f})", flush=True)
    base = {r["generator"]: r["wall_seconds"] for r in rows if r["threads"] == threads[0]}
    for r in rows:
        r["time_ratio_vs_first"] = r["wall_seconds"] / base[r["generator"]]
    out = {"settings": FULL_SETTINGS.__dict__, "rows": rows, "environment": environment_info(),
           "note": "shared 2-core machine; load average recorded per row"}
    atomic_write_json(RESULTS, out)
    print(f"\n{'generator':<16} {'threads':>7} {'total s':>8} {'bank':>7} {'edits':>7} "
          f"{'layers':>7} {'figures':>7} {'ratio':>6}")
    for r in rows:
        s = r["stage_seconds"]
        print(f"{r['generator']:<16} {r['threads']:>7} {r['wall_seconds']:>8.1f} "
              f"{s['bank']:>7.1f} {s['edits']:>7.1f} {s.get('layers', 0):>7.1f} "
              f"{s['figures']:>7.1f} {r['time_ratio_vs_first']:>6.2f}")
    print(json.dumps({"written": str(RESULTS)}))


if __name__ == "__main__":
    main()
