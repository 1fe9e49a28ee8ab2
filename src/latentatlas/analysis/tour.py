"""Pictures of the data sets: sample grids, factor traversals, and the data tour (index.html).

``latentatlas data show`` calls :func:`save_dataset_figure`; ``latentatlas tour`` calls
:func:`run_tour`.
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from latentatlas.data.base import GroundTruthData
from latentatlas.data.loaders import LabeledImages
from latentatlas.data.registry import (
    dataset_spec,
    default_data_root,
    default_location,
    get_dataset,
    list_datasets,
)
from latentatlas.io.images import make_grid, save_image, to_uint8_nhwc
from latentatlas.utils.atomic import atomic_write_bytes
from latentatlas.utils.errors import DataError, LatentAtlasError
from latentatlas.utils.rng import check_rng
from latentatlas.utils.runinfo import write_run_record

MAX_TRAVERSAL_STEPS = 16
_LABEL_WIDTH = 90


def traversal_factors(data: GroundTruthData, base: np.ndarray,
                      max_steps: int = MAX_TRAVERSAL_STEPS) -> list[np.ndarray]:
    """One factor matrix per factor: ``base`` with that factor swept over (up to ``max_steps``
    evenly spaced) values, all other factors fixed."""
    rows = []
    for k, size in enumerate(data.factors_num_values):
        values = np.unique(np.rint(np.linspace(0, size - 1, min(size, max_steps))).astype(np.int64))
        f = np.repeat(np.asarray(base, np.int64)[None], len(values), axis=0)
        f[:, k] = values
        rows.append(f)
    return rows


def _label_strip(text: str, height: int, width: int = _LABEL_WIDTH) -> np.ndarray:
    """A white strip with ``text`` written on it (PIL's built-in bitmap font)."""
    from PIL import Image, ImageDraw

    strip = Image.new("RGB", (width, height), (255, 255, 255))
    ImageDraw.Draw(strip).text((4, max(0, height // 2 - 6)), text, fill=(0, 0, 0))
    return np.asarray(strip)


def _pad_width(img: np.ndarray, width: int) -> np.ndarray:
    if img.shape[1] >= width:
        return img
    pad = np.full((img.shape[0], width - img.shape[1], 3), 255, np.uint8)
    return np.concatenate([img, pad], axis=1)


def dataset_figure(data: GroundTruthData | LabeledImages, n: int = 64,
                   rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """uint8 HxWx3 figure: ``n`` random samples, then (ground-truth sets) one labelled traversal
    row per factor."""
    rng = check_rng(rng)
    if isinstance(data, GroundTruthData):
        samples = data.sample_observations(n, rng)
    else:
        if len(data.images) == 0:
            raise DataError(f"{data.source}: no images to show")
        pick = np.sort(rng.choice(len(data.images), size=min(n, len(data.images)), replace=False))
        samples = data.images[pick]
    parts = [make_grid(to_uint8_nhwc(samples), nrow=int(np.ceil(np.sqrt(len(samples)))))]
    # A partial grid (e.g. the real dSprites subset) cannot show traversals.
    if isinstance(data, GroundTruthData) and getattr(data, "complete_grid", True):
        base = data.sample_factors(1, rng)[0]
        traversals = traversal_factors(data, base)
        for name, size, factors in zip(data.factor_names, data.factors_num_values, traversals,
                                       strict=True):
            row = make_grid(to_uint8_nhwc(data.sample_observations_from_factors(factors, rng)),
                            nrow=MAX_TRAVERSAL_STEPS)
            parts.append(np.concatenate([_label_strip(f"{name} ({size})", row.shape[0]), row],
                                        axis=1))
    width = max(p.shape[1] for p in parts)
    return np.concatenate([_pad_width(p, width) for p in parts], axis=0)


def save_dataset_figure(name: str, out: str | os.PathLike, n: int = 64, seed: int = 0,
                        overwrite: bool = False, **dataset_kwargs: Any) -> Path:
    """Build (or load) data set ``name`` and save :func:`dataset_figure` as a PNG (an existing
    ``out`` is refused unless ``overwrite``)."""
    from latentatlas.utils.checks import check_number
    from latentatlas.utils.outputs import check_new_file

    check_new_file(out, overwrite)
    check_number("n", n, 1, 4096, integer=True)
    data = get_dataset(name, **dataset_kwargs)
    return save_image(dataset_figure(data, n=n, rng=seed), out)


# ---------------------------------------------------------------------------- the tour
def _official_values(data: GroundTruthData) -> list[str]:
    """Per factor, its official values as short text ("" when the set does not define them)."""
    grid = np.zeros((max(data.factors_num_values), data.num_factors), np.int64)
    for k, size in enumerate(data.factors_num_values):
        grid[:, k] = np.minimum(np.arange(len(grid)), size - 1)
    to_values = getattr(data, "latents_values", None) or getattr(data, "factor_values", None)
    if to_values is None:
        return [""] * data.num_factors
    values = to_values(grid)
    texts = []
    for k, size in enumerate(data.factors_num_values):
        v = [f"{x:.4g}" for x in values[:size, k]]
        texts.append(", ".join(v) if size <= 10 else f"{v[0]}, {v[1]}, ..., {v[-1]}")
    return texts


def _factor_table(data: GroundTruthData) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{size}</td><td>{html.escape(text)}</td></tr>"
        for name, size, text in zip(data.factor_names, data.factors_num_values,
                                    _official_values(data), strict=True)
    )
    return (f"<table><tr><th>factor</th><th>values</th><th>official values</th></tr>{rows}"
            "</table>")


def _label_table(data: LabeledImages) -> str:
    if data.labels is None:
        return ""
    labels = np.asarray(data.labels)
    if labels.ndim == 2 and labels.dtype == np.int8:  # binary attributes: show frequencies
        freq = labels.mean(axis=0)
        rows = "".join(f"<tr><td>{html.escape(n)}</td><td>{f:.3f}</td></tr>"
                       for n, f in zip(data.label_names, freq, strict=True))
        return f"<table><tr><th>attribute</th><th>fraction positive</th></tr>{rows}</table>"
    if labels.ndim == 1:
        counts = np.bincount(labels, minlength=len(data.label_names))
        return "<p>class counts: " + ", ".join(
            f"{html.escape(n)}: {c}" for n, c in zip(data.label_names, counts, strict=False)
        ) + "</p>"
    return f"<p>labels: {', '.join(map(html.escape, data.label_names))}</p>"


def dsprites_agreement(data_root: Path, max_images: int | None = None,
                       figure_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Per-shape mean IoU of :class:`DSpritesLike` against the real dSprites subset.

    With ``figure_path``, also saves a comparison: per shape, a row of real images and below it
    the procedural images of the same latent classes.
    """
    from latentatlas.data.dsprites import SHAPE_NAMES, DSpritesLike
    from latentatlas.data.loaders import load_dsprites_npz

    real = load_dsprites_npz(data_root / "dsprites" / "dsprites_subset.npz")
    factors, imgs = real.factors, real.imgs > 0
    if max_images is not None:
        factors, imgs = factors[:max_images], imgs[:max_images]
    ours = DSpritesLike().render(factors) > 0
    inter = (ours & imgs).sum(axis=(1, 2))
    union = (ours | imgs).sum(axis=(1, 2))
    iou = inter / np.maximum(union, 1)
    if figure_path is not None:
        rows = []
        for k in range(len(SHAPE_NAMES)):
            rows_k = np.flatnonzero(factors[:, 0] == k)
            # Evenly spread over the file (which is sorted by grid index): varied scales/angles.
            pick = rows_k[np.linspace(0, len(rows_k) - 1, MAX_TRAVERSAL_STEPS).astype(np.int64)]
            rows += [imgs[pick], ours[pick]]
        save_image(make_grid(np.concatenate(rows).astype(np.float32), nrow=len(rows[0])),
                   figure_path)
    return {name: float(iou[factors[:, 0] == k].mean()) for k, name in enumerate(SHAPE_NAMES)}


def run_tour(out_dir: str | os.PathLike, data_root: str | os.PathLike | None = None,
             seed: int = 0, n: int = 64, celeba_max_images: int | None = None,
             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Render every procedural data set and every real one found under ``data_root``.

    Writes ``<name>.png`` per data set, ``index.html`` (figures, sizes, factor / label tables),
    and ``run.json``. Missing real data sets are skipped with a note. Returns the metrics dict.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(data_root) if data_root is not None else default_data_root()
    sections: list[str] = []
    metrics: dict[str, Any] = {"datasets": {}, "skipped": {}}
    names = list_datasets()
    for i, name in enumerate(names, 1):
        spec = dataset_spec(name)
        log(f"[{i}/{len(names)}] {name} ...")
        start = time.perf_counter()
        kwargs: dict[str, Any] = {}
        if spec.kind != "procedural":
            kwargs = _real_kwargs(name, root, celeba_max_images)
        try:
            data = get_dataset(name, **kwargs)
            figure = dataset_figure(data, n=n, rng=seed)
        except (LatentAtlasError, OSError) as exc:
            if spec.kind == "procedural":
                raise
            log(f"    skipped: {exc}")
            metrics["skipped"][name] = str(exc)
            sections.append(f"<h2>{html.escape(name)}</h2><p class='skip'>skipped: "
                            f"{html.escape(str(exc))}</p>")
            continue
        save_image(figure, out / f"{name}.png")
        seconds = time.perf_counter() - start
        if isinstance(data, GroundTruthData):
            size = f"{data.num_observations:,}"
            shape = "x".join(map(str, data.observation_shape))
            table = _factor_table(data)
            if name == "dsprites_real":
                size = f"{data.num_images:,} of {data.num_observations:,}"
        else:
            size = f"{len(data):,}"
            shape = "x".join(map(str, data.images.shape[1:]))
            table = _label_table(data)
        metrics["datasets"][name] = {"size": size, "shape": shape, "seconds": round(seconds, 2)}
        log(f"    {size} images of {shape} -> {name}.png ({seconds:.1f} s)")
        sections.append(
            f"<h2>{html.escape(name)}</h2><p>{html.escape(spec.description)}: {size} images, "
            f"{shape}; {html.escape(spec.kind)}.</p>{table}"
            f"<p><img src='{name}.png' alt='{html.escape(name)} samples and traversals'></p>"
        )
    if "dsprites_real" in metrics["datasets"]:
        iou = dsprites_agreement(root, figure_path=out / "dsprites_vs_real.png")
        metrics["dsprites_iou_per_shape"] = iou
        log("    dSprites-like vs real, mean IoU per shape: "
            + ", ".join(f"{k} {v:.4f}" for k, v in iou.items()))
        sections.append("<h2>dSprites-like vs real dSprites</h2><p>mean IoU per shape: "
                        + ", ".join(f"{k} {v:.4f}" for k, v in iou.items())
                        + ". Rows: real images, then dSprites-like renders of the same latent "
                          "classes (square, ellipse, heart).</p>"
                          "<p><img src='dsprites_vs_real.png' alt='real vs procedural'></p>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>latentatlas data tour</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
            "margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px}.skip{color:#a00}"
            "img{image-rendering:pixelated;max-width:100%}</style></head><body>"
            f"<h1>latentatlas data tour</h1><p>data root: {html.escape(str(root))}; seed {seed}"
            f"</p>{''.join(sections)}</body></html>\n")
    atomic_write_bytes(out / "index.html", page.encode("utf-8"))
    write_run_record(out, command="tour", seed=seed, metrics=metrics,
                     config={"out": str(out), "data_root": str(root), "n": n,
                             "celeba_max_images": celeba_max_images})
    log(f"wrote {out / 'index.html'} and {out / 'run.json'}")
    return metrics


def _real_kwargs(name: str, root: Path, celeba_max_images: int | None) -> dict[str, Any]:
    """The loader's location keyword for ``name`` under ``root`` (from the one registry)."""
    kwargs: dict[str, Any] = {"root": default_location(name, root)}
    if name == "celeba":
        kwargs["max_images"] = celeba_max_images
    return kwargs
