"""A really full disk, and a killed training run (real subprocesses).

Full disk: a small tmpfs is mounted (root only; the test skips where mounting is not allowed,
and ``test_kill`` keeps the free-space hook's version of the check everywhere). ``sample`` and
``train gan`` write into it until the file system refuses: each ends with one ``Error:`` line
naming the full disk, no traceback and no temporary file; after the file system is grown
(``remount``, contents kept) the same command (train: ``--resume``) finishes with exactly the
arrays / weights of an uninterrupted run.

Kill: a ``train gan`` process is killed by PID at seeded random points, resumed, and its
weights compared tensor for tensor with an uninterrupted run (safetensors headers are not
compared: their metadata order is not fixed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file
from test_kill import REPO, _arrays, _sample, _temporaries

TRAIN = ["--data", "dsprites", "--arch", "zgen", "--resolution", "64", "--z-dim", "4",
         "--channel-base", "64", "--channel-max", "16", "--batch", "8", "--checkpoint-every",
         "20", "--sample-every", "1000", "--log-every", "5", "--threads", "1", "--no-bf16"]


def _train(out: Path, steps: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "latentatlas", "train", "gan", *TRAIN, "--steps", str(steps),
           "--out", str(out), *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _weights(run: Path) -> dict[str, bytes]:
    return {k: v.tobytes() for k, v in load_file(run / "model" / "model.safetensors").items()}


def _one_error_line(err: str, *words: str) -> str:
    errors = [ln for ln in err.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert all(w in errors[0] for w in words), errors[0]
    return errors[0]


def _no_temporaries(folder: Path) -> None:
    left = [p for p in folder.rglob("*") if p.name.startswith(".") and p.name != ".owner.json"
            or p.suffix in (".tmp", ".partial")]
    assert not left, left


@pytest.fixture
def small_disk(tmp_path: Path):
    """A tmpfs mount of 400 KiB; ``grow()`` remounts it at 32 MiB keeping its files."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")

    def grow() -> None:
        subprocess.run(["mount", "-o", "remount,size=32m", str(mnt)], check=True)

    try:
        yield mnt, grow
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_sample_on_a_full_disk_refuses_then_finishes_the_same_bank(ws: Path, small_disk):
    mnt, grow = small_disk
    ref = _sample(ws, ws / "ref_fd")
    assert ref.wait(timeout=300) == 0, ref.stderr.read()
    (mnt / "filler").write_bytes(b"\0" * 300_000)  # what is left cannot hold the bank
    out = mnt / "bank"
    proc = _sample(ws, out)
    assert proc.wait(timeout=120) == 1
    _one_error_line(proc.stderr.read(), "disk")
    assert not list(out.glob("*.npy")) if out.is_dir() else True
    grow()
    proc = _sample(ws, out)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert _arrays(out) == _arrays(ws / "ref_fd")
    assert not _temporaries(out)


def test_training_on_a_full_disk_stops_cleanly_and_resumes_to_the_same_weights(tmp_path: Path,
                                                                              small_disk):
    mnt, grow = small_disk
    ref = _train(tmp_path / "ref", 120)
    assert ref.wait(timeout=300) == 0, ref.stderr.read()
    run = mnt / "run"
    proc = _train(run, 120)  # checkpoints of ~137 KB: the disk fills at the third
    assert proc.wait(timeout=300) == 1
    _one_error_line(proc.stderr.read(), "disk is full", "--resume")
    _no_temporaries(run)
    kept = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert kept and len(kept) < 6  # stopped part-way, the checkpoints written before intact
    grow()
    proc = _train(run, 120, "--resume")
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert _weights(run) == _weights(tmp_path / "ref")
    _no_temporaries(run)


def _newest_checkpoint(ckpts: Path) -> str:
    names = [p.name for p in ckpts.glob("ckpt-*.safetensors")] if ckpts.is_dir() else []
    return max(names, default="")


def _wait_for_new_checkpoint(proc: subprocess.Popen, ckpts: Path, before: str) -> None:
    """Until ``proc`` has written a checkpoint newer than ``before`` (or ended): kills then land
    inside training whatever the machine's load, at a random time after it."""
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if _newest_checkpoint(ckpts) > before:
            return
        time.sleep(0.02)


def test_killed_training_resumes_to_the_same_weights(tmp_path: Path):
    steps = 300
    ref = _train(tmp_path / "ref", steps)
    assert ref.wait(timeout=300) == 0, ref.stderr.read()
    out = tmp_path / "killed"
    rng = np.random.default_rng(11)
    killed_mid_run = 0
    for delay in rng.uniform(0.0, 0.6, size=3):
        before = _newest_checkpoint(out / "checkpoints")
        proc = _train(out, steps, *(["--resume"] if before else []))
        _wait_for_new_checkpoint(proc, out / "checkpoints", before)
        time.sleep(float(delay))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed_mid_run += 1
        proc.wait(timeout=60)
    assert killed_mid_run >= 2  # the kills landed inside live training runs
    proc = _train(out, steps, "--resume")
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert _weights(out) == _weights(tmp_path / "ref")
    _no_temporaries(out)
    steps_logged = [line for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(steps_logged) == steps // 5  # every logged step once, none lost or repeated
