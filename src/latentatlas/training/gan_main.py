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
    train_cmd.gan_command.main(args=sys.argv[1:] if argv is None else argv,
                               prog_name="latentatlas.training.gan_main")


if __name__ == "__main__":
    main()
