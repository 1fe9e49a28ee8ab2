"""Training GAN-Control's controllers (:class:`~latentatlas.models.controller.ControllerSet`).

For n sampled codes, w = mapping(z) (untruncated) and y_k = M_k(G(w)) (the attribute as a frozen
predictor reads it, :func:`predictor_values`); each attribute's MLP learns y_k -> w_k (the group's
slice of w) with the L1 loss, as the reference (its controllers' only active loss). L1 makes the
MLP's output the coordinate-wise median of the w_k that give y_k: a typical code of the group
for that value. A fifth of the pairs is held out; the report gives each attribute's held-out L1
beside the L1 of ignoring y (the median w_k), so a controller that learned nothing shows.

The median of a value's codes need not give that value: where a group lays its values on a ring
(a hue), the median of an arc lies inside the ring, in another value's region (measured on
shapes3d: floor hues 2 and 3 set from the median both rendered as hue 8, while the group alone
decided the hue). The reference's controller config lists an attribute-reconstruction loss
beside the latent one, but a typo in its loss names leaves it inactive (WAVE2_FACTS section 9).
``attribute_steps`` > 0 turns it on: after the L1 fit, the MLP is tuned on
L1 + ``attribute_weight`` x the attribute's reconstruction loss, the predictor reading
G(w with the group set to the controller's output for a random value) (cross-entropy for a
class, |error| / range for a number; :func:`predictor_reader`); the other groups come from
sampled codes, as in the measurement. Pushing one reading to a class can drag the others
along (an off-distribution group code); ``keep_weight`` > 0 adds the other controlled
attributes' change (their reading on the edited image against the unedited one's class or
value), which GAN-Control asks of a controller (set one attribute, keep the rest) but its
reference code does not train for.

``anchor_candidates`` > 0 (categorical attributes) replaces the median by a code that is known to
give the class before any tuning: per class, the L1 controller's output and that many group codes
of training pairs read as the class are each set on ``anchor_rests`` training codes, and the one
scoring best (the share of images read as the class, minus ``keep_weight`` x the other controlled
attributes' change) becomes the class's anchor (a tie keeps the controller's output). The MLP is
refitted to the anchors and the tuning's L1 term pulls to them instead of the pairs: the
gradient of the reconstruction loss cannot carry a code across other classes' regions (measured
on shapes3d: floor hue 1, 9 % of random samples, set from the tuned median read as 1 on no code).
After the tuning each class keeps the better of its anchor and its tuned output, scored the
same way (:func:`_keep_better`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from latentatlas.models.controller import ControllerSet
from latentatlas.utils.checks import check_number
from latentatlas.utils.errors import OptionError


def read_heads(predictor: Any, images: torch.Tensor, heads: Sequence[str]
               ) -> dict[str, np.ndarray]:
    """One batch of images as a predictor's heads read it (the one rule for GAN-Control's
    labels, controller values and control measurements): a multiclass head ``h`` gives ``h``,
    the predicted class, and ``h:index``, the expected class index sum_k k P(k); a binary head
    gives ``h``, the class (P > 0.5), and ``h:probability``; a regression head its value."""
    with torch.no_grad():
        pred = predictor.predict(images)
    out: dict[str, np.ndarray] = {}
    for h in heads:
        p = pred[h].float().cpu()
        kind = predictor.head(h)["kind"]
        if kind == "multiclass":
            out[h] = p.argmax(1).numpy()
            out[f"{h}:index"] = expected_index(p).numpy()
        elif kind == "binary":
            out[h] = (p > 0.5).long().numpy()
            out[f"{h}:probability"] = p.numpy()
        else:
            out[h] = p.numpy()
    return out


def expected_index(probabilities: torch.Tensor) -> torch.Tensor:
    """sum_k k P(k) of class probabilities [N, K]: an ordered factor's value."""
    p = probabilities
    return p @ torch.arange(p.shape[1], dtype=p.dtype, device=p.device)


