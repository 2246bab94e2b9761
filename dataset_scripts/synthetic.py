"""`luab-convert synthetic` as a script: `python dataset_scripts/synthetic.py --help`.

The converter is library code (:mod:`luab_hf.convert.synthetic`); this file only runs it.
"""

import sys

from luab_hf.convert.synthetic import main

if __name__ == "__main__":
    sys.exit(main())
