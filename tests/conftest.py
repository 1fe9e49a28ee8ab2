"""Shared test fixtures: small CPU-only tests; real-data tests skip without ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(
    os.environ.get("LATENTATLAS_DATA")
    or os.environ.get("LATENTATLAS_SHARED_DATA")
    or REPO.parent / "shared" / "data"
)

# One thread: the test models are tiny, and OpenMP barriers made 2 threads 5-50x slower per
# call on a shared 2-core machine (measured by several test authors); results do not depend on it.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or $LATENTATLAS_DATA); skips the test when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} not present")
    return SHARED_DATA


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Every test runs with one torch thread, also after a CLI test set ``--threads``: tiny
    networks run faster without OpenMP hand-offs on a busy 2-core machine; the count in force
    before the test is restored afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
