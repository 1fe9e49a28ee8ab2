"""bf16 "auto": on only where the device computes bf16 natively (emulated bf16 is ~15x slower)."""

import pytest

from latentatlas.training.gan_presets import GAN_PRESETS
from latentatlas.utils import hardware
from latentatlas.utils.hardware import native_bf16_supported, resolve_bf16


@pytest.fixture
def native(monkeypatch):
    """Pretend the CPU does (True) or does not (False) have native bf16."""

    def set_native(flag: bool) -> None:
        monkeypatch.setattr(hardware, "_native_bf16", lambda name: flag)

    return set_native


@pytest.mark.parametrize("flag", [True, False])
def test_auto_follows_the_hardware_and_explicit_values_win(native, flag):
    native(flag)
    assert native_bf16_supported("cpu") is flag
    assert resolve_bf16("auto") is flag and resolve_bf16(None) is flag
    assert resolve_bf16(True) is True and resolve_bf16(False) is False


def test_bad_values_are_refused():
    for bad in ("yes", 1, "bf16"):
        with pytest.raises(ValueError, match="bf16 must be"):
            resolve_bf16(bad)


def test_presets_leave_bf16_to_the_hardware():
    assert {p["train"]["bf16"] for p in GAN_PRESETS.values()} == {"auto"}


def test_stylegan2_auto_dtype_uses_the_same_probe(native):
    import torch

    from latentatlas.models.stylegan2 import resolve_dtype

    native(False)
    assert resolve_dtype("auto") == torch.float32
    native(True)
    assert resolve_dtype("auto") == torch.bfloat16
