"""`latentatlas data list|show`: the data sets."""

from __future__ import annotations

import click

from latentatlas.cli._app import main


@main.group()
def data() -> None:
    """List and look at the data sets."""


@data.command("list")
def list_cmd() -> None:
    """Name, kind, size, observation shape and factors of every data set."""
    from latentatlas.data import dataset_spec, list_datasets

    specs = [dataset_spec(n) for n in list_datasets()]
    header = ("name", "kind", "size", "shape", "factors / labels")
    rows = [(s.name, s.kind, s.size, s.shape, s.factors) for s in specs]
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(4)]
    for r in [header, *rows]:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r[:4], widths, strict=True)) + "  " + r[4])


@data.command("show")
@click.argument("name")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG to write.")
@click.option("--n", default=64, show_default=True, help="Number of random samples.")
@click.option("--seed", default=0, show_default=True, help="Seed of the samples / base factors.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
def show_cmd(name: str, out: str, n: int, seed: int, overwrite: bool) -> None:
    """Save a sample grid of NAME (plus one traversal row per factor for ground-truth sets)."""
    from latentatlas.analysis.tour import save_dataset_figure

    path = save_dataset_figure(name, out, n=n, seed=seed, overwrite=overwrite)
    click.echo(f"wrote {path}")
