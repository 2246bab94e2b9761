"""``python -m luab_hf.convert ...``: the same command line as ``luab-convert ...``."""

import sys

from .cli import main

sys.exit(main())
