"""The ``spatialembed`` command: a small dispatcher over subcommands.

Each subcommand lives in a module of its own that provides ``add_parser(subparsers)``
(registering its arguments and ``func``) so this file only lists them.
"""
import argparse
import sys

from . import __version__
from . import _cli_cluster_ions, _cli_simulate, _cli_train_contrastive

# (module) per subcommand, in the order `spatialembed --help` lists them.
SUBCOMMANDS = [_cli_cluster_ions, _cli_simulate, _cli_train_contrastive]


def build_parser():
    parser = argparse.ArgumentParser(prog="spatialembed",
                                     description="Embeddings and clustering for spatial-omics images.")
    parser.add_argument("--version", action="version", version=f"spatialembed {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Bad input (invalid arguments, unreadable or existing files) prints ``spatialembed: error: …``
    to stderr and returns 2 (argument errors, and an output ``--overwrite`` may not replace:
    an input, a folder holding one, a link, a folder spatialembed did not write) or 1
    (errors while running).
    """
    from ._core import UnsafeOutputError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except UnsafeOutputError as error:  # --overwrite refused: a usage error, like a bad argument
        print(f"spatialembed {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as error:
        print(f"spatialembed {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"spatialembed {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
