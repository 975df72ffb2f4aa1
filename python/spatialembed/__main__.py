"""``python -m spatialembed …`` runs the command line (see spatialembed.cli)."""
import sys

from .cli import main

sys.exit(main())
