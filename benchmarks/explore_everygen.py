"""Issue 26's acceptance numbers: `latentatlas explore --model M` on every shipped generator.

For each of celeba64, shapes3d, dsprites and mnist, runs explore with no option but the model
(its paired predictor, its default space) twice, ``--quick`` and at the default sizes, and (for
the W+ generators) once more with ``space="wp"``, then records from the runs' metrics.json:

- wall times of the quick and default runs;
- the explored columns by kind and their SVM validation accuracies;
- the factor checks (ground-truth generators): per factor, the fraction of samples whose
  predicted factor moves in the intended direction after +2 along its boundary, and whether
  the other factors' predictions change less; the issue's checks on posX, scale and floor_hue
  (success >= 0.9 and others change less);
- the hierarchy (W+ generators): mean layer per semantic and level, the ordering test;
- with space="wp": per-layer SVM accuracies and the re-scoring mean layer of the focus.

Writes benchmarks/results/explore_everygen.json and prints a summary.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/explore_everygen.py [--models shapes3d,...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from latentatlas.pipelines.explore import explore
from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.runinfo import environment_info

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("celeba64", "shapes3d", "dsprites", "mnist")
#: The issue's factor checks: (model, factor).
CHECKS = (("dsprites", "posX"), ("dsprites", "scale"), ("shapes3d", "scale"),
          ("shapes3d", "floor_hue"))


def run(model: str, out: Path, **kw) -> tuple[dict, float]:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    result = explore(model, out, progress=False, **kw)
    return result.metrics, time.perf_counter() - t0


def summarise(m: dict) -> dict:
    info = m["attribute_info"]
    kinds: dict[str, int] = {}
    for k in info["kinds"].values():
        kinds[k] = kinds.get(k, 0) + 1
    out = {
        "space": m["config"]["space"], "n": m["config"]["n"], "columns_by_kind": kinds,
        "quality_source": info.get("quality_source"), "focus": m["focus"],
        "val_accuracy": {a: round(m["summary"][a]["val_accuracy"], 4) for a in m["attributes"]
                         if m["summary"][a]["val_accuracy"] is not None},
        "focus_edit_success": {a: m["summary"][a].get("edit_success_fraction")
                               for a in m["focus"]},
    }
    if m.get("factors"):
        out["factors"] = {f: {k: r[k] for k in (
            "boundaries", "kind", "val_accuracy", "success_fraction", "min_success_fraction",
            "prediction_changed_fraction", "max_other_prediction_changed_fraction",
            "others_change_less_fraction")} for f, r in m["factors"]["per_factor"].items()}
        out["factor_edits"] = {t: {k: r[k] for k in (
            "factor", "success_fraction", "prediction_changed_fraction",
            "other_prediction_changed_fraction", "others_change_less")}
            for t, r in m["factors"]["per_edit"].items()}
    if m.get("hierarchy"):
        h = m["hierarchy"]
        out["hierarchy"] = {
            "levels": {lv: v["mean_layer"] for lv, v in h["levels"].items()},
            "ordering": h["ordering"], "num_layers": h["num_layers"], "n": h["n"],
            "semantics": {k: {"level": v["level"], "mean_layer": v["mean_layer"],
                              "peak_layer": v["peak_layer"],
                              "selected_layers": v["selected_layers"]}
                          for k, v in h["semantics"].items()}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--out", default="runs/explore_everygen")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-wp", action="store_true", help="skip the space='wp' runs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(args.out)
    report: dict = {"environment": environment_info(), "threads": args.threads, "models": {}}
    for model in args.models.split(","):
        quick, t_quick = run(model, root / f"{model}_quick", quick=True)
        full, t_full = run(model, root / model)
        entry = {"wall_seconds_quick": round(t_quick, 1), "wall_seconds_default": round(t_full, 1),
                 "quick": {"columns": len(quick["attributes"]),
                           "hierarchy_ordering": (quick.get("hierarchy") or {}).get("ordering")},
                 "default": summarise(full)}
        if not args.no_wp and full.get("layers"):
            wp, t_wp = run(model, root / f"{model}_wp", space="wp")
            entry["wp"] = {"wall_seconds": round(t_wp, 1), **{k: wp["layerwise"][k] for k in (
                "n", "chosen_ratio", "num_layers", "per_attribute")}}
        report["models"][model] = entry
        print(f"{model}: quick {t_quick:.0f} s, default {t_full:.0f} s", flush=True)
    checks = {}
    for model, factor in CHECKS:
        row = report["models"].get(model, {}).get("default", {}).get("factors", {}).get(factor)
        if row is not None:
            checks[f"{model}/{factor}"] = {
                "success_fraction": row["success_fraction"],
                "others_change_less_fraction": row["others_change_less_fraction"],
                "passes": bool(row["success_fraction"] >= 0.9
                               and row["others_change_less_fraction"] == 1.0)}
    report["checks"] = checks
    RESULTS.mkdir(exist_ok=True)
    name = "explore_everygen.json" if args.models == ",".join(MODELS) else \
        f"explore_everygen_{args.models.replace(',', '_')}.json"
    atomic_write_json(RESULTS / name, report)
    print(json.dumps(checks, indent=1))
    for model, e in report["models"].items():
        h = e["default"].get("hierarchy")
        if h:
            print(model, "levels", h["levels"], "ordering holds:", h["ordering"].get("holds"))


if __name__ == "__main__":
    main()
