"""What the compute device can do natively, and the "auto" settings that follow from it.

bfloat16 is ~6x faster than float32 on CPUs with AMX (Sapphire Rapids and later) but *much*
slower where it is emulated (measured on a 2-core AMD EPYC without AVX512-BF16: StyleGAN2
training at 64 px ran at 2 images/s in bf16 vs 31 in float32), so every "bf16" switch in
latentatlas that defaults to on resolves "auto" through :func:`native_bf16_supported`.
"""

from __future__ import annotations

import contextlib
import functools

import torch


def native_bf16_supported(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes bf16 natively (CPU: AMX or AVX512-BF16; CUDA: Ampere+)."""
    return _native_bf16(str(torch.device(device)))


@functools.cache
def _native_bf16(device_name: str) -> bool:
    device = torch.device(device_name)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        fn = getattr(torch.cpu, probe, None)
        if fn is not None:
            with contextlib.suppress(Exception):
                if fn():
                    return True
    return False


def resolve_bf16(value: bool | str | None, device: torch.device | str = "cpu") -> bool:
    """``True`` / ``False`` as given; ``"auto"`` or ``None`` -> bf16 only where it is native."""
    if value is None or value == "auto":
        return native_bf16_supported(device)
    if isinstance(value, bool):
        return value
    raise ValueError(f"bf16 must be true, false or 'auto', got {value!r}")
