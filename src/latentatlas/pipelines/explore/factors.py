"""Explore's factor checks and the semantic hierarchy (HiGAN), measured.

Factor checks (predictors with multiclass / regression heads): for every factor, +EDIT_STEP along
its boundary (the continuous column of an ordered / regression / binary factor, each class column
of an unordered one; the edits stage's images are reused for focus columns) is read per
*factor*: the fraction of samples
whose predicted factor moves in the intended direction (its score rises) and the normalised change
of every factor: |mean change| / range for a continuous column (expected class index: range
K - 1; regression: the bank's 1st-99th percentile range), mean total variation
0.5 sum_k |change of P(k)| for an unordered multiclass factor, mean |change| of a probability.
Specificity uses the fraction of samples whose *predicted* factor changes (argmax class, 0.5 side
of a probability, a move over 10 % of the range of an ordered factor's expected index or of a
regression value): the edit is
specific when its own factor's prediction changes for more samples than any other factor's.

Hierarchy: for every semantic (a focus column, and every head / column named in the predictor's
abstraction groups), HiGAN's single-layer relevance R_l (mean positive change of the target when
only W+ layer l moves by lambda = EDIT_STEP) gives the relevance-weighted mean layer
sum_l l R_l / sum_l R_l, the peak layer and the layer selection of
:func:`~latentatlas.analysis.hierarchy.select_layers_from_relevance`. A semantic made of several
columns (an unordered factor's classes) averages its columns. Levels (layout, object, colour)
average their semantics; the ordering test asks whether layout < object < colour.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from latentatlas.analysis.hierarchy import rescore, select_layers_from_relevance
from latentatlas.editing import move
from latentatlas.pipelines.explore.book import log, nan_to_none
from latentatlas.pipelines.explore.context import BankStage, BoundaryStage, ExploreRun
from latentatlas.pipelines.explore.settings import EDIT_STEP
from latentatlas.pipelines.explore.stages import synthesize_and_score
from latentatlas.utils.fingerprint import hash_json

LEVELS = ("layout", "object", "colour")
#: Samples of the factor checks (at most; n_edit when smaller).
FACTOR_CHECK_N = 200
#: An ordered factor / regression value / extra score "changes its prediction" when it moves by
#: this fraction of its range (K - 1 classes; 1-99 % range of the bank).
FLIP_FRACTION = 0.1
#: An unordered factor is represented in the hierarchy by at most this many class columns.
MAX_CLASS_COLUMNS = 4


# --------------------------------------------------------------------------- factor checks
def factor_groups(run: ExploreRun, kept: list[str]) -> dict[str, list[str]]:
    """Factor (head) -> its kept columns (a plain scorer's column is its own factor)."""
    heads = run.choice.heads if run.choice is not None else {}
    out: dict[str, list[str]] = {}
    for a in kept:
        out.setdefault(heads.get(a, a), []).append(a)
    return out


def _factor_change(run: ExploreRun, cols: list[str], kept: list[str], delta: np.ndarray,
                   ranges: dict[str, float]) -> tuple[float, float]:
    """(signed, absolute) normalised change of one factor (module docstring)."""
    kinds = run.choice.kinds if run.choice is not None else {}
    cont = [c for c in cols if kinds.get(c) in ("expected", "regression", "binary", "score")]
    if cont:
        d = delta[:, kept.index(cont[0])] / ranges[cont[0]]
        return float(d.mean()), float(np.abs(d).mean())
    tv = 0.5 * np.abs(delta[:, [kept.index(c) for c in cols]]).sum(axis=1)
    return float("nan"), float(tv.mean())


def _predicted_changes(run: ExploreRun, cols: list[str], kept: list[str], before: np.ndarray,
                       after: np.ndarray, ranges: dict[str, float]) -> float:
    """Fraction of samples whose predicted value of a factor changes: the argmax class
    (unordered), the 0.5 side (binary), a move over FLIP_FRACTION of the factor's range (the
    expected index of an ordered factor, range K - 1; regression values, extra scores)."""
    kinds = run.choice.kinds
    cont = [c for c in cols if kinds.get(c) in ("expected", "regression", "binary", "score")]
    if cont:
        j, kind = kept.index(cont[0]), kinds.get(cont[0])
        b, a = before[:, j], after[:, j]
        if kind == "binary":
            return float(np.mean((a > 0.5) != (b > 0.5)))
        return float(np.mean(np.abs(a - b) > FLIP_FRACTION * ranges[cont[0]]))
    idx = [kept.index(c) for c in cols]
    return float(np.mean(np.argmax(after[:, idx], 1) != np.argmax(before[:, idx], 1)))


def factor_targets(run: ExploreRun, groups: dict[str, list[str]]) -> dict[str, list[str]]:
    """Factor -> the boundaries checked: its continuous column (ordered, regression, binary), else
    every class column (one-vs-rest) of an unordered factor."""
    kinds = run.choice.kinds
    out = {}
    for f, cols in groups.items():
        cont = [c for c in cols if kinds.get(c) in ("expected", "regression", "binary")]
        out[f] = cont[:1] or [c for c in cols if kinds.get(c) == "class"]
    return {f: v for f, v in out.items() if v}


def factor_checks(run: ExploreRun, bank: BankStage, bounds: BoundaryStage) -> dict | None:
    """Per-factor success and specificity of an edit along every factor's boundary (module
    docstring), on the first min(n_edit, FACTOR_CHECK_N) bank codes."""
    if run.choice is None or not run.choice.factor_predictor:
        run.book.status["factors"] = "not applicable"
        return None
    kept = bounds.kept
    groups = factor_groups(run, kept)
    targets = factor_targets(run, {f: c for f, c in groups.items()
                                   if run.choice.kinds.get(c[0]) != "score"})
    n_f = min(run.settings.n_edit, FACTOR_CHECK_N, len(bank.bank))
    fp = hash_json([bounds.fingerprint, n_f, EDIT_STEP, targets, FLIP_FRACTION, "factors-2"])
    cached = run.book.cached("factors", fp)
    if cached is not None:
        return cached
    todo = [c for cols in targets.values() for c in cols]
    log(run.progress, f"stage factors: +{EDIT_STEP:g} along {len(todo)} factor boundaries on "
                      f"{n_f} samples")
    t0 = time.perf_counter()
    cols_idx = [run.attributes.index(a) for a in kept]
    before = bank.scores[:n_f][:, cols_idx]
    ranges = _ranges(run, kept, bank.scores[:, cols_idx])
    saved = run.out / "arrays" / "edit_scores.npz"
    arrays = dict(np.load(saved)) if saved.is_file() else {}
    per_edit: dict[str, Any] = {}
    for f, cols in targets.items():
        for t in cols:
            key = f"plain__{t}"
            if key in arrays and arrays[key].shape[0] >= n_f:
                after = arrays[key][:n_f].astype(np.float64)
            else:
                edited = move(bank.codes[:n_f], bounds.directions, EDIT_STEP, key=t)
                after = synthesize_and_score(run, edited)[:, cols_idx]
            per_edit[t] = _edit_check(run, t, f, kept, groups, after - before, ranges, after)
    per_factor = {}
    for f, cols in targets.items():
        rows = [per_edit[t] for t in cols]
        per_factor[f] = {
            "boundaries": cols, "kind": rows[0]["kind"],
            "success_fraction": float(np.mean([r["success_fraction"] for r in rows])),
            "min_success_fraction": float(min(r["success_fraction"] for r in rows)),
            "others_change_less_fraction": float(np.mean([r["others_change_less"]
                                                          for r in rows])),
            "target_abs_change_normalised": float(np.mean([r["target_abs_change_normalised"]
                                                           for r in rows])),
            "max_other_change_normalised": float(np.mean([r["max_other_change_normalised"]
                                                          for r in rows])),
            "prediction_changed_fraction": float(np.mean([r["prediction_changed_fraction"]
                                                          for r in rows])),
            "max_other_prediction_changed_fraction": float(np.mean(
                [r["max_other_prediction_changed_fraction"] for r in rows])),
            "val_accuracy": float(np.mean([bounds.result["per_attribute"][t]["val_accuracy"]
                                           for t in cols])),
        }
    result = nan_to_none({"n": n_f, "step": EDIT_STEP, "per_edit": per_edit,
                          "per_factor": per_factor, "groups": groups})
    run.book.save("factors", fp, result, [], time.perf_counter() - t0)
    return result


def _ranges(run: ExploreRun, kept: list[str], scores: np.ndarray) -> dict[str, float]:
    ranges = {}
    for j, a in enumerate(kept):
        kind = run.choice.kinds.get(a)
        if kind == "expected":
            ranges[a] = float(max(run.choice.num_classes.get(a, 2) - 1, 1))
        elif kind in ("regression", "score"):
            lo, hi = np.percentile(scores[:, j], [1, 99])
            ranges[a] = float(hi - lo) or 1.0
        else:
            ranges[a] = 1.0
    return ranges


def _edit_check(run: ExploreRun, t: str, factor: str, kept: list[str],
                groups: dict[str, list[str]], delta: np.ndarray, ranges: dict[str, float],
                after: np.ndarray) -> dict[str, Any]:
    """Success and specificity of one edit (module docstring)."""
    changes = {f: _factor_change(run, cols, kept, delta, ranges) for f, cols in groups.items()
               if f != factor}
    others = {f: v[1] for f, v in changes.items()}
    worst = max(others.values()) if others else 0.0
    before = after - delta
    flips = {f: _predicted_changes(run, cols, kept, before, after, ranges)
             for f, cols in groups.items()}
    other_flips = {f: v for f, v in flips.items() if f != factor}
    worst_flip = max(other_flips.values()) if other_flips else 0.0
    j = kept.index(t)
    target_norm = float(np.mean(delta[:, j]) / ranges[t])
    row = {
        "factor": factor, "kind": run.choice.kinds.get(t),
        "success_fraction": float(np.mean(delta[:, j] > 0)),
        "target_change_normalised": target_norm,
        "target_abs_change_normalised": float(np.mean(np.abs(delta[:, j])) / ranges[t]),
        "other_factor_abs_change_normalised": others,
        "max_other_factor": max(others, key=others.get) if others else None,
        "max_other_change_normalised": worst,
        "prediction_changed_fraction": flips[factor],
        "other_prediction_changed_fraction": other_flips,
        "max_other_prediction_changed_fraction": worst_flip,
        "others_change_less": bool(flips[factor] > worst_flip),
        "range": ranges[t],
    }
    if run.choice.kinds.get(t) == "class":
        cls = [kept.index(c) for c in groups[factor]]
        row["predicted_class_after_fraction"] = float(np.mean(
            np.asarray(cls)[np.argmax(after[:, cls], axis=1)] == j))
    return row


# --------------------------------------------------------------------------- hierarchy
def hierarchy_semantics(run: ExploreRun, kept: list[str], focus: list[str]
                        ) -> dict[str, dict[str, Any]]:
    """Semantic -> {level, columns}: the abstraction groups' heads / columns, then the focus."""
    groups = factor_groups(run, kept)
    kinds = run.choice.kinds if run.choice is not None else {}
    abstraction = run.choice.abstraction if run.choice is not None else {}
    out: dict[str, dict[str, Any]] = {}
    for level in LEVELS:
        for name in abstraction.get(level, []):
            if name in kept:
                cols = [name]
            elif name in groups:
                cols = groups[name]
                cont = [c for c in cols if kinds.get(c) != "class"]
                cols = cont[:1] or cols[:MAX_CLASS_COLUMNS]
            else:
                continue
            out[name] = {"level": level, "columns": cols}
    for t in focus:
        if not any(t in s["columns"] for s in out.values()):
            out[t] = {"level": None, "columns": [t]}
    return out


def hierarchy_stage(run: ExploreRun, bank: BankStage, bounds: BoundaryStage,
                    layers: dict | None) -> dict | None:
    """The hierarchy measured (module docstring): extra re-scoring of the grouped semantics
    that are not focus attributes, then mean layers, levels and the ordering test."""
    if layers is None:
        run.book.status["hierarchy"] = "not applicable"
        return None
    semantics = hierarchy_semantics(run, bounds.kept, bounds.focus)
    done = list(layers["rescore"]["directions"])
    todo = sorted({c for s in semantics.values() for c in s["columns"]} - set(done),
                  key=bounds.kept.index)
    n_r = int(layers["rescore"]["num_samples"])
    fp = hash_json([bounds.fingerprint, layers["selection"], todo, n_r, EDIT_STEP])
    cached = run.book.cached("hierarchy", fp)
    if cached is not None:
        return cached
    log(run.progress, f"stage hierarchy: {len(semantics)} semantics ({len(todo)} more "
                      f"directions re-scored on {n_r} samples)")
    t0 = time.perf_counter()
    kept = bounds.kept
    profiles = {t: np.asarray(layers["rescore"]["delta_layers"][k], dtype=np.float64)
                for k, t in enumerate(done)}
    full = {t: float(layers["rescore"]["delta_all"][k][kept.index(t)])
            for k, t in enumerate(done)}
    if todo:
        res = rescore(run.generator, bounds.directions[todo], lambda x: run.scorer(x), kept,
                      n=n_r, lam=EDIT_STEP, space="wp", layers="each",
                      latents=np.array(bank.bank.wp[:n_r], dtype=np.float32),
                      truncation_psi=1.0, batch_size=run.settings.batch_size,
                      progress=run.progress)
        for k, t in enumerate(todo):
            profiles[t] = res.delta_layers[k]
            full[t] = float(res.delta_all[k, kept.index(t)])
    result = summarise_hierarchy(semantics, profiles, full, kept)
    result["n"] = n_r
    result = nan_to_none(result)
    run.book.save("hierarchy", fp, result, [], time.perf_counter() - t0)
    return result


def weighted_mean_layer(relevance: np.ndarray) -> float:
    """sum_l l R_l / sum_l R_l (NaN when every R_l is 0)."""
    r = np.clip(np.asarray(relevance, dtype=np.float64), 0.0, None)
    total = r.sum()
    return float((np.arange(r.size) * r).sum() / total) if total > 0 else float("nan")


def summarise_hierarchy(semantics: dict[str, dict[str, Any]], profiles: dict[str, np.ndarray],
                        full: dict[str, float], kept: list[str]) -> dict[str, Any]:
    """Mean layers per column, semantic and level, and the ordering test (module docstring)."""
    per_sem: dict[str, Any] = {}
    for name, s in semantics.items():
        rows, means, sels = [], [], []
        for c in s["columns"]:
            eff = profiles[c]  # [L, m]
            t = kept.index(c)
            rel = np.clip(eff[:, t], 0.0, None)
            rows.append(rel / rel.sum() if rel.sum() > 0 else rel)
            means.append(weighted_mean_layer(rel))
            sel = select_layers_from_relevance(eff, target=t, full_effect=full[c],
                                               attribute_names=kept)
            sels.append(list(sel.layers))
        profile = np.mean(rows, axis=0)
        per_sem[name] = {
            "level": s["level"], "columns": s["columns"],
            "mean_layer": float(np.nanmean(means)) if np.isfinite(means).any() else None,
            "column_mean_layers": dict(zip(s["columns"], means, strict=True)),
            "peak_layer": int(np.argmax(profile)), "profile": profile.tolist(),
            "selected_layers": sels[0] if len(sels) == 1 else sels,
        }
    levels: dict[str, Any] = {}
    for level in LEVELS:
        vals = [v["mean_layer"] for v in per_sem.values()
                if v["level"] == level and v["mean_layer"] is not None]
        if vals:
            levels[level] = {"mean_layer": float(np.mean(vals)),
                             "semantics": [k for k, v in per_sem.items() if v["level"] == level]}
    ordering: dict[str, Any] = {}
    pairs = [("layout", "object"), ("object", "colour"), ("layout", "colour")]
    for a, b in pairs:
        if a in levels and b in levels:
            ordering[f"{a}<{b}"] = bool(levels[a]["mean_layer"] < levels[b]["mean_layer"])
    present = [lv for lv in LEVELS if lv in levels]
    if len(present) >= 2:
        means = [levels[lv]["mean_layer"] for lv in present]
        ordering["holds"] = bool(all(x < y for x, y in zip(means, means[1:], strict=False)))
        ordering["levels_compared"] = present
    return {"semantics": per_sem, "levels": levels, "ordering": ordering,
            "num_layers": int(next(iter(profiles.values())).shape[0]) if profiles else 0}
