"""Explore's report sections for every kind of attribute: attribute kinds and held-out quality,
per-class SVM accuracies, factor checks, the semantic hierarchy (factor x layer heatmap, the
ordering test) and the layer-wise boundaries (figures and HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from latentatlas.editing import interpolate, render_edit_grid
from latentatlas.pipelines.explore.factors import LEVELS
from latentatlas.pipelines.explore.settings import EDIT_STEP
from latentatlas.report.figures import heatmap
from latentatlas.report.html import HtmlReport


def extra_figures(out: Path, extras: dict[str, Any]) -> dict[str, Any]:
    """The hierarchy heatmap (semantics x layers, grouped by level) and the per-layer SVM
    accuracy heatmap; paths relative to ``out``."""
    files: dict[str, Any] = {}
    hier = extras.get("hierarchy")
    if hier and hier.get("semantics"):
        sem = hier["semantics"]
        order = sorted(sem, key=lambda k: (LEVELS.index(sem[k]["level"])
                                           if sem[k]["level"] in LEVELS else len(LEVELS)))
        mat = np.array([sem[k]["profile"] for k in order], dtype=np.float64)
        labels = [f"{k} ({sem[k]['level'] or '-'}, mean {_fmt(sem[k]['mean_layer'])})"
                  for k in order]
        verdict = {True: "holds", False: "does not hold"}.get(
            hier.get("ordering", {}).get("holds"), "n/a")
        heatmap(mat, labels, [str(i) for i in range(mat.shape[1])],
                out / "figures" / "hierarchy.png",
                title="relevance per W+ layer (row-normalised); layout < object < colour: "
                      f"{verdict}",
                cmap="magma", vmin=0.0, xlabel="W+ layer", ylabel="semantic (level)",
                annotate=False)
        files["hierarchy"] = "figures/hierarchy.png"
    lw = extras.get("layerwise")
    if lw:
        rows = {t: v["val_accuracy"] for t, v in lw["per_attribute"].items()
                if "val_accuracy" in v}
        if rows:
            mat = np.array(list(rows.values()), dtype=np.float64)
            heatmap(mat, list(rows), [str(i) for i in range(mat.shape[1])],
                    out / "figures" / "layerwise_accuracy.png",
                    title="per-layer SVM validation accuracy (style-mixed W+ bank)",
                    cmap="viridis", vmin=0.5, vmax=1.0, xlabel="W+ layer",
                    ylabel="attribute")
            files["layerwise_accuracy"] = "figures/layerwise_accuracy.png"
    return files


def factor_value_strips(out: Path, generator: Any, codes: np.ndarray, space: str,
                        directions: Any, kinds: dict[str, str], heads: dict[str, str],
                        offsets: np.ndarray, batch_size: int) -> dict[str, str]:
    """One figure per unordered factor: row k = the first bank sample moved along the
    one-vs-rest boundary of class k (a traversal strip per factor value)."""
    by_head: dict[str, list[str]] = {}
    for a in directions.names:
        if kinds.get(a) == "class":
            by_head.setdefault(heads.get(a, a), []).append(a)
    files = {}
    for head, cols in by_head.items():
        strips = np.concatenate([interpolate(codes[:1], directions, offsets, key=c,
                                             mode="offset") for c in cols])
        rel = f"figures/values_{_safe(head)}.png"
        render_edit_grid(generator, strips, space, out / rel, batch_size=batch_size)
        files[head] = rel
    return files


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in name)


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def attributes_section(rep: HtmlReport, metrics: dict[str, Any],
                       figures: dict[str, Any] | None = None) -> None:
    """Kinds, factors and held-out quality of the explored columns; per-class accuracies."""
    info = metrics.get("attribute_info") or {}
    kinds = info.get("kinds") or {}
    if not kinds or all(k == "binary" for k in kinds.values()):
        return
    rep.heading("Attributes: kinds and held-out quality")
    rep.paragraph("binary: P(positive); class: P(class), one-vs-rest; expected: the expected "
                  "class index of an ordered factor (one continuous score); regression: the "
                  "predicted value; score: an extra scorer's measurement. Held-out quality "
                  f"per head kind (ROC-AUC, accuracy, R^2), read from "
                  f"{info.get('quality_source')}.", note=True)
    quality = info.get("quality") or {}
    summary = metrics["summary"]
    rows = []
    for a in metrics["attributes"]:
        q = quality.get(a) or {}
        rows.append([a, kinds.get(a), (info.get("heads") or {}).get(a), q.get("metric"),
                     q.get("value"), summary[a]["val_accuracy"]])
    rep.table(rows, header=["column", "kind", "factor", "held-out metric", "value",
                            "SVM val. accuracy"])
    per_class: dict[str, list] = {}
    for a in metrics["attributes"]:
        if kinds.get(a) == "class":
            head, _, cls = a.partition("=")
            per_class.setdefault(head, []).append((cls, summary[a]["val_accuracy"]))
    if per_class:
        rep.heading("Per-class boundary accuracy")
        for head, rel in (figures or {}).get("factor_values", {}).items():
            rep.image(rel, alt=f"values of {head}",
                      caption=f"{head}: row k moves one sample along the boundary of class k")
        width = max(len(v) for v in per_class.values())
        rows = [[h] + [f"{c}: {acc:.3f}" if acc is not None else f"{c}: n/a" for c, acc in v]
                + [""] * (width - len(v)) for h, v in per_class.items()]
        rep.table(rows, header=["factor"] + [f"class {i}" for i in range(width)])


def factors_section(rep: HtmlReport, factors: dict[str, Any] | None) -> None:
    if not factors or not factors.get("per_edit"):
        return
    rep.heading("Factor checks: does each edit move its factor, and only it?")
    rows = [[f, ", ".join(r["boundaries"]) if len(r["boundaries"]) < 4 else
             f"{len(r['boundaries'])} one-vs-rest boundaries", r["val_accuracy"],
             r["success_fraction"], r["min_success_fraction"], r["target_abs_change_normalised"],
             r["max_other_change_normalised"], r["prediction_changed_fraction"],
             r["max_other_prediction_changed_fraction"], r["others_change_less_fraction"]]
            for f, r in factors["per_factor"].items()]
    rep.table(rows, header=["factor", "boundary", "SVM val. accuracy (mean)",
                            "P(factor moves as intended)", "worst boundary",
                            "|target change| (norm.)", "largest other change (norm.)",
                            "P(predicted factor changes)", "largest other P(prediction "
                            "changes)", "fraction of edits where others change less"])
    rep.paragraph(f"+{EDIT_STEP:g} along each boundary on {factors['n']} samples. Changes are "
                  "normalised per factor: expected class index / (K - 1), regression value / "
                  "its 1-99 % range, total variation of an unordered factor's class "
                  "probabilities.", note=True)
    rows = []
    for t, r in factors["per_edit"].items():
        rows.append([t, r["factor"], r["success_fraction"], r["target_change_normalised"],
                     r["max_other_factor"], r["max_other_change_normalised"],
                     "yes" if r["others_change_less"] else "no"])
    rep.table(rows, header=["edit", "factor", "P(factor moves as intended)",
                            "target change (norm.)", "most changed other factor",
                            "its change (norm.)", "others change less"])


def hierarchy_section(rep: HtmlReport, hier: dict[str, Any] | None,
                      figures: dict[str, Any]) -> None:
    if not hier or not hier.get("semantics"):
        return
    rep.heading("Semantic hierarchy (HiGAN), measured")
    order = hier.get("ordering", {})
    levels = hier.get("levels", {})
    text = ", ".join(f"{lv} {levels[lv]['mean_layer']:.2f}" for lv in LEVELS if lv in levels)
    verdict = order.get("holds")
    rep.paragraph(
        f"Relevance-weighted mean W+ layer (sum_l l R_l / sum_l R_l, R_l the single-layer "
        f"re-scoring effect on {hier.get('n')} samples) per level: {text or 'no levels'}. "
        "Ordering test (layout on earlier layers than object, object earlier than colour): "
        + ("holds." if verdict else "does not hold." if verdict is not None else
           "not applicable (fewer than two levels)."))
    rows = [[k, v["level"] or "-", ", ".join(v["columns"]), v["mean_layer"], v["peak_layer"],
             str(v["selected_layers"])] for k, v in hier["semantics"].items()]
    rep.table(rows, header=["semantic", "level", "columns", "mean layer", "peak layer",
                            "selected layers"], digits=2)
    if "hierarchy" in figures:
        rep.image(figures["hierarchy"], alt="hierarchy",
                  caption="Factor x layer relevance (each row normalised to sum 1).")


def layerwise_section(rep: HtmlReport, lw: dict[str, Any] | None,
                      figures: dict[str, Any]) -> None:
    if not lw:
        return
    rep.heading("Layer-wise boundaries (W+, one SVM per layer)")
    rep.paragraph(f"Style-mixed W+ bank of {lw['n']} codes (an independent w per layer), top / "
                  f"bottom {lw['chosen_ratio']:.3f}; re-scoring moves each per-layer normal on "
                  "its own layer only.", note=True)
    rows = []
    for t, v in lw["per_attribute"].items():
        if "val_accuracy" not in v:
            rows.append([t, v.get("error"), None, None, None])
            continue
        acc = v["val_accuracy"]
        rows.append([t, " ".join(f"{a:.2f}" for a in acc), v["best_layer"],
                     v.get("rescore_mean_layer"), v.get("rescore_all_layers")])
    rep.table(rows, header=["attribute", "val. accuracy per layer", "best layer",
                            "re-scoring mean layer", "all-layer effect"], digits=2)
    if "layerwise_accuracy" in figures:
        rep.image(figures["layerwise_accuracy"], alt="per-layer accuracy")
