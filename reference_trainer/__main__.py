"""``python -m reference_trainer``: see :mod:`reference_trainer.cli`."""

import sys

from reference_trainer.cli import main

if __name__ == "__main__":
    sys.exit(main())
