"""Matplotlib figure helpers (heatmaps, bar charts) for reports, drawn with the Agg canvas.

The figures are built on :class:`matplotlib.figure.Figure` with an explicit Agg canvas, so the
global pyplot backend is never touched (safe in notebooks and on headless machines), and saved
atomically through :func:`latentatlas.utils.atomic_path`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from latentatlas.utils.atomic import atomic_path
from latentatlas.utils.errors import ShapeError


def _new_figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Save a matplotlib Figure atomically (format from the extension)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    return path


def heatmap(
    matrix: Any,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    path: str | os.PathLike,
    title: str = "",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    annotate: bool | None = None,
    digits: int = 2,
    xlabel: str = "",
    ylabel: str = "",
    colorbar_label: str = "",
) -> Path:
    """Draw ``matrix`` [R, C] as a labelled heatmap and save it to ``path``.

    NaN cells are drawn blank. ``annotate`` writes each value in its cell (default: when the
    matrix has at most 400 cells). Symmetric colour limits are the caller's choice (pass
    ``vmin=-vmax`` with a diverging ``cmap`` such as ``"RdBu_r"``).
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise ShapeError(f"heatmap needs a 2-D matrix, got shape {m.shape}")
    if m.shape != (len(row_labels), len(col_labels)):
        raise ShapeError(
            f"heatmap matrix {m.shape} does not match {len(row_labels)} row and "
            f"{len(col_labels)} column labels"
        )
    if annotate is None:
        annotate = m.size <= 400
    rows, cols = m.shape
    fig = _new_figure(max(3.5, 0.55 * cols + 2.5), max(2.5, 0.4 * rows + 1.6))
    ax = fig.add_subplot(1, 1, 1)
    finite = m[np.isfinite(m)]
    lo = vmin if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    hi = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    if hi <= lo:
        hi = lo + 1e-12
    im = ax.imshow(np.ma.masked_invalid(m), cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
    ax.set_xticks(range(cols))
    ax.set_xticklabels([str(c) for c in col_labels], rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(rows))
    ax.set_yticklabels([str(r) for r in row_labels], fontsize=8)
    if annotate:
        for i in range(rows):
            for j in range(cols):
                if np.isfinite(m[i, j]):
                    # Text colour from the cell's luminance: readable on any colormap.
                    r, g, b, _ = im.cmap(im.norm(m[i, j]))
                    dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
                    ax.text(j, i, f"{m[i, j]:.{digits}f}", ha="center", va="center", fontsize=7,
                            color="white" if dark else "black")
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if colorbar_label:
        cb.set_label(colorbar_label)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return save_figure(fig, path)


def bar_chart(
    values: Any,
    labels: Sequence[str],
    path: str | os.PathLike,
    title: str = "",
    ylabel: str = "",
    series_labels: Sequence[str] | None = None,
    hline: float | None = None,
    ylim: tuple[float, float] | None = None,
) -> Path:
    """Grouped bar chart: ``values`` [K] or [S, K] (S series over K labels); NaN bars omitted.

    ``hline`` draws a dashed reference line (e.g. an accuracy target).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[None]
    if v.ndim != 2 or v.shape[1] != len(labels):
        raise ShapeError(f"bar_chart values {v.shape} do not match {len(labels)} labels")
    if series_labels is not None and len(series_labels) != v.shape[0]:
        raise ShapeError(f"{len(series_labels)} series labels for {v.shape[0]} series")
    s, k = v.shape
    fig = _new_figure(max(4.0, 0.45 * k * max(1, s) ** 0.5 + 2.0), 3.6)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / s
    x = np.arange(k)
    for i in range(s):
        vals = np.where(np.isfinite(v[i]), v[i], 0.0)
        ax.bar(x - 0.4 + width * (i + 0.5), vals, width,
               label=None if series_labels is None else series_labels[i])
    ax.set_xticks(x)
    ax.set_xticklabels([str(lab) for lab in labels], rotation=60, ha="right", fontsize=8)
    if hline is not None:
        ax.axhline(hline, color="k", linestyle="--", linewidth=0.8)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if series_labels is not None:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    return save_figure(fig, path)


__all__ = ["bar_chart", "heatmap", "save_figure"]
