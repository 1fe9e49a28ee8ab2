"""``python -m latentatlas ...`` (and ``torchrun ... -m latentatlas sample ...``): the CLI."""

from latentatlas.cli import main

if __name__ == "__main__":
    main(prog_name="latentatlas")
