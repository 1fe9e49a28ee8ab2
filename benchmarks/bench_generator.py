"""StyleGAN2 synthesis speed: fast path (bf16 / fp32) vs the fp32 per-sample grouped-conv reference.

One run measures, side by side and interleaved (so machine load hits all of them alike):

- ``reference``: the official fused inference path: per-sample modulated + demodulated weights and
  one grouped convolution per layer, fp32 (``impl="reference"``);
- ``fast_fp32``: shared-weight convolution on style-scaled activations, demodulation as a matmul,
  fused epilogue, channels_last (``impl="fast", dtype="float32"``);
- ``fast_bf16``: the same in bf16 (``impl="fast", dtype="bfloat16"``; the default where the CPU
  has native bf16).

for a 64 px generator (batch 64) and a 256 px one (batch 8), with a realistic small config
(channel_base 8192, channel_max 256, w_dim 256). Random weights are used, with the toRGB layers
rescaled so that the reference images of the first 8 latents have max |pixel| = 1, like a
trained generator's [-1, 1] output (the pixel error is then on the scale the target "max abs
difference < 0.05 on [-1, 1] images" refers to; the full batch's range is recorded); the noise
strengths are set to 0.1 so the noise path is exercised.

Writes benchmarks/results/generator.json and prints a table. Usage:
    python benchmarks/bench_generator.py [--reps 2] [--threads 2 | 1,2] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from latentatlas.models.stylegan2 import StyleGAN2Generator, native_bf16_supported  # noqa: E402
from latentatlas.utils.atomic import atomic_write_json  # noqa: E402
from latentatlas.utils.runinfo import environment_info  # noqa: E402

METHODS = {
    "reference": ("reference", "float32"),
    "fast_fp32": ("fast", "float32"),
    "fast_bf16": ("fast", "bfloat16"),
}


def build(resolution: int, channel_base: int, channel_max: int, w_dim: int) -> StyleGAN2Generator:
    torch.manual_seed(0)
    g = StyleGAN2Generator(
        z_dim=w_dim,
        w_dim=w_dim,
        img_resolution=resolution,
        channel_base=channel_base,
        channel_max=channel_max,
        mapping_layers=2,
    )
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.1)
    return g.eval()


@torch.no_grad()
def calibrate_to_unit_range(g: StyleGAN2Generator, wp: torch.Tensor) -> float:
    """Scale every toRGB weight and bias so the reference images have max |pixel| = 1."""
    g.set_impl("reference")
    peak = float(g.synthesis(wp).abs().max())
    for _, block in g.synthesis.blocks():
        block.torgb.weight.mul_(1 / peak)
        block.torgb.bias.mul_(1 / peak)
    return peak


@torch.no_grad()
def run_config(
    resolution: int, batch: int, channel_base: int, channel_max: int, w_dim: int, reps: int
) -> dict:
    g = build(resolution, channel_base, channel_max, w_dim)
    wp = g.w_to_wp(g.z_to_w(g.sample_z(batch, 0)))
    peak = calibrate_to_unit_range(g, wp[: min(batch, 8)])
    images, times, cpu_times = {}, {m: [] for m in METHODS}, {m: [] for m in METHODS}
    for impl, dtype in METHODS.values():  # warm-up (oneDNN primitive creation)
        g.set_impl(impl, dtype)
        g.synthesis(wp[:2])
    for _ in range(reps):
        for m, (impl, dtype) in METHODS.items():
            g.set_impl(impl, dtype)
            t0, c0 = time.perf_counter(), time.process_time()
            images[m] = g.synthesis(wp)
            times[m].append(time.perf_counter() - t0)
            cpu_times[m].append(time.process_time() - c0)
    ref = images["reference"]
    out = {
        "resolution": resolution,
        "batch": batch,
        "channel_base": channel_base,
        "channel_max": channel_max,
        "w_dim": w_dim,
        "num_ws": g.num_ws,
        "params_synthesis": sum(p.numel() for p in g.synthesis.parameters()),
        "reference_peak_before_calibration": peak,
        "reference_pixel_range": [float(ref.min()), float(ref.max())],
        "methods": {},
    }
    ref_ips = batch / statistics.median(times["reference"])
    ref_cpu = statistics.median(cpu_times["reference"])
    for m in METHODS:
        sec = statistics.median(times[m])
        diff = (images[m] - ref).abs()
        out["methods"][m] = {
            "seconds_per_batch_median": sec,
            "seconds_per_batch_all": times[m],
            "images_per_second": batch / sec,
            "speedup_vs_reference": (batch / sec) / ref_ips,
            # CPU seconds (all threads) per batch: less sensitive to other jobs than wall time.
            "cpu_seconds_per_batch_median": statistics.median(cpu_times[m]),
            "cpu_speedup_vs_reference": ref_cpu / statistics.median(cpu_times[m]),
            "max_abs_pixel_diff_vs_reference": float(diff.max()),
            "mean_abs_pixel_diff_vs_reference": float(diff.mean()),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", default="2", help="intra-op thread counts, e.g. 2 or 1,2")
    ap.add_argument("--quick", action="store_true", help="smaller batches (smoke test)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "generator.json"))
    args = ap.parse_args()
    thread_counts = [int(t) for t in str(args.threads).split(",")]
    configs = [(64, 64), (256, 8)] if not args.quick else [(64, 8), (256, 2)]
    load_before = os.getloadavg()
    t_start, cpu_start = time.perf_counter(), time.process_time()
    results = []
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for res, batch in configs:
            results.append(
                {"threads": threads, **run_config(res, batch, 8192, 256, 256, args.reps)}
            )
    record = {
        "benchmark": "generator",
        "description": "StyleGAN2 synthesis (W+ -> image), fast path vs fp32 grouped-conv "
        "reference, interleaved repetitions, median time",
        "threads": thread_counts,
        "reps": args.reps,
        "native_bf16": native_bf16_supported(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "wall_seconds": time.perf_counter() - t_start,
        # CPU time of this process (all threads): on a shared machine the wall time is inflated.
        "cpu_seconds": time.process_time() - cpu_start,
        "environment": environment_info(),
        "results": results,
    }
    atomic_write_json(args.out, record)
    print(
        f"{'config':<26}{'method':<12}{'img/s':>8}{'speedup':>9}{'cpu-speedup':>13}"
        f"{'max|diff|':>11}{'mean|diff|':>12}"
    )
    for r in results:
        name = f"{r['resolution']}px b{r['batch']} {r['threads']} thr"
        for m, v in r["methods"].items():
            print(
                f"{name:<26}{m:<12}{v['images_per_second']:>8.2f}{v['speedup_vs_reference']:>9.2f}"
                f"{v['cpu_speedup_vs_reference']:>13.2f}{v['max_abs_pixel_diff_vs_reference']:>11.4f}"
                f"{v['mean_abs_pixel_diff_vs_reference']:>12.5f}"
            )
    print(
        f"load average before/after: {load_before} / {record['load_average_after']}; "
        f"wrote {args.out}"
    )


if __name__ == "__main__":
    main()
