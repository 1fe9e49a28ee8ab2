"""The browser editor: ``latentatlas studio --model M [--directions FILE ...]``.

:mod:`latentatlas.studio.core` is the engine (models, codes, edits, saves; no web framework),
:mod:`latentatlas.studio.app` the FastAPI layer and the page (``static/index.html``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from latentatlas.studio.core import DirectionSet, ModelEntry, Studio, StudioError


def build_studio(
    models: Sequence[str | os.PathLike],
    directions: Sequence[str | os.PathLike] = (),
    out: str | os.PathLike = "studio_out",
    predictor: str | os.PathLike | None = "auto",
    encoder: str | os.PathLike | None = "auto",
    invert_steps: int = 60,
) -> Studio:
    """A :class:`Studio` over the generators ``models`` (shipped names or folders) and the
    Directions files ``directions``; ``predictor`` / ``encoder``: "auto" (the ones shipped for
    a shipped generator), a name or folder, or None."""
    from latentatlas.directions import Directions
    from latentatlas.models.zoo import load
    from latentatlas.pipelines.invert import SHIPPED_ENCODERS, SHIPPED_PREDICTORS
    from latentatlas.utils.errors import LatentAtlasError

    entries = {}
    for m in models:
        name = str(m)
        try:
            gen = load(m)
        except LatentAtlasError as e:
            raise StudioError(str(e)) from e
        if "wp" not in getattr(gen, "spaces", ()):
            raise StudioError(f"{name}: the studio edits W+ codes; this generator has none")
        pred_name = SHIPPED_PREDICTORS.get(name) if predictor == "auto" else predictor
        enc_name = SHIPPED_ENCODERS.get(name) if encoder == "auto" else encoder
        pred = load(pred_name) if pred_name else None
        enc = load(enc_name) if enc_name else None
        label = name if name not in entries else f"{name}#{len(entries)}"
        entries[label] = ModelEntry(label, gen, pred, enc)
    sets = []
    for d in directions:
        p = Path(d)
        if not p.is_file():
            raise StudioError(f"--directions {p}: not a Directions file (.safetensors)")
        try:
            dirs = Directions.load(p)
        except LatentAtlasError as e:
            raise StudioError(str(e)) from e
        name = p.stem if p.stem not in {s.name for s in sets} else f"{p.stem}_{len(sets)}"
        sets.append(DirectionSet(name, str(p), dirs))
    return Studio(entries, sets, out, invert_steps=invert_steps)


__all__ = ["DirectionSet", "ModelEntry", "Studio", "StudioError", "build_studio"]
