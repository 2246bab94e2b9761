"""`luab-convert synthetic` as a script: `python dataset_scripts/synthetic.py --help`.

The generator is library code (:mod:`luab_hf.synthetic`); this file only runs it.
"""

import sys

from luab_hf.synthetic.cli import main

if __name__ == "__main__":
    sys.exit(main())
