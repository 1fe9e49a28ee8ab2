"""torchrun process groups: join one (gloo on CPU, NCCL on CUDA) and leave it safely.

Used by the data-parallel GAN trainer and by the multi-process latent bank. A process is part of a
group when torchrun launched it with ``WORLD_SIZE > 1``; otherwise everything here is a no-op.
"""

from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist

from latentatlas.utils.errors import LatentAtlasError


def init_distributed(device: str | torch.device | None = None) -> tuple[int, int, torch.device]:
    """Join the torchrun process group when launched by torchrun (WORLD_SIZE > 1).

    gloo on CPU, NCCL on CUDA (device cuda:LOCAL_RANK). Returns (rank, world_size, device).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as e:
        from latentatlas.utils.errors import OptionError

        raise OptionError(f"device must be cpu, cuda or cuda:N, got {device!r}") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        from latentatlas.utils.errors import OptionError

        raise OptionError(f"device {str(device)!r}: CUDA is not available here; use cpu")
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), device
    return 0, 1, device


def rank_world() -> tuple[int, int]:
    """(rank, world size) of this process; (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def set_rank_threads(threads: int | None, world: int, device: torch.device) -> None:
    """``threads`` torch CPU threads if given; else, for several CPU ranks on one machine,
    cpu_count / world each (so that the ranks do not oversubscribe the cores)."""
    if threads:
        torch.set_num_threads(threads)
    elif world > 1 and device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))


class RankFailedError(LatentAtlasError):
    """Another rank of the process group failed (it reports its own error)."""


def _collective_device() -> torch.device:
    """Where collectives' tensors live: the current CUDA device under NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def agree(err: Exception | None, world: int, what: str, value: int = 0) -> int:
    """Every rank learns whether any rank failed (and rank 0's ``value``); so that no rank waits
    forever for a failed one. Raises ``err`` on the rank that failed, :class:`RankFailedError`
    naming the failed ranks on the others. Single process: raises ``err`` if any, else returns
    ``value``."""
    if world == 1:
        if err is not None:
            raise err
        return value
    flags = torch.zeros(world + 1, dtype=torch.int64, device=_collective_device())
    flags[dist.get_rank()] = int(err is not None)
    if dist.get_rank() == 0:
        flags[world] = value
    dist.all_reduce(flags)
    if err is not None:
        raise err
    failed = [r for r in range(world) if flags[r]]
    if failed:
        raise RankFailedError(f"rank(s) {failed} failed {what}; see their errors")
    return int(flags[world])


def sum_over_ranks(count: int, world: int) -> int:
    """The sum of ``count`` over the ``world`` ranks (every rank calls this)."""
    if world == 1:
        return count
    t = torch.tensor([count], dtype=torch.int64, device=_collective_device())
    dist.all_reduce(t)
    return int(t.item())


def exit_process(code: int | str | None) -> None:
    """End the process with exit status ``code`` (a str is printed to stderr; exit 1).

    In a process group, leave it and exit without the interpreter's teardown: there, a gloo group
    still referenced (e.g. by a DDP reducer) is destroyed from a static destructor and aborts the
    process now and then (exit -6, "terminate called without an active exception") after the work
    finished and every file was written.
    """
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    code = 0 if code is None else int(code)
    if not (dist.is_available() and dist.is_initialized()):
        sys.exit(code)
    dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
