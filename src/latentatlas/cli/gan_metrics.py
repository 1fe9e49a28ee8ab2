"""`latentatlas gan-metrics`: VP, PPL and the disentanglement suite of a Z-space GAN."""

from __future__ import annotations

import click

from latentatlas.cli._app import argv_command_line, main


@main.command("gan-metrics")
@click.option("--model", required=True, help="A Z-space generator: shipped name or folder.")
@click.option("--measures", default="vp,ppl,suite", show_default=True,
              help="Comma-separated: vp, ppl, suite (MIG / DCI / FactorVAE via a z encoder).")
@click.option("--vp-seeds", type=click.IntRange(1), default=3, show_default=True,
              help="Runs of the VP metric (mean and sd are reported).")
@click.option("--vp-pairs", type=click.IntRange(10), default=10_000, show_default=True)
@click.option("--ppl-n", type=click.IntRange(2), default=2_000, show_default=True)
@click.option("--embedder", default="auto", show_default=True,
              help="PPL distance: a predictor name / folder, 'pixels', or auto (the model's "
                   "shipped predictor, else pixels).")
@click.option("--data", default="auto", show_default=True,
              help="Ground-truth data for the suite (dsprites, shapes3d; auto: the model's).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=None, help="torch CPU threads.")
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="JSON file of the results (a <name>.run.json beside it).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
def gan_metrics_cmd(model, measures, vp_seeds, vp_pairs, ppl_n, embedder, data, seed, threads,
                    out, overwrite) -> None:
    """Variation predictability, perceptual path length and the disentanglement suite."""
    from pathlib import Path

    from latentatlas.pipelines.gan_metrics import gan_metrics
    from latentatlas.utils.atomic import atomic_write_json
    from latentatlas.utils.outputs import check_new_file
    from latentatlas.utils.runinfo import write_run_record

    if threads:
        import torch

        torch.set_num_threads(threads)
    check_new_file(out, overwrite)
    chosen = tuple(m.strip() for m in measures.split(",") if m.strip())
    res = gan_metrics(model, measures=chosen, vp_seeds=vp_seeds, vp_pairs=vp_pairs,
                      ppl_n=ppl_n, embedder=None if embedder == "pixels" else embedder,
                      data=data, seed=seed, progress=True)
    atomic_write_json(out, res)
    write_run_record(Path(out).parent, command=argv_command_line(), seed=seed,
                     config={"model": model, "measures": list(chosen), "vp_seeds": vp_seeds,
                             "vp_pairs": vp_pairs, "ppl_n": ppl_n, "embedder": embedder,
                             "data": data},
                     metrics={k: res[k] for k in ("vp", "ppl") if k in res},
                     filename=f"{Path(out).stem}.run.json")
    if "vp" in res:
        sd = res["vp"]["sd"]
        click.echo(f"VP {res['vp']['mean']:.3f}" + (f" +- {sd:.3f}" if sd is not None else "")
                   + f" (chance {res['vp']['chance']:.3f})")
    if "ppl" in res:
        click.echo(f"PPL ({res['ppl']['space']}, {res['ppl']['embedding']}) "
                   f"{res['ppl']['ppl']:.4g}")
    if "suite" in res:
        s = res["suite"]
        click.echo(f"MIG {s['mig'].get('discrete_mig', float('nan')):.3f}, DCI disentanglement "
                   f"{s['dci'].get('disentanglement', float('nan')):.3f}, FactorVAE "
                   f"{s['factor_vae'].get('eval_accuracy', float('nan')):.3f} (z encoder R^2 "
                   f"{s['encoder_r2']:.3f})")
    click.echo(f"wrote {out}")