def predictor_reader(predictor: Any, attributes: Sequence[dict[str, Any]]
                     ) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """images -> {name: tensor}, differentiable, reading what :func:`predictor_values` reads: a
    categorical attribute's log class probabilities [N, K] (a binary head as two classes), a
    continuous one's value [N] (expected class index, probability or regression value)."""
    kinds = {a["name"]: a["kind"] for a in attributes}
    for name in kinds:
        predictor.head(name)  # KeyError names the heads

    def read(images: torch.Tensor) -> dict[str, torch.Tensor]:
        pred = predictor.predict(images)
        out = {}
        for name, kind in kinds.items():
            p, head = pred[name].float(), predictor.head(name)["kind"]
            if head == "binary":
                p = torch.stack([1 - p, p], dim=1) if kind == "categorical" else p
            if kind == "categorical":
                out[name] = p.clamp_min(1e-12).log()
            else:
                out[name] = expected_index(p) if head == "multiclass" else p
        return out

    return read


def predictor_values(predictor: Any, attributes: Sequence[dict[str, Any]]
                     ) -> Callable[[torch.Tensor], dict[str, np.ndarray]]:
    """images -> {name: [N] values} from a predictor's heads (:func:`read_heads`): a categorical
    attribute's predicted class; a continuous one's value (a regression head's output, a binary
    head's probability, or a multiclass head's expected class index: an ordered factor read as
    a number)."""
    kinds = {a["name"]: a["kind"] for a in attributes}
    for name in kinds:
        predictor.head(name)  # KeyError names the heads

    def measure(images: torch.Tensor) -> dict[str, np.ndarray]:
        read = read_heads(predictor, images, list(kinds))
        return {name: read[name] if kind == "categorical" else
                read.get(f"{name}:index", read.get(f"{name}:probability", read[name]))
                for name, kind in kinds.items()}

    return measure


def default_kinds(predictor: Any, names: Sequence[str], continuous: Sequence[str] = ()
                  ) -> list[dict[str, Any]]:
    """Kinds for ``names``: regression heads continuous, binary / multiclass heads categorical
    unless listed in ``continuous`` (an ordered multiclass factor read as its expected index)."""
    out = []
    for name in names:
        h = predictor.head(name)
        kind = "continuous" if h["kind"] == "regression" or name in continuous else "categorical"
        out.append({"name": name, "kind": kind,
                    "num_classes": max(2, int(h["num_classes"])) if h["kind"] != "regression"
                    else None})
    return out


def _sample_pairs(G: Any, measure: Callable, n: int, seed: int, batch_size: int,
                  progress: bool) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    g = torch.Generator().manual_seed(seed)
    ws, values = [], []
    for start in tqdm(range(0, n, batch_size), desc="controller pairs", disable=not progress,
                      leave=False):
        z = torch.randn(min(batch_size, n - start), G.z_dim, generator=g)
        with torch.no_grad():
            w = G.z_to_w(z.to(G.device)).float()
            values.append(measure(G.synthesize(w, "w").float().clamp(-1, 1)))
        ws.append(w.cpu())
    return torch.cat(ws), {k: np.concatenate([v[k] for v in values]) for k in values[0]}


