"""`latentatlas studio`: the browser editor on 127.0.0.1."""

from __future__ import annotations

import click

from latentatlas.cli._app import main


@main.command()
@click.option("--model", "-m", "models", multiple=True, default=("celeba64",),
              show_default=True,
              help="Generator(s) to serve: shipped names or model folders (repeatable). The "
                   "page can pick only among these.")
@click.option("--directions", "-d", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Directions file(s) (.safetensors, e.g. runs/explore/directions/"
                   "boundaries.safetensors): one slider per direction.")
@click.option("--out", type=click.Path(file_okay=False), default="studio_out",
              show_default=True, help="The only folder saves are written to.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (the default serves this machine only).")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True)
@click.option("--predictor", default="auto", show_default=True,
              help="Predictor for the live scores: 'auto', a name or folder, or 'none'.")
@click.option("--encoder", default="auto", show_default=True,
              help="Encoder for uploaded photos: 'auto', a name or folder, or 'none'.")
@click.option("--invert-steps", type=click.IntRange(0), default=60, show_default=True,
              help="Optimisation steps after the encoder for an uploaded photo.")
@click.option("--threads", type=click.IntRange(1), default=None, help="torch threads.")
def studio(models, directions, out, host, port, predictor, encoder, invert_steps,
           threads) -> None:
    """Edit faces in the browser: sliders per direction, live image and scores."""
    from latentatlas.studio import build_studio
    from latentatlas.studio.app import serve

    if threads:
        import torch

        torch.set_num_threads(threads)
    s = build_studio(models, directions, out,
                     predictor=None if predictor == "none" else predictor,
                     encoder=None if encoder == "none" else encoder,
                     invert_steps=invert_steps)
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: serving on {host}: anyone who can reach it can use the studio",
                   err=True)
    click.echo(f"latentatlas studio on http://{host}:{port}/ (saves go to {s.out}); Ctrl+C stops")
    serve(s, host=host, port=port)
