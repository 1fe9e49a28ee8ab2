"""Save / load models as a folder: ``config.json`` + ``model.safetensors`` (the hub convention).

config.json holds the registered class name, the format version, the model's declared config
(the constructor arguments named by the class's ``config_fields``; runtime-only ones such as a
compute ``dtype`` are excluded by its ``runtime_fields``) under ``kwargs``, and free metadata.
Loading only ever instantiates classes registered with :func:`register_model`; nothing in the
folder is executed or unpickled.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from pathlib import Path
from typing import Any, ClassVar

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
    """nn.Module whose config (the constructor arguments saved to config.json) is declared.

    A subclass declares, as class attributes, which constructor arguments define the model and
    which only choose how this machine computes with it (in the spirit of diffusers'
    ``register_to_config`` / ``ignore_for_config``):

    ``config_fields``
        Constructor argument names saved to config.json: what a model folder must say to rebuild
        the same network. ``None`` (the default for ad-hoc classes) means every constructor
        argument that is not a runtime field; every built-in model declares its tuple.
    ``runtime_fields``
        Constructor argument names that are runtime-only (compute ``dtype``, ``device``, the
        like): recorded on the instance, never saved, and ignored when an older config.json
        still carries them, so the loading machine's defaults apply.

    The declaration is checked when the class is defined: with ``config_fields`` declared, each
    named constructor argument must be in exactly one of the two tuples, and each declared name
    must be a constructor argument (or go to ``**kwargs``).

    Instances record the arguments their constructor was called with (defaults applied):
    ``init_kwargs`` holds all of them (config and runtime: enough to rebuild this very
    instance), :attr:`config_kwargs` the declared config that :func:`save_model` writes.
    """

    #: Constructor arguments saved to config.json (None: every non-runtime argument).
    config_fields: ClassVar[tuple[str, ...] | None] = None
    #: Constructor arguments that are runtime-only (dtype, device): never saved.
    runtime_fields: ClassVar[tuple[str, ...]] = ()
    init_kwargs: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        orig_init = cls.__dict__.get("__init__")
        if orig_init is not None:
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
                            raise TypeError(
                                f"{cls.__name__}: *args are not supported by ConfigModule"
                            )
                    object.__setattr__(self, "_recording_init", True)
                    orig_init(self, *args, **kw)
                    object.__setattr__(self, "init_kwargs", recorded)
                else:
                    orig_init(self, *args, **kw)

            cls.__init__ = __init__  # type: ignore[method-assign]
        _check_declaration(cls)

    @property
    def config_kwargs(self) -> dict[str, Any]:
        """The declared config: the constructor arguments :func:`save_model` writes."""
        return config_kwargs_of(type(self), self.init_kwargs)

    @property
    def runtime_kwargs(self) -> dict[str, Any]:
        """The runtime-only constructor arguments this instance was built with."""
        runtime = set(type(self).runtime_fields)
        return {k: v for k, v in self.init_kwargs.items() if k in runtime}


def _init_parameters(cls: type) -> tuple[list[str], bool]:
    """(named constructor parameters, whether the constructor takes ``**kwargs``)."""
    sig = inspect.signature(cls.__init__)  # follows __wrapped__ to the declared signature
    names, var_kw = [], False
    for i, (name, p) in enumerate(sig.parameters.items()):
        if i == 0 and name == "self":
            continue
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            var_kw = True
        elif p.kind is not inspect.Parameter.VAR_POSITIONAL:
            names.append(name)
    return names, var_kw


def _check_declaration(cls: type) -> None:
    """Validate ``config_fields`` / ``runtime_fields`` against the constructor (TypeError)."""
    runtime = tuple(cls.runtime_fields)  # type: ignore[attr-defined]
    config = cls.config_fields  # type: ignore[attr-defined]
    if isinstance(runtime, str) or (config is not None and isinstance(config, str)):
        raise TypeError(f"{cls.__name__}: config_fields / runtime_fields must be tuples of names")
    if "__init__" not in vars(cls) and "config_fields" not in vars(cls) and (
        "runtime_fields" not in vars(cls)
    ):
        return  # nothing new to check
    params, var_kw = _init_parameters(cls)
    declared = set(runtime) | set(config or ())
    both = set(runtime) & set(config or ())
    if both:
        raise TypeError(f"{cls.__name__}: {sorted(both)} declared both config and runtime")
    unknown = [n for n in declared if n not in params]
    if unknown and not var_kw:
        raise TypeError(
            f"{cls.__name__}: declared fields {sorted(unknown)} are not constructor arguments"
        )
    if config is not None:
        undeclared = [n for n in params if n not in declared]
        if undeclared:
            raise TypeError(
                f"{cls.__name__}: constructor arguments {undeclared} are neither in config_fields "
                "nor in runtime_fields; declare each one"
            )


def config_kwargs_of(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The part of constructor ``kwargs`` that ``cls`` declares as config (see ConfigModule)."""
    runtime = set(getattr(cls, "runtime_fields", ()))
    fields = getattr(cls, "config_fields", None)
    if fields is None:
        return {k: v for k, v in kwargs.items() if k not in runtime}
    stray = sorted(k for k in kwargs if k not in runtime and k not in fields)
    if stray:
        raise TypeError(
            f"{cls.__name__}: constructor arguments {stray} are not declared in config_fields "
            "or runtime_fields; they would not be saved"
        )
    return {k: kwargs[k] for k in fields if k in kwargs}


