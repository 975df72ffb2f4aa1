"""``spatialembed cluster-ions``: group the ion images of an imzML file or PNG folder."""
import argparse
import sys


def add_parser(subparsers):
    p = subparsers.add_parser(
        "cluster-ions", help="group ion images by shared spatial structure (NN-based and UMAP-only)",
        description="Ion images (imzML peaks or a PNG folder) -> CNN features (nn) or raw pixels (umap_only) -> "
                    "UMAP 3-D -> DBSCAN or HDBSCAN (Zhang et al., Anal Bioanal Chem 413:2803, 2021). Writes clusters.csv, "
                    "embedding.npy, features.npy, params.json and report.html into --out.")
    p.add_argument("input", metavar="INPUT", help="an .imzML file (with its .ibd) or a folder of <m/z>.png ion images")
    p.add_argument("--out", required=True, help="output folder (must not exist unless --overwrite)")
    p.add_argument("--method", choices=["nn", "umap_only", "both"], default="both", help="pipeline(s) (default: both)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output folder, if it is empty or an earlier spatialembed output (never "
                        "the input or a folder holding it)")
    select = p.add_argument_group("m/z selection (imzML)")
    select.add_argument("--mz-list", metavar="FILE", help="m/z to image, one per line (first CSV column)")
    select.add_argument("--top-n", type=int, default=100, help="else the N most intense mean-spectrum peaks (default: 100)")
    select.add_argument("--snr", type=float, default=3.0, help="peak signal-to-noise threshold (default: 3)")
    select.add_argument("--half-window", type=int, default=20, help="peak window half-width, points (default: 20)")
    select.add_argument("--bin-ppm", type=float, default=5.0, help="mean-spectrum bins for processed data, ppm (default: 5)")
    select.add_argument("--tolerance", type=float, default=None,
                        help="ion-image m/z half-width (default: half the median peak FWHM of the mean spectrum)")
    select.add_argument("--tolerance-unit", choices=["ppm", "da"], default="ppm", help="(default: ppm)")
    select.add_argument("--max-image-pixels", type=int, default=None, metavar="N",
                        help="PNG folder: largest image read, width x height (default: 134217728 = 2^27)")
    select.add_argument("--normalization", choices=["none", "tic", "rms"], default="none",
                        help="per-pixel spectrum normalisation (default: none)")
    nn = p.add_argument_group("CNN (method nn)")
    nn.add_argument("--backbone", choices=["resnet50", "xception", "torchscript"], default="resnet50")
    nn.add_argument("--weights", help="weights file/folder (default: the fetched ResNet-50 ImageNet weights)")
    nn.add_argument("--input-size", type=int, help="network input side for torchscript backbones, pixels")
    nn.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    nn.add_argument("--batch-size", type=int, default=32, help="(default: 32)")
    p.add_argument("--preset", choices=["default", "paper"], default="default",
                   help="default: the library's defaults (chosen by evidence, docs/results.md); paper: Zhang et al. "
                        "2021 as published (avg pooling, CNN features, euclidean UMAP, DBSCAN). Flags below override")
    nn.add_argument("--pooling", choices=["avg", "spatial_pyramid", "multi_layer"], default=None,
                    help="feature maps -> vector: global average (the paper), 1x1+2x2+4x4 spatial pyramid, or "
                         "several stages' averages (default: the preset's)")
    nn.add_argument("--feature-set", choices=["cnn", "cnn+pixels", "cnn*pixels"], default=None,
                    help="what UMAP sees: CNN features; CNN features and pixels, each L2-normalised, concatenated; "
                         "or the intersection of the two views' UMAP graphs (default: the preset's)")
    nn.add_argument("--pixel-weight", type=float, default=None,
                    help="weight of the pixels against the CNN features in cnn+pixels and cnn*pixels "
                         "(default: the library's)")
    cl = p.add_argument_group("UMAP and the clusterer (DBSCAN or HDBSCAN)")
    cl.add_argument("--n-neighbors", type=int, default=None, help="UMAP neighbours (default: the library's)")
    cl.add_argument("--min-dist", type=float, default=None, help="UMAP min_dist (default: the library's)")
    cl.add_argument("--metric", choices=["euclidean", "cosine", "correlation", "manhattan"], default=None,
                    help="UMAP input distance (default: the preset's)")
    cl.add_argument("--eps", type=float, default=None, help="DBSCAN eps (default: knee of the k-distance curve)")
    cl.add_argument("--min-samples", type=int, default=None, help="DBSCAN min_samples (default: the library's)")
    cl.add_argument("--clusterer", choices=["dbscan", "hdbscan"], default=None,
                    help="clustering of the UMAP coordinates (default: the preset's; the paper's is dbscan)")
    cl.add_argument("--min-cluster-size", type=int, default=None,
                    help="HDBSCAN min_cluster_size (default: the library's)")
    cl.add_argument("--hdbscan-min-samples", type=int, default=None,
                    help="HDBSCAN min_samples (default: min_cluster_size)")
    cl.add_argument("--cluster-selection-method", choices=["eom", "leaf"], default=None,
                    help="HDBSCAN cluster selection (default: the library's)")
    cl.add_argument("--hotspot-quantile", type=float, default=None,
                    help="clip each image at this quantile (default: the library's)")
    cl.add_argument("--remove-spikes", action=argparse.BooleanOptionalAction, default=None,
                    help="clip single-pixel spikes to their highest measured neighbour before the quantile clip "
                         "(default: the preset's; paper: off)")
    cl.add_argument("--hotspot-ignore-zeros", action=argparse.BooleanOptionalAction, default=None,
                    help="take the hotspot quantile over the non-zero measured pixels, not all of them "
                         "(default: the preset's; paper: off)")
    cl.add_argument("--isotope-tolerance", type=float, default=None,
                    help="isotope pairing tolerance for the evaluation (default: 10 ppm for imzML, 0.02 Da for PNGs)")
    cl.add_argument("--isotope-unit", choices=["ppm", "da"], default="ppm", help="(default: ppm)")
    p.add_argument("--reference", metavar="FILE",
                   help="compare with a grouping: a simulate *_truth.json or a GRINE communities .json")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)
    return p


