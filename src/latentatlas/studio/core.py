"""The studio's engine, free of any web framework: models, codes, edits, renders, saves.

A :class:`Studio` holds the generators named on the command line (shipped names or folders; a
request can only pick among those), each with its predictor and encoder, the direction sets
passed with ``--directions``, the *bases* (W+ codes to edit: from a seed or an uploaded photo,
inverted) and the output folder. Everything a request names is looked up in these tables:
no request carries a path, and saves go under the output folder only.
"""

from __future__ import annotations

import base64
import io
import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentatlas.data.faces import FaceImageError, prepare_face
from latentatlas.utils.errors import LatentAtlasError

#: Largest upload accepted (bytes).
MAX_UPLOAD_BYTES = 8 << 20
#: Bases kept in memory (least recently used are dropped).
MAX_BASES = 64
#: Slider range (amount along a unit direction).
ALPHA_LIMIT = 10.0


class StudioError(LatentAtlasError, ValueError):
    """A bad request: the message is shown to the user as it is."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ModelEntry:
    name: str
    generator: Any
    predictor: Any = None
    encoder: Any = None


@dataclass
class DirectionSet:
    name: str
    source: str
    directions: Any  # a Directions
    conditional_cache: dict[str, Any] = field(default_factory=dict)


@dataclass
class Base:
    model: str
    code: torch.Tensor  # [L, d]
    label: str
    original: np.ndarray | None = None  # uint8 [R, R, 3] of an uploaded photo


def png_data_url(image: np.ndarray) -> str:
    """uint8 HxWx3 -> a data: URL of a PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def safe_filename(name: str) -> str:
    """A plain file name stem: letters, digits, '-', '_' (no separators, no dots first)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", str(name)).strip("_")[:64]
    return stem or "edit"


class Studio:
    """See the module docstring. ``models``: {name: ModelEntry}; ``direction_sets``: list of
    DirectionSet; ``out``: the only folder saves go to."""

    def __init__(self, models: dict[str, ModelEntry], direction_sets: list[DirectionSet],
                 out: str | Path, invert_steps: int = 60) -> None:
        if not models:
            raise StudioError("the studio needs at least one model")
        self.models = models
        self.sets = {s.name: s for s in direction_sets}
        self.out = Path(out).resolve()
        self.invert_steps = invert_steps
        self.bases: OrderedDict[str, Base] = OrderedDict()
        self.lock = threading.Lock()  # one model call at a time (2-core CPUs)

    # ------------------------------------------------------------------ lookups
    def _model(self, name: Any) -> ModelEntry:
        if not isinstance(name, str) or name not in self.models:
            raise StudioError(f"unknown model {name!r}; this studio serves "
                              f"{', '.join(self.models)}")
        return self.models[name]

    def _base(self, base_id: Any) -> Base:
        if not isinstance(base_id, str) or base_id not in self.bases:
            raise StudioError("unknown or expired image: pick a seed or upload again", 404)
        self.bases.move_to_end(base_id)
        return self.bases[base_id]

    def _add_base(self, base: Base) -> str:
        base_id = uuid.uuid4().hex[:12]
        self.bases[base_id] = base
        while len(self.bases) > MAX_BASES:
            self.bases.popitem(last=False)
        return base_id

    # ------------------------------------------------------------------ info
    def info(self) -> dict[str, Any]:
        models = []
        for m in self.models.values():
            g = m.generator
            models.append({"name": m.name, "num_ws": g.num_ws, "resolution": g.img_resolution,
                           "has_encoder": m.encoder is not None,
                           "attributes": self._attributes(m)})
        sets = []
        for s in self.sets.values():
            d = s.directions
            items = []
            for i, name in enumerate(d.names):
                layers = d.layers_of(i)
                items.append({"name": name, "layers": None if layers is None else list(layers)})
            sets.append({"name": s.name, "space": d.space, "dim": d.dim, "directions": items})
        return {"models": models, "direction_sets": sets, "alpha_limit": ALPHA_LIMIT,
                "max_upload_bytes": MAX_UPLOAD_BYTES}

    @staticmethod
    def _attributes(m: ModelEntry) -> list[str]:
        if m.predictor is None:
            return []
        return [h["name"] for h in m.predictor.heads if h["kind"] == "binary"]

    # ------------------------------------------------------------------ bases
    def new_seed(self, model: Any, seed: Any, truncation: Any = 0.7) -> dict[str, Any]:
        m = self._model(model)
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
            raise StudioError(f"seed must be an integer in [0, 2^31), got {seed!r}")
        try:
            psi = float(truncation)
        except (TypeError, ValueError) as e:
            raise StudioError(f"truncation must be a number, got {truncation!r}") from e
        if not 0.0 <= psi <= 1.0:
            raise StudioError(f"truncation must be in [0, 1], got {psi}")
        with self.lock, torch.no_grad():
            code = m.generator.sample(1, "wp", rng=seed, truncation_psi=psi)[0].float().cpu()
        base_id = self._add_base(Base(m.name, code, f"seed {seed}"))
        return {"base": base_id, "label": f"seed {seed}", **self.render(base_id, [])}

    def upload(self, model: Any, data: bytes, steps: int | None = None) -> dict[str, Any]:
        """Frame, encode and refine an uploaded photo; a new base."""
        m = self._model(model)
        if len(data) > MAX_UPLOAD_BYTES:
            raise StudioError(f"the upload is {len(data) / 2**20:.1f} MiB; the limit is "
                              f"{MAX_UPLOAD_BYTES >> 20} MiB", 413)
        if not data:
            raise StudioError("empty upload: send an image file", 400)
        g = m.generator
        try:
            face = prepare_face(data, g.img_resolution, "upload")
        except FaceImageError as e:
            raise StudioError(str(e), 415 if "not an image" in str(e) else 422) from e
        from latentatlas.editing.inversion import invert
        from latentatlas.io.images import to_model_images

        x = to_model_images(face[None])
        with self.lock:
            res = invert(g, x, space="wp", encoder=m.encoder, predictor=m.predictor,
                         steps=self.invert_steps if steps is None else steps, progress=False)
        base_id = self._add_base(Base(m.name, res.codes[0], "upload", face))
        out = {"base": base_id, "label": "upload", "original": png_data_url(face),
               "pixel_mse": float(res.pixel_mse[0])}
        out.update(self.render(base_id, []))
        return out

    # ------------------------------------------------------------------ edits
    def _walk(self, edit: dict[str, Any]) -> Any:
        set_name, name = edit.get("set"), edit.get("name")
        if set_name not in self.sets:
            raise StudioError(f"unknown direction set {set_name!r}")
        s = self.sets[set_name]
        if name not in s.directions.names:
            raise StudioError(f"no direction {name!r} in set {set_name!r}")
        if edit.get("conditional") and len(s.directions) > 1:
            if name not in s.conditional_cache:
                from latentatlas.directions import conditional_directions

                others = [n for n in s.directions.names if n != name]
                s.conditional_cache[name] = conditional_directions(s.directions, name, others,
                                                                   name=f"{name}|others")
            return s.conditional_cache[name]
        return s.directions[name]

    def edited_code(self, base: Base, edits: Any, num_ws: int) -> tuple[torch.Tensor, list]:
        if not isinstance(edits, list) or len(edits) > 64:
            raise StudioError("edits must be a list (at most 64)")
        code = base.code.unsqueeze(0)
        used = []
        for e in edits:
            if not isinstance(e, dict):
                raise StudioError("each edit is an object {set, name, alpha, layers}")
            try:
                alpha = float(e.get("alpha", 0.0))
            except (TypeError, ValueError) as err:
                raise StudioError(f"alpha must be a number, got {e.get('alpha')!r}") from err
            if not np.isfinite(alpha) or abs(alpha) > ALPHA_LIMIT:
                raise StudioError(f"alpha must be in [-{ALPHA_LIMIT:g}, {ALPHA_LIMIT:g}]")
            walk = self._walk(e)
            if alpha == 0.0:
                continue
            layers = e.get("layers")
            spec = None
            if layers is not None:
                if (not isinstance(layers, list) or len(layers) != 2
                        or not all(isinstance(v, int) for v in layers)
                        or not 0 <= layers[0] <= layers[1] < num_ws):
                    raise StudioError(f"layers must be [first, last] within 0..{num_ws - 1}")
                spec = f"{layers[0]}-{layers[1]}"
            if walk.space == "wp" and walk.num_layers != num_ws:
                raise StudioError(f"direction {e.get('name')!r} has {walk.num_layers} layers; "
                                  f"the model has {num_ws}")
            if walk.dim != code.shape[-1]:
                raise StudioError(f"direction {e.get('name')!r} is {walk.dim}-dimensional; the "
                                  f"model's codes are {code.shape[-1]}-dimensional")
            code = torch.as_tensor(walk.walk(code, alpha, spec)).float()
            used.append({"walk": walk, "alpha": alpha, "layers": spec, "set": e.get("set"),
                         "name": e.get("name"), "conditional": bool(e.get("conditional"))})
        return code, used

    def render(self, base_id: Any, edits: Any) -> dict[str, Any]:
        t0 = time.perf_counter()
        base = self._base(base_id)
        m = self._model(base.model)
        g = m.generator
        code, _ = self.edited_code(base, edits, g.num_ws)
        with self.lock, torch.no_grad():
            img = g.synthesize(code, "wp").float().clamp(-1, 1)
            scores = {}
            if m.predictor is not None:
                probs = m.predictor.predict(img)
                scores = {k: round(float(v[0]), 4) for k, v in probs.items() if v.ndim == 1}
        from latentatlas.io.images import to_uint8_nhwc

        arr = to_uint8_nhwc(img)[0]
        return {"image": png_data_url(arr), "scores": scores,
                "ms": round(1000 * (time.perf_counter() - t0), 1)}

    # ------------------------------------------------------------------ saving
    def save(self, base_id: Any, edits: Any, name: Any = "edit") -> dict[str, Any]:
        """Write <name>.npy (the edited W+ code), <name>.png, <name>_directions.safetensors (the
        directions used, as moved) and <name>.json (the edit list) under the output folder."""
        from latentatlas.directions import Directions
        from latentatlas.io.images import save_image, to_uint8_nhwc
        from latentatlas.utils.atomic import atomic_save_npy, atomic_write_json

        base = self._base(base_id)
        m = self._model(base.model)
        g = m.generator
        code, used = self.edited_code(base, edits, g.num_ws)
        stem = safe_filename(name if isinstance(name, str) else "edit")
        self.out.mkdir(parents=True, exist_ok=True)
        paths = {k: (self.out / f"{stem}{suffix}").resolve() for k, suffix in
                 (("code", ".npy"), ("image", ".png"), ("edits", ".json"),
                  ("directions", "_directions.safetensors"))}
        for p in paths.values():
            if p.parent != self.out:
                raise StudioError("refusing to write outside the output folder", 403)
        with self.lock, torch.no_grad():
            img = g.synthesize(code, "wp").float().clamp(-1, 1)
        atomic_save_npy(paths["code"], code[0].numpy())
        save_image(to_uint8_nhwc(img)[0], paths["image"])
        record = {"model": base.model, "base": base.label,
                  "edits": [{k: v for k, v in u.items() if k != "walk"} for u in used]}
        if used:
            parts = [u["walk"] for u in used]
            Directions.concat(parts, method="studio").save(paths["directions"])
            record["directions_file"] = paths["directions"].name
        else:
            paths.pop("directions")
        atomic_write_json(paths["edits"], record)
        return {"saved": sorted(p.name for p in paths.values()), "folder": str(self.out)}
