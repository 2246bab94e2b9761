"""`luab-convert imagenet-ab` as a script: `python dataset_scripts/imagenet_ab.py --help`.

The converter is library code (:mod:`luab_hf.convert.imagenet_ab`); this file only runs it.
"""

import sys

from luab_hf.convert.imagenet_ab import main

if __name__ == "__main__":
    sys.exit(main())
