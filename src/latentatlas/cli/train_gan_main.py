"""torchrun entry point: ``torchrun --nproc_per_node=N -m latentatlas.training.gan_main ...``.

Takes the options of ``latentatlas train gan``; every rank runs the same command, the trainer
joins the process group (gloo on CPU, NCCL on CUDA) and splits the global batch across ranks.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    from latentatlas.cli import train_cmd

    world = os.environ.get("WORLD_SIZE", "1")
    train_cmd.COMMAND_PREFIX = (
        f"torchrun --nproc_per_node={world} -m latentatlas.training.gan_main"
    )
    try:
        train_cmd.gan_command.main(args=sys.argv[1:] if argv is None else argv,
                                   prog_name="latentatlas.training.gan_main")
    except SystemExit as e:  # click ends every run with SystemExit, successful or not
        code = e.code
    else:
        code = 0
    _exit(code)


def _exit(code: int | str | None) -> None:
    """End the process. In a process group, leave it and exit without the interpreter's
    teardown: there, the gloo group still referenced by the DDP reducer is destroyed from a
    static destructor and aborts the process now and then (exit -6, "terminate called without
    an active exception") after training finished and every file was written."""
    import torch.distributed as dist

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


if __name__ == "__main__":
    main()
