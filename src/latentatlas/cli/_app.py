"""The root click group. Sub-command modules attach themselves to ``main``.

The CLI is thin: every command parses arguments, calls one library function and prints a summary.
Heavy imports happen inside the commands so that ``latentatlas --help`` is instant.

One error style for every command: :class:`AppGroup` / :class:`AppCommand` (the classes of
``main``, inherited by every command and group registered on it) turn a user error raised by the
library (:class:`~latentatlas.utils.errors.LatentAtlasError`, a validation ``ValueError``, a
bad or unwritable file) into one line ``Error: <what is wrong and what to do>``: exit code 2 for
inconsistent options (:class:`~latentatlas.utils.errors.OptionError`), 1 otherwise, no
traceback. Library keyword arguments named in a message (``truncation_psi=2``) are rewritten as
the command's flags (``--truncation 2``). ``latentatlas --debug ...`` or ``LATENTATLAS_DEBUG=1``
lets the original exception through with its traceback.
"""

from __future__ import annotations

import os
import re
import shlex
import sys

import click

from latentatlas._version import __version__

#: Environment variable that shows tracebacks (as ``--debug`` does).
DEBUG_ENV = "LATENTATLAS_DEBUG"

#: Library keyword names whose CLI flag has another name (checked against the command's options).
KWARG_FLAGS = {
    "truncation_psi": ("--truncation", "--truncation-psi"),
    "truncation_cutoff": ("--truncation-cutoff",),
    "keep_thumbnails": ("--thumbnails",),
    "thumbnail_size": ("--thumbnails",),
    "num_samples": ("--n",),
    "model_name": ("--model",),
    "out": ("--out",),
    "total_steps": ("--steps",),
    "accum_steps": ("--accum",),
    "style_mixing_prob": ("--style-mixing",),
    "resume": ("--resume", "--no-resume"),
    "overwrite": ("--overwrite",),
    "walk": ("--walk",),
}


def debug_enabled() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    if root is not None and root.meta.get("latentatlas.debug"):
        return True
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _flag_for(name: str, value: str | None, ctx: click.Context | None) -> str | None:
    """The command's flag (with value) that corresponds to library keyword ``name``."""
    if ctx is None:
        return None
    opts: dict[str, click.Option] = {}
    for param in ctx.command.params:
        if isinstance(param, click.Option):
            for o in (*param.opts, *param.secondary_opts):
                opts[o] = param
    by_name = {p.name: p for p in ctx.command.params if isinstance(p, click.Option)}
    param = by_name.get(name)
    candidates = [o for o in KWARG_FLAGS.get(name, ()) if o in opts]
    if param is None and candidates:
        param = opts[candidates[0]]
    if param is None:
        return None
    if param.is_flag:
        if value in ("False", "0") and param.secondary_opts:
            return param.secondary_opts[0]
        if value in ("False", "0"):
            return f"no {param.opts[0]}"
        return param.opts[0]
    flag = candidates[0] if candidates else param.opts[0]
    return flag if value is None else f"{flag} {value}"


_KWARG_RE = re.compile(r"\b([a-z][a-z0-9_]*)=([^\s,;:)]+)")
_NAME_RE = re.compile(r"(?<![-/.'\w])([a-z][a-z0-9_]*)\b(?= (?:must|should)\b)"
                      r"|\b([a-z][a-z0-9]*_[a-z0-9_]+|[a-z]{3,})\b(?= (?:is|cannot)\b)")


def user_message(exc: BaseException, ctx: click.Context | None = None) -> str:
    """One line: the error's text with library keyword arguments shown as the command's flags."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = f"missing key {exc.args[0]!r}"
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        text = f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, MemoryError):
        text = f"out of memory{': ' + str(exc) if str(exc) else ''}; use smaller sizes"
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())

    def kwarg(m: re.Match) -> str:
        flag = _flag_for(m.group(1), m.group(2), ctx)
        return flag if flag is not None else m.group(0)

    def name(m: re.Match) -> str:
        flag = _flag_for(m.group(1) or m.group(2), None, ctx)
        return flag if flag is not None and flag.startswith("--") else m.group(0)

    text = _KWARG_RE.sub(kwarg, text)
    return _NAME_RE.sub(name, text)


#: Exceptions that are user errors (bad input, bad files, a full disk): one line, no traceback.
def _is_user_error(exc: BaseException) -> bool:
    from latentatlas.utils.errors import LatentAtlasError

    if isinstance(exc, (LatentAtlasError, ValueError, OSError, MemoryError, KeyError,
                        EOFError, UnicodeError)):
        return True
    # safetensors' and pickle's own error types
    return type(exc).__name__ in ("SafetensorError", "UnpicklingError", "HeaderTooLarge")


def handle_errors(ctx: click.Context, call):
    """Run ``call()``; turn a user error into click's one-line ``Error:`` (see the module doc)."""
    from latentatlas.utils.errors import OptionError

    try:
        return call()
    except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if debug_enabled():
            raise
        if isinstance(exc, OptionError):
            raise click.UsageError(user_message(exc, ctx), ctx=ctx) from None
        message = user_message(exc, ctx)
        if not _is_user_error(exc):
            message = (f"unexpected {type(exc).__name__}: {message} (a bug; rerun with --debug "
                       "and report the traceback)")
        raise click.ClickException(message) from None


class AppCommand(click.Command):
    """A command with the project's error style (see the module doc)."""

    def invoke(self, ctx: click.Context):
        return handle_errors(ctx, lambda: super(AppCommand, self).invoke(ctx))


class AppGroup(click.Group):
    """A group whose commands and sub-groups all have the project's error style."""

    command_class = AppCommand
    group_class = type  # sub-groups are AppGroups too

    def invoke(self, ctx: click.Context):
        return handle_errors(ctx, lambda: super(AppGroup, self).invoke(ctx))


class FiniteFloat(click.ParamType):
    """A finite float (no nan / inf) in [low, high] (``low_open``: > low)."""

    name = "float"

    def __init__(self, low: float | None = None, high: float | None = None,
                 low_open: bool = False) -> None:
        self.low, self.high, self.low_open = low, high, low_open

    def convert(self, value, param, ctx):
        import math

        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.low is not None and (v <= self.low if self.low_open else v < self.low):
            self.fail(f"{v:g} must be {'>' if self.low_open else '>='} {self.low:g}", param, ctx)
        if self.high is not None and v > self.high:
            self.fail(f"{v:g} must be <= {self.high:g}", param, ctx)
        return v


FINITE = FiniteFloat()
FINITE_NONNEG = FiniteFloat(0.0)
FINITE_POSITIVE = FiniteFloat(0.0, low_open=True)
UNIT = FiniteFloat(0.0, 1.0)


def _set_debug(ctx: click.Context, _param, value: bool) -> bool:
    if value:
        ctx.find_root().meta["latentatlas.debug"] = True
    return value


@click.group(cls=AppGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="latentatlas")
@click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
              help=f"Show the full traceback of an error (also: {DEBUG_ENV}=1).")
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
        for item in value if param.multiple else (value,):  # a repeatable option: each once
            parts += [param.opts[0], shlex.quote(str(item))]
    return " ".join(parts)
