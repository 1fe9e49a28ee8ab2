"""The bad-input cases: data only (the tests run them; ``make_table.py`` writes the table of
docs/reliability.md from them).

A CLI case runs ``latentatlas ARGS`` (``{ws}`` is the test's workspace, see conftest.py) and
expects an exit code, key words in the output and, for every refusal, that no file present
before changed. A loader case builds a bad file (a ``make_*`` function of test_loaders.py) and
expects an exception class and key words.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CliCase:
    id: str
    command: str
    args: tuple[str, ...]
    exit: int  # 0: accepted, 1: refused (error), 2: refused (usage)
    words: tuple[str, ...]  # lower-case key words of the message
    what: str
    writes: bool = False  # an accepted case may write new files (existing ones stay)
    replaces: tuple[str, ...] = field(default=())  # files an accepted --overwrite may replace
    env: tuple[tuple[str, str], ...] = field(default=())  # environment of the run


@dataclass(frozen=True)
class LoaderCase:
    id: str
    loader: str
    make: str  # name of the function that builds the bad input
    error: str  # expected exception class name (or "ok")
    words: tuple[str, ...]
    what: str


def _c(id, command, args, exit, words, what, **kw):
    return CliCase(id, command, tuple(args.split()) if isinstance(args, str) else tuple(args),
                   exit, tuple(w.lower() for w in words), what, **kw)


CLI_CASES: list[CliCase] = []
add = CLI_CASES.append

# ----------------------------------------------------------------------------- generate
GEN = "generate --model {ws}/gen --n 2 --out {ws}/new.png"
for v in ("0", "-1", "5000", "x", "1.5"):
    add(_c(f"generate-n-{v}", "generate", f"{GEN} --n {v}", 2, ["--n"], f"--n {v}"))
for v in ("nan", "inf", "-inf", "5", "-3", "x", "2.5"):
    add(_c(f"generate-truncation-{v}", "generate", f"{GEN} --truncation {v}", 2,
           ["--truncation"], f"--truncation {v}"))
for v in ("-1", "7", "99", "1.5"):
    add(_c(f"generate-cutoff-{v}", "generate", f"{GEN} --truncation 0.5 --truncation-cutoff {v}",
           2, ["--truncation-cutoff"], f"--truncation-cutoff {v} (num_ws 6)"))
for v in ("0", "-2", "x"):
    add(_c(f"generate-batch-{v}", "generate", f"{GEN} --batch-size {v}", 2, ["--batch-size"],
           f"--batch-size {v}"))
for v in ("0", "-1", "3"):
    add(_c(f"generate-nrow-{v}", "generate", f"{GEN} --nrow {v}", 2, ["--nrow"],
           f"--nrow {v} with --n 2"))
for opt in ("--noise-mode", "--impl", "--dtype"):
    add(_c(f"generate-{opt[2:]}-bad", "generate", f"{GEN} {opt} bogus", 2, [opt],
           f"{opt} bogus"))
add(_c("generate-class-unconditional", "generate", f"{GEN} --class-index 0", 1,
       ["unconditional", "--class-index"], "--class-index on an unconditional model"))
add(_c("generate-model-missing", "generate", "generate --model {ws}/nope --out {ws}/a.png", 1,
       ["neither a model folder"], "--model that does not exist"))
add(_c("generate-model-bank", "generate", "generate --model {ws}/bank --out {ws}/a.png", 1,
       ["not a latentatlas model folder"], "--model a folder without config.json"))
add(_c("generate-model-file", "generate", "generate --model {ws}/existing.png --out {ws}/a.png",
       1, ["neither a model folder"], "--model a PNG file"))
add(_c("generate-model-zgen-cutoff", "generate",
       "generate --model {ws}/zgen --truncation 0.5 --truncation-cutoff 1 --out {ws}/a.png", 1,
       ["w+"], "--truncation-cutoff for a Z-only generator"))
add(_c("generate-model-zgen-impl", "generate",
       "generate --model {ws}/zgen --impl reference --out {ws}/a.png", 1, ["stylegan2"],
       "--impl for a Z-only generator"))
for target in ("existing.png", "run/run.json", "gen/config.json", "run/metrics.jsonl"):
    add(_c(f"generate-out-exists-{target.replace('/', '-')}", "generate",
           f"generate --model {{ws}}/gen --n 1 --out {{ws}}/{target}", 1,
           ["already exists", "--overwrite"], f"--out onto an existing {target}"))
add(_c("generate-out-folder", "generate", "generate --model {ws}/gen --out {ws}/gen", 2,
       ["--out"], "--out is a folder"))
add(_c("generate-out-other-record", "generate", "generate --model {ws}/gen --out {ws}/run/g.png",
       1, ["record of another run", "--overwrite"], "--out beside another command's run.json"))
for ext in ("json", "txt", "npy"):
    add(_c(f"generate-out-ext-{ext}", "generate",
           f"generate --model {{ws}}/gen --n 1 --out {{ws}}/grid.{ext}", 1, ["must end in"],
           f"--out with a .{ext} name"))
for n in ("64", "4096"):
    add(_c(f"generate-n-{n}-above-memory", "generate", f"{GEN} --n {n}", 1,
           ["needs", "more than the", "available", "--n"],
           f"--n {n} above the available memory (LATENTATLAS_MAX_MEMORY=100000)",
           env=(("LATENTATLAS_MAX_MEMORY", "100000"),)))
add(_c("sample-batch-above-memory", "sample",
       "sample --model {ws}/gen --n 8 --batch-size 4 --out {ws}/b2", 1,
       ["needs", "more than the", "available"],
       "a batch above the available memory (LATENTATLAS_MAX_MEMORY=1000)",
       env=(("LATENTATLAS_MAX_MEMORY", "1000"),)))
add(_c("sample-disk-full", "sample", "sample --model {ws}/gen --n 8 --batch-size 4 --out {ws}/b2",
       1, ["disk", "free"],
       "a bank larger than the free disk (LATENTATLAS_FREE_DISK_BYTES=100)",
       env=(("LATENTATLAS_FREE_DISK_BYTES", "100"),)))
add(_c("generate-ok-new", "generate", f"{GEN}", 0, ["wrote"], "a new --out", writes=True))
add(_c("generate-ok-overwrite", "generate",
       "generate --model {ws}/gen --n 1 --out {ws}/existing.png --overwrite", 0, ["wrote"],
       "--overwrite an existing image", writes=True, replaces=("existing.png",)))

# ----------------------------------------------------------------------------- sample
SAM = "sample --model {ws}/gen --n 8 --batch-size 4 --out {ws}/b2"
for v in ("0", "-5", "x"):
    add(_c(f"sample-n-{v}", "sample", f"{SAM} --n {v}", 2, ["--n"], f"--n {v}"))
for v in ("nan", "inf", "5", "-2"):
    add(_c(f"sample-truncation-{v}", "sample", f"{SAM} --truncation {v}", 2, ["--truncation"],
           f"--truncation {v}"))
for v in ("-1", "7", "99"):
    add(_c(f"sample-cutoff-{v}", "sample", f"{SAM} --truncation 0.5 --truncation-cutoff {v}", 2,
           ["--truncation-cutoff"], f"--truncation-cutoff {v} (num_ws 6)"))
for opt in ("--batch-size", "--chunk-size", "--ranks", "--threads"):
    for v in ("0", "-1"):
        add(_c(f"sample-{opt[2:]}-{v}", "sample", f"{SAM} {opt} {v}", 2, [opt], f"{opt} {v}"))
add(_c("sample-thumbnails-neg", "sample", f"{SAM} --thumbnails -1", 2, ["--thumbnails"],
       "--thumbnails -1"))
add(_c("sample-thumbnails-huge", "sample", f"{SAM} --thumbnails 5000", 2, ["--thumbnails"],
       "--thumbnails 5000"))
add(_c("sample-scorers-empty", "sample", [*SAM.split(), "--scorers", ","], 2, ["--scorers"],
       "--scorers with no name"))
add(_c("sample-scorers-unknown", "sample", f"{SAM} --scorers nope", 1, ["unknown scorer"],
       "--scorers nope"))
add(_c("sample-device-bogus", "sample", f"{SAM} --device bogus", 2, ["--device"],
       "--device bogus"))
add(_c("sample-model-missing", "sample", "sample --model {ws}/nope --n 4 --out {ws}/b2", 1,
       ["neither a model folder"], "--model that does not exist"))
for extra, what in (("--seed 1", "another seed"), ("--n 9", "another n"),
                    ("--truncation 0.5", "another truncation"), ("--scorers moments",
                                                                 "other scorers")):
    add(_c(f"sample-other-bank-{extra.split()[0][2:]}", "sample",
           f"sample --model {{ws}}/gen --n 8 --batch-size 4 --out {{ws}}/bank {extra}", 1,
           ["other settings", "--overwrite"], f"into a finished bank with {what}"))
add(_c("sample-other-model", "sample",
       "sample --model {ws}/zgen --n 8 --batch-size 4 --out {ws}/bank", 1,
       ["other settings"], "into a finished bank of another model"))
for folder in ("imgs", "gen", "run"):
    add(_c(f"sample-foreign-folder-{folder}", "sample",
           f"sample --model {{ws}}/gen --n 4 --out {{ws}}/{folder}", 1,
           ["not a bank", "--overwrite"], f"into a folder holding other files ({folder})"))
add(_c("sample-out-file", "sample", "sample --model {ws}/gen --n 4 --out {ws}/existing.png", 2,
       ["--out"], "--out is a file"))
add(_c("sample-ok-new", "sample", SAM, 0, ["8 samples"], "a new bank", writes=True))
add(_c("sample-ok-overwrite", "sample",
       "sample --model {ws}/gen --n 4 --batch-size 4 --out {ws}/imgs --overwrite", 0,
       ["4 samples"], "--overwrite a folder of other files", writes=True,
       replaces=tuple(f"imgs/{i:03d}.png" for i in range(12))))

# ----------------------------------------------------------------------------- explore
EXP = "explore --model {ws}/gen --predictor nope --out {ws}/ex --quick --no-progress"
for v in ("2", "-1", "x"):
    add(_c(f"explore-n-{v}", "explore", f"{EXP} --n {v}", 2, ["--n"], f"--n {v}"))
for v in ("nan", "0", "5", "-1"):
    add(_c(f"explore-truncation-{v}", "explore", f"{EXP} --truncation {v}", 1, ["--truncation"],
           f"--truncation {v}"))
for opt, v in (("--n-edit", "1"), ("--n-rescore", "0"), ("--threads", "-1"), ("--space", "q"),
               ("--seed", "x")):
    add(_c(f"explore-{opt[2:]}-{v}", "explore", f"{EXP} {opt} {v}", 2, [opt], f"{opt} {v}"))
add(_c("explore-predictor-missing", "explore", EXP, 1, ["nope"], "--predictor that does not "
       "exist"))
add(_c("explore-model-missing", "explore",
       "explore --model {ws}/nope --out {ws}/ex --quick --no-progress", 1,
       ["neither a model folder"], "--model that does not exist"))
add(_c("explore-out-file", "explore",
       "explore --model {ws}/gen --out {ws}/existing.png --quick", 2, ["--out"],
       "--out is a file"))

# ----------------------------------------------------------------------------- convert
for bad, words in (("existing.png", ["unknown checkpoint format"]),
                   ("bad/empty.bin", ["unknown checkpoint format"]),
                   ("bad/evil.pkl", ["refusing to unpickle", "nothing was executed"]),
                   ("bad/evil.pt", ["refused", "nothing was executed"]),
                   ("bad/truncated.pkl", ["truncated or corrupt"]),
                   ("bad/stylegan3.pkl", ["alias-free stylegan3"]),
                   ("bad/list.pkl", ["unexpected pickle content"]),
                   ("bad/nog.pkl", ["no 'g_ema'"]),
                   ("bad/random.bin", ["unknown checkpoint format"]),
                   ("imgs", ["without config.json"])):
    add(_c(f"convert-{bad.replace('/', '-')}", "convert", f"convert {{ws}}/{bad} --out {{ws}}/c",
           1, words, f"convert {bad}"))
add(_c("convert-missing", "convert", "convert {ws}/nope.pkl --out {ws}/c", 2, ["does not exist"],
       "a checkpoint that does not exist"))
add(_c("convert-network-bad", "convert", "convert {ws}/bad/nog.pkl --network G --out {ws}/c", 1,
       ["no 'g'"], "--network not in the pickle"))
for target in ("zgen", "run", "imgs"):
    add(_c(f"convert-out-exists-{target}", "convert", f"convert {{ws}}/gen --out {{ws}}/{target}",
           1, ["already holds", "--overwrite"], f"--out onto an existing {target} folder"))
add(_c("convert-out-file", "convert", "convert {ws}/gen --out {ws}/existing.png", 2, ["--out"],
       "--out is a file"))
add(_c("convert-ok-new", "convert", "convert {ws}/gen --out {ws}/c", 0, ["converted"],
       "a new --out", writes=True))
add(_c("convert-ok-overwrite", "convert", "convert {ws}/gen --out {ws}/zgen --overwrite", 0,
       ["converted"], "--overwrite a model folder (swapped whole)", writes=True,
       replaces=("zgen/config.json", "zgen/model.safetensors")))

# ----------------------------------------------------------------------------- train gan
TG = ("train gan --arch zgen --resolution 16 --steps 2 --batch 4 --channel-base 64 "
      "--channel-max 8 --z-dim 4 --threads 1 --data {ws}/imgs --out {ws}/r2")
for opt, values in (("--kimg", ("0", "-1", "nan", "inf")), ("--steps", ("0", "-3")),
                    ("--batch", ("0", "-4")), ("--r1-gamma", ("-1", "nan", "inf")),
                    ("--g-lr", ("0", "-1", "nan")), ("--d-lr", ("0", "inf")),
                    ("--style-mixing", ("1.5", "-0.1")), ("--augment-p", ("2", "-1")),
                    ("--ema-kimg", ("-1",)), ("--pl-weight", ("-1", "nan")),
                    ("--checkpoint-every", ("0",)), ("--sample-every", ("0",)),
                    ("--log-every", ("0",)), ("--accum", ("0", "3"))):
    for v in values:
        args = TG.replace("--steps 2", "") if opt == "--kimg" else TG
        add(_c(f"train-gan{opt[1:]}-{v}", "train gan", f"{args} {opt} {v}", 2,
               [opt.replace("--accum", "--accum")], f"{opt} {v}"))
for opt in ("--preset", "--arch", "--augment"):
    add(_c(f"train-gan{opt[1:]}-bogus", "train gan", f"{TG} {opt} bogus", 2, [opt],
           f"{opt} bogus"))
for opt, v in (("--orojar", "-1"), ("--orojar", "nan"), ("--hessian-penalty", "-1"),
               ("--infogan", "inf"), ("--vp-loss", "-0.1"), ("--reg-interval", "0"),
               ("--reg-batch-shrink", "0"), ("--reg-warmup-kimg", "-1"),
               ("--infogan-codes", "-1"), ("--infogan-categorical", "-1"),
               ("--infogan-categories", "1")):
    add(_c(f"train-gan{opt[1:]}-{v}", "train gan", f"{TG} {opt} {v}", 2, [opt], f"{opt} {v}"))
add(_c("train-gan-reg-estimator-bogus", "train gan", f"{TG} --orojar 1 --reg-estimator bogus", 2,
       ["--reg-estimator"], "--reg-estimator bogus"))
add(_c("train-gan-reg-layers-unknown", "train gan", f"{TG} --orojar 1 --reg-layers conv9", 1,
       ["no layer", "conv9"], "--reg-layers a layer the generator lacks"))
add(_c("train-gan-infogan-no-codes", "train gan", f"{TG} --infogan 1 --infogan-codes 0", 2,
       ["--infogan-codes"], "InfoGAN with neither continuous nor categorical codes"))
add(_c("train-gan-infogan-codes-and-categorical-too-many", "train gan",
       f"{TG} --infogan 1 --infogan-codes 3 --infogan-categorical 2", 2, ["--infogan-codes"],
       "continuous + categorical InfoGAN codes above --z-dim"))
add(_c("train-gan-infogan-codes-too-many", "train gan", f"{TG} --infogan 1 --infogan-codes 9",
       2, ["--infogan-codes", "[1, 4]"], "--infogan-codes above --z-dim"))
add(_c("train-gan-factor-range-folder", "train gan", f"{TG} --factor-range posX=8:24", 1,
       ["--factor-range", "procedural"], "--factor-range on an image folder"))
add(_c("train-gan-factor-range-syntax", "train gan",
       TG.replace("--data {ws}/imgs", "--data dsprites --resolution 64").replace(
           "--resolution 16 ", "") + " --factor-range posX", 1, ["name=low:high"],
       "--factor-range without LOW:HIGH"))
add(_c("train-gan-factor-range-unknown", "train gan",
       TG.replace("--data {ws}/imgs", "--data dsprites --resolution 64").replace(
           "--resolution 16 ", "") + " --factor-range posZ=0:2", 1, ["no factor", "posz"],
       "--factor-range on a factor the set lacks"))
add(_c("train-gan-no-data", "train gan", "train gan --steps 1 --out {ws}/r2", 2, ["--data"],
       "no --data and no --preset"))
add(_c("train-gan-data-missing", "train gan", TG.replace("{ws}/imgs", "{ws}/nope"), 1,
       ["nope"], "--data that does not exist"))
add(_c("train-gan-data-empty", "train gan", TG.replace("{ws}/imgs", "{ws}/bad/emptydir"), 1,
       ["contains no images"], "--data an empty folder"))
add(_c("train-gan-data-nan-npz", "train gan", TG.replace("{ws}/imgs", "{ws}/bad/nan.npz"), 1,
       ["nan"], "--data an .npz with NaN images"))
add(_c("train-gan-device", "train gan", f"{TG} --device bogus", 2, ["--device"],
       "--device bogus"))
add(_c("train-gan-finished-run", "train gan", TG.replace("{ws}/r2", "{ws}/run"), 1,
       ["already holds a run", "--resume", "--overwrite"],
       "--out a finished run without --resume"))
add(_c("train-gan-out-file", "train gan", TG.replace("{ws}/r2", "{ws}/existing.png"), 2,
       ["--out"], "--out is a file"))
add(_c("train-gan-ok-overwrite", "train gan", TG.replace("{ws}/r2", "{ws}/run") + " --overwrite",
       0, ["done"], "--overwrite a finished run (cleared, then trained)", writes=True,
       replaces=("*",)))

# ---------------------------------------------------------------------- export / ship / widen
EXPT = "train export-gan --run {ws}/run --out {ws}/exp"
add(_c("export-run-missing", "train export-gan", EXPT.replace("{ws}/run", "{ws}/nope"), 2,
       ["does not exist"], "--run that does not exist"))
add(_c("export-run-not-run", "train export-gan", EXPT.replace("{ws}/run", "{ws}/imgs"), 1,
       ["training_config.json"], "--run a folder that is not a run"))
add(_c("export-step-missing", "train export-gan", f"{EXPT} --step 99", 1,
       ["no checkpoint at step 99"], "--step without a checkpoint"))
for target in ("gen", "zgen", "imgs"):
    add(_c(f"export-out-exists-{target}", "train export-gan",
           EXPT.replace("{ws}/exp", f"{{ws}}/{target}"), 1, ["already holds", "--overwrite"],
           f"--out onto an existing {target} folder"))
add(_c("export-ok", "train export-gan", EXPT, 0, ["exported"], "a new --out", writes=True))
add(_c("export-ok-overwrite", "train export-gan", EXPT.replace("{ws}/exp", "{ws}/gen") +
       " --overwrite", 0, ["exported"], "--overwrite a model folder", writes=True,
       replaces=("gen/config.json", "gen/model.safetensors")))
SHIP = "train ship-gan --run {ws}/run --zoo-dir {ws}/zoo --name"
for name in ("../escape", "/abs/path", "a/b", ".", "..", ".hidden", "x\\y", " pad"):
    add(_c(f"ship-name-{name.strip().replace('/', '_').replace('.', 'dot') or 'blank'}",
           "train ship-gan", [*SHIP.split(), name], 2, ["plain folder name"],
           f"--name {name!r}"))
add(_c("ship-name-exists", "train ship-gan", "train ship-gan --run {ws}/run --zoo-dir {ws} "
       "--name gen", 1, ["already holds", "--overwrite"], "--name of an existing zoo entry"))
add(_c("ship-quality-missing", "train ship-gan", f"{SHIP} t --quality {{ws}}/nope.json", 2,
       ["does not exist"], "--quality that does not exist"))
add(_c("ship-quality-not-json", "train ship-gan", f"{SHIP} t --quality {{ws}}/existing.png", 1,
       ["json"], "--quality not JSON"))
add(_c("ship-run-not-run", "train ship-gan", "train ship-gan --run {ws}/imgs --name t "
       "--zoo-dir {ws}/zoo", 1, ["run.json"], "--run a folder that is not a run"))
add(_c("ship-ok", "train ship-gan", f"{SHIP} tiny", 0, ["shipped"], "a new zoo name",
       writes=True))
WID = "train widen-gan --run {ws}/run --out {ws}/w --channel-base 128"
add(_c("widen-out-not-empty", "train widen-gan", WID.replace("{ws}/w", "{ws}/gen"), 1,
       ["not empty"], "--out a non-empty folder"))
add(_c("widen-no-width", "train widen-gan", "train widen-gan --run {ws}/run --out {ws}/w", 2,
       ["--channel-base"], "no --channel-base / --channel-max"))
add(_c("widen-run-not-run", "train widen-gan", WID.replace("{ws}/run", "{ws}/imgs"), 1,
       ["training_config.json"], "--run a folder that is not a run"))

# ----------------------------------------------------------------------------- vae train
VT = "vae train --steps 1 --batch-size 4 --out {ws}/v"
for opt, values in (("--steps", ("0", "-1")), ("--latent-dim", ("0",)),
                    ("--batch-size", ("0",)), ("--lr", ("0", "-1", "nan", "inf")),
                    ("--beta", ("-1", "nan")), ("--gamma", ("inf",)), ("--c-max", ("-2",)),
                    ("--lambda-od", ("nan",)), ("--checkpoint-every", ("0",)),
                    ("--log-every", ("0",)), ("--threads", ("0",)),
                    ("--model", ("bogus",)), ("--likelihood", ("bogus",))):
    for v in values:
        add(_c(f"vae-train{opt[1:]}-{v}", "vae train", f"{VT} {opt} {v}", 2, [opt],
               f"{opt} {v}"))
for data, words in (("nope", ["unknown data set"]), ("{ws}/bad/missing.npy", ["no such file"]),
                    ("{ws}/bad/nan.npy", ["nan"]), ("{ws}/bad/inf.npy", ["nan or inf"]),
                    ("{ws}/bad/range.npy", ["[0, 1]"]), ("{ws}/bad/complex.npy", ["dtype"]),
                    ("{ws}/bad/bool.npy", ["dtype"]), ("{ws}/bad/3d.npy", ["nhwc"]),
                    ("{ws}/bad/5ch.npy", ["nhwc"]), ("{ws}/bad/empty.npy", ["nhwc"]),
                    ("{ws}/bad/object.npy", ["not a readable"]),
                    ("{ws}/bad/random.npy", ["not a readable"])):
    add(_c(f"vae-train-data-{data.rsplit('/', 1)[-1]}", "vae train", f"{VT} --data {data}", 1,
           words, f"--data {data.rsplit('/', 1)[-1]}"))
add(_c("vae-train-out-not-empty", "vae train", VT.replace("{ws}/v", "{ws}/gen"), 1,
       ["not empty", "--resume"], "--out a non-empty folder without --resume"))

# ----------------------------------------------------------------------------- predictors
PT = "predictors train --data {ws}/imgs --labels {ws}/bad/labels.csv --out {ws}/p --steps 1"
for opt, v in (("--resolution", "2"), ("--max-images", "0"), ("--batch-size", "0"),
               ("--threads", "0"), ("--steps", "x")):
    add(_c(f"predictors-{opt[2:]}-{v}", "predictors train", f"{PT} {opt} {v}", 2,
           [opt if opt != "--label-kind" else "--label-kind"], f"{opt} {v}"))
add(_c("predictors-label-kind-bad", "predictors train", f"{PT} --label-kind nokind", 1,
       ["--label-kind", "column=kind"], "--label-kind without COLUMN=KIND"))
add(_c("predictors-no-data", "predictors train", "predictors train --out {ws}/p", 2,
       ["dataset", "--data"], "neither DATASET nor --data"))
add(_c("predictors-recipe-bogus", "predictors train", "predictors train bogus --out {ws}/p", 2,
       ["bogus"], "an unknown DATASET"))
for csv, words in (("labels_nofile.csv", ["file"]), ("labels_unknown.csv", ["not in"]),
                   ("labels_empty.csv", ["no values"]), ("missing.csv", ["missing.csv"])):
    add(_c(f"predictors-labels-{csv[:-4]}", "predictors train",
           PT.replace("labels.csv", csv), 1, words, f"--labels {csv}"))
add(_c("predictors-data-missing", "predictors train", PT.replace("{ws}/imgs", "{ws}/nope"), 1,
       ["nope"], "--data that does not exist"))

# ----------------------------------------------------------------------------- metrics
MT = "metrics --model {ws}/nope --fast"
for sizes, words in (("{bad", ["--sizes"]), ("[1]", ["--sizes"]), ('{"nope": {}}', ["--sizes"]),
                     ('{"mig": 5}', ["--sizes"])):
    add(_c(f"metrics-sizes-{len(CLI_CASES)}", "metrics", [*MT.split(), "--sizes", sizes], 2,
           words, f"--sizes {sizes}"))
add(_c("metrics-threads-0", "metrics", f"{MT} --threads 0", 2, ["--threads"], "--threads 0"))
add(_c("metrics-model-missing", "metrics", MT, 1, ["neither a model folder"],
       "--model that does not exist"))
add(_c("metrics-model-not-vae", "metrics", "metrics --model {ws}/gen --fast", 1, ["not a vae"],
       "--model a generator"))
add(_c("metrics-out-exists", "metrics", "metrics --model {ws}/gen --out {ws}/existing.png", 1,
       ["already exists", "--overwrite"], "--out onto an existing file"))

# ----------------------------------------------------------------------------- quality
QT = "quality --model {ws}/gen --data {ws}/imgs --predictor {ws}/nope"
for opt, v in (("--n-real", "0"), ("--n-real", "1"), ("--n-real", "-5"), ("--n-fake", "0"),
               ("--kid-subsets", "0"), ("--kid-subset-size", "-1"), ("--truncation-psi", "nan"),
               ("--truncation-psi", "9"), ("--threads", "0")):
    add(_c(f"quality{opt[1:]}-{v}", "quality", f"{QT} {opt} {v}", 2, [opt], f"{opt} {v}"))
add(_c("quality-out-exists", "quality", f"{QT} --out {{ws}}/existing.png", 1,
       ["already exists"], "--out onto an existing file"))
add(_c("quality-predictor-missing", "quality", QT, 1, ["neither a model folder"],
       "--predictor that does not exist"))
add(_c("quality-inception-missing", "quality", f"{QT} --inception-weights {{ws}}/nope.pth", 2,
       ["does not exist"], "--inception-weights that does not exist"))

# ----------------------------------------------------------------------------- data / tour / root
for v in ("0", "-1", "5000", "x"):
    add(_c(f"data-show-n-{v}", "data show", f"data show dsprites --out {{ws}}/d.png --n {v}", 2,
           ["--n"], f"--n {v}"))
add(_c("data-show-unknown", "data show", "data show nope --out {ws}/d.png", 1,
       ["unknown data set"], "an unknown data set"))
add(_c("data-show-out-exists", "data show", "data show dsprites --out {ws}/existing.png", 1,
       ["already exists", "--overwrite"], "--out onto an existing file"))
add(_c("data-show-out-folder", "data show", "data show dsprites --out {ws}/gen", 2, ["--out"],
       "--out is a folder"))
add(_c("data-show-ok", "data show", "data show dsprites --out {ws}/d.png --n 4", 0, ["wrote"],
       "a new --out", writes=True))
add(_c("data-list-ok", "data list", "data list", 0, ["dsprites"], "list the data sets"))
add(_c("tour-out-file", "tour", "tour --out {ws}/existing.png", 2, ["--out"], "--out is a file"))
add(_c("tour-seed-bad", "tour", "tour --out {ws}/t --seed x", 2, ["--seed"], "--seed x"))
add(_c("root-unknown-command", "latentatlas", "nope", 2, ["no such command"],
       "an unknown command"))
add(_c("root-train-unknown", "latentatlas", "train nope", 2, ["no such command"],
       "an unknown train command"))


# ----------------------------------------------------------------------------- discover
DIS = ("discover --model {ws}/gen --methods sefa --scorer pixel --n 4 --top-k 2 --svm-n 0 "
       "--no-progress --out {ws}/dis")
for opt, values in (("--n", ("1", "0")), ("--top-k", ("0", "-1")), ("--alpha", ("nan", "0")),
                    ("--threshold", ("nan", "2")), ("--svm-n", ("-1",))):
    for v in values:
        add(_c(f"discover{opt[1:]}-{v}", "discover", f"{DIS} {opt} {v}", 2, [opt], f"{opt} {v}"))
add(_c("discover-model-missing", "discover", DIS.replace("{ws}/gen", "{ws}/nope"), 1,
       ["neither a model folder"], "--model that does not exist"))
add(_c("discover-model-bank", "discover", DIS.replace("{ws}/gen", "{ws}/bank"), 1,
       ["not a latentatlas model folder"], "--model a folder without config.json"))
add(_c("discover-method-bogus", "discover", f"{DIS} --methods bogus", 1, ["bogus"],
       "--methods bogus"))
add(_c("discover-methods-empty", "discover", f"{DIS} --methods ,", 2, ["--methods"],
       "--methods with no name"))
add(_c("discover-scorer-bogus", "discover", f"{DIS} --scorer bogus", 1, ["bogus"],
       "--scorer bogus"))
add(_c("discover-attribute-bogus", "discover", f"{DIS} --attributes bogus", 1, ["bogus"],
       "--attributes that the scorer lacks"))
add(_c("discover-method-file-missing", "discover", f"{DIS} --methods file:{{ws}}/nope.safetensors",
       1, ["no directions file"], "--methods file: a file that does not exist"))
add(_c("discover-method-file-not-directions", "discover",
       f"{DIS} --methods file:{{ws}}/existing.png", 1, ["existing.png"],
       "--methods file: a file that is not a Directions file"))
add(_c("discover-out-foreign", "discover", DIS.replace("{ws}/dis", "{ws}/imgs"), 1,
       ["--out"], "--out a folder with other content"))
add(_c("discover-out-file", "discover", DIS.replace("{ws}/dis", "{ws}/existing.png"), 2,
       ["--out"], "--out an existing file"))

# ----------------------------------------------------------------------------- gan-metrics
GM = "gan-metrics --model {ws}/zgen --vp-seeds 1 --vp-pairs 20 --ppl-n 4 --out {ws}/gm.json"
for opt, v in (("--vp-seeds", "0"), ("--vp-pairs", "5"), ("--ppl-n", "1")):
    add(_c(f"gan-metrics{opt[1:]}-{v}", "gan-metrics", f"{GM} {opt} {v}", 2, [opt],
           f"{opt} {v}"))
add(_c("gan-metrics-measure-bogus", "gan-metrics", f"{GM} --measures bogus", 2, ["bogus"],
       "--measures bogus"))
add(_c("gan-metrics-model-w-space-only", "gan-metrics", GM.replace("zgen", "bank"), 1,
       ["not a latentatlas model folder"], "--model a folder without config.json"))
add(_c("gan-metrics-suite-no-data", "gan-metrics", f"{GM} --measures suite", 2,
       ["--data"], "the suite on a generator with no paired ground truth"))
add(_c("gan-metrics-out-exists", "gan-metrics", GM.replace("{ws}/gm.json", "{ws}/q.json"), 1,
       ["q.json", "--overwrite"], "--out an existing file without --overwrite"))

# ----------------------------------------------------------------------------- GAN-Control
TC = ("train control --base {ws}/gen --predictor predictor_shapes3d --attributes floor_hue "
      "--group-dim 2 --steps 1 --threads 1 --out {ws}/ctl")
for opt, v in (("--group-dim", "0"), ("--temperature", "nan"), ("--temperature", "0"),
               ("--pairs", "0"), ("--contrastive-weight", "-1"), ("--contrastive-interval", "0"),
               ("--n-real", "10"), ("--steps", "0"), ("--kimg", "inf"),
               ("--contrastive-warmup", "-1"), ("--warmup-lr", "0"), ("--warmup-lr", "nan")):
    add(_c(f"train-control{opt[1:]}-{v}", "train control", f"{TC} {opt} {v}", 2, [opt],
           f"{opt} {v}"))
add(_c("train-control-distance-bogus", "train control", f"{TC} --distance bogus", 2,
       ["--distance"], "--distance bogus"))
add(_c("train-control-base-zgen", "train control", TC.replace("{ws}/gen", "{ws}/zgen"), 2,
       ["plain stylegan2", "zgenerator"], "--base a Z-only generator"))
add(_c("train-control-attribute-unknown", "train control",
       TC.replace("floor_hue", "floor_hue,age"), 2, ["unknown attribute 'age'", "floor_hue"],
       "--attributes a head the predictor lacks"))
add(_c("train-control-groups-too-big", "train control", TC.replace("--group-dim 2", ""), 2,
       ["do not fit", "w_dim 8", "--group-dim"], "attribute groups larger than the base's w"))
add(_c("train-control-no-length", "train control", TC.replace("--steps 1", ""), 2,
       ["--kimg", "--steps"], "no --kimg / --steps"))
add(_c("train-control-no-data", "train control", TC, 2, ["give --data"],
       "a base model folder without --data"))
add(_c("train-controllers-not-a-control-run", "train controllers",
       "train controllers --run {ws}/run", 2, ["not a finished", "train control"],
       "--run a plain GAN run"))
for opt, v in (("--attribute-steps", "-1"), ("--attribute-weight", "nan"),
               ("--attribute-weight", "0"), ("--keep-weight", "-1"), ("--keep-weight", "inf"),
               ("--hidden", "0")):
    add(_c(f"train-controllers{opt[1:]}-{v}", "train controllers",
           f"train controllers --run {{ws}}/run {opt} {v}", 2, [opt], f"{opt} {v}"))
CT = "control --model {ws}/gen --set floor_hue=3 --out {ws}/ctl.png"
add(_c("control-no-controllers", "control", CT, 2, ["no controllers", "train controllers"],
       "--model a generator without controllers"))
for v in ("floor_hue", "floor_hue=x", "=3", "floor_hue=nan"):
    add(_c(f"control-set-{v.replace('=', '-eq-') or 'empty'}", "control",
           CT.replace("floor_hue=3", v), 2, ["--set", "name=number"], f"--set {v}"))
add(_c("control-set-twice", "control", f"{CT} --set floor_hue=2", 2, ["twice"],
       "--set the same attribute twice"))
for opt, v in (("--n", "0"), ("--truncation", "2"), ("--truncation", "nan")):
    add(_c(f"control{opt[1:]}-{v}", "control", f"{CT} {opt} {v}", 2, [opt], f"{opt} {v}"))
add(_c("control-out-exists", "control", CT.replace("{ws}/ctl.png", "{ws}/existing.png"), 1,
       ["existing.png", "--overwrite"], "--out an existing file without --overwrite"))

# ----------------------------------------------------------------------------- invert
INV = ("invert --model {ws}/gen --images {ws}/imgs --encoder none --predictor none --steps 1 "
       "--batch-size 4 --out {ws}/inv")
for opt, values in (("--steps", ("-1",)), ("--batch-size", ("0",)), ("--lr", ("nan", "0")),
                    ("--embedding-weight", ("nan", "-1")), ("--spread-weight", ("inf",)),
                    ("--space", ("z",)), ("--noise", ("bogus",))):
    for v in values:
        add(_c(f"invert{opt[1:]}-{v}", "invert", f"{INV} {opt} {v}", 2, [opt], f"{opt} {v}"))
add(_c("invert-model-missing", "invert", INV.replace("{ws}/gen", "{ws}/nope"), 1,
       ["neither a model folder"], "--model that does not exist"))
add(_c("invert-model-zgen", "invert", INV.replace("{ws}/gen", "{ws}/zgen"), 2, ["w"],
       "--model a Z-only generator (no W to invert into)"))
add(_c("invert-images-missing", "invert", INV.replace("{ws}/imgs", "{ws}/noimgs"), 1,
       ["--images"], "--images a folder that does not exist"))
add(_c("invert-images-empty", "invert", INV.replace("{ws}/imgs", "{ws}/bad/emptydir"), 1,
       ["no images"], "--images an empty folder"))
add(_c("invert-images-not-images", "invert", INV.replace("{ws}/imgs", "{ws}/bad"), 1,
       ["no images"], "--images a folder of non-image files"))
add(_c("invert-encoder-bogus", "invert", INV.replace("--encoder none", "--encoder bogus"), 1,
       ["bogus"], "--encoder bogus"))
add(_c("invert-predictor-bogus", "invert", INV.replace("--predictor none", "--predictor bogus"),
       1, ["bogus"], "--predictor bogus"))
add(_c("invert-directions-missing", "invert", f"{INV} --directions {{ws}}/nope.safetensors", 2,
       ["--directions"], "--directions a file that does not exist"))
add(_c("invert-directions-corrupt", "invert", f"{INV} --directions {{ws}}/bad/random.bin", 1,
       ["random.bin"], "--directions random bytes"))
add(_c("invert-edit-no-directions", "invert", f"{INV} --edit smile=1", 2, ["--directions"],
       "--edit without --directions"))
add(_c("invert-out-foreign", "invert", INV.replace("{ws}/inv", "{ws}/bank"), 1, ["--out"],
       "--out a folder with other content"))

# ----------------------------------------------------------------------------- studio
STU = "studio --model {ws}/gen --predictor none --encoder none --out {ws}/st"
for opt, values in (("--port", ("0", "70000", "x")), ("--invert-steps", ("-1",)),
                    ("--threads", ("0",))):
    for v in values:
        add(_c(f"studio{opt[1:]}-{v}", "studio", f"{STU} {opt} {v}", 2, [opt], f"{opt} {v}"))
add(_c("studio-model-missing", "studio", STU.replace("{ws}/gen", "{ws}/nope"), 1,
       ["neither a model folder"], "--model that does not exist"))
add(_c("studio-model-name-bogus", "studio", STU.replace("{ws}/gen", "bogus"), 1, ["bogus"],
       "--model a name that is not shipped"))
add(_c("studio-model-bank", "studio", STU.replace("{ws}/gen", "{ws}/bank"), 1,
       ["not a latentatlas model folder"], "--model a folder without config.json"))
add(_c("studio-directions-missing", "studio", f"{STU} --directions {{ws}}/nope.safetensors", 2,
       ["--directions"], "--directions a file that does not exist"))
add(_c("studio-directions-corrupt", "studio", f"{STU} --directions {{ws}}/bad/random.bin", 1,
       ["random.bin"], "--directions random bytes"))
add(_c("studio-predictor-bogus", "studio", STU.replace("--predictor none", "--predictor bogus"),
       1, ["bogus"], "--predictor bogus"))
add(_c("studio-out-file", "studio", STU.replace("{ws}/st", "{ws}/existing.png"), 2, ["--out"],
       "--out an existing file"))

# ----------------------------------------------------------------------------- ganalyze
GAN = ("ganalyze --model {ws}/gen --assessor pixel:brightness --steps 1 --batch-size 2 "
       "--n-eval 2 --no-progress --out {ws}/ga")
for opt, values in (("--steps", ("0",)), ("--batch-size", ("0",)), ("--lr", ("nan", "-1")),
                    ("--alpha-max", ("0", "inf")), ("--alpha", ("nan",)), ("--n-eval", ("1",)),
                    ("--space", ("wp",))):
    for v in values:
        add(_c(f"ganalyze{opt[1:]}-{v}", "ganalyze", f"{GAN} {opt} {v}", 2, [opt],
               f"{opt} {v}"))
add(_c("ganalyze-model-missing", "ganalyze", GAN.replace("{ws}/gen", "{ws}/nope"), 1,
       ["neither a model folder"], "--model that does not exist"))
add(_c("ganalyze-model-bank", "ganalyze", GAN.replace("{ws}/gen", "{ws}/bank"), 1,
       ["not a latentatlas model folder"], "--model a folder without config.json"))
add(_c("ganalyze-assessor-no-column", "ganalyze", GAN.replace("pixel:brightness", "pixel"), 2,
       ["--assessor"], "--assessor without :COLUMN"))
add(_c("ganalyze-assessor-scorer-bogus", "ganalyze", GAN.replace("pixel:brightness", "bogus:x"),
       1, ["bogus"], "--assessor an unknown scorer"))
add(_c("ganalyze-assessor-column-bogus", "ganalyze",
       GAN.replace("pixel:brightness", "pixel:bogus"), 1, ["bogus"],
       "--assessor an unknown column"))
add(_c("ganalyze-space-w-zgen", "ganalyze", f"{GAN.replace('{ws}/gen', '{ws}/zgen')} --space w",
       2, ["--space"], "--space w on a Z-only generator"))
add(_c("ganalyze-class-dependent-unconditional", "ganalyze", f"{GAN} --class-dependent", 2,
       ["--class-dependent"], "--class-dependent on an unconditional generator"))
add(_c("ganalyze-out-foreign", "ganalyze", GAN.replace("{ws}/ga", "{ws}/bank"), 1, ["--out"],
       "--out a folder with other content"))

# ----------------------------------------------------------------------------- steer
STE = ("steer --model {ws}/gen --transform zoom --steps 1 --batch-size 2 --n-eval 2 "
       "--no-progress --out {ws}/se")
for opt, values in (("--steps", ("0",)), ("--batch-size", ("0",)), ("--lr", ("nan", "0")),
                    ("--alpha-max", ("-1", "nan")), ("--tol", ("nan", "0")),
                    ("--n-steps", ("0",)), ("--n-eval", ("1",)), ("--transform", ("bogus",)),
                    ("--walk", ("bogus",))):
    for v in values:
        add(_c(f"steer{opt[1:]}-{v}", "steer", f"{STE} {opt} {v}", 2, [opt], f"{opt} {v}"))
add(_c("steer-model-missing", "steer", STE.replace("{ws}/gen", "{ws}/nope"), 1,
       ["neither a model folder"], "--model that does not exist"))
add(_c("steer-model-bank", "steer", STE.replace("{ws}/gen", "{ws}/bank"), 1,
       ["not a latentatlas model folder"], "--model a folder without config.json"))
add(_c("steer-measure-no-column", "steer", f"{STE} --measure pixel", 2, ["--measure"],
       "--measure without :COLUMN"))
add(_c("steer-measure-scorer-bogus", "steer", f"{STE} --measure bogus:x", 1, ["bogus"],
       "--measure an unknown scorer"))
add(_c("steer-measure-column-bogus", "steer", f"{STE} --measure pixel:bogus", 1, ["bogus"],
       "--measure an unknown column"))
add(_c("steer-space-w-zgen", "steer", f"{STE.replace('{ws}/gen', '{ws}/zgen')} --space w", 2,
       ["--space"], "--space w on a Z-only generator"))
add(_c("steer-out-foreign", "steer", STE.replace("{ws}/se", "{ws}/bank"), 1, ["--out"],
       "--out a folder with other content"))
add(_c("steer-nonlinear-color", "steer", f"{STE.replace('zoom', 'color')} --walk nonlinear", 2,
       ["--walk linear"], "--walk nonlinear with --transform color"))

# A first run of each new command is accepted (it claims its new --out; nothing else changes).
for cmd, base in (("discover", DIS), ("invert", INV), ("ganalyze", GAN), ("steer", STE)):
    add(_c(f"{cmd}-ok-new", cmd, base, 0, [], "a new --out", writes=True))


# ============================================================================= loaders
LOADER_CASES: list[LoaderCase] = []


def _l(id, loader, make, error, words, what):
    LOADER_CASES.append(LoaderCase(id, loader, make, error, tuple(w.lower() for w in words),
                                   what))


# Model folders (config.json + model.safetensors), for both generator families.
MODEL_VARIANTS = (
    ("no-config", "CheckpointError", ["no config.json"], "config.json missing"),
    ("config-not-json", "CheckpointError", ["not valid json"], "config.json is not JSON"),
    ("config-huge", "CheckpointError", ["more than a config"], "config.json of 2 MiB"),
    ("config-list", "CheckpointError", ["missing 'class'"], "config.json is a list"),
    ("config-deep", "CheckpointError", ["not valid json"], "config.json nested 100000 deep"),
    ("config-no-class", "CheckpointError", ["missing 'class'"], "config.json without class"),
    ("config-unknown-class", "CheckpointError", ["unknown model class"], "an unknown class"),
    ("config-kwargs-list", "CheckpointError", ["must be a json object"], "kwargs a list"),
    ("config-kwargs-unknown", "CheckpointError", ["do not fit"], "an unknown kwarg"),
    ("config-version-99", "CheckpointError", ["not supported"], "format_version 99"),
    ("config-huge-dims", "CheckpointError", ["does not match the weights"],
     "config.json declares a model 1000x the weights"),
    ("no-weights", "CheckpointError", ["no model.safetensors"], "model.safetensors missing"),
    ("weights-empty", "CheckpointError", ["truncated"], "model.safetensors is empty"),
    ("weights-header-huge", "CheckpointError", ["header declares"],
     "header length larger than the file"),
    ("weights-header-not-json", "CheckpointError", ["not valid json"], "header not JSON"),
    ("weights-offsets-outside", "CheckpointError", ["does not fit the file"],
     "a tensor's bytes outside the file"),
    ("weights-shape-lies", "CheckpointError", ["does not fit the file"],
     "a tensor's shape larger than its bytes"),
    ("weights-truncated", "CheckpointError", ["does not fit the file"],
     "model.safetensors cut in half"),
    ("weights-unknown-dtype", "CheckpointError", ["unknown dtype"], "dtype 'X9'"),
    ("weights-int", "CheckpointError", ["refused, not cast"], "int32 weights"),
    ("weights-bool", "CheckpointError", ["refused, not cast"], "bool weights"),
    ("weights-complex", "CheckpointError", ["refused, not cast"], "complex64 weights"),
    ("weights-nan", "CheckpointError", ["nan or inf"], "a NaN weight"),
    ("weights-inf", "CheckpointError", ["nan or inf"], "an Inf weight"),
    ("weights-missing-key", "CheckpointError", ["keys do not match"], "a tensor missing"),
    ("weights-extra-key", "CheckpointError", ["keys do not match"], "an extra tensor"),
    ("weights-wrong-shape", "CheckpointError", ["has shape"], "a tensor of another shape"),
    ("weights-negative-dim", "CheckpointError", ["negative dimension"], "a negative dimension"),
)
for family in ("gen", "zgen"):
    for variant, error, words, what in MODEL_VARIANTS:
        _l(f"load-model-{family}-{variant}", "latentatlas.load", f"model:{family}:{variant}",
           error, words, f"{family}: {what}")
        _l(f"cli-generate-{family}-{variant}", "generate --model", f"model:{family}:{variant}",
           "cli", words, f"{family}: {what}")

# Image arrays and files.
for name, words, what in (("nan.npy", ["nan"], "NaN"), ("inf.npy", ["nan or inf"], "Inf"),
                          ("range.npy", ["[0, 1]"], "floats outside [0, 1]"),
                          ("complex.npy", ["dtype"], "complex"), ("bool.npy", ["dtype"], "bool"),
                          ("3d.npy", ["nhwc"], "[N, H, W]"), ("5ch.npy", ["nhwc"], "5 channels"),
                          ("empty.npy", ["nhwc"], "0 images"),
                          ("object.npy", ["not a readable"], "a pickled object array"),
                          ("random.npy", ["not a readable"], "random bytes")):
    _l(f"vae-data-{name}", "load_vae_data", f"file:{name}", "DataError", words,
       f".npy images: {what}")
for name, words, what in (("npz-nan", ["nan"], "NaN images"),
                          ("npz-no-images", ["images"], "no 'images' array"),
                          ("npz-object", ["images"], "an object array"),
                          ("npz-range", ["[0, 1]"], "floats outside [0, 1]"),
                          ("npz-random", ["npz"], "random bytes")):
    _l(f"images-npz-{name}", "load_images_npz", f"npz:{name}", "DataError", words,
       f".npz: {what}")
for name, error, words, what in (
        ("png16", "ok", [], "16-bit grey PNGs scale by 1/257 (65535 -> 255, 32896 -> 128)"),
        ("corrupt-png", "DataError", ["cannot read image"], "a corrupt PNG"),
        ("empty-folder", "DataError", ["no images"], "an empty folder")):
    _l(f"image-folder-{name}", "load_image_folder", f"folder:{name}", error, words, what)
for name, error, words, what in (
        ("evil-metadata", "DataError", ["refusing to unpickle"],
         "pickled metadata calling os.system (allow_pickle=True): refused, nothing runs"),
        ("plain-metadata", "ok", [], "pickled plain metadata (allow_pickle=True) is read"),
        ("nan-imgs", "DataError", ["nan"], "NaN in imgs"),
        ("wrong-shape", "DataError", ["[n, 64, 64]"], "imgs of 32 px"),
        ("count-mismatch", "DataError", ["mismatch"], "fewer label rows than images")):
    _l(f"dsprites-npz-{name}", "load_dsprites_npz", f"dsprites:{name}", error, words, what)

# Banks, training checkpoints.
for name, words, what in (("no-bank-json", ["not a finished latent bank"], "bank.json missing"),
                          ("bank-json-corrupt", ["not valid json"], "bank.json not JSON"),
                          ("incomplete", ["not a complete"], "complete: false"),
                          ("missing-array", ["missing bank array"], "w.npy missing"),
                          ("short-array", ["rows"], "w.npy with fewer rows"),
                          ("nan-score", ["nan"], "a NaN score"),
                          ("wrong-shape", ["shape"], "wp.npy of another shape")):
    _l(f"bank-{name}", "Bank.open", f"bank:{name}", "DataError|ScoringError", words, what)
for name, words, what in (("random", ["cannot read checkpoint"], "random bytes"),
                          ("model-file", ["not a latentatlas training checkpoint"],
                           "a model.safetensors"),
                          ("missing", ["not found"], "no file")):
    _l(f"train-checkpoint-{name}", "training.load_checkpoint", f"ckpt:{name}", "CheckpointError",
       words, what)
_l("train-resume-nan-checkpoint", "GANTrainer.resume", "resume:nan", "CheckpointError",
   ["nan/inf", "previous good checkpoint is"], "the newest checkpoint holds NaN")

# Directions and metrics.
for name, error, words, what in (
        ("constant-scores", "ShapeError", ["constant"], "every score equal"),
        ("overlapping-scores", "ShapeError", ["overlap"], "top and bottom share a score"),
        ("single-class-labels", "ShapeError", ["single class"], "labels of one class"),
        ("nan-scores", "ShapeError", ["nan"], "a NaN score"),
        ("nan-latents", "ShapeError", ["nan"], "a NaN code"),
        ("short-scores", "ShapeError", ["must have shape"], "fewer scores than codes"),
        ("split-bogus", "ShapeError", ["split must be"], "split='bogus'"),
        ("string-latents", "ShapeError", ["numeric"], "codes of strings"),
        ("interfacegan-reference", "ok", [], "split='interfacegan' = the reference's normal")):
    _l(f"svm-{name}", "SVMBoundary.fit", f"svm:{name}", error, words, what)
for name, error, words, what in (
        ("collinear-2", "ShapeError", ["collinear"], "two equal conditions"),
        ("antiparallel-2", "ShapeError", ["collinear"], "c and -c"),
        ("collinear-3", "ShapeError", ["collinear"], "three conditions, one a sum of two"),
        ("nearly-collinear", "ShapeError", ["collinear"], "cosine 1 - 1e-15"),
        ("primal-in-span", "ShapeError", ["span"], "the primal is a condition"),
        ("orthogonal-ok", "ok", [], "independent conditions: orthogonal result")):
    _l(f"project-{name}", "project_boundary", f"project:{name}", error, words, what)
for name, error, words, what in (
        ("collinear-tc", "ok", [], "collinear codes: total correlation inf (as the reference)"),
        ("failing-metric", "ok", [], "a failing metric is recorded, the others kept"),
        ("mi-512", "ok", [], "512-d codes: mutual information by bincount, exact"),
        ("single-valued-factor", "ok", [],
         "a factor with one value: excluded from every metric, warning in the result")):
    _l(f"metrics-{name}", "metrics", f"metrics:{name}", error, words, what)
for name, words, what in (("psi-nan", ["truncation_psi"], "psi nan"),
                          ("psi-big", ["truncation_psi"], "psi 3"),
                          ("cutoff-big", ["truncation_cutoff"], "cutoff > num_ws"),
                          ("cutoff-negative", ["truncation_cutoff"], "cutoff -1"),
                          ("gan-kimg-zero", ["kimg"], "GANTrainConfig(kimg=0)"),
                          ("gan-r1-nan", ["r1_gamma"], "GANTrainConfig(r1_gamma=nan)"),
                          ("gan-r1-negative", ["r1_gamma"], "GANTrainConfig(r1_gamma=-1)"),
                          ("ship-name-dotdot", ["plain folder name"], "ship_gan(name='..')")):
    _l(f"api-{name}", "library checks", f"api:{name}", "OptionError", words, what)
