"""Output folders (latentatlas.utils.outputs): ownership records, and the sweep of what a killed
atomic write leaves behind."""

from __future__ import annotations

import pytest

from latentatlas.utils.atomic import atomic_path
from latentatlas.utils.errors import OutputExistsError
from latentatlas.utils.outputs import claim_folder, remove_stale_temporaries


def test_a_resumed_claim_sweeps_a_killed_writes_temporaries_and_nothing_else(tmp_path):
    out = tmp_path / "run"
    assert claim_folder(out, {"model": "a"}) is False
    with pytest.raises(KeyboardInterrupt), atomic_path(out / "sub" / "x.npy") as tmp:
        tmp.write_bytes(b"partial")  # an interrupted write cleans up after itself...
        raise KeyboardInterrupt
    assert not list((out / "sub").iterdir())
    # ...a SIGKILL does not: plant what it leaves (atomic_path's naming) at two depths.
    stale = [out / ".bank.npy.k1ll3d.npy", out / "sub" / ".x.npy.zz9.npy"]
    kept = [out / "data.npy", out / ".hidden", out / "sub" / "y.v1.npy", out / ".owner.json"]
    for p in stale + kept[:3]:
        p.write_bytes(b"x")
    assert claim_folder(out, {"model": "a"}) is True  # the same run: resumed, swept
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
    for p in stale:
        p.write_bytes(b"x")
    with pytest.raises(OutputExistsError):  # another run's folder: refused, nothing touched
        claim_folder(out, {"model": "b"})
    assert all(p.exists() for p in stale)
    assert sorted(p.name for p in remove_stale_temporaries(out)) == sorted(p.name for p in stale)
