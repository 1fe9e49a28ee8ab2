"""Load users' StyleGAN2 checkpoints without executing anything from the file.

Supported formats (autodetected by :func:`load_checkpoint`):

- ``"stylegan2-ada"``: NVlabs StyleGAN2-ADA (PyTorch) network pickles, ``dict(G, D, G_ema, ...)``.
  Every network is a "persistent class" whose reduce emits
  ``torch_utils.persistence._reconstruct_persistent_obj(meta)``; the official loader *executes*
  ``meta["module_src"]``. We never do: a restricted :class:`pickle.Unpickler` allow-lists a handful
  of globals (the reconstruct function as a stub that keeps ``meta["state"]``, ``EasyDict`` ->
  dict, ``OrderedDict``, ``set``, torch's tensor / parameter rebuild functions, storages through
  ``torch.load(weights_only=True)``, numpy scalars / dtypes / arrays) and refuses everything else
  *before* anything is called, naming the global. The modules' ``_parameters`` / ``_buffers`` /
  ``_modules`` are walked into a flat state dict with the official key names, and the generator is
  rebuilt from ``_init_kwargs`` (nested ``mapping_kwargs`` / ``synthesis_kwargs``).
- ``"stylegan3-repo"``: the StyleGAN2 networks of the NVlabs StyleGAN3 repository: the same pickle
  layout, with the synthesis kwargs flattened into the generator kwargs and different defaults
  (``conv_clamp=256``, ``num_fp16_res=4``).
- ``"rosinality"``: rosinality/stylegan2-pytorch ``torch.save`` checkpoints
  ``{g_ema, latent_avg, args, ...}``, read with ``torch.load(weights_only=True)`` (plus
  ``argparse.Namespace`` allow-listed); the keys are renamed and reshaped to the official ones
  (renames and reshapes only: no flips, no gains).
- a latentatlas model folder (``config.json`` + ``model.safetensors``).

Keys are matched strictly: a missing, unexpected or mis-shaped tensor is a
:class:`~latentatlas.utils.errors.CheckpointError`, as is a truncated or unknown file.
"""

from __future__ import annotations

import argparse
import collections
import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from latentatlas.io.persistence import CONFIG_NAME, load_model, read_config, save_model
from latentatlas.io.unpickle import NUMPY_GLOBALS, restricted_load
from latentatlas.models.layers import setup_filter
from latentatlas.models.stylegan2 import StyleGAN2Generator
from latentatlas.utils.errors import CheckpointError
from latentatlas.utils.runinfo import write_run_record

FORMATS = ("stylegan2-ada", "stylegan3-repo", "rosinality", "latentatlas")

# Generator options that only change the official runtime (precision, fused-op choice): ignored.
_RUNTIME_ONLY = {"num_fp16_res", "fp16_channels_last", "fused_modconv_default"}
# Options with a single supported value (anything else changes the architecture).
_FIXED = {
    "architecture": "skip",
    "resample_filter": [1, 3, 3, 1],
    "use_noise": True,
    "activation": "lrelu",
    "kernel_size": 3,
}
_SYNTHESIS_KEYS = {"channel_base", "channel_max", "conv_clamp"}
_MAPPING_KEYS = {
    "num_layers": "mapping_layers",
    "embed_features": "embed_features",
    "layer_features": "layer_features",
    "lr_multiplier": "mapping_lr_multiplier",
    "w_avg_beta": "w_avg_beta",
}
_POSITIONAL = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")


# --------------------------------------------------------------------------- restricted unpickler
class PersistentObject:
    """What ``_reconstruct_persistent_obj(meta)`` becomes: the pickled module's class name and
    ``__dict__`` (``state``). Its ``module_src`` is kept as text only and never executed."""

    def __init__(self, meta: Any) -> None:
        if not isinstance(meta, dict) or not isinstance(meta.get("state"), dict):
            raise CheckpointError("persistent object without a 'state' dict: not a StyleGAN pickle")
        self.class_name = str(meta.get("class_name", "?"))
        self.version = meta.get("version")
        self.state: dict[str, Any] = meta["state"]
        self.module_src_chars = len(meta.get("module_src") or "")

    def __repr__(self) -> str:
        return f"PersistentObject({self.class_name})"


