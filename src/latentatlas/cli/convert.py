"""`latentatlas convert`: foreign checkpoints to model folders."""

from __future__ import annotations

import click

from latentatlas.cli._app import argv_command_line, main


@main.command()
@click.argument("checkpoint", type=click.Path(exists=True))
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Output model folder (config.json + model.safetensors + run.json).")
@click.option("--network", default=None,
              help="Network inside the file (G_ema / G; rosinality g_ema / g). Default: EMA.")
def convert(checkpoint, out, network) -> None:
    """Convert a StyleGAN2-ADA / StyleGAN3-repo pickle or a rosinality .pt to a model folder.

    Nothing in the file is executed: pickles are read with an allow-list unpickler.
    """
    from latentatlas.io.persistence import read_config
    from latentatlas.models.convert import convert as convert_checkpoint
    from latentatlas.utils import LatentAtlasError, write_run_record

    try:
        folder = convert_checkpoint(checkpoint, out, network)
    except LatentAtlasError as e:
        raise click.ClickException(str(e)) from e
    config = read_config(folder)
    write_run_record(
        folder,
        command="convert",
        config={
            "command_line": argv_command_line(),
            "checkpoint": str(checkpoint),
            "network": network,
            "out": str(folder),
        },
        metrics={
            "source_format": config["metadata"].get("source_format"),
            "kwargs": config["kwargs"],
        },
    )
    click.echo(f"converted {checkpoint} ({config['metadata'].get('source_format')}) -> {folder}")
