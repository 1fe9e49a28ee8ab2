"""Export the EMA generator of any checkpoint of a GAN run as a loadable model folder.

A finished run writes ``run_dir/model`` (G_ema at the last step). To measure or use an earlier or
an unfinished state -- quality against training length, picking the best checkpoint, a run stopped
by the end of a session -- ``export_generator(run_dir, out_dir, step)`` rebuilds the generator
from ``training_config.json`` (registered classes only: nothing is unpickled) and saves the
checkpoint's ``G_ema`` with :func:`latentatlas.io.persistence.save_model`.
CLI: ``latentatlas train export-gan --run DIR [--step N] --out DIR``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from latentatlas.utils.errors import CheckpointError, DataError


def _training_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "training_config.json"
    if not path.is_file():
        raise DataError(f"{path}: missing; is {run_dir} a `latentatlas train gan` run folder?")
    try:
        config = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: unreadable ({e})") from e
    gen = config.get("generator") if isinstance(config, dict) else None
    if not isinstance(gen, dict) or not isinstance(gen.get("class"), str) \
            or not isinstance(gen.get("kwargs"), dict):
        raise DataError(f"{path}: has no generator class and kwargs")
    return config


def export_generator(run_dir: str | os.PathLike, out_dir: str | os.PathLike,
                     step: int | None = None, overwrite: bool = False) -> Path:
    """Save the ``G_ema`` of checkpoint ``step`` (default: the newest) of ``run_dir`` as a model
    folder at ``out_dir``; returns ``out_dir``. Its metadata records the run, step and kimg.
    An existing, non-empty ``out_dir`` is refused unless ``overwrite`` (then swapped in whole)."""
    import latentatlas.models  # noqa: F401  (registers the model classes)
    from latentatlas.io.persistence import model_classes, save_model
    from latentatlas.training.checkpoint import list_checkpoints, load_checkpoint

    run_dir = Path(run_dir)
    config = _training_config(run_dir)
    found = dict(list_checkpoints(run_dir / "checkpoints"))
    if not found:
        raise CheckpointError(f"{run_dir / 'checkpoints'}: no checkpoints")
    if step is None:
        step = max(found)
    if step not in found:
        raise CheckpointError(f"{run_dir}: no checkpoint at step {step}; have steps "
                              f"{sorted(found)}")
    gen = config["generator"]
    classes = model_classes()
    if gen["class"] not in classes:
        raise DataError(f"{run_dir}: generator class {gen['class']!r} is not a registered model "
                        f"class ({', '.join(sorted(classes))})")
    kwargs = dict(gen["kwargs"])
    training_dtype = kwargs.get("dtype")
    if "dtype" in kwargs:
        # As for finished runs: weights are fp32; compute in bf16 only where it is native.
        kwargs["dtype"] = "auto"
    G = classes[gen["class"]](**kwargs)
    state = load_checkpoint(found[step])
    if not isinstance(state, dict) or "G_ema" not in state:
        raise CheckpointError(f"{found[step]}: holds no G_ema")
    try:
        G.load_state_dict(state["G_ema"])
    except RuntimeError as e:
        raise CheckpointError(f"{found[step]}: G_ema does not fit {gen['class']}"
                              f"(**training_config kwargs): {e}") from e
    from latentatlas.utils.outputs import replacing_folder

    batch = int(config.get("train", {}).get("batch", 0))
    with replacing_folder(out_dir, overwrite, what="model folder") as staging:
        save_model(G.eval(), staging, metadata={
            "trained_with": "latentatlas.training.gan", "exported_from": str(found[step]),
            "steps": step, "kimg": step * batch / 1000, "command": config.get("command"),
            "training_dtype": training_dtype})
    return Path(out_dir)
