"""The LUAB training recipe as a script: ``accelerate launch training/train.py --help``.

Same flags as ``luab-train``; the trainer is library code (:mod:`luab_hf.trainer`), whose stages
(data, model, loop, evaluation, outputs) a custom recipe can import one by one.
"""

import sys

from luab_hf.trainer import main

if __name__ == "__main__":
    sys.exit(main())
