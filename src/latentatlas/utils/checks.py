"""Shared argument checks (one owner): numbers in range, truncation settings, memory budgets.

Every library entry point that takes these values calls the checks here, so the CLI and the
Python API refuse the same inputs with the same words (the CLI shows library keyword names as its
flags, see ``latentatlas.cli._app``).
"""

from __future__ import annotations

import math
import os
from typing import Any

from latentatlas.utils.errors import OptionError, ResourceError

#: Truncation psi accepted by every sampler (1: none; < 0 mirrors through w_avg).
PSI_RANGE = (-1.0, 2.0)
#: Environment variable overriding the memory budget (bytes) of :func:`check_allocation`.
MEMORY_ENV = "LATENTATLAS_MAX_MEMORY"
#: Environment variable that overrides the free disk space seen by :func:`check_disk_space`
#: (bytes; the full-disk tests use it where no small file system can be mounted).
FREE_DISK_ENV = "LATENTATLAS_FREE_DISK_BYTES"


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None,
                 *, low_open: bool = False, integer: bool = False) -> Any:
    """``value`` is a finite number (an int if ``integer``) in [low, high] (``low_open``: > low);
    else :class:`OptionError` naming ``name``."""
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(
        value, "__float__")
    if not bad:
        try:
            fv = float(value)
        except (TypeError, ValueError):
            bad = True
    if bad or not math.isfinite(fv) or (integer and fv != int(fv)):
        kind = "an integer" if integer else "a finite number"
        raise OptionError(f"{name} must be {kind}, got {value!r}")
    rng = (f"{'(' if low_open else '['}{'-inf' if low is None else low}, "
           f"{'inf' if high is None else high}]")
    if low is not None and (fv <= low if low_open else fv < low):
        raise OptionError(f"{name} must be in {rng}, got {value!r}")
    if high is not None and fv > high:
        raise OptionError(f"{name} must be in {rng}, got {value!r}")
    return value


def check_truncation(psi: Any, cutoff: Any = None, num_ws: int | None = None) -> None:
    """psi finite in :data:`PSI_RANGE`; cutoff None or an int in [0, num_ws]."""
    check_number("truncation_psi", psi, *PSI_RANGE)
    if cutoff is not None:
        check_number("truncation_cutoff", cutoff, 0, num_ws, integer=True)


def available_memory() -> int:
    """Bytes of memory a job may allocate: ``$LATENTATLAS_MAX_MEMORY`` if set, else the
    available physical memory (MemAvailable; total pages elsewhere)."""
    env = os.environ.get(MEMORY_ENV)
    if env:
        return int(float(env))
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} PiB"


def check_allocation(nbytes: float, what: str, hint: str = "use smaller sizes") -> None:
    """Refuse (with the number) an allocation of ``nbytes`` above :func:`available_memory`."""
    budget = available_memory()
    if nbytes > budget:
        raise ResourceError(f"{what} needs {format_bytes(nbytes)}, more than the "
                            f"{format_bytes(budget)} available; {hint}")


def check_disk_space(path: str | os.PathLike, nbytes: float, what: str) -> None:
    """Refuse to preallocate ``nbytes`` on the file system of ``path`` when it has less free."""
    env = os.environ.get(FREE_DISK_ENV)  # a test hook: simulate a small disk
    if env:
        free = int(float(env))
    else:
        try:
            st = os.statvfs(path)
        except (OSError, AttributeError):
            return
        free = st.f_bavail * st.f_frsize
    if nbytes > free:
        raise ResourceError(f"{what} needs {format_bytes(nbytes)} of disk in {path}, only "
                            f"{format_bytes(free)} free; free some space or choose another --out")


def disk_full(exc: BaseException) -> str | None:
    """The reason text when ``exc`` is a full disk / exceeded quota (an OSError with ENOSPC /
    EDQUOT, or a library's error that wraps one in its message), else None."""
    if isinstance(exc, OSError) and exc.errno in (28, 122):
        return exc.strerror or "no space left on device"
    text = str(exc)
    for marker in ("No space left on device", "Disk quota exceeded"):
        if marker in text:
            return marker.lower()
    return None
