"""``python -m latentatlas ...``: the command-line interface."""

from latentatlas.cli import main

if __name__ == "__main__":
    main()