class _EasyDict(dict):
    """Stand-in for dnnlib.util.EasyDict: a plain dict (attribute access is never needed)."""


def _load_storage_bytes(data: Any) -> Any:
    if not isinstance(data, (bytes, bytearray)):
        raise CheckpointError("torch storage payload is not bytes")
    try:
        return torch.load(io.BytesIO(bytes(data)), weights_only=True, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any failure of the nested reader is a bad file
        raise CheckpointError(f"cannot read an embedded torch storage: {e}") from e


def _allowed_globals() -> dict[tuple[str, str], Any]:
    return {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): PersistentObject,
        ("dnnlib.util", "EasyDict"): _EasyDict,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
        ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
        **NUMPY_GLOBALS,
    }


def safe_unpickle(path: str | os.PathLike) -> Any:
    """Unpickle ``path`` with the restricted unpickler (:mod:`latentatlas.io.unpickle`) and the
    allow-list of StyleGAN network pickles."""
    return restricted_load(Path(path), _allowed_globals(), what="StyleGAN network data")


# --------------------------------------------------------------------------- official pickles
def flatten_module_state(obj: PersistentObject, prefix: str = "") -> dict[str, torch.Tensor]:
    """Walk ``_parameters`` / persistent ``_buffers`` / ``_modules`` into a flat state dict."""
    out: dict[str, torch.Tensor] = {}
    st = obj.state
    non_persistent = st.get("_non_persistent_buffers_set") or set()
    for kind in ("_parameters", "_buffers"):
        for name, t in (st.get(kind) or {}).items():
            if t is None or (kind == "_buffers" and name in non_persistent):
                continue
            if not isinstance(t, torch.Tensor):
                raise CheckpointError(f"{prefix}{name}: expected a tensor, got {type(t).__name__}")
            out[prefix + name] = t.detach()
    for name, child in (st.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentObject):
            raise CheckpointError(
                f"{prefix}{name}: unexpected sub-module type {type(child).__name__}"
            )
        out.update(flatten_module_state(child, f"{prefix}{name}."))
    return out


def _check_fixed(key: str, value: Any, source: str) -> None:
    expected = _FIXED[key]
    got = list(value) if isinstance(value, (list, tuple)) else value
    if got != expected:
        raise CheckpointError(
            f"{source}: generator option {key}={value!r} is not supported (only {expected!r})"
        )


#: Synthesis kwargs of the alias-free StyleGAN3 generators (configs T / R): not StyleGAN2.
_STYLEGAN3_KEYS = {"channels_max", "num_layers", "num_critical", "first_cutoff", "first_stopband",
                   "last_stopband_rel", "margin_size", "output_scale", "conv_kernel",
                   "filter_size", "lrelu_upsampling", "use_radial_filters", "magnitude_ema_beta"}
STYLEGAN3_HINT = ("an alias-free StyleGAN3 generator (config T or R), which is not supported: "
                  "convert a StyleGAN2 pickle (StyleGAN2-ADA, or the StyleGAN3 repo's stylegan2 "
                  "config)")


def stored_network_settings(net: PersistentObject) -> dict[str, Any]:
    """``conv_clamp`` and ``w_avg_beta`` as the pickle's layers store them (the first
    ``SynthesisLayer`` / ``ToRGBLayer``'s ``conv_clamp``, the ``MappingNetwork``'s
    ``w_avg_beta``), whatever repository wrote it; keys absent when not stored."""
    found: dict[str, Any] = {}

    def walk(obj: Any, depth: int = 0) -> None:
        if not isinstance(obj, PersistentObject) or depth > 8:
            return
        st = obj.state
        if obj.class_name in ("SynthesisLayer", "ToRGBLayer") and "conv_clamp" in st:
            found.setdefault("conv_clamp", st["conv_clamp"])
        if obj.class_name == "MappingNetwork" and "w_avg_beta" in st:
            found.setdefault("w_avg_beta", st["w_avg_beta"])
        for child in (st.get("_modules") or {}).values():
            walk(child, depth + 1)

    walk(net)
    out: dict[str, Any] = {}
    if "conv_clamp" in found:
        value = found["conv_clamp"]
        out["conv_clamp"] = None if value is None else float(value)
    if found.get("w_avg_beta") is not None:
        out["w_avg_beta"] = float(found["w_avg_beta"])
    return out


