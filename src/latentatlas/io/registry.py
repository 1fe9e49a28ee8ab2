"""The model registry: names of shipped models (the zoo) -> folders.

Loading by name lives one floor up, in :func:`latentatlas.models.load`, because only the models
package knows (registers) the model classes."""

from __future__ import annotations

import os
from pathlib import Path

from latentatlas.io.persistence import CONFIG_NAME
from latentatlas.utils.errors import CheckpointError

ZOO_DIR = Path(__file__).resolve().parent.parent / "zoo"


def available_models() -> dict[str, Path]:
    """Shipped models by name: every folder under ``latentatlas/zoo`` holding a config.json."""
    if not ZOO_DIR.is_dir():
        return {}
    return {
        p.name: p for p in sorted(ZOO_DIR.iterdir()) if p.is_dir() and (p / CONFIG_NAME).is_file()
    }


def resolve_model_path(name_or_path: str | os.PathLike) -> Path:
    path = Path(name_or_path)
    if path.is_dir():
        # A training run folder (train gan / predictors train --out DIR) holds its model in model/.
        if not (path / CONFIG_NAME).is_file() and (path / "model" / CONFIG_NAME).is_file():
            return path / "model"
        return path
    zoo = available_models()
    if str(name_or_path) in zoo:
        return zoo[str(name_or_path)]
    names = ", ".join(zoo) or "(none shipped yet)"
    raise CheckpointError(
        f"{name_or_path!s}: neither a model folder nor a shipped model name; shipped: {names}. "
        "Convert other checkpoints with `latentatlas convert`."
    )


ZOO_INDEX = ZOO_DIR / "index.json"


def zoo_entry(name_or_path: str | os.PathLike) -> dict:
    """What the zoo index (``latentatlas/zoo/index.json``) records about a shipped model: a
    generator's paired ``predictor`` (and extra ``scorers``), a predictor's ``ordered`` heads
    and ``abstraction`` groups. A folder inside the zoo counts as its name; anything else (a
    user's folder) gives {}."""
    if not ZOO_INDEX.is_file():
        return {}
    import json

    try:
        index = json.loads(ZOO_INDEX.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{ZOO_INDEX}: not valid JSON ({e})") from e
    key = str(name_or_path)
    path = Path(key)
    if path.is_dir():
        try:
            if path.resolve().parent != ZOO_DIR:
                return {}
        except OSError:
            return {}
        key = path.resolve().name
    entry = index.get(key)
    return dict(entry) if isinstance(entry, dict) else {}
