"""`latentatlas tour`: every data set in one HTML page (the main job until the interpretation job
replaces it)."""

from __future__ import annotations

import click

from latentatlas.cli._app import main


@main.command("tour")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--data-root", default=None, type=click.Path(file_okay=False),
              help="Real data folder (default: $LATENTATLAS_DATA or ../shared/data).")
@click.option("--seed", default=0, show_default=True)
@click.option("--celeba-max-images", default=None, type=int,
              help="Decode only the first N CelebA images (default: all, cached after the "
                   "first run).")
def tour_cmd(out: str, data_root: str | None, seed: int, celeba_max_images: int | None) -> None:
    """Render every data set (samples + factor traversals) into OUT/index.html and run.json."""
    from latentatlas.analysis.tour import run_tour

    run_tour(out, data_root=data_root, seed=seed, celeba_max_images=celeba_max_images,
             log=click.echo)
