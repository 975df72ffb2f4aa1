"""``spatialembed train-contrastive``: train the image–gene contrastive model on ST sections
and write a run folder (model, log CSV, metrics JSON, HTML report)."""
import sys
import time

LAYOUTS = ("her2st", "stimage1k4m", "visium")


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train-contrastive", help="train an H&E image encoder against gene expression (CLIP / BLEEP style)",
        description="Sections (her2st, STimage-1K4M or Visium) -> tiles under the spots + log-normalised expression "
                    "of the training sections' highly variable genes -> contrastive training (LibTorch) -> "
                    "evaluation on a held-out section (expression by retrieval and ridge regression, clustering; "
                    "zero-shot backbone alongside). Writes model.pt (+ model.pt.json), log.csv, metrics.json and "
                    "report.html into --out.")
    p.add_argument("sections", nargs="+", metavar="SECTION",
                   help="training sections: names under --root (her2st: B4 C2 ...; stimage1k4m: slide names) or, "
                        "with --layout visium, Space Ranger output folders")
    p.add_argument("--layout", choices=LAYOUTS, default="her2st", help="how the sections are stored (default: her2st)")
    p.add_argument("--root", help="data folder of the her2st / STimage-1K4M layout")
    p.add_argument("--holdout", metavar="SECTION", help="held-out section for the evaluation and the report's maps")
    p.add_argument("--out", required=True, help="run folder (must not exist unless --overwrite)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing run folder, if it is empty or an earlier spatialembed output")
    t = p.add_argument_group("training (ContrastiveOptions; defaults: the library's)")
    t.add_argument("--loss", choices=["clip", "bleep"])
    t.add_argument("--gene-encoder", choices=["linear", "projection_head", "mlp"])
    t.add_argument("--latent-dim", type=int)
    t.add_argument("--backbone", choices=["resnet50", "xception", "torchscript"])
    t.add_argument("--weights", help="backbone weights (default: the fetched ImageNet weights)")
    t.add_argument("--input-size", type=int, help="network input side, pixels")
    t.add_argument("--train-backbone", choices=["none", "last_stage", "all"])
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--training-genes", choices=["heg", "hvg"],
                   help="training genes: the highly expressed (default) or the highly variable (seurat_v3) genes of "
                        "the training sections")
    t.add_argument("--n-top-genes", type=int, help="how many training genes (default: 1000 HEG, 2000 HVG)")
    t.add_argument("--device", help="cpu, cuda or cuda:N")
    t.add_argument("--feature-cache", metavar="FOLDER", help="keep the frozen backbone's features here")
    t.add_argument("--fast", action="store_true",
                   help="batched oneDNN backbone passes (deterministic=False): faster on a busy CPU; results then "
                        "differ in the last bits between thread counts")
    e = p.add_argument_group("evaluation")
    e.add_argument("--k", type=int, default=50, help="retrieved reference spots per query spot (default: 50)")
    e.add_argument("--genes", nargs="+", metavar="GENE", help="a gene list scored and mapped in the report")
    e.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)
    return p


def read_sections(layout, names, root):
    import warnings

    from .spatial import read_her2st, read_stimage1k4m, read_visium

    if layout != "visium" and not root:
        raise ValueError(f"--root is required for --layout {layout}")
    sections = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unmatched spot ids are reported by the readers' attributes
        for name in names:
            if layout == "her2st":
                sections.append(read_her2st(root, name))
            elif layout == "stimage1k4m":
                sections.append(read_stimage1k4m(root, name))
            else:
                sections.append(read_visium(name))
    return sections


def run(args):
    import json
    import os
    from pathlib import Path

    from ._core import OutputStaging, check_output_path
    from .contrastive import ContrastiveTrainer
    from .nn import _nn

    # Under torchrun every rank runs this command: all train, rank 0 alone writes the run folder.
    world = _nn().resolve_distributed(_nn().DistributedOptions())
    rank = world["rank"]
    quiet = args.quiet or rank != 0
    log = (lambda line: None) if quiet else (lambda line: print(f"train-contrastive: {line}", file=sys.stderr))
    out = Path(args.out)
    inputs = [os.fspath(args.root)] if args.root else [os.fspath(s) for s in args.sections]
    if rank == 0:  # the other ranks would race rank 0's staging folder
        if os.path.lexists(out) and not args.overwrite:
            raise FileExistsError(f"{out}: the output folder exists; choose another or pass --overwrite")
        check_output_path(out, "folder", args.overwrite, inputs)

    start = time.perf_counter()
    train = read_sections(args.layout, args.sections, args.root)
    holdout = read_sections(args.layout, [args.holdout], args.root)[0] if args.holdout else None
    log(f"read {len(train)} training section(s) ({sum(s.n_spots for s in train)} spots)"
        + (f", held out {holdout.name} ({holdout.n_spots} spots)" if holdout else ""))

    params = {name: getattr(args, name) for name in ("loss", "gene_encoder", "latent_dim", "backbone", "weights",
                                                       "input_size", "train_backbone", "epochs", "batch_size", "lr",
                                                       "weight_decay", "device", "training_genes")
              if getattr(args, name) is not None}
    if args.fast:
        params["deterministic"] = False

    def progress(step):
        val = "" if step.validation_loss != step.validation_loss else f" val {step.validation_loss:.4f}"
        log(f"step {step.step}/{step.total_steps} epoch {step.epoch + 1} loss {step.loss:.4f}{val} "
            f"lr {step.lr:.2e} {step.samples_per_second:.0f} samples/s")
        return True

    est = ContrastiveTrainer(**params, n_top_genes=args.n_top_genes, feature_cache=args.feature_cache,
                             random_state=args.seed, n_jobs=args.threads, callback=None if quiet else progress)
    if rank != 0:
        est.fit(train)
        return 0

    with OutputStaging(args.overwrite, inputs) as staging:
        folder = Path(staging.add(out, "folder"))
        est.log_csv = str(folder / "log.csv")
        est.fit(train)
        est.log_csv = ""  # the saved model names no file of the staging folder
        fit_s = time.perf_counter() - start
        log(f"trained in {fit_s:.1f} s ({est.result_.steps} steps, {est.result_.samples_per_second:.0f} samples/s)")
        est.save(folder / "model.pt")
        metrics = {"sections": [s.name for s in train], "holdout": holdout.name if holdout else None,
                   "world_size": world["world_size"],
                   "n_genes": len(est.genes_), "steps": est.result_.steps, "epochs": est.result_.epochs,
                   "fit_seconds": fit_s, "train_seconds": est.result_.train_seconds,
                   "feature_seconds": est.result_.feature_seconds,
                   "samples_per_second": est.result_.samples_per_second, "final_loss": est.result_.final_loss,
                   "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in est.get_params().items()
                              if k != "callback"}}
        table = None
        if holdout is not None:
            table = est.evaluate(holdout, train, genes=args.genes, k=args.k)
            metrics["evaluation"] = table.to_dict(orient="records")
            for row in table[table["metric"].str.endswith(" r")].itertuples():
                log(f"{row.model} {row.task} {row.metric} = {row.value:.3f}")
        with open(folder / "metrics.json", "w", encoding="utf-8") as f:
            json.dump(metrics, f, indent=1, default=float)
        if not args.no_report:
            from ._contrastive_report import write_report

            write_report(folder / "report.html", est, folder / "log.csv", metrics, table, holdout, train,
                         genes=args.genes, k=args.k)
        staging.commit()
    log(f"done; open {out / ('report.html' if not args.no_report else 'metrics.json')}")
    return 0