def save_model(
    model: nn.Module,
    folder: str | os.PathLike,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``folder/config.json`` and ``folder/model.safetensors`` atomically.

    config.json's ``kwargs`` are the model's declared config (:attr:`ConfigModule.config_kwargs`):
    runtime-only constructor arguments (a compute ``dtype`` chosen for training, a device) are
    excluded by the class's ``runtime_fields`` declaration, so they never follow the weights to
    other machines."""
    from safetensors.torch import save_file

    name = type(model).__name__
    if _MODEL_CLASSES.get(name) is not type(model):
        raise TypeError(f"{name} is not registered with @register_model; cannot save it")
    if not hasattr(model, "init_kwargs"):
        raise TypeError(f"{name} does not derive from ConfigModule; its kwargs are unknown")
    kwargs = config_kwargs_of(type(model), model.init_kwargs)
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
        "kwargs": kwargs,
        "metadata": metadata or {},
    }
    atomic_write_json(folder / CONFIG_NAME, config)
    return folder


#: Bounds of what a model folder may make the loader read or allocate (override with the
#: environment variables of the same names).
MAX_CONFIG_BYTES = 1 << 20
MAX_SAFETENSORS_HEADER_BYTES = 100 << 20
#: safetensors dtype name -> (item size, kind): f float, i/u integer, b bool, c complex.
SAFETENSORS_DTYPES = {
    "F64": (8, "f"), "F32": (4, "f"), "F16": (2, "f"), "BF16": (2, "f"),
    "F8_E4M3": (1, "f"), "F8_E5M2": (1, "f"), "I64": (8, "i"), "I32": (4, "i"),
    "I16": (2, "i"), "I8": (1, "i"), "U64": (8, "u"), "U32": (4, "u"), "U16": (2, "u"),
    "U8": (1, "u"), "BOOL": (1, "b"), "C64": (8, "c"), "C128": (16, "c"),
}


def _bound(name: str, default: int) -> int:
    env = os.environ.get(f"LATENTATLAS_{name}")
    return int(env) if env else default


def read_safetensors_header(path: str | os.PathLike) -> dict[str, tuple[str, tuple[int, ...]]]:
    """The tensors a safetensors file declares (name -> (dtype, shape)), checked before anything
    is allocated: the header's length against the file size and ``MAX_SAFETENSORS_HEADER_BYTES``,
    every tensor's byte range inside the file and matching its dtype and shape."""
    path = Path(path)
    size = path.stat().st_size
    limit = _bound("MAX_SAFETENSORS_HEADER_BYTES", MAX_SAFETENSORS_HEADER_BYTES)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: truncated safetensors file ({size} bytes)")
        n = int.from_bytes(head, "little")
        if n > size - 8 or n > limit:
            raise CheckpointError(f"{path}: safetensors header declares {n} bytes; the file has "
                                  f"{size} (limit {limit}): corrupt or not a safetensors file")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{path}: safetensors header is not valid JSON ({e})") from e
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: safetensors header is not a JSON object")
    data = size - 8 - n
    out: dict[str, tuple[str, tuple[int, ...]]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (lo, hi) = entry["dtype"], entry["shape"], entry["data_offsets"]
            shape = tuple(int(s) for s in shape)
            lo, hi = int(lo), int(hi)
        except (TypeError, KeyError, ValueError) as e:
            raise CheckpointError(f"{path}: malformed header entry {name!r}") from e
        if dtype not in SAFETENSORS_DTYPES:
            raise CheckpointError(f"{path}: tensor {name!r} has unknown dtype {dtype!r}")
        count = 1
        for s in shape:
            if s < 0:
                raise CheckpointError(f"{path}: tensor {name!r} has a negative dimension")
            count *= s
        if not 0 <= lo <= hi <= data or hi - lo != count * SAFETENSORS_DTYPES[dtype][0]:
            raise CheckpointError(
                f"{path}: tensor {name!r} declares shape {list(shape)} {dtype} at bytes "
                f"[{lo}, {hi}) of {data}: does not fit the file (truncated or corrupt)")
        out[name] = (dtype, shape)
    return out


def _check_declared_model(cls: type, kwargs: dict[str, Any], weights: Path,
                          declared: dict[str, tuple[str, tuple[int, ...]]]) -> None:
    """Build ``cls(**kwargs)`` on the meta device (no memory) and compare it with the file's
    declared tensors before the real model is allocated: the config cannot make the loader
    allocate more than the weights file holds, and weights of a non-float dtype for float
    parameters are refused, not cast."""
    try:
        with torch.device("meta"):
            meta = cls(**kwargs)
    except Exception:  # classes that compute in __init__: checked after loading instead
        return
    own = meta.state_dict()
    need = sum(t.numel() * t.element_size() for t in own.values())
    held = weights.stat().st_size
    if need > 2 * held + (1 << 20):
        raise CheckpointError(
            f"{weights.parent / CONFIG_NAME}: declares a {cls.__name__} of {need / 2**20:.1f} MiB "
            f"but {weights.name} holds {held / 2**20:.1f} MiB: config.json does not match the "
            "weights")
    for k, t in own.items():
        if k in declared:
            kind = SAFETENSORS_DTYPES[declared[k][0]][1]
            if t.is_floating_point() and kind != "f":
                raise CheckpointError(f"{weights}: {k} is stored as {declared[k][0]}, a "
                                      f"{cls.__name__} needs floating point weights (refused, "
                                      "not cast)")


def read_config(folder: str | os.PathLike) -> dict[str, Any]:
    folder = Path(folder)
    cfg_path = folder / CONFIG_NAME
    if not cfg_path.is_file():
        raise CheckpointError(f"{folder}: no {CONFIG_NAME}; not a latentatlas model folder")
    limit = _bound("MAX_CONFIG_BYTES", MAX_CONFIG_BYTES)
    if cfg_path.stat().st_size > limit:
        raise CheckpointError(f"{cfg_path}: {cfg_path.stat().st_size} bytes, more than a config "
                              f"may hold ({limit}); not a latentatlas config")
    try:
        config = json.loads(cfg_path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
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
    kwargs = config["kwargs"]
    if not isinstance(kwargs, dict):
        raise CheckpointError(f"{folder / CONFIG_NAME}: 'kwargs' must be a JSON object")
    # Runtime-only arguments written by older versions (e.g. "dtype") are the loading
    # machine's choice: drop them so the class defaults apply.
    runtime = set(getattr(cls, "runtime_fields", ()))
    kwargs = {k: v for k, v in kwargs.items() if k not in runtime}
    try:
        declared = read_safetensors_header(weights)
    except OSError as e:
        raise CheckpointError(f"{weights}: cannot read ({e})") from e
    _check_declared_model(cls, kwargs, weights, declared)
    try:
        model = cls(**kwargs)
    except (TypeError, ValueError) as e:
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
        if k in own and own[k].is_floating_point() and not v.is_floating_point():
            raise CheckpointError(f"{weights}: {k} is stored as {v.dtype}, floating point "
                                  "weights are needed (refused, not cast)")
        if k in own and v.is_floating_point() and not torch.isfinite(v).all():
            raise CheckpointError(f"{weights}: {k} holds NaN or Inf values")
    model.load_state_dict(state, strict=strict)
    model.model_folder = str(folder)  # type: ignore[attr-defined]
    model.model_metadata = config.get("metadata", {})  # type: ignore[attr-defined]
    return model.eval()
