"""Explore's unsupervised section: SeFa and GANSpace beside the supervised boundaries.

Both methods are cheap (SeFa reads the weights; GANSpace runs a randomized PCA of sampled w, or
of the first layer's activations on a Z-only generator). Their top directions are labelled with
the explore predictor on the first bank codes (standardised by the whole bank's score sd)
(:func:`~latentatlas.analysis.labelling.label_directions`, W+ layer ranges included), and for
each explored attribute the best unsupervised direction targeting it is compared with its SVM
normal (|cosine|). The stage runs after the figures and touches no state the other stages read,
so the existing metrics are unchanged; its numbers go to ``metrics["unsupervised"]``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from latentatlas.analysis.labelling import label_directions
from latentatlas.analysis.leaderboard import MIN_EFFECT
from latentatlas.directions import GANSpace, SeFa
from latentatlas.pipelines.explore.book import log, nan_to_none
from latentatlas.pipelines.explore.context import BankStage, BoundaryStage, ExploreRun
from latentatlas.utils.errors import LatentAtlasError
from latentatlas.utils.fingerprint import hash_json

#: Directions kept per method, samples per labelled direction (full run, quick run).
TOP_K = (8, 4)
N_LABEL = (48, 8)
ALPHA = 2.0


def unsupervised_stage(run: ExploreRun, bank: BankStage, bounds: BoundaryStage) -> dict:
    """SeFa + GANSpace, labelled; cosine with the SVM normals (see the module docstring)."""
    quick = bool(run.config.get("quick"))
    top_k, n_label = TOP_K[quick], min(N_LABEL[quick], len(bank.bank))
    fp = hash_json([bounds.fingerprint, "unsupervised", top_k, n_label, ALPHA, 2])
    cached = run.book.cached("unsupervised", fp)
    if cached is not None:
        return cached
    gen = run.generator
    if run.space != "w" and "w" in gen.spaces:
        out = {"skipped": "explore in z of a generator with W: SeFa / GANSpace directions live "
                          "in W"}
        run.book.save("unsupervised", fp, out, [], 0.0)
        return out
    try:
        return _run(run, bank, bounds, fp, top_k, n_label)
    except LatentAtlasError as e:  # the new section never fails the main job
        log(run.progress, f"  unsupervised: skipped ({e})")
        return {"error": str(e)}


def _run(run: ExploreRun, bank: BankStage, bounds: BoundaryStage, fp: str, top_k: int,
         n_label: int) -> dict:
    gen = run.generator
    log(run.progress, f"stage unsupervised: SeFa + GANSpace, top {top_k} each, labelled on "
                      f"{n_label} samples")
    t0 = time.perf_counter()
    has_w = run.space == "w"
    d = int(gen.w_dim if has_w else gen.z_dim)
    k = min(top_k, d)
    finders = {
        "sefa": SeFa(n_components=k),
        "ganspace": GANSpace(n_components=k, estimator="randomized", seed=run.seed,
                             n_samples=20_000 if has_w else 5000, n_stdev_samples=2000,
                             batch_size=5000),
    }
    codes = np.array(bank.bank.wp[:n_label] if has_w else bank.bank.z[:n_label],
                     dtype=np.float32)
    kept = bounds.kept
    cols = [run.attributes.index(a) for a in kept]
    scorer = _Columns(run.scorer, cols, kept)
    score_sd = bank.scores[:, cols].std(axis=0)  # over the whole bank: steady for rare attributes
    out: dict[str, Any] = {"top_k": k, "n": n_label, "alpha_sd": ALPHA, "methods": {}}
    (run.out / "directions").mkdir(exist_ok=True)
    files = []
    for name, finder in finders.items():
        t1 = time.perf_counter()
        finder.fit(generator=gen, rng=run.seed)
        fit_s = time.perf_counter() - t1
        dirs = finder.directions_
        res = label_directions(gen, dirs, scorer, codes=codes, alpha=ALPHA, score_sd=score_sd,
                               batch_size=run.settings.batch_size, progress=run.progress)
        per_attr = {}
        for a in kept:
            rows = [r for r in res.candidates
                    if r["target"] == a and abs(r["effect"]) >= MIN_EFFECT]
            if not rows:
                continue
            best = max(rows, key=lambda r: (r["purity"], r["change"]))
            v = dirs.vector(best["direction"]).astype(np.float64)
            normal = bounds.directions.vector(a).astype(np.float64)
            per_attr[a] = {"direction": best["direction"], "layers": best["layers"],
                           "purity": best["purity"], "effect": best["effect"],
                           "abs_cos_svm": float(abs(v @ normal))}
        out["methods"][name] = {"fit_seconds": fit_s, "labels": res.labels(),
                                "per_attribute": per_attr, "images": res.images}
        dirs.save(run.out / "directions" / f"{name}.safetensors")
        files.append(f"directions/{name}.safetensors")
    out = nan_to_none(out)
    run.book.save("unsupervised", fp, out, files, time.perf_counter() - t0)
    return out


class _Columns:
    """The explore scorer restricted to the attributes that kept a boundary. It exposes no
    ``model``: explore's scorers resize images themselves, so the labelling must not refuse a
    generator whose resolution differs from the predictor's."""

    def __init__(self, scorer: Any, cols: list[int], names: list[str]) -> None:
        self.scorer, self.cols, self.names = scorer, cols, list(names)

    def __call__(self, images: Any) -> Any:
        return self.scorer(images)[:, self.cols]


def add_unsupervised_section(rep: Any, metrics: dict[str, Any]) -> None:
    """The report's section: labels per method and the best direction per attribute."""
    uns = metrics.get("unsupervised")
    if not uns:
        return
    rep.heading("Unsupervised directions (SeFa, GANSpace)")
    if "methods" not in uns:  # skipped (z of a W generator) or not applicable to this model
        rep.paragraph(f"Not run: {uns.get('skipped') or uns.get('error')}", note=True)
        return
    rep.paragraph(f"Top {uns['top_k']} directions of each method, moved by +-{uns['alpha_sd']:g}"
                  f" sd of the codes along them on {uns['n']} samples and labelled with the "
                  "predictor: target attribute, standardised mean change, purity (the target's "
                  "share of the total |standardised change|), best layer range. |cos| compares "
                  "the best direction per attribute with its SVM normal.", note=True)
    for name, m in uns["methods"].items():
        rep.heading(name, level=3)
        rep.bullets(m["labels"])
        rows = [[a, r["direction"], r["purity"], r["effect"], r["abs_cos_svm"]]
                for a, r in m["per_attribute"].items()]
        if rows:
            rep.table(rows, header=["attribute", "best direction", "purity", "effect (sd)",
                                    "|cos| with SVM normal"])


__all__ = ["add_unsupervised_section", "unsupervised_stage"]
