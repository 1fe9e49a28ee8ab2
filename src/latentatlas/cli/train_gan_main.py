"""torchrun entry point: ``torchrun --nproc_per_node=N -m latentatlas.cli.train_gan_main ...``.

Takes the options of ``latentatlas train gan``; every rank runs the same command, the trainer
joins the process group (gloo on CPU, NCCL on CUDA) and splits the global batch across ranks.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    from latentatlas.cli import train
    from latentatlas.utils.distributed import exit_process

    world = os.environ.get("WORLD_SIZE", "1")
    train.COMMAND_PREFIX = f"torchrun --nproc_per_node={world} -m latentatlas.cli.train_gan_main"
    try:
        train.gan_command.main(args=sys.argv[1:] if argv is None else argv,
                               prog_name="latentatlas.cli.train_gan_main")
    except SystemExit as e:  # click ends every run with SystemExit, successful or not
        code = e.code
    else:
        code = 0
    exit_process(code)


if __name__ == "__main__":
    main()
