"""``spatialembed simulate``: write a simulated tissue section with ground truth."""
import sys


def add_parser(subparsers):
    p = subparsers.add_parser(
        "simulate", help="simulate an MSI tissue section with ground-truth ion-image groups",
        description="Simulate an MSI tissue section (regions, nodules, layers, isotope envelopes, TOF peaks with "
                    "shoulder pairs) and write it as imzML or a PNG folder, with the truth as <stem>_truth.json.")
    p.add_argument("out", metavar="OUT", help="output .imzML file (processed/continuous) or folder (png)")
    p.add_argument("--mode", choices=["processed", "continuous", "png"], default="processed",
                   help="imzML centroid, imzML profile, or 16-bit PNG folder (default: processed)")
    p.add_argument("--width", type=int, default=64, help="pixels (default: 64)")
    p.add_argument("--height", type=int, default=64, help="pixels (default: 64)")
    p.add_argument("--n-molecules", type=int, default=40, help="molecules, 2-4 ion images each (default: 40)")
    p.add_argument("--n-ion-images", type=int, default=None, help="exactly this many ion images (overrides --n-molecules)")
    p.add_argument("--n-regions", type=int, default=5, help="tissue regions (default: 5)")
    p.add_argument("--n-nodules", type=int, default=3, help="nodules, small discs (default: 3)")
    p.add_argument("--n-layers", type=int, default=2, help="thin lines/rings (default: 2)")
    p.add_argument("--n-gradients", type=int, default=1, help="linear trends (default: 1)")
    p.add_argument("--n-shoulder-pairs", type=int, default=2, help="pairs inside one TOF peak (default: 2)")
    p.add_argument("--mz-min", type=float, default=400.0, help="smallest m/z (default: 400)")
    p.add_argument("--mz-max", type=float, default=1000.0, help="largest m/z (default: 1000)")
    p.add_argument("--resolving-power", type=float, default=20000.0, help="R = m/FWHM (default: 20000)")
    p.add_argument("--noise", type=float, default=0.05, help="relative noise sd (default: 0.05)")
    p.add_argument("--detection-limit", type=float, default=0.15,
                   help="values below this x the ion's level read 0 (default: 0.15)")
    p.add_argument("--hotspot-fraction", type=float, default=1e-4, help="fraction of hotspot values (default: 1e-4)")
    p.add_argument("--no-tissue-mask", action="store_true", help="measure every pixel of the canvas")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--jobs", type=int, default=None, help="threads (default: all cores)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (a PNG folder only if empty or an earlier spatialembed output)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args):
    from .simulate import simulate_tissue

    truth = simulate_tissue(
        args.out, width=args.width, height=args.height, n_molecules=args.n_molecules, n_ion_images=args.n_ion_images,
        n_regions=args.n_regions, n_nodules=args.n_nodules, n_layers=args.n_layers, n_gradients=args.n_gradients,
        n_shoulder_pairs=args.n_shoulder_pairs, mz_range=(args.mz_min, args.mz_max),
        resolving_power=args.resolving_power, noise=args.noise, detection_limit=args.detection_limit, hotspot_fraction=args.hotspot_fraction,
        tissue_mask=not args.no_tissue_mask, mode=args.mode, random_state=args.seed, overwrite=args.overwrite,
        n_jobs=args.jobs, verbose=not args.quiet)
    if not args.quiet:
        print(f"simulate: {len(truth['mz'])} ion images of {len(truth['molecule_mz'])} molecules in "
              f"{len(truth['patterns'])} patterns, {int(truth['mask'].sum())} pixels -> {truth['path']}, "
              f"truth {truth['truth_path']}", file=sys.stderr)
    return 0
