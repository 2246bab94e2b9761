"""``python -m luab_hf.trainer`` (and ``accelerate launch -m luab_hf.trainer``) = ``luab-train``."""

import sys

from .loop import main

sys.exit(main())