def official_generator_kwargs(
    init_args: tuple | list, init_kwargs: dict[str, Any], source: str = "<pickle>"
) -> tuple[dict[str, Any], str]:
    """Map official ``Generator`` constructor arguments to :class:`StyleGAN2Generator` kwargs.

    Returns (kwargs, format): "stylegan2-ada" when ``synthesis_kwargs`` is nested, else
    "stylegan3-repo" (flattened synthesis kwargs, defaults conv_clamp=256, num_fp16_res=4).
    """
    kw = dict(zip(_POSITIONAL, init_args, strict=False))
    kw.update(init_kwargs)
    missing = [k for k in ("z_dim", "w_dim", "img_resolution", "img_channels") if k not in kw]
    if missing:
        raise CheckpointError(f"{source}: generator kwargs lack {missing}")
    mapping = dict(kw.pop("mapping_kwargs", None) or {})
    nested = dict(kw.get("synthesis_kwargs") or {})
    if _STYLEGAN3_KEYS & (set(kw) | set(nested)):
        raise CheckpointError(f"{source}: {STYLEGAN3_HINT}")
    if "synthesis_kwargs" in kw:
        fmt = "stylegan2-ada"
        synthesis = dict(kw.pop("synthesis_kwargs") or {})
        defaults = {"conv_clamp": None, "num_fp16_res": 0}
    else:
        fmt = "stylegan3-repo"
        synthesis = {k: kw.pop(k) for k in list(kw) if k not in _POSITIONAL}
        defaults = {"conv_clamp": 256, "num_fp16_res": 4}
    out: dict[str, Any] = {k: int(kw[k]) for k in _POSITIONAL if k in kw}
    out.setdefault("c_dim", 0)
    out["conv_clamp"] = defaults["conv_clamp"]
    out["num_fp16_res"] = defaults["num_fp16_res"]
    for key, value in synthesis.items():
        if key in _SYNTHESIS_KEYS:
            out[key] = value
        elif key == "num_fp16_res":
            out["num_fp16_res"] = int(value)
        elif key in _RUNTIME_ONLY:
            continue
        elif key in _FIXED:
            _check_fixed(key, value, source)
        else:
            raise CheckpointError(f"{source}: unsupported synthesis option {key}={value!r}")
    for key, value in mapping.items():
        if key in _MAPPING_KEYS:
            out[_MAPPING_KEYS[key]] = value
        elif key == "activation":
            _check_fixed(key, value, source)
        else:
            raise CheckpointError(f"{source}: unsupported mapping option {key}={value!r}")
    if out.get("conv_clamp") is not None:
        out["conv_clamp"] = float(out["conv_clamp"])
    for key in ("channel_base", "channel_max", "mapping_layers"):
        if key in out:
            out[key] = int(out[key])
    return out, fmt


