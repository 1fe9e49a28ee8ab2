"""Fingerprints: short, stable hashes of JSON-able settings and of module weights.

One owner for "has this changed?": explore's stage book, the latent bank's resume check and the
GAN trainer's cross-rank weight check all use these.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import torch

#: Bytes of a fingerprint (24 hex characters).
DIGEST_SIZE = 12


def hash_json(obj: Any) -> str:
    """Hash of ``obj`` as canonical JSON (sorted keys; unknown types via ``str``)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=DIGEST_SIZE).hexdigest()


def module_fingerprint(*modules: torch.nn.Module) -> str:
    """Hash of each module's class, constructor kwargs (``init_kwargs``) and every state-dict
    tensor's name and bytes, in order."""
    h = hashlib.blake2b(digest_size=DIGEST_SIZE)
    for module in modules:
        h.update(type(module).__name__.encode())
        h.update(json.dumps(getattr(module, "init_kwargs", {}), sort_keys=True,
                            default=str).encode())
        for name, tensor in module.state_dict().items():
            h.update(name.encode())
            h.update(tensor.detach().to("cpu").contiguous().view(-1).view(torch.uint8).numpy()
                     .tobytes())
    return h.hexdigest()
