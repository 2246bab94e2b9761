"""`luab-convert coco-ab` as a script: `python dataset_scripts/coco_ab.py --help`.

The converter is library code (:mod:`luab_hf.convert.coco_ab`); this file only runs it.
"""

import sys

from luab_hf.convert.coco_ab import main

if __name__ == "__main__":
    sys.exit(main())