def _drop_resample_filters(state: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Official persistent ``resample_filter`` buffers: verify they are ours, then drop them."""
    expected = setup_filter()
    out = {}
    for key, value in state.items():
        if key.split(".")[-1] == "resample_filter":
            if value.shape != expected.shape or not torch.allclose(value.float(), expected):
                raise CheckpointError(f"{source}: {key} is not the [1, 3, 3, 1] filter")
            continue
        out[key] = value
    return out


def _load_state_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        hint = ""
        if any(k.startswith("synthesis.L") or ".L0_" in k for k in unexpected):
            hint = f" ({STYLEGAN3_HINT})"
        raise CheckpointError(
            f"{source}: keys do not match StyleGAN2Generator{hint}: missing {missing[:6]}"
            f"{'...' if len(missing) > 6 else ''}, unexpected {unexpected[:6]}"
            f"{'...' if len(unexpected) > 6 else ''}"
        )
    for key, value in state.items():
        if tuple(own[key].shape) != tuple(value.shape):
            raise CheckpointError(
                f"{source}: {key} has shape {tuple(value.shape)}, expected {tuple(own[key].shape)}"
            )
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)


def load_official_pickle(path: str | os.PathLike, network: str = "G_ema") -> StyleGAN2Generator:
    """Load the generator ``network`` ("G_ema" or "G") of an NVlabs network pickle, safely."""
    path = Path(path)
    data = safe_unpickle(path)
    if isinstance(data, int):
        raise CheckpointError(f"{path}: a legacy (pre-1.6) torch.save file, not a network pickle")
    if isinstance(data, PersistentObject):
        net = data
    elif isinstance(data, dict):
        if network not in data:
            raise CheckpointError(
                f"{path}: no {network!r} in the pickle (has {sorted(map(str, data))})"
            )
        net = data[network]
    else:
        raise CheckpointError(f"{path}: unexpected pickle content {type(data).__name__}")
    if not isinstance(net, PersistentObject) or not isinstance(getattr(net, "state", None), dict):
        raise CheckpointError(f"{path}: {network} is not a persistent network object")
    class_name = getattr(net, "class_name", None)
    if class_name != "Generator":
        raise CheckpointError(f"{path}: {network} is a {class_name}, expected a Generator")
    init_args = net.state.get("_init_args") or ()
    init_kwargs = net.state.get("_init_kwargs")
    if not isinstance(init_kwargs, dict) or not isinstance(init_args, (tuple, list)):
        raise CheckpointError(f"{path}: {network} has no valid _init_args / _init_kwargs")
    try:
        kwargs, fmt = official_generator_kwargs(tuple(init_args), dict(init_kwargs), str(path))
        # What the layers store wins over the repository's defaults.
        kwargs.update(stored_network_settings(net))
        state = _drop_resample_filters(flatten_module_state(net), str(path))
    except CheckpointError:
        raise  # the converter's own message (e.g. the StyleGAN3 hint), not wrapped again
    except (AttributeError, TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: malformed network state ({type(e).__name__}: {e})") from e
    try:
        model = StyleGAN2Generator(**kwargs)
    except (TypeError, ValueError) as e:
        raise CheckpointError(
            f"{path}: cannot build a StyleGAN2Generator from {kwargs}: {e}"
        ) from e
    _load_state_strict(model, state, str(path))
    model.model_metadata = {"source": str(path), "source_format": fmt, "network": network}
    return model.eval()


# --------------------------------------------------------------------------- rosinality
def _infer_channels(channels: dict[int, int], source: str) -> tuple[int, int]:
    """(channel_base, channel_max) with min(base // r, max) == channels[r] for every r."""
    channel_max = max(channels.values())
    uncapped = [c * r for r, c in channels.items() if c < channel_max]
    base = max(uncapped) if uncapped else channel_max * max(channels)
    if any(min(base // r, channel_max) != c for r, c in channels.items()):
        raise CheckpointError(
            f"{source}: channel widths {channels} do not follow min(base // res, max)"
        )
    return base, channel_max


def rosinality_to_official(
    sd: dict[str, torch.Tensor], source: str = "<checkpoint>"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Rename / reshape a rosinality ``g_ema`` state dict to official keys; infer the config."""
    sd = dict(sd)
    out: dict[str, torch.Tensor] = {}

    def take(key: str) -> torch.Tensor:
        if key not in sd:
            raise CheckpointError(f"{source}: missing key {key!r} (not a rosinality StyleGAN2?)")
        return sd.pop(key)

    n_mlp = 0
    while f"style.{n_mlp + 1}.weight" in sd:
        out[f"mapping.fc{n_mlp}.weight"] = take(f"style.{n_mlp + 1}.weight")
        out[f"mapping.fc{n_mlp}.bias"] = take(f"style.{n_mlp + 1}.bias")
        n_mlp += 1
    if n_mlp == 0:
        raise CheckpointError(f"{source}: no style.1.weight: not a rosinality generator")
    n_convs = sum(1 for k in sd if k.startswith("convs.") and k.endswith(".conv.weight"))
    if n_convs % 2:
        raise CheckpointError(f"{source}: odd number of convs ({n_convs})")
    resolution = 2 ** (2 + n_convs // 2)

    def styled(src: str, dst: str, noise_idx: int) -> None:
        out[f"{dst}.weight"] = take(f"{src}.conv.weight").squeeze(0)
        out[f"{dst}.affine.weight"] = take(f"{src}.conv.modulation.weight")
        out[f"{dst}.affine.bias"] = take(f"{src}.conv.modulation.bias")
        out[f"{dst}.noise_strength"] = take(f"{src}.noise.weight").reshape([])
        out[f"{dst}.bias"] = take(f"{src}.activate.bias")
        noise = take(f"noises.noise_{noise_idx}")  # [1, 1, r, r]
        out[f"{dst}.noise_const"] = noise.reshape(noise.shape[-2], noise.shape[-1])

    def torgb(src: str, dst: str) -> None:
        out[f"{dst}.weight"] = take(f"{src}.conv.weight").squeeze(0)
        out[f"{dst}.affine.weight"] = take(f"{src}.conv.modulation.weight")
        out[f"{dst}.affine.bias"] = take(f"{src}.conv.modulation.bias")
        out[f"{dst}.bias"] = take(f"{src}.bias").reshape(-1)

    out["synthesis.b4.const"] = take("input.input").squeeze(0)
    styled("conv1", "synthesis.b4.conv1", 0)
    torgb("to_rgb1", "synthesis.b4.torgb")
    for j in range(n_convs // 2):
        res = 2 ** (j + 3)
        styled(f"convs.{2 * j}", f"synthesis.b{res}.conv0", 2 * j + 1)
        styled(f"convs.{2 * j + 1}", f"synthesis.b{res}.conv1", 2 * j + 2)
        torgb(f"to_rgbs.{j}", f"synthesis.b{res}.torgb")
    # The blur / upsample kernels are buffers rebuilt from blur_kernel: verify, then drop them.
    expected_kernel = setup_filter() * 4
    for key in [k for k in sd if k.endswith(".kernel")]:
        kernel = sd.pop(key)
        if kernel.shape != expected_kernel.shape or not torch.allclose(
            kernel.float(), expected_kernel
        ):
            raise CheckpointError(f"{source}: {key} is not the [1, 3, 3, 1] blur kernel")
    if sd:
        raise CheckpointError(f"{source}: unexpected keys {sorted(sd)[:6]}")
    channels = {4: out["synthesis.b4.const"].shape[0]}
    for j in range(n_convs // 2):
        channels[2 ** (j + 3)] = out[f"synthesis.b{2 ** (j + 3)}.conv0.weight"].shape[0]
    base, cmax = _infer_channels(channels, source)
    w_dim = out["mapping.fc0.weight"].shape[1]
    kwargs = {
        "z_dim": int(w_dim),
        "w_dim": int(out[f"mapping.fc{n_mlp - 1}.weight"].shape[0]),
        "c_dim": 0,
        "img_resolution": int(resolution),
        "img_channels": int(out["synthesis.b4.torgb.weight"].shape[0]),
        "mapping_layers": n_mlp,
        "channel_base": int(base),
        "channel_max": int(cmax),
        "conv_clamp": None,
    }
    return out, kwargs


def load_rosinality(path: str | os.PathLike, network: str = "g_ema") -> StyleGAN2Generator:
    """Load a rosinality/stylegan2-pytorch ``torch.save`` checkpoint's generator."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message ends with advice to reload with weights_only=False, which would run
        # the file's code: keep only its first line.
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        keep = [ln for ln in lines if "weights_only" not in ln and "torch.load" not in ln
                and "trusted source" not in ln]
        first = keep[0] if keep else "unsupported content"
        raise CheckpointError(
            f"{path}: refused by the weights-only loader (nothing was executed; the file holds "
            f"objects that are not plain tensors): {first}"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path}: truncated or corrupt torch checkpoint ({e})") from e
    if not isinstance(ckpt, dict) or network not in ckpt:
        keys = sorted(map(str, ckpt)) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{path}: no {network!r} generator state in the checkpoint ({keys})")
    sd = ckpt[network]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(f"{path}: {network} is not a state dict of tensors")
    state, kwargs = rosinality_to_official(sd, str(path))
    model = StyleGAN2Generator(**kwargs)
    latent_avg = ckpt.get("latent_avg")
    note = "latent_avg"
    if isinstance(latent_avg, torch.Tensor):
        state["mapping.w_avg"] = latent_avg.reshape(-1)
    else:
        # Older checkpoints have no latent_avg: estimate it (seeded) from 4096 mapped z.
        state["mapping.w_avg"] = torch.zeros(kwargs["w_dim"])
        note = "estimated"
    _load_state_strict(model, state, str(path))
    if note == "estimated":
        with torch.no_grad():
            model.mapping.w_avg.copy_(model.z_to_w(model.sample_z(4096, 0)).mean(0))
    model.model_metadata = {"source": str(path), "source_format": "rosinality", "w_avg": note}
    return model.eval()


# --------------------------------------------------------------------------- entry points
def detect_format(path: str | os.PathLike) -> str:
    """ "latentatlas" (model folder), "rosinality" (zip) or "pickle" (NVlabs network pickle)."""
    path = Path(path)
    if path.is_dir():
        if (path / CONFIG_NAME).is_file():
            return "latentatlas"
        raise CheckpointError(f"{path}: a folder without {CONFIG_NAME}: not a latentatlas model")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:4] == b"PK\x03\x04":
        return "rosinality"
    if head[:1] == b"\x80":
        return "pickle"
    raise CheckpointError(
        f"{path}: unknown checkpoint format (not a network pickle, a torch.save zip or a "
        "latentatlas model folder)"
    )


def load_checkpoint(path: str | os.PathLike, network: str | None = None) -> torch.nn.Module:
    """Load a StyleGAN2 generator from any supported checkpoint (format autodetected).

    Converted models compute in bf16 where the CPU / GPU does it natively (``dtype="auto"``),
    so their images differ from the official fp32 output by bf16 rounding; ``set_impl(dtype=
    "float32")`` computes in fp32, and bit-exact official output needs the reference
    implementation (``impl="reference"``, fp32).

    ``network`` picks the generator inside the file ("G_ema" / "G" for NVlabs pickles, "g_ema" /
    "g" for rosinality); the EMA generator by default. Returns an eval-mode StyleGAN2Generator
    whose ``model_metadata["source_format"]`` names the detected format.
    """
    fmt = detect_format(path)
    if fmt == "latentatlas":
        return load_model(path)
    if fmt == "rosinality":
        return load_rosinality(path, network or "g_ema")
    return load_official_pickle(path, network or "G_ema")


def convert(
    path: str | os.PathLike, out_folder: str | os.PathLike, network: str | None = None
) -> Path:
    """Convert a checkpoint to a latentatlas model folder (config.json + model.safetensors)."""
    model = load_checkpoint(path, network)
    metadata = dict(getattr(model, "model_metadata", {}) or {})
    metadata.setdefault("source", str(path))
    return save_model(model, out_folder, metadata=metadata)


def convert_with_record(
    path: str | os.PathLike,
    out_folder: str | os.PathLike,
    network: str | None = None,
    command_line: str | None = None,
    overwrite: bool = False,
) -> tuple[Path, str | None]:
    """:func:`convert`, then write run.json into the folder (``command_line``, source, network,
    detected format and constructor kwargs): what ``latentatlas convert`` does. Returns the
    folder and the source format. An existing, non-empty ``out_folder`` is refused unless
    ``overwrite``; the folder is written beside and swapped in whole."""
    from latentatlas.utils.outputs import replacing_folder

    folder = Path(out_folder)
    with replacing_folder(folder, overwrite, what="model folder") as staging:
        convert(path, staging, network)
        config = read_config(staging)
        source_format = config["metadata"].get("source_format")
        write_run_record(
            staging,
            command="convert",
            config={"command_line": command_line, "checkpoint": str(path), "network": network,
                    "out": str(folder)},
            metrics={"source_format": source_format, "kwargs": config["kwargs"]},
        )
    return folder, source_format
