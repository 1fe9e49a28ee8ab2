"""`latentatlas metrics`: the disentanglement metric suite on a VAE."""

from __future__ import annotations

from pathlib import Path

import click

from latentatlas.cli._app import argv_command_line, main


@main.command("metrics")
@click.option("--model", "model_name", required=True,
              help="A VAE model folder or a shipped model name (e.g. betavae_dsprites).")
@click.option("--data", default="dsprites", show_default=True,
              help="Ground-truth data set: dsprites | dsprites_color | dsprites_noisy.")
@click.option("--fast", is_flag=True, help="Smaller sample sizes (quick look).")
@click.option("--sizes", default=None,
              help="Per-metric sample sizes: 'card' (CARD_SIZES) or JSON like "
                   "'{\"mig\": {\"num_train\": 5000}}' (overrides --fast).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--random-init", is_flag=True,
              help="Score a randomly initialised encoder of the same architecture (baseline).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the scores as JSON here (plus <name>.run.json beside it).")
@click.option("--threads", type=click.IntRange(1), default=None, help="torch CPU threads.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
def metrics_cmd(model_name: str, data: str, fast: bool, sizes: str | None, seed: int,
                random_init: bool, out: str | None, threads: int | None,
                overwrite: bool) -> None:
    """Disentanglement metrics of a VAE's encoder mean on a ground-truth data set."""
    import json

    from latentatlas.metrics import CARD_SIZES, METRICS, evaluate_vae, headline_scores
    from latentatlas.utils.outputs import check_new_file

    if threads:
        import torch

        torch.set_num_threads(threads)
    if sizes is None:
        sizes_dict = None
    elif sizes == "card":
        sizes_dict = CARD_SIZES
    else:
        try:
            sizes_dict = json.loads(sizes)
        except json.JSONDecodeError as e:
            raise click.BadParameter(f"not 'card' nor valid JSON: {e}",
                                     param_hint="--sizes") from e
        if not isinstance(sizes_dict, dict) or not all(
                isinstance(v, dict) for v in sizes_dict.values()):
            raise click.BadParameter("must be a JSON object of objects, e.g. "
                                     '\'{"mig": {"num_train": 5000}}\'', param_hint="--sizes")
    unknown = sorted(set(sizes_dict or {}) - set(METRICS))
    if unknown:
        raise click.BadParameter(f"unknown metrics {unknown}; known: {sorted(METRICS)}",
                                 param_hint="--sizes")
    if out:
        check_new_file(out, overwrite)
    scores = evaluate_vae(model_name, data, fast=fast, seed=seed, random_init=random_init,
                          progress=True, sizes=sizes_dict,
                          log=lambda line: click.echo(line, err=True))
    click.echo(format_table(headline_scores(scores)))
    click.echo("")
    click.echo(format_table({k: v for k, v in scores.items() if k != "settings"}))
    if out:
        from latentatlas.utils.atomic import atomic_write_json
        from latentatlas.utils.runinfo import write_run_record

        atomic_write_json(out, scores)
        write_run_record(Path(out).parent, command=argv_command_line(),
                         config={"model": model_name, "data": data, "fast": fast,
                                 "sizes": sizes_dict, "random_init": random_init},
                         seed=seed, metrics=scores, filename=f"{Path(out).stem}.run.json")
        click.echo(f"wrote {out}")


def format_table(scores: dict) -> str:
    """Two-column text table of (flattened) scalar scores."""
    rows = []

    def walk(prefix: str, obj) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
            rows.append((prefix, float(obj)))

    walk("", scores)
    width = max((len(k) for k, _ in rows), default=6)
    lines = [f"{'metric':<{width}}  value", "-" * (width + 8)]
    lines += [f"{k:<{width}}  {v:.4f}" for k, v in rows]
    return "\n".join(lines)
