"""Known answers for the shared helpers that own one concept each: the NHWC -> NCHW image
conversion, the JSONL log trimmer and the fingerprints."""

from __future__ import annotations

import copy
import json

import numpy as np
import torch

from latentatlas.io.images import to_model_images, to_uint8_nhwc
from latentatlas.utils.atomic import trim_jsonl_log
from latentatlas.utils.fingerprint import hash_json, module_fingerprint


def test_to_model_images_known_values_and_round_trip() -> None:
    u8 = np.array([0, 51, 255], np.uint8).reshape(1, 1, 3, 1).repeat(3, axis=3)  # NHWC
    x = to_model_images(u8)
    assert x.shape == (1, 3, 1, 3) and x.dtype == torch.float32
    torch.testing.assert_close(x[0, 0, 0], torch.tensor([-1.0, 51 / 127.5 - 1, 1.0]))
    unit = np.array([[[[0.0], [0.25], [1.0]]]], np.float32)  # [1, 1, 3, 1] float [0, 1]
    torch.testing.assert_close(to_model_images(unit)[0, 0, 0], torch.tensor([-1.0, -0.5, 1.0]))
    assert torch.equal(to_model_images(torch.from_numpy(u8)), x)  # tensors too
    cl = to_model_images(np.zeros((2, 4, 4, 3), np.uint8), channels_last=True)
    assert cl.is_contiguous(memory_format=torch.channels_last)
    # ... and to_uint8_nhwc is the way back.
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (2, 5, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_uint8_nhwc(to_model_images(img), (-1.0, 1.0)), img)


def test_trim_jsonl_log(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    trim_jsonl_log(path, 3)  # no file: nothing happens
    assert not path.exists()
    lines = [json.dumps({"step": s, "loss": 1.0 / s}) for s in (1, 2, 3, 4, 5)]
    path.write_text("\n".join(lines) + "\n" + '{"step": 6, "lo')  # a line torn by a kill
    trim_jsonl_log(path, 3)
    assert path.read_text() == "\n".join(lines[:3]) + "\n"
    trim_jsonl_log(path, 0)
    assert path.read_text() == ""


def test_fingerprints() -> None:
    assert hash_json({"a": 1, "b": [1, 2]}) == hash_json({"b": [1, 2], "a": 1})  # key order
    assert hash_json({"a": 1}) != hash_json({"a": 2}) and len(hash_json(None)) == 24
    torch.manual_seed(0)
    m = torch.nn.Linear(3, 2)
    twin = copy.deepcopy(m)
    assert module_fingerprint(m) == module_fingerprint(twin)
    assert module_fingerprint(m, twin) != module_fingerprint(m)  # every module counts
    with torch.no_grad():
        twin.bias[0] += 1e-6
    assert module_fingerprint(m) != module_fingerprint(twin)


def test_frozen_restores_each_parameter_flag_even_when_the_block_raises():
    import pytest
    import torch

    from latentatlas.utils.modules import frozen

    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    net[1].bias.requires_grad_(False)  # a mixed state must come back as it was
    before = [p.requires_grad for p in net.parameters()]
    with pytest.raises(RuntimeError), frozen(net):
        assert not any(p.requires_grad for p in net.parameters())
        raise RuntimeError("inside")
    assert [p.requires_grad for p in net.parameters()] == before == [True, True, True, False]