def given(**flags):
    """The flags given on the command line; the others keep the library's defaults."""
    return {name: value for name, value in flags.items() if value is not None}


def run(args):
    from .cluster import HDBSCAN
    from .nn import Embedder
    from .workflow import cluster_ions, read_mz_list

    from . import _core
    from ._options import to_dict
    from .pipeline import DEFAULT_POOLING, IonImageClustering, default_umap

    preprocess = {}  # the preset's preprocessing beyond --hotspot-quantile
    if args.preset == "paper":
        paper = _core.IonImageClusteringOptions.paper()
        preset = dict(pooling="avg", feature_set=paper.feature_set, metric=paper.umap.metric, clusterer=paper.clusterer)
        preprocess = to_dict(paper.preprocess, exclude=("num_threads", "hotspot_quantile"))
    else:
        defaults = IonImageClustering().get_params()
        preset = dict(pooling=DEFAULT_POOLING, feature_set=defaults["feature_set"], metric=default_umap().metric,
                      clusterer=defaults["clusterer"])
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    preprocess.update(given(remove_spikes=args.remove_spikes, hotspot_ignore_zeros=args.hotspot_ignore_zeros))

    log = (lambda line: None) if args.quiet else (lambda line: print(f"cluster-ions: {line}", file=sys.stderr))
    methods = ["nn", "umap_only"] if args.method == "both" else [args.method]
    load_options = dict(mz_list=read_mz_list(args.mz_list) if args.mz_list else None, top_n=args.top_n, snr=args.snr,
                        half_window=args.half_window, bin_ppm=args.bin_ppm, tolerance=args.tolerance,
                        tolerance_unit=args.tolerance_unit, normalization=args.normalization, n_jobs=args.threads,
                        max_image_pixels=args.max_image_pixels)
    clustering_options = dict(
        embedder=Embedder(args.backbone, args.weights, args.device, args.batch_size, args.threads,
                          input_size=args.input_size, pooling=args.pooling),
        feature_set=args.feature_set,
        umap=default_umap().set_params(metric=args.metric, **given(n_neighbors=args.n_neighbors, min_dist=args.min_dist)),
        clusterer=args.clusterer,
        hdbscan=HDBSCAN(min_samples=args.hdbscan_min_samples, **given(
            min_cluster_size=args.min_cluster_size, cluster_selection_method=args.cluster_selection_method)),
        eps=args.eps, isotope_tolerance=args.isotope_tolerance, isotope_unit=args.isotope_unit,
        **given(pixel_weight=args.pixel_weight, min_samples=args.min_samples, hotspot_quantile=args.hotspot_quantile),
        random_state=args.seed, n_jobs=args.threads, verbose=not args.quiet, **preprocess)
    run = cluster_ions(args.input, args.out, methods=methods, overwrite=args.overwrite, reference=args.reference,
                       report=not args.no_report, load_options=load_options, clustering_options=clustering_options,
                       log=log)
    if not args.quiet:
        for name, value in run["comparison"].items():
            print(f"cluster-ions: {name} = {value:.3f}", file=sys.stderr)
        where = run["out"] / ("report.html" if not args.no_report else "clusters.csv")
        print(f"cluster-ions: done; open {where}", file=sys.stderr)
    return 0
