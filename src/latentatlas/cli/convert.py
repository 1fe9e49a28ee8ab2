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
@click.option("--overwrite", is_flag=True, help="Replace an existing --out model folder.")
def convert(checkpoint, out, network, overwrite) -> None:
    """Convert a StyleGAN2-ADA / StyleGAN3-repo pickle or a rosinality .pt to a model folder.

    Nothing in the file is executed: pickles are read with an allow-list unpickler.
    """
    from latentatlas.models.convert import convert_with_record

    folder, source_format = convert_with_record(checkpoint, out, network,
                                                command_line=argv_command_line(),
                                                overwrite=overwrite)
    click.echo(f"converted {checkpoint} ({source_format}) -> {folder}")
