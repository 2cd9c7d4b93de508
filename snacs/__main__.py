"""``python -m snacs`` is the ``snacs`` command; ``torchrun -m snacs`` launches its steps."""

import sys

from snacs.cli import main

sys.exit(main())
