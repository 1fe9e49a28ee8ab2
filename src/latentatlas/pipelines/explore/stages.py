"""Explore's computing stages: bank, boundaries, edits, layers (see the package docstring).

Each stage checks the stage book first: a stage finished earlier with the same fingerprint is
skipped and its recorded result reused.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from latentatlas.analysis.bank import BANK_FORMAT, Bank, sample_bank
from latentatlas.analysis.hierarchy import rescore, select_layers_from_relevance
from latentatlas.directions import (
    Directions,
    SVMBoundary,
    conditional_directions,
    score_change_matrix,
)
from latentatlas.editing import move
from latentatlas.pipelines.explore.book import log, nan_to_none
from latentatlas.pipelines.explore.context import BankStage, BoundaryStage, ExploreRun
from latentatlas.pipelines.explore.selection import choose_condition
from latentatlas.pipelines.explore.settings import EDIT_STEP
from latentatlas.utils.atomic import atomic_path, atomic_save_npy
from latentatlas.utils.errors import OutputExistsError, ShapeError
from latentatlas.utils.fingerprint import hash_json


# --------------------------------------------------------------------------- 1. bank
def bank_stage(run: ExploreRun) -> BankStage:
    """Sample, synthesise and score the latent bank (chunk-level resume) -> ``out/bank``."""
    cfg, s = run.config, run.settings
    fp = hash_json({**{k: cfg[k] for k in (
        "model_fingerprint", "predictor", "predictor_fingerprint", "attributes", "seed",
        "truncation_psi", "n")}, "bank_format": BANK_FORMAT})
    bank_dir = run.out / "bank"
    if run.book.cached("bank", fp) is not None:
        bank = Bank.open(bank_dir)
    else:
        log(run.progress, f"stage bank: {s.n} samples")
        t0 = time.perf_counter()
        kw = dict(n=s.n, out=bank_dir, seed=run.seed, truncation_psi=run.truncation_psi,
                  batch_size=s.batch_size, chunk_size=max(s.batch_size, 1024),
                  progress=run.progress, model_name=run.model_label)
        try:
            bank = sample_bank(run.generator, run.scorer, resume=True, **kw)
        except OutputExistsError:  # a bank of other settings (same models): start over
            bank = sample_bank(run.generator, run.scorer, overwrite=True, **kw)
        run.book.save("bank", fp, {"n": len(bank)}, ["bank/bank.json"],
                      time.perf_counter() - t0)
    codes = np.array(bank.latents(run.space), dtype=np.float32)  # writable copy
    scores = np.asarray(bank.scores_matrix(run.attributes), dtype=np.float64)
    return BankStage(bank=bank, codes=codes, scores=scores, fingerprint=fp)


# --------------------------------------------------------------------------- 2. boundaries
def boundaries_stage(run: ExploreRun, bank: BankStage) -> BoundaryStage:
    """One SVM boundary per attribute, conditional boundaries for the focus attributes."""
    fp = hash_json([bank.fingerprint, run.space, run.chosen_ratio, run.seed, run.focus,
                    run.conditions])
    paths = {"directions": run.out / "directions" / "boundaries.safetensors",
             "conditional": run.out / "directions" / "conditional.safetensors"}
    cached = run.book.cached("boundaries", fp)
    if cached is not None:
        result = cached
        directions = Directions.load(paths["directions"])
        conditional = (Directions.load(paths["conditional"])
                       if paths["conditional"].is_file() else None)
    else:
        log(run.progress, f"stage boundaries: {len(run.attributes)} SVMs in "
                          f"{run.space.upper()} (top/bottom {run.chosen_ratio:.3f} of "
                          f"{run.settings.n})")
        t0 = time.perf_counter()
        directions, per_attr = _fit_boundaries(run, bank)
        kept = list(directions.names)
        directions.save(paths["directions"])
        directions.to_interfacegan(run.out / "directions" / "interfacegan")
        cos = directions.vectors.astype(np.float64) @ directions.vectors.T.astype(np.float64)
        conditional, cond_info = _conditional_boundaries(run, directions, cos)
        files = ["directions/boundaries.safetensors"]
        if conditional is not None:
            conditional.save(paths["conditional"])
            files.append("directions/conditional.safetensors")
        result = {"per_attribute": per_attr, "kept": kept, "cosine": cos.tolist(),
                  "conditional": cond_info}
        run.book.save("boundaries", fp, nan_to_none(result), files, time.perf_counter() - t0)
    kept = list(result["kept"])
    return BoundaryStage(result=result, directions=directions, conditional=conditional,
                         kept=kept, focus=[f for f in run.focus if f in kept], fingerprint=fp,
                         paths=paths)


def chosen_for(kind: str | None, scores: np.ndarray, ratio: float) -> float:
    """The SVM's chosen_num_or_ratio: ``ratio``, except for a one-vs-rest class column: no more
    positives than samples predicted in the class (P > 0.5), at least 2."""
    if kind != "class":
        return ratio
    return max(min(int(ratio * len(scores)), int((np.asarray(scores) > 0.5).sum())), 2)


def _fit_boundaries(run: ExploreRun, bank: BankStage) -> tuple[Directions, dict[str, Any]]:
    """InterFaceGAN SVMs of every attribute (one-vs-rest class columns: at most as many positives
    as samples predicted in the class); attributes without a boundary are recorded."""
    vectors, intercepts, per_attr, kept = [], [], {}, []
    kinds = run.choice.kinds if run.choice is not None else {}
    for j, a in enumerate(run.attributes):
        svm = SVMBoundary(space=run.space,
                          chosen_num_or_ratio=chosen_for(kinds.get(a), bank.scores[:, j],
                                                         run.chosen_ratio),
                          split_ratio=0.7, seed=run.seed, name=a, progress=False)
        try:
            svm.fit(bank.codes, bank.scores[:, j])
        except ShapeError as e:  # e.g. a constant score: no boundary for this attribute
            per_attr[a] = {"error": str(e)}
            log(run.progress, f"  {a}: no boundary ({e})")
            continue
        kept.append(a)
        vectors.append(svm.normal_)
        intercepts.append(svm.intercept_)
        per_attr[a] = {
            "val_accuracy": svm.val_accuracy_, "train_accuracy": svm.train_accuracy_,
            "remaining_accuracy": svm.remaining_accuracy_, "counts": svm.counts_,
            "solver": svm.solver_, "intercept": float(svm.intercept_),
        }
    if not kept:
        raise ShapeError("no attribute gave a boundary (are all scores constant?)")
    directions = Directions(
        np.stack(vectors), run.space, names=kept, intercepts=np.asarray(intercepts),
        method="interfacegan_svm",
        scores={k: [per_attr[a][k] for a in kept]
                for k in ("val_accuracy", "train_accuracy", "remaining_accuracy")},
        metadata={"chosen_ratio": run.chosen_ratio, "split_ratio": 0.7, "C": 1.0,
                  "seed": run.seed, "bank": str(run.out / "bank"),
                  "truncation_psi": run.truncation_psi},
        normalize=True)
    return directions, per_attr


def _conditional_boundaries(run: ExploreRun, directions: Directions, cos: np.ndarray
                            ) -> tuple[Directions | None, dict[str, Any]]:
    """Each focus boundary made orthogonal to the attribute chosen by :func:`choose_condition`."""
    kept = list(directions.names)
    parts, info = [], {}
    for t in [f for f in run.focus if f in kept]:
        c = choose_condition(t, kept, cos, run.conditions)
        if c is None:
            continue
        part = conditional_directions(directions, t, [c], name=f"{t}|{c}")
        parts.append(part)
        vec = part.vectors[0].astype(np.float64)
        info[t] = {
            "condition": c, "name": f"{t}|{c}",
            "cos_plain_condition": float(cos[kept.index(t), kept.index(c)]),
            "cos_conditional_condition": float(vec @ directions.vector(c).astype(np.float64)),
            "cos_conditional_plain": float(vec @ directions.vector(t).astype(np.float64)),
        }
    return (Directions.concat(parts) if parts else None), info


# --------------------------------------------------------------------------- 3. edits
def synthesize_and_score(run: ExploreRun, codes: np.ndarray, bar: Any = None) -> np.ndarray:
    """Scores [N, m] of the images of ``codes`` (taken as they are: bank codes are truncated)."""
    bs = run.settings.batch_size
    out = []
    for start in range(0, codes.shape[0], bs):
        chunk = codes[start:start + bs]
        images = run.generator.synthesize_batched(chunk, run.space, batch_size=bs)
        with torch.no_grad():
            out.append(run.scorer(images).detach().float().cpu().numpy().astype(np.float64))
        if bar is not None:
            bar.update(chunk.shape[0])
    return np.concatenate(out)


def edits_stage(run: ExploreRun, bank: BankStage, bounds: BoundaryStage) -> tuple[dict, str]:
    """+EDIT_STEP along every focus and conditional boundary on the first n_edit bank codes."""
    n_edit = min(run.settings.n_edit, len(bank.bank))
    fp = hash_json([bounds.fingerprint, n_edit, EDIT_STEP, run.settings.batch_size])
    cached = run.book.cached("edits", fp)
    if cached is not None:
        return cached, fp
    focus, cond_info, kept = bounds.focus, bounds.conditional_info, bounds.kept
    total = n_edit * (len(focus) + len(cond_info))
    log(run.progress, f"stage edits: +{EDIT_STEP:g} along {len(focus)} boundaries and "
                      f"{len(cond_info)} conditional ones on {n_edit} samples ({total} images)")
    t0 = time.perf_counter()
    keep_cols = [run.attributes.index(a) for a in kept]
    codes = bank.codes[:n_edit]
    before = bank.scores[:n_edit][:, keep_cols]
    bar = tqdm(total=total, desc="edits", unit="img", disable=not run.progress)
    arrays: dict[str, np.ndarray] = {"before": before.astype(np.float32)}
    per_edit: dict[str, Any] = {}
    try:
        for t in focus:
            edited = move(codes, bounds.directions, EDIT_STEP, key=t)
            after = synthesize_and_score(run, edited, bar)[:, keep_cols]
            arrays[f"plain/{t}"] = after.astype(np.float32)
            per_edit[t] = edit_stats(before, after, kept, t)
        for t, info in cond_info.items():
            edited = move(codes, bounds.conditional, EDIT_STEP, key=info["name"])
            after = synthesize_and_score(run, edited, bar)[:, keep_cols]
            arrays[f"conditional/{t}"] = after.astype(np.float32)
            per_edit[t]["conditional"] = conditional_edit_stats(
                before, after, arrays[f"plain/{t}"].astype(np.float64), kept, t,
                info["condition"])
    finally:
        bar.close()
    (run.out / "arrays").mkdir(exist_ok=True)
    with atomic_path(run.out / "arrays" / "edit_scores.npz") as tmp:
        np.savez(tmp, **{k.replace("/", "__"): v for k, v in arrays.items()})
    edits = {"n": n_edit, "step": EDIT_STEP, "per_attribute": per_edit}
    run.book.save("edits", fp, nan_to_none(edits), ["arrays/edit_scores.npz"],
                  time.perf_counter() - t0)
    return edits, fp


def edit_stats(before: np.ndarray, after: np.ndarray, names: list[str], target: str
               ) -> dict[str, Any]:
    """Success fraction, mean changes of every attribute and change correlations of one edit."""
    t = names.index(target)
    delta = after - before
    corr = score_change_matrix(before, after) if before.shape[0] >= 2 else None
    return {
        "success_fraction": float(np.mean(after[:, t] > before[:, t])),
        "mean_target_change": float(delta[:, t].mean()),
        "mean_change": {a: float(delta[:, j].mean()) for j, a in enumerate(names)},
        "mean_abs_change": {a: float(np.abs(delta[:, j]).mean()) for j, a in enumerate(names)},
        "change_correlation_with_target": (
            {a: float(corr[t, j]) for j, a in enumerate(names)} if corr is not None else None),
    }


def conditional_edit_stats(before: np.ndarray, after: np.ndarray, plain_after: np.ndarray,
                           names: list[str], target: str, condition: str) -> dict[str, Any]:
    """The conditional edit of ``target`` against the plain one: change of the condition."""
    t, c = names.index(target), names.index(condition)
    stats = {
        "condition": condition,
        "success_fraction": float(np.mean(after[:, t] > before[:, t])),
        "mean_target_change": float(np.mean(after[:, t] - before[:, t])),
        "plain_condition_abs_change": float(np.mean(np.abs(plain_after[:, c] - before[:, c]))),
        "conditional_condition_abs_change": float(np.mean(np.abs(after[:, c] - before[:, c]))),
        "plain_condition_mean_change": float(np.mean(plain_after[:, c] - before[:, c])),
        "conditional_condition_mean_change": float(np.mean(after[:, c] - before[:, c])),
    }
    stats["condition_change_reduced"] = bool(
        stats["conditional_condition_abs_change"] < stats["plain_condition_abs_change"])
    return stats


# --------------------------------------------------------------------------- 4. layers
def layers_stage(run: ExploreRun, bank: BankStage, bounds: BoundaryStage) -> dict | None:
    """HiGAN re-scoring of the focus directions per W+ layer and the layer selection."""
    gen = run.generator
    if not (run.space == "w" and getattr(gen, "num_ws", 1) > 1 and bank.bank.wp is not None):
        run.book.status["layers"] = "not applicable"
        return None
    n_r = min(run.settings.n_rescore, len(bank.bank))
    fp = hash_json([bounds.fingerprint, n_r, EDIT_STEP, run.settings.batch_size])
    cached = run.book.cached("layers", fp)
    if cached is not None:
        return cached
    focus, kept, num_ws = bounds.focus, bounds.kept, int(gen.num_ws)
    log(run.progress, f"stage layers: HiGAN re-scoring of {len(focus)} directions on {n_r} "
                      f"samples x (1 + {len(focus)} x {1 + num_ws}) images")
    t0 = time.perf_counter()
    # truncation_psi=1: the bank's codes are already truncated and edits are plain offsets of
    # them, as in the edits stage.
    res = rescore(gen, bounds.directions[focus], lambda x: run.scorer(x), kept, n=n_r,
                  lam=EDIT_STEP, space="wp", layers="each",
                  latents=np.array(bank.bank.wp[:n_r], dtype=np.float32), truncation_psi=1.0,
                  batch_size=run.settings.batch_size, progress=run.progress)
    (run.out / "arrays").mkdir(exist_ok=True)
    atomic_save_npy(run.out / "arrays" / "rescore_scores.npy", res.scores)
    selections = {}
    for k, t in enumerate(focus):
        ti = kept.index(t)
        sel = select_layers_from_relevance(res.delta_layers[k], target=ti,
                                           full_effect=float(res.delta_all[k, ti]),
                                           attribute_names=kept)
        js = sel.to_json()
        js.pop("candidates", None)
        selections[t] = js
    layers = nan_to_none({"rescore": res.to_json(), "selection": selections,
                          "relevance": res.relevance_matrix().tolist(), "num_layers": num_ws})
    run.book.save("layers", fp, layers, ["arrays/rescore_scores.npy"], time.perf_counter() - t0)
    return layers
