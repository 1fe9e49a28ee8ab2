"""The root click group. Sub-command modules attach themselves to ``main``.

The CLI is thin: every command parses arguments, calls one library function and prints a summary.
Heavy imports happen inside the commands so that ``latentatlas --help`` is instant.
"""

from __future__ import annotations

import shlex
import sys

import click

from latentatlas._version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="latentatlas")
def main() -> None:
    """latentatlas: find, measure and use the semantics in generators' latent spaces."""


def argv_command_line() -> str:
    """The invoked command as typed (``latentatlas`` + the process's arguments)."""
    return "latentatlas " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def options_command_line(prefix: str) -> str:
    """The current command rebuilt from its parsed options after ``prefix`` (exactly
    reproducible: every option that has a value, flags in their given form)."""
    ctx = click.get_current_context()
    parts = [prefix]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if not isinstance(param, click.Option) or value is None:
            continue
        if value is False and not param.secondary_opts:  # an unset plain flag
            continue
        if param.is_flag:
            if param.secondary_opts:  # --bf16/--no-bf16
                parts.append(param.opts[0] if value else param.secondary_opts[0])
            else:
                parts.append(param.opts[0])
            continue
        parts += [param.opts[0], shlex.quote(str(value))]
    return " ".join(parts)
