"""How well attribute values can be set: GAN-Control's controllers against InterFaceGAN edits.

Both are measured the same way, with a frozen predictor reading every image:

- **control accuracy**: codes are sampled, attribute k is set to value v, the images are made
  and the predictor reads k back: the fraction that reads v (categorical attributes), or the mean
  absolute error of the read value (continuous ones), per value and on average;
- **leakage**: for each *other* attribute j, the fraction of samples whose predicted class of j
  changed between the code before and after the setting (``changed``), and the total-variation
  distance between j's class histograms before and after (``tv``: how much j's distribution
  moved, whatever happened to single samples).

:func:`controller_report` sets values with a :class:`~latentatlas.models.controller.ControllerSet`
on a grouped generator (the group's w replaced, the other groups as sampled);
:func:`interfacegan_report` does it on a plain generator with one-vs-rest InterFaceGAN boundaries
per class value in W, moving every code to a signed distance ``t`` from the value's hyperplane,
``t`` a quantile (``target_quantiles``) of the distances of the codes that already have the
value, so ``t`` is where typical codes with that value lie.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from latentatlas.training.controllers import read_heads
from latentatlas.utils.checks import check_number


def _read(predictor: Any, G: Any, w: torch.Tensor, heads: Sequence[str],
          batch_size: int) -> dict[str, np.ndarray]:
    """The images of codes ``w`` as the predictor's heads read them (:func:`~latentatlas.
    training.controllers.read_heads`: classes, expected class indices, values)."""
    out: dict[str, list] = {}
    for s in range(0, w.shape[0], batch_size):
        with torch.no_grad():
            images = G.synthesize(w[s:s + batch_size].to(G.device), "w").float().clamp(-1, 1)
        for k, v in read_heads(predictor, images, heads).items():
            out.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in out.items()}


def _tv(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance of two samples' class histograms."""
    k = int(max(a.max(), b.max())) + 1
    pa = np.bincount(a, minlength=k) / a.size
    pb = np.bincount(b, minlength=k) / b.size
    return float(0.5 * np.abs(pa - pb).sum())


def _leakage(before: dict[str, np.ndarray], after: dict[str, np.ndarray], target: str,
             heads: Sequence[str], categorical: dict[str, bool]) -> dict[str, dict[str, float]]:
    out = {}
    for j in heads:
        if j == target:
            continue
        if categorical[j]:
            out[j] = {"changed": float(np.mean(before[j] != after[j])),
                      "tv": _tv(before[j].astype(int), after[j].astype(int))}
        else:
            sd = float(np.std(before[j])) or 1.0
            out[j] = {"standardised_change": float(np.mean(np.abs(after[j] - before[j])) / sd)}
    return out


def _summarise(per_value: dict[str, dict[str, Any]], categorical: bool) -> dict[str, Any]:
    """Mean / worst accuracy (or MAE) over the values and the mean leakage per other factor."""
    key = "accuracy" if categorical else "abs_error"
    vals = [r[key] for r in per_value.values()]
    others: dict[str, dict[str, list[float]]] = {}
    for r in per_value.values():
        for j, d in r["leakage"].items():
            for m, x in d.items():
                others.setdefault(j, {}).setdefault(m, []).append(x)
    leak = {j: {m: float(np.mean(x)) for m, x in d.items()} for j, d in others.items()}
    changed = [d["changed"] for d in leak.values() if "changed" in d]
    tv = [d["tv"] for d in leak.values() if "tv" in d]
    summary = {f"mean_{key}": float(np.mean(vals)),
               f"{'worst' if categorical else 'max'}_{key}":
                   float(np.min(vals) if categorical else np.max(vals)),
               "leakage": leak,
               "mean_changed_others": float(np.mean(changed)) if changed else None,
               "mean_tv_others": float(np.mean(tv)) if tv else None}
    if categorical:
        summary["values_at_least_90pct"] = int(sum(v >= 0.9 for v in vals))
        summary["values"] = len(vals)
    return summary


def _categorical_heads(predictor: Any, heads: Sequence[str]) -> dict[str, bool]:
    return {h: predictor.head(h)["kind"] != "regression" for h in heads}


def controller_report(G: Any, controllers: Any, predictor: Any, *,
                      attributes: Sequence[str] | None = None, n: int = 200, seed: int = 0,
                      truncation_psi: float = 1.0, continuous_points: int = 5,
                      batch_size: int = 64, progress: bool = True) -> dict[str, Any]:
    """Control accuracy and leakage of ``controllers`` on grouped generator ``G`` (module
    docstring): ``n`` sampled codes per value, the same codes for every value of an attribute."""
    check_number("n", n, 2, integer=True)
    names = list(attributes or controllers.names)
    heads = list(predictor.head_names)
    cat = _categorical_heads(predictor, heads)
    w0 = G.sample(n, "w", rng=seed, truncation_psi=truncation_psi).cpu()
    before = _read(predictor, G, w0, heads, batch_size)
    out: dict[str, Any] = {}
    for name in tqdm(names, desc="controllers", disable=not progress):
        a = controllers.attribute(name)
        categorical = a["kind"] == "categorical"
        values = (list(range(a["num_classes"])) if categorical else
                  np.linspace(a["low"], a["high"], continuous_points).tolist())
        per_value = {}
        for v in values:
            with torch.no_grad():
                w1 = controllers.set_w(w0, {name: v})
            after = _read(predictor, G, w1, heads, batch_size)
            read = after[name] if categorical or f"{name}:index" not in after \
                else after[f"{name}:index"]
            r: dict[str, Any] = ({"accuracy": float(np.mean(read == v))} if categorical else
                                 {"abs_error": float(np.mean(np.abs(read - v)))})
            r["leakage"] = _leakage(before, after, name, heads, cat)
            per_value[str(v if categorical else round(v, 4))] = r
        out[name] = {"kind": a["kind"], **_summarise(per_value, categorical),
                     "per_value": per_value}
    return {"n": n, "seed": seed, "truncation_psi": truncation_psi, "attributes": out}


def interfacegan_report(G: Any, predictor: Any, attributes: Sequence[str], *,
                        n_bank: int = 4000, n: int = 200, seed: int = 0,
                        target_quantiles: Sequence[float] = (0.5, 0.9),
                        truncation_psi: float = 1.0, batch_size: int = 64,
                        progress: bool = True,
                        fit: Callable | None = None) -> dict[str, Any]:
    """Control accuracy and leakage of one-vs-rest InterFaceGAN boundaries in W on a plain
    generator (module docstring), for each class value of each (categorical) attribute and each
    target quantile. ``fit(w, labels) -> (normal, intercept)`` replaces the SVM (tests)."""
    from latentatlas.directions.svm import SVMBoundary

    check_number("n_bank", n_bank, 20, integer=True)
    heads = list(predictor.head_names)
    cat = _categorical_heads(predictor, heads)
    bank = G.sample(n_bank, "w", rng=seed, truncation_psi=truncation_psi).cpu()
    bank_read = _read(predictor, G, bank, heads, batch_size)
    w0 = G.sample(n, "w", rng=seed + 1, truncation_psi=truncation_psi).cpu()
    before = _read(predictor, G, w0, heads, batch_size)
    x = bank.numpy().astype(np.float64)

    def svm(w: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
        b = SVMBoundary(space="w", seed=seed, progress=False).fit(w, labels=labels)
        return np.asarray(b.normal_, dtype=np.float64), float(b.intercept_)

    fit = fit or svm
    out: dict[str, Any] = {}
    for name in tqdm(attributes, desc="interfacegan", disable=not progress):
        k = int(bank_read[name].max()) + 1 if cat[name] else 0
        if not cat[name]:
            continue  # one-vs-rest boundaries need classes
        per_q: dict[str, dict[str, Any]] = {str(q): {} for q in target_quantiles}
        skipped = []
        for v in range(max(k, predictor.head(name).get("num_classes", k))):
            labels = bank_read[name] == v
            if labels.sum() < 10 or (~labels).sum() < 10:
                skipped.append(v)
                continue
            normal, intercept = fit(x, labels)
            dist_pos = x[labels] @ normal + intercept
            for q in target_quantiles:
                t = float(np.quantile(dist_pos, q))
                w = w0.numpy().astype(np.float64)
                w1 = w + (t - (w @ normal + intercept))[:, None] * normal[None, :]
                after = _read(predictor, G, torch.as_tensor(w1, dtype=torch.float32), heads,
                              batch_size)
                per_q[str(q)][str(v)] = {"accuracy": float(np.mean(after[name] == v)),
                                         "target_distance": t,
                                         "leakage": _leakage(before, after, name, heads, cat)}
        out[name] = {"skipped_values": skipped,
                     "by_quantile": {q: {**_summarise(pv, True), "per_value": pv}
                                     for q, pv in per_q.items() if pv}}
    return {"n": n, "n_bank": n_bank, "seed": seed, "truncation_psi": truncation_psi,
            "target_quantiles": list(target_quantiles), "attributes": out}


__all__ = ["controller_report", "interfacegan_report"]
