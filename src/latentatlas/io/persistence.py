"""Save / load models as a folder: ``config.json`` + ``model.safetensors`` (the hub convention).

config.json holds the registered class name, the format version, the constructor kwargs and free
metadata. Loading only ever instantiates classes registered with :func:`register_model`; nothing in
the folder is executed or unpickled.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from latentatlas._version import __version__
from latentatlas.utils.atomic import atomic_path, atomic_write_json
from latentatlas.utils.errors import CheckpointError

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

_MODEL_CLASSES: dict[str, type[nn.Module]] = {}


def register_model(cls: type[nn.Module]) -> type[nn.Module]:
    """Class decorator: make ``cls`` loadable by name from a model folder."""
    name = cls.__name__
    if name in _MODEL_CLASSES and _MODEL_CLASSES[name] is not cls:
        raise RuntimeError(f"model class name {name!r} registered twice")
    _MODEL_CLASSES[name] = cls
    return cls


def model_classes() -> dict[str, type[nn.Module]]:
    """Registered model classes by name. The built-in ones register when
    :mod:`latentatlas.models` is imported (``latentatlas.load`` does that; io sits below models
    and never imports them)."""
    return dict(_MODEL_CLASSES)


class ConfigModule(nn.Module):
    """nn.Module that records the arguments its constructor was called with.

    ``self.init_kwargs`` is what :func:`save_model` stores in config.json, so a subclass only has
    to take JSON-serialisable constructor arguments to become saveable.
    """

    init_kwargs: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        orig_init = cls.__dict__.get("__init__")
        if orig_init is None:
            return
        sig = inspect.signature(orig_init)

        @functools.wraps(orig_init)
        def __init__(self, *args: Any, **kw: Any) -> None:
            # The outermost constructor call (the concrete class) records the kwargs.
            if "_recording_init" not in self.__dict__:
                bound = sig.bind(self, *args, **kw)
                bound.apply_defaults()
                recorded = dict(bound.arguments)
                recorded.pop("self")
                for name, p in sig.parameters.items():
                    if p.kind is inspect.Parameter.VAR_KEYWORD and name in recorded:
                        recorded.update(recorded.pop(name))
                    elif p.kind is inspect.Parameter.VAR_POSITIONAL and name in recorded:
                        raise TypeError(f"{cls.__name__}: *args are not supported by ConfigModule")
                object.__setattr__(self, "_recording_init", True)
                orig_init(self, *args, **kw)
                object.__setattr__(self, "init_kwargs", recorded)
            else:
                orig_init(self, *args, **kw)

        cls.__init__ = __init__  # type: ignore[method-assign]


def save_model(
    model: nn.Module,
    folder: str | os.PathLike,
    metadata: dict[str, Any] | None = None,
    kwargs_update: dict[str, Any] | None = None,
) -> Path:
    """Write ``folder/config.json`` and ``folder/model.safetensors`` atomically.

    ``kwargs_update`` replaces constructor kwargs in the saved config only (e.g. a compute
    ``dtype`` chosen for training that should not follow the weights to other machines)."""
    from safetensors.torch import save_file

    name = type(model).__name__
    if _MODEL_CLASSES.get(name) is not type(model):
        raise TypeError(f"{name} is not registered with @register_model; cannot save it")
    if not hasattr(model, "init_kwargs"):
        raise TypeError(f"{name} does not derive from ConfigModule; its kwargs are unknown")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # safetensors refuses shared / non-contiguous storage: store independent contiguous copies.
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt", "class": name})
    config = {
        "class": name,
        "format_version": FORMAT_VERSION,
        "latentatlas_version": __version__,
        "kwargs": {**model.init_kwargs, **(kwargs_update or {})},
        "metadata": metadata or {},
    }
    atomic_write_json(folder / CONFIG_NAME, config)
    return folder


def read_config(folder: str | os.PathLike) -> dict[str, Any]:
    folder = Path(folder)
    cfg_path = folder / CONFIG_NAME
    if not cfg_path.is_file():
        raise CheckpointError(f"{folder}: no {CONFIG_NAME}; not a latentatlas model folder")
    try:
        config = json.loads(cfg_path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{cfg_path}: not valid JSON ({e})") from e
    if not isinstance(config, dict) or "class" not in config or "kwargs" not in config:
        raise CheckpointError(f"{cfg_path}: missing 'class' or 'kwargs'")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{cfg_path}: format_version {version!r} is not supported by this latentatlas "
            f"(supports <= {FORMAT_VERSION}); upgrade latentatlas"
        )
    return config


def load_model(
    folder: str | os.PathLike, map_location: str | torch.device = "cpu", strict: bool = True
) -> nn.Module:
    """Instantiate the registered class named in config.json and load model.safetensors."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    config = read_config(folder)
    classes = model_classes()
    cls = classes.get(config["class"])
    if cls is None:
        raise CheckpointError(
            f"{folder / CONFIG_NAME}: unknown model class {config['class']!r}; "
            f"known: {', '.join(sorted(classes)) or '(none)'}. Load it with latentatlas.load, "
            "which registers the built-in classes, or import the module defining it first"
        )
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{folder}: no {WEIGHTS_NAME}")
    try:
        model = cls(**config["kwargs"])
    except TypeError as e:
        raise CheckpointError(
            f"{folder / CONFIG_NAME}: kwargs do not fit {cls.__name__}: {e}"
        ) from e
    try:
        state = load_file(str(weights), device=str(map_location))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights}: cannot read safetensors file ({e})") from e
    own = model.state_dict()
    if strict:
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise CheckpointError(
                f"{weights}: keys do not match {cls.__name__}: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}"
            )
    for k, v in state.items():
        if k in own and own[k].shape != v.shape:
            raise CheckpointError(
                f"{weights}: {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}"
            )
    model.load_state_dict(state, strict=strict)
    model.model_folder = str(folder)  # type: ignore[attr-defined]
    model.model_metadata = config.get("metadata", {})  # type: ignore[attr-defined]
    return model.eval()
