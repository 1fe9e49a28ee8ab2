"""`latentatlas invert`: real face images -> latent codes, reconstructions, errors, edits."""

from __future__ import annotations

import click

from latentatlas.cli._app import FINITE_NONNEG, FINITE_POSITIVE, argv_command_line, main


@main.command()
@click.option("--model", "-m", "model_name", default="celeba64", show_default=True,
              help="Shipped generator name or a model folder (StyleGAN-like: W / W+).")
@click.option("--images", required=True, type=click.Path(file_okay=False),
              help="Folder of face images: aligned CelebA-style portraits (178:218) or square "
                   "face crops; others are rejected (rejected.json says why).")
@click.option("--space", type=click.Choice(["w", "wp"]), default="wp", show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Output folder; a rerun resumes (images with a code are skipped).")
@click.option("--encoder", default="auto", show_default=True,
              help="Encoder for the initial codes: 'auto' (the one shipped for the model), a "
                   "shipped name or folder, or 'none' (start at w_avg).")
@click.option("--predictor", default="auto", show_default=True,
              help="Predictor for the perceptual loss and the scores: 'auto', a name or "
                   "folder, or 'none' (pixel loss only).")
@click.option("--steps", type=click.IntRange(0), default=200, show_default=True,
              help="Optimisation steps per image (0: the encoder alone).")
@click.option("--lr", type=FINITE_POSITIVE, default=0.03, show_default=True)
@click.option("--embedding-weight", type=FINITE_NONNEG, default=1.0, show_default=True,
              help="Weight of the predictor-embedding (perceptual) loss.")
@click.option("--spread-weight", type=FINITE_NONNEG, default=0.01, show_default=True,
              help="W+ only: weight keeping the layers' codes near their mean (editability).")
@click.option("--noise", type=click.Choice(["const", "optimize"]), default="const",
              show_default=True,
              help="Keep the generator's noise maps, or optimise them per image with the "
                   "StyleGAN2 projector's regularisation (saved to noises/).")
@click.option("--batch-size", type=click.IntRange(1), default=25, show_default=True)
@click.option("--directions", type=click.Path(exists=True), default=None,
              help="A saved Directions file or walk folder to edit the inverted codes with.")
@click.option("--edit", "edits", multiple=True,
              help="NAME=AMOUNT: render every image edited along direction NAME (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=None,
              help="torch threads (default: torch's choice).")
def invert(model_name, images, space, out, encoder, predictor, steps, lr, embedding_weight,
           spread_weight, noise, batch_size, directions, edits, seed, threads) -> None:
    """Invert real images into the generator's W / W+ (encoder + optimisation)."""
    from latentatlas.pipelines.invert import invert_folder

    if threads:
        import torch

        torch.set_num_threads(threads)
    m = invert_folder(
        model_name, images, out, space=space,
        encoder=None if encoder == "none" else encoder,
        predictor=None if predictor == "none" else predictor, steps=steps, lr=lr,
        embedding_weight=embedding_weight, spread_weight=spread_weight, noise=noise,
        batch_size=batch_size,
        directions=directions, edits=list(edits), seed=seed,
        command_line=argv_command_line())
    emb = m.get("embedding_error")
    click.echo(f"inverted {m['num_images']} images ({m['num_rejected']} rejected) into {out}: "
               f"pixel MSE {m['pixel_mse']:.4f}"
               + (f", embedding error {emb:.4f}" if emb is not None else ""))
