"""Explore's layer-wise boundaries (``space="wp"``, HiGAN): one SVM per W+ layer.

The bank's W+ codes are w broadcast to every layer, so per-layer SVMs on them would all equal the
W boundary. This stage samples its own *style-mixed* W+ bank instead: every layer gets the mapped
w of its own z (truncated like the main bank), so layer l's code alone carries what layer l
controls. For each focus attribute it trains one SVM per layer on that bank (top / bottom
selection of the scores, as InterFaceGAN) and reports the per-layer validation accuracies; then it
re-scores (HiGAN, lambda = EDIT_STEP) the per-layer normals, each moved on its own layer only, on
the same bank codes as the layers stage, beside the W boundary applied per layer.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from latentatlas.analysis.bank import Bank
from latentatlas.analysis.hierarchy import rescore
from latentatlas.directions import Directions, SVMBoundary
from latentatlas.pipelines.explore.book import log, nan_to_none
from latentatlas.pipelines.explore.context import BoundaryStage, ExploreRun
from latentatlas.pipelines.explore.factors import weighted_mean_layer
from latentatlas.pipelines.explore.settings import EDIT_STEP, auto_chosen_ratio
from latentatlas.pipelines.explore.stages import chosen_for
from latentatlas.utils.atomic import atomic_save_npy
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.fingerprint import hash_json


def mixed_wp_codes(generator, n: int, seed: int, truncation_psi: float) -> np.ndarray:
    """[n, L, d] W+ codes with an independent (truncated) w on every layer."""
    num_ws = int(generator.num_ws)
    z = generator.sample_z(n * num_ws, np.random.default_rng(seed + 7919))
    with torch.no_grad():
        w = generator.z_to_latent(z, "w", truncation_psi=truncation_psi)
    return w.reshape(n, num_ws, -1).cpu().numpy().astype(np.float32)


def _score_codes(run: ExploreRun, codes: np.ndarray) -> np.ndarray:
    bs = run.settings.batch_size
    out = []
    for start in range(0, codes.shape[0], bs):
        images = run.generator.synthesize_batched(codes[start:start + bs], "wp", batch_size=bs)
        with torch.no_grad():
            out.append(run.scorer(images).detach().float().cpu().numpy().astype(np.float64))
    return np.concatenate(out)


def layerwise_stage(run: ExploreRun, bounds: BoundaryStage) -> dict | None:
    """Per-layer SVMs on a style-mixed W+ bank and their re-scoring (module docstring)."""
    if not run.config.get("layerwise"):
        run.book.status["layerwise"] = "not applicable"
        return None
    s, focus, kept = run.settings, bounds.focus, bounds.kept
    n_r = min(s.n_rescore, s.n)
    fp = hash_json([bounds.fingerprint, s.n_wp, n_r, EDIT_STEP, s.batch_size])
    cached = run.book.cached("layerwise", fp)
    if cached is not None:
        return cached
    log(run.progress, f"stage layerwise: style-mixed W+ bank of {s.n_wp}, one SVM per layer "
                      f"for {len(focus)} attributes")
    t0 = time.perf_counter()
    codes = mixed_wp_codes(run.generator, s.n_wp, run.seed, run.truncation_psi)
    scores = _score_codes(run, codes)
    ratio = auto_chosen_ratio(s.n_wp)
    vectors, per_attr, names = [], {}, []
    for t in focus:
        col = scores[:, run.attributes.index(t)]
        kind = run.choice.kinds.get(t) if run.choice is not None else None
        svm = SVMBoundary(space="wp", chosen_num_or_ratio=chosen_for(kind, col, ratio),
                          split_ratio=0.7, seed=run.seed, name=t, progress=False)
        try:
            svm.fit(codes, col)
        except ShapeError as e:
            per_attr[t] = {"error": str(e)}
            continue
        names.append(t)
        vectors.append(svm.normal_)
        acc = np.asarray(svm.val_accuracy_, dtype=np.float64)
        per_attr[t] = {"val_accuracy": acc.tolist(), "best_layer": int(np.argmax(acc)),
                       "accuracy_weighted_mean_layer": weighted_mean_layer(acc - 0.5)}
    result = {"n": s.n_wp, "chosen_ratio": ratio, "per_attribute": per_attr,
              "num_layers": int(run.generator.num_ws)}
    if names:
        dirs = Directions(np.stack(vectors), "wp", names=names, method="higan_layerwise_svm",
                          normalize=True)
        dirs.save(run.out / "directions" / "layerwise.safetensors")
        wp = np.array(Bank.open(run.out / "bank").wp[:n_r], dtype=np.float32)
        res = rescore(run.generator, dirs, lambda x: run.scorer(x), kept, n=n_r, lam=EDIT_STEP,
                      space="wp", layers="each", latents=wp, truncation_psi=1.0,
                      batch_size=s.batch_size, progress=run.progress)
        (run.out / "arrays").mkdir(exist_ok=True)
        atomic_save_npy(run.out / "arrays" / "layerwise_rescore_scores.npy", res.scores)
        for k, t in enumerate(names):
            rel = res.delta_layers[k, :, kept.index(t)]
            per_attr[t]["rescore_relevance"] = rel.tolist()
            per_attr[t]["rescore_mean_layer"] = weighted_mean_layer(rel)
            per_attr[t]["rescore_all_layers"] = float(res.delta_all[k, kept.index(t)])
    result = nan_to_none(result)
    files = ["directions/layerwise.safetensors"] if names else []
    run.book.save("layerwise", fp, result, files, time.perf_counter() - t0)
    return result