def fit_controllers(G: Any, measure: Callable[[torch.Tensor], dict[str, np.ndarray]],
                    attributes: Sequence[dict[str, Any]], *, n_samples: int = 20000,
                    steps: int = 2000, batch: int = 128, lr: float = 1e-3, hidden: int = 512,
                    layers: int = 4, seed: int = 0, batch_size: int = 64,
                    reader: Callable[[torch.Tensor], dict[str, torch.Tensor]] | None = None,
                    attribute_steps: int = 0, attribute_weight: float = 1.0,
                    keep_weight: float = 0.0, attribute_batch: int = 16,
                    anchor_candidates: int = 0, anchor_rests: int = 16,
                    progress: bool = True
                    ) -> tuple[ControllerSet, dict[str, Any]]:
    """Controllers for ``attributes`` (``[{"name", "group", "kind"[, "num_classes"]}]``) of a
    grouped generator ``G``, from ``n_samples`` (w, measure(G(w))) pairs (module docstring);
    with ``attribute_steps`` > 0, then tuned with the attribute-reconstruction loss read by
    ``reader`` (:func:`predictor_reader`) on batches of ``attribute_batch`` images; with
    ``anchor_candidates`` > 0, categorical classes are first moved to their best-scoring anchor
    codes, scored on ``anchor_rests`` codes.

    Returns the set and a report per attribute: held-out L1 of the controller and of the median
    w_k (ignoring y), their ratio, and the values' range. Deterministic for a seed.
    """
    check_number("n_samples", n_samples, 10, integer=True)
    check_number("steps", steps, 1, integer=True)
    check_number("batch", batch, 1, integer=True)
    check_number("lr", lr, 0.0, low_open=True)
    check_number("attribute_steps", attribute_steps, 0, integer=True)
    check_number("attribute_weight", attribute_weight, 0.0)
    check_number("keep_weight", keep_weight, 0.0)
    check_number("attribute_batch", attribute_batch, 1, integer=True)
    check_number("anchor_candidates", anchor_candidates, 0, integer=True)
    check_number("anchor_rests", anchor_rests, 1, integer=True)
    if attribute_steps and reader is None:
        raise OptionError("attribute_steps needs a reader (images -> attribute tensors)")
    slices = G.group_slices("w")
    for a in attributes:
        if a.get("group") not in slices:
            raise OptionError(f"attribute {a.get('name')!r}: the generator has no group "
                              f"{a.get('group')!r} (groups: {', '.join(slices)})")
    w, values = _sample_pairs(G, measure, n_samples, seed, batch_size, progress)
    specs = []
    for a in attributes:
        spec = {"name": a["name"], "group": a["group"], "kind": a["kind"]}
        v = values[a["name"]]
        if a["kind"] == "categorical":
            spec["num_classes"] = int(a.get("num_classes") or int(v.max()) + 1)
        else:
            spec.update(low=float(v.min()), high=float(v.max()))
            if not spec["high"] > spec["low"]:
                raise OptionError(f"{a['name']}: the generator never varies it; nothing to "
                                  "control")
        specs.append(spec)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        cs = ControllerSet(specs, {k: [s.start, s.stop] for k, s in slices.items()},
                           int(G.w_dim), hidden=hidden, layers=layers)
    n_val = max(1, n_samples // 5)
    report = {}
    rests = _rest_codes(G, measure, w[n_val:], anchor_rests, seed + 3, batch_size) \
        if anchor_candidates else None
    # the tuned outputs are compared with the anchors on other codes than those that chose them
    fresh = _rest_codes(G, measure, w[n_val:], anchor_rests, seed + 5, batch_size) \
        if anchor_candidates and attribute_steps else None
    scoring = {"candidates": anchor_candidates, "keep_weight": keep_weight,
               "batch_size": batch_size,
               "spreads": {k: float(np.ptp(v)) or 1.0 for k, v in values.items()}}
    for a in cs.attributes:
        y = values[a["name"]]
        report[a["name"]] = _fit_one(cs, a, w, y, n_val, steps, batch, lr, seed, progress)
        targets = None
        if rests is not None and a["kind"] == "categorical":
            anchors, report[a["name"]]["anchors"] = _choose_anchors(
                cs, a, G, measure, w, y, n_val, rests, scoring, seed)
            _fit_anchors(cs, a, anchors, steps, lr)
            targets = anchors[torch.as_tensor(y).long()]
        if attribute_steps:
            tuning = _tune_one(
                cs, a, G, reader, w, y, n_val,
                {"steps": attribute_steps, "weight": attribute_weight, "batch": attribute_batch,
                 "keep_weight": keep_weight, "latent_batch": batch, "lr": lr}, seed, progress,
                targets=targets)
            if targets is not None:
                tuning["kept_classes"] = _keep_better(
                    cs, a, G, measure, anchors, fresh, scoring, steps, lr)
            report[a["name"]]["attribute_tuning"] = tuning
    return cs.eval(), report


def _synthesize_measure(G: Any, measure: Callable, w: torch.Tensor, batch_size: int
                        ) -> dict[str, np.ndarray]:
    """measure(G(w)) in chunks of ``batch_size``."""
    parts = []
    for start in range(0, w.shape[0], batch_size):
        with torch.no_grad():
            images = G.synthesize(w[start:start + batch_size].to(G.device), "w")
        parts.append(measure(images.float().clamp(-1, 1)))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _rest_codes(G: Any, measure: Callable, w_train: torch.Tensor, n: int, seed: int,
                batch_size: int) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """``n`` training codes that anchor candidates are set on, and their own readings."""
    g = torch.Generator().manual_seed(seed)
    codes = w_train[torch.randperm(w_train.shape[0], generator=g)[:n]]
    return codes, _synthesize_measure(G, measure, codes, batch_size)


def _change(b: dict[str, Any], after: np.ndarray, before: np.ndarray, spread: float
            ) -> np.ndarray:
    """Per image, how much attribute ``b`` changed: 1 / 0 for a class, |change| / spread."""
    if b["kind"] == "categorical":
        return (after != before).astype(np.float64)
    return np.abs(after - before) / spread


def _choose_anchors(cs: ControllerSet, a: dict[str, Any], G: Any, measure: Callable,
                    w: torch.Tensor, y: np.ndarray, n_val: int,
                    rests: tuple[torch.Tensor, dict[str, np.ndarray]], opts: dict[str, Any],
                    seed: int) -> tuple[torch.Tensor, dict[str, Any]]:
    """Per class, the best of the controller's output and ``candidates`` training group codes
    read as the class (module docstring). Returns the anchors [K, group dim] and a report."""
    lo, hi = cs.w_slices[a["group"]]
    g = torch.Generator().manual_seed(seed + 4)
    y_tr, w_tr = np.asarray(y[n_val:]), w[n_val:, lo:hi]
    anchors, scores, replaced = [], [], []
    for k in range(a["num_classes"]):
        pool = torch.as_tensor(np.flatnonzero(y_tr == k))
        pool = pool[torch.randperm(len(pool), generator=g)[:opts["candidates"]]]
        with torch.no_grad():
            own = cs(a["name"], [k]).float()
        candidates = torch.cat([own, w_tr[pool]])
        per_candidate = _score_codes(cs, a, k, candidates, G, measure, rests, opts)
        best = int(np.argmax(per_candidate))  # the first of equals: the controller's own
        anchors.append(candidates[best])
        scores.append((float(per_candidate[0]), float(per_candidate[best])))
        if best:
            replaced.append(k)
    return torch.stack(anchors), {
        "candidates": int(opts["candidates"]), "rests": int(rests[0].shape[0]),
        "replaced": replaced, "score_controller": float(np.mean([s[0] for s in scores])),
        "score_anchors": float(np.mean([s[1] for s in scores]))}


def _score_codes(cs: ControllerSet, a: dict[str, Any], k: int, candidates: torch.Tensor,
                 G: Any, measure: Callable, rests: tuple[torch.Tensor, dict[str, np.ndarray]],
                 opts: dict[str, Any]) -> np.ndarray:
    """Per candidate group code for class ``k``: set on every rest code, the share of images
    read as ``k`` minus ``keep_weight`` x the other controlled attributes' mean change (a
    number's change in units of its ``spreads`` entry, its range over the pairs)."""
    lo, hi = cs.w_slices[a["group"]]
    codes, before = rests
    n_rest = codes.shape[0]
    others = [b for b in cs.attributes if b["name"] != a["name"]]
    edited = codes.repeat(len(candidates), 1)
    edited[:, lo:hi] = candidates.repeat_interleave(n_rest, 0)
    read = _synthesize_measure(G, measure, edited, opts["batch_size"])
    score = (read[a["name"]] == k).astype(np.float64)
    for b in others:
        score = score - opts["keep_weight"] / len(others) * _change(
            b, read[b["name"]], np.tile(before[b["name"]], len(candidates)),
            opts["spreads"][b["name"]])
    return score.reshape(len(candidates), n_rest).mean(1)


def _keep_better(cs: ControllerSet, a: dict[str, Any], G: Any, measure: Callable,
                 anchors: torch.Tensor, rests: tuple[torch.Tensor, dict[str, np.ndarray]],
                 opts: dict[str, Any], steps: int, lr: float) -> list[int]:
    """After the tuning, per class, the tuned output or the anchor, whichever scores better (a
    tie keeps the anchor); the MLP is refitted to the choice. Returns the classes where the
    tuned output was kept. The tuning's noisy reconstruction gradients can move a class off a
    good anchor (measured on shapes3d: floor hue 0.97 of codes from the anchors, 0.70 after
    300 tuning steps) while they fix classes no anchor reached (shape 3: 0.01 -> 0.9)."""
    chosen, kept = [], []
    for k in range(a["num_classes"]):
        with torch.no_grad():
            tuned = cs(a["name"], [k]).float()[0]
        pair = torch.stack([anchors[k], tuned])
        scores = _score_codes(cs, a, k, pair, G, measure, rests, opts)
        better = bool(scores[1] > scores[0])
        chosen.append(pair[int(better)])
        if better:
            kept.append(k)
    _fit_anchors(cs, a, torch.stack(chosen), steps, lr)
    return kept


def _fit_anchors(cs: ControllerSet, a: dict[str, Any], anchors: torch.Tensor, steps: int,
                 lr: float) -> None:
    """Refit a categorical controller so that class k gives ``anchors[k]``: squared error and a
    learning rate decaying to 0, which land on the anchors more exactly than L1 (whose Adam
    steps keep jittering by about ``lr``): an anchor may lie near its class's edge."""
    x = cs.encode(a["name"], np.arange(a["num_classes"]))
    mlp = cs.mlps[a["name"]].train()
    opt = torch.optim.Adam(mlp.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1.0 - i / steps)
    for _ in range(steps):
        loss = (mlp(x) - anchors).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    mlp.eval()


def _fit_one(cs: ControllerSet, a: dict[str, Any], w: torch.Tensor, y: np.ndarray, n_val: int,
             steps: int, batch: int, lr: float, seed: int, progress: bool) -> dict[str, Any]:
    """Train one attribute's MLP with L1; held-out L1 beside the median baseline."""
    lo, hi = cs.w_slices[a["group"]]
    target = w[:, lo:hi]
    x = cs.encode(a["name"], np.clip(y, a.get("low", -np.inf), a.get("high", np.inf)))
    x_tr, t_tr, x_va, t_va = x[n_val:], target[n_val:], x[:n_val], target[:n_val]
    mlp = cs.mlps[a["name"]].train()
    opt = torch.optim.Adam(mlp.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed + 1)
    for _ in tqdm(range(steps), desc=f"controller {a['name']}", disable=not progress,
                  leave=False):
        idx = torch.randint(0, x_tr.shape[0], (batch,), generator=g)
        loss = (mlp(x_tr[idx]) - t_tr[idx]).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    mlp.eval()
    with torch.no_grad():
        val = float((mlp(x_va) - t_va).abs().mean())
    base = float((t_tr.median(dim=0).values - t_va).abs().mean())
    return {"heldout_l1": val, "median_l1": base, "ratio": val / base if base > 0 else None,
            "n_train": int(x_tr.shape[0]), "n_val": int(n_val),
            "values": {"min": float(np.min(y)), "max": float(np.max(y))}}


def _random_targets(a: dict[str, Any], n: int, g: torch.Generator) -> np.ndarray:
    """n values drawn uniformly from what the controller takes (classes / [low, high])."""
    if a["kind"] == "categorical":
        return torch.randint(0, a["num_classes"], (n,), generator=g).numpy()
    u = torch.rand(n, generator=g, dtype=torch.float64).numpy()
    return a["low"] + u * (a["high"] - a["low"])


def _reading_loss(a: dict[str, Any], read: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """How far a reading is from a target: cross-entropy to a class (``read``: log
    probabilities), |error| / the value range for a number."""
    if a["kind"] == "categorical":
        return torch.nn.functional.nll_loss(read, target.long())
    return (read - target.to(read.dtype)).abs().mean() / (a["high"] - a["low"])


def _tune_one(cs: ControllerSet, a: dict[str, Any], G: Any, reader: Callable, w: torch.Tensor,
              y: np.ndarray, n_val: int, opts: dict[str, Any], seed: int,
              progress: bool, targets: torch.Tensor | None = None) -> dict[str, Any]:
    """The attribute-reconstruction phase of one controller (module docstring): each step, L1
    on a batch of training pairs plus ``weight`` x the reconstruction loss of random values set
    on sampled codes (the training codes; G frozen) plus ``keep_weight`` x the other controlled
    attributes' change (their reading on the edited image against the unedited one's class /
    value). ``targets``: the L1 term's group codes per pair (default: the pairs' own; the
    anchors of their classes after :func:`_choose_anchors`). Returns the last 10 % of steps'
    mean losses."""
    lo, hi = cs.w_slices[a["group"]]
    x = cs.encode(a["name"], np.clip(y, a.get("low", -np.inf), a.get("high", np.inf)))
    t_all = w[:, lo:hi] if targets is None else targets
    x_tr, t_tr, w_tr = x[n_val:], t_all[n_val:], w[n_val:]
    others = [b for b in cs.attributes if b["name"] != a["name"]]
    keep_w = float(opts.get("keep_weight", 0.0)) if others else 0.0
    mlp = cs.mlps[a["name"]].train()
    opt = torch.optim.Adam(mlp.parameters(), lr=opts["lr"])
    g = torch.Generator().manual_seed(seed + 2)
    G.requires_grad_(False)
    tail: list[tuple[float, float, float]] = []
    for step in tqdm(range(opts["steps"]), desc=f"controller {a['name']} (attribute)",
                     disable=not progress, leave=False):
        idx = torch.randint(0, x_tr.shape[0], (opts["latent_batch"],), generator=g)
        latent = (mlp(x_tr[idx]) - t_tr[idx]).abs().mean()
        target = _random_targets(a, opts["batch"], g)
        codes = w_tr[torch.randint(0, w_tr.shape[0], (opts["batch"],), generator=g)]
        edited = codes.clone()
        edited[:, lo:hi] = mlp(cs.encode(a["name"], target))
        read = reader(G.synthesize(edited.to(G.device), "w").float().clamp(-1, 1))  # const noise
        attr = _reading_loss(a, read[a["name"]].cpu(), torch.as_tensor(target))
        keep = torch.zeros(())
        if keep_w:
            with torch.no_grad():
                before = reader(G.synthesize(codes.to(G.device), "w").float().clamp(-1, 1))
            for b in others:
                ref = before[b["name"]].cpu()
                ref = ref.argmax(1) if b["kind"] == "categorical" else ref
                keep = keep + _reading_loss(b, read[b["name"]].cpu(), ref) / len(others)
        loss = latent + opts["weight"] * attr + keep_w * keep
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= opts["steps"] * 0.9:
            tail.append((float(latent.detach()), float(attr.detach()), float(keep.detach())))
    mlp.eval()
    return {"steps": int(opts["steps"]), "weight": float(opts["weight"]),
            "keep_weight": keep_w, "batch": int(opts["batch"]),
            "final_latent_l1": float(np.mean([t[0] for t in tail])),
            "final_attribute_loss": float(np.mean([t[1] for t in tail])),
            "final_keep_loss": float(np.mean([t[2] for t in tail]))}


__all__ = ["default_kinds", "expected_index", "fit_controllers", "predictor_reader",
           "predictor_values", "read_heads"]
