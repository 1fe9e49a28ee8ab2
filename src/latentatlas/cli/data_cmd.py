"""`latentatlas data ...` and `latentatlas tour` (placeholder until the data layer lands)."""

from __future__ import annotations

import click

from latentatlas.cli._app import main


@main.group()
def data() -> None:
    """List and look at the data sets."""
