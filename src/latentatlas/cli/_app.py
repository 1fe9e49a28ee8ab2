"""The root click group. Sub-command modules attach themselves to ``main``.

The CLI is thin: every command parses arguments, calls one library function and prints a summary.
Heavy imports happen inside the commands so that ``latentatlas --help`` is instant.
"""

from __future__ import annotations

import click

from latentatlas._version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="latentatlas")
def main() -> None:
    """latentatlas: find, measure and use the semantics in generators' latent spaces."""
