"""Kill and full disk: a real ``latentatlas sample`` process is killed by PID at random points
(seeded, a handful, bounded in time), resumed, and its bank compared bit for bit with an
uninterrupted run; no temporary file remains. A full disk is simulated by the free-space test
hook (``LATENTATLAS_FREE_DISK_BYTES``: no small file system can be mounted in the test
environment): the command refuses with one line before writing any array and the same command
afterwards finishes the identical bank."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def _sample(ws: Path, out: Path, env_extra: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1",
           **(env_extra or {})}
    cmd = [sys.executable, "-m", "latentatlas", "sample", "--model", str(ws / "gen"), "--n",
           "384", "--batch-size", "4", "--chunk-size", "16", "--thumbnails", "8", "--threads",
           "1", "--out", str(out)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _arrays(folder: Path) -> dict[str, bytes]:
    return {p.name: np.load(p).tobytes() for p in sorted(folder.glob("*.npy"))}


def _temporaries(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir()
            if p.name.startswith(".") and p.name != ".owner.json"]


def test_killed_sample_resumes_to_the_same_bank_and_full_disk_refuses(ws: Path) -> None:
    ref = _sample(ws, ws / "ref")
    assert ref.wait(timeout=300) == 0, ref.stderr.read()
    expected = _arrays(ws / "ref")
    rng = np.random.default_rng(7)
    out = ws / "killed"
    for delay in sorted(rng.uniform(2.0, 8.0, size=3)):
        proc = _sample(ws, out)
        time.sleep(float(delay))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    final = _sample(ws, out)
    assert final.wait(timeout=300) == 0, final.stderr.read()
    assert _arrays(out) == expected
    assert not _temporaries(out)

    full = ws / "full"
    proc = _sample(ws, full, {"LATENTATLAS_FREE_DISK_BYTES": "1000"})
    assert proc.wait(timeout=120) == 1
    err = proc.stderr.read()
    errors = [ln for ln in err.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1 and "disk" in errors[0] and "Traceback" not in err, err
    assert not list(full.glob("*.npy"))  # refused before allocating
    proc = _sample(ws, full)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert _arrays(full) == expected
