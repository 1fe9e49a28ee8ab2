"""Explore's report: metrics.json contents, the run summary and report.html."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentatlas.pipelines.explore.book import StageBook
from latentatlas.pipelines.explore.sections import (
    attributes_section,
    factors_section,
    hierarchy_section,
    layerwise_section,
)
from latentatlas.pipelines.explore.settings import EDIT_STEP
from latentatlas.pipelines.explore.unsupervised import add_unsupervised_section
from latentatlas.report.html import HtmlReport


def collect_metrics(config: dict[str, Any], kept: list[str], focus: list[str],
                     aucs: dict[str, float], auc_source: str | None,
                     boundaries: dict[str, Any], edits: dict[str, Any],
                     layers: dict[str, Any] | None, book: StageBook) -> dict[str, Any]:
    per_b = boundaries["per_attribute"]
    per_e = edits["per_attribute"]
    summary = {}
    for a in kept:
        row = {"predictor_auc": aucs.get(a), **{k: per_b[a][k] for k in (
            "val_accuracy", "train_accuracy", "remaining_accuracy")}}
        if a in per_e:
            row["edit_success_fraction"] = per_e[a]["success_fraction"]
            row["edit_mean_target_change"] = per_e[a]["mean_target_change"]
        summary[a] = row
    conditional = {t: per_e[t]["conditional"] | {k: boundaries["conditional"][t][k] for k in (
        "cos_plain_condition", "cos_conditional_condition", "cos_conditional_plain")}
        for t in per_e if "conditional" in per_e[t]}
    return {
        "config": config,
        "attributes": kept,
        "focus": focus,
        "failed_attributes": {a: v["error"] for a, v in per_b.items() if "error" in v},
        "auc_source": auc_source,
        "summary": summary,
        "boundaries": per_b,
        "edits": edits,
        "conditional": conditional,
        "entanglement": {
            "names": kept,
            "cosine": boundaries["cosine"],
            "mean_score_change": {t: per_e[t]["mean_change"] for t in per_e},
            "change_correlation_with_target": {
                t: per_e[t]["change_correlation_with_target"] for t in per_e},
        },
        "layers": layers,
        "stage_status": dict(book.status),
        "timings_seconds": dict(book.seconds),
    }


def add_attribute_metrics(metrics: dict[str, Any], choice: Any, extras: dict[str, Any]) -> None:
    """The kinds / quality of the columns, the factor checks, the hierarchy and the layer-wise
    boundaries (new keys; the summary rows gain the held-out quality of their head)."""
    info = choice.to_json() if choice is not None else {}
    metrics["attribute_info"] = info
    for a, row in metrics["summary"].items():
        q = (info.get("quality") or {}).get(a)
        row["kind"] = (info.get("kinds") or {}).get(a)
        row["predictor_quality"] = None if q is None else q["value"]
        row["predictor_quality_metric"] = None if q is None else q["metric"]
    for key in ("factors", "hierarchy", "layerwise"):
        metrics[key] = extras.get(key)


def write_explore_report(out: Path, metrics: dict[str, Any], figures: dict[str, Any]) -> Path:
    """Write ``out/report.html`` (self-contained: relative image paths, tables)."""
    cfg = metrics["config"]
    kept = metrics["attributes"]
    rep = HtmlReport(f"latentatlas explore: {cfg['model']}")
    rep.paragraph(
        f"Generator {cfg['model']}, predictor {cfg['predictor'].get('model') or cfg['predictor']}"
        f", bank of {cfg['n']} samples (seed {cfg['seed']}, truncation psi "
        f"{cfg['truncation_psi']}), boundaries in {cfg['space'].upper()}; edits measured on "
        f"{metrics['edits']['n']} samples at +{EDIT_STEP:g} along each unit normal.")
    kinds = (metrics.get("attribute_info") or {}).get("kinds") or {}
    if metrics.get("auc_source") and all(k == "binary" for k in kinds.values()):
        rep.paragraph(f"Attributes: every predictor head with held-out ROC-AUC >= "
                      f"{cfg['min_auc']} (read from {metrics['auc_source']}).", note=True)
    if metrics.get("failed_attributes"):
        rep.paragraph("No boundary for: " + "; ".join(
            f"{a} ({e})" for a, e in metrics["failed_attributes"].items()), note=True)

    attributes_section(rep, metrics, figures)
    rep.heading("Samples")
    rep.image(figures["samples"], alt="samples", caption="Random samples of the bank.")

    rep.heading("Boundaries: accuracy and edit success")
    rows = []
    for a in kept:
        r = metrics["summary"][a]
        rows.append([a, r.get("predictor_auc"), r["val_accuracy"], r["train_accuracy"],
                     r["remaining_accuracy"], r.get("edit_success_fraction"),
                     r.get("edit_mean_target_change")])
    rep.table(rows, header=["attribute", "predictor AUC", "SVM val. accuracy",
                            "train accuracy", "remaining accuracy",
                            f"P(score rises), +{EDIT_STEP:g}", "mean target change"])
    rep.image(figures["accuracy"], alt="accuracy bar chart")

    rep.heading("Edits")
    rep.paragraph(f"Rows: samples; columns: offsets from -{cfg['grid_max_offset']:g} to "
                  f"+{cfg['grid_max_offset']:g} along the unit normal (the middle column is the "
                  "original image).", note=True)
    for a, rel in figures["edits"].items():
        rep.image(rel, alt=f"edit {a}", caption=a)

    if metrics["conditional"]:
        rep.heading("Conditional edits")
        rows = []
        for t, c in metrics["conditional"].items():
            rows.append([f"{t} | {c['condition']}", c["cos_plain_condition"],
                         c["cos_conditional_condition"], c["plain_condition_abs_change"],
                         c["conditional_condition_abs_change"], c["success_fraction"]])
        rep.table(rows, header=["edit", "cos(plain, condition)", "cos(conditional, condition)",
                                "|change| of condition, plain", "|change| of condition, "
                                "conditional", "P(target rises), conditional"], digits=4)
        for t, rel in figures["conditional_edits"].items():
            rep.image(rel, alt=f"conditional edit {t}",
                      caption=f"{t} | {metrics['conditional'][t]['condition']}")

    rep.heading("Entanglement")
    rep.image(figures["entanglement_cosine"], alt="cosine matrix",
              caption="Cosine between boundary normals.")
    if "entanglement_score_change" in figures:
        rep.image(figures["entanglement_score_change"], alt="score change matrix",
                  caption="Mean change of every attribute's score when editing along each "
                          "focus boundary.")

    layers = metrics.get("layers")
    if layers:
        rep.heading("Layer analysis (HiGAN)")
        rep.paragraph(
            f"Re-scoring on {layers['rescore']['num_samples']} samples: each focus direction "
            f"is applied (lambda = {EDIT_STEP:g}) on every W+ layer and on each layer alone; "
            "relevance = mean positive change of the target score. Layer selection: the "
            "fewest contiguous layers keeping >= 80% of the all-layer effect (assuming "
            "per-layer effects add up), least side effect among those.", note=True)
        rep.image(figures["layers_x_semantics"], alt="layers x semantics")
        rows = []
        for t, s in layers["selection"].items():
            rank = layers["rescore"]["layer_ranking"].get(t, [])
            rows.append([t, f"{s['layers'][0]}-{s['layers'][-1]}", s["full_effect"],
                         s["target_effect"], s["kept_fraction"], s["side_effect"],
                         ", ".join(str(v) for v in rank[:3])])
        rep.table(rows, header=["semantic", "selected layers", "all-layer effect",
                                "effect of selection", "kept fraction", "side effect",
                                "top layers"])
        for t, rel in figures["layer_edits"].items():
            rep.image(rel, alt=f"layer-selective edit {t}",
                      caption=f"{t} on layers {layers['selection'][t]['layers']}")

    factors_section(rep, metrics.get("factors"))
    hierarchy_section(rep, metrics.get("hierarchy"), figures)
    layerwise_section(rep, metrics.get("layerwise"), figures)
    add_unsupervised_section(rep, metrics)

    rep.heading("Timings")
    status = metrics.get("stage_status", {})
    rep.paragraph("Seconds of each stage when it ran (a skipped stage shows the time of the "
                  "run that made its outputs).", note=True)
    rep.table([[k, status.get(k, ""), v] for k, v in metrics["timings_seconds"].items()],
              header=["stage", "this call", "seconds"], digits=1)
    rep.heading("Files")
    rep.bullets(["metrics.json: every number of this report", "run.json: config, seed, versions",
                 "bank/: latents (z, w, wp) and scores", "directions/boundaries.safetensors, "
                 "directions/conditional.safetensors, directions/interfacegan/*.npy",
                 "arrays/: per-sample scores of the edits and of the re-scoring"])
    return rep.write(out / "report.html")


def run_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"timings_seconds": metrics["timings_seconds"]}
    for a, row in metrics["summary"].items():
        for k in ("val_accuracy", "edit_success_fraction"):
            if row.get(k) is not None:
                out[f"{a}/{k}"] = row[k]
    for t, c in metrics["conditional"].items():
        out[f"{t}/conditional_condition_abs_change"] = c["conditional_condition_abs_change"]
        out[f"{t}/plain_condition_abs_change"] = c["plain_condition_abs_change"]
    return out

